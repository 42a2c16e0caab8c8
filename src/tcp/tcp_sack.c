/* The sender's SACK scoreboard and the loss-recovery rules built on it:
 * RFC 2018 (what the peer holds), RFC 6675 (IsLost, SetPipe, NextSeg).
 *
 * The board is allocated when the first SACK block arrives and freed once
 * nothing is outstanding, so a connection without loss pays one pointer. */
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

#define DUP_THRESH 3 /* RFC 6675 §2 DupThresh */

void tcp_sack_free(struct tcp_conn *c)
{
    free(c->sack);
    c->sack = NULL;
}

/* Drops what SND.UNA has passed: ranges end inside (SND.UNA, SND.MAX]. */
void tcp_sack_trim(struct tcp_conn *c)
{
    struct tcp_sack_board *b = c->sack;
    if (!b)
        return;
    if (c->snd_una == c->snd_max) {
        tcp_sack_free(c);
        return;
    }
    unsigned k = 0;
    for (unsigned i = 0; i < b->count; i++) {
        struct wire_sack_block r = b->range[i];
        if (seq_le(r.right, c->snd_una))
            continue;
        if (seq_lt(r.left, c->snd_una))
            r.left = c->snd_una;
        b->range[k++] = r;
    }
    b->count = (uint8_t)k;
    if (seq_lt(b->high_rxt, c->snd_una))
        b->high_rxt = c->snd_una;
}

/* Merges [left, right) into the sorted, disjoint ranges; returns the bytes
 * it newly covers. When the board is full the highest range goes: a range
 * forgotten is only data we may resend needlessly. */
static uint32_t board_add(struct tcp_sack_board *b, uint32_t left, uint32_t right)
{
    uint32_t before = 0, after = 0;
    for (unsigned i = 0; i < b->count; i++)
        before += b->range[i].right - b->range[i].left;
    unsigned i = 0;
    while (i < b->count && seq_lt(b->range[i].right, left))
        i++;
    /* Ranges i..j-1 touch [left, right): fold them into one. */
    unsigned j = i;
    while (j < b->count && seq_le(b->range[j].left, right)) {
        if (seq_lt(b->range[j].left, left))
            left = b->range[j].left;
        if (seq_gt(b->range[j].right, right))
            right = b->range[j].right;
        j++;
    }
    if (j == i) { /* no overlap: insert at i */
        if (b->count == TCP_SACK_RANGES_MAX) {
            if (i == b->count)
                return 0;
            b->count--;
        }
        memmove(&b->range[i + 1], &b->range[i], (b->count - i) * sizeof b->range[0]);
        b->count++;
    } else if (j > i + 1) {
        memmove(&b->range[i + 1], &b->range[j], (b->count - j) * sizeof b->range[0]);
        b->count = (uint8_t)(b->count - (j - i - 1));
    }
    b->range[i] = (struct wire_sack_block){left, right};
    for (unsigned k = 0; k < b->count; k++)
        after += b->range[k].right - b->range[k].left;
    return after > before ? after - before : 0;
}

/* RFC 2018 §4: the blocks of an acceptable ACK. Blocks that are malformed
 * or outside (SEG.ACK, SND.MAX] are ignored (a D-SACK, RFC 2883, lies
 * below SEG.ACK). Returns true if any data is newly SACKed. */
bool tcp_sack_update(struct tcp_conn *c, const struct wire_seg *seg)
{
    if (!c->sack_ok || !(seg->opt.present & WIRE_OPT_SACK))
        return false;
    uint32_t newly = 0;
    /* The board starts at SND.UNA (RFC 6675 §3); an older ACK's blocks
     * are clipped there. */
    uint32_t floor = seq_gt(seg->ack, c->snd_una) ? seg->ack : c->snd_una;
    for (unsigned k = 0; k < seg->opt.sack_count && k < WIRE_MAX_SACK_BLOCKS; k++) {
        uint32_t left = seg->opt.sack[k].left, right = seg->opt.sack[k].right;
        bool dsack = seq_lt(left, right) && seq_le(right, seg->ack);
        /* RFC 2883 §4: a first block inside the second one is a D-SACK too. */
        if (k == 0 && !dsack && seg->opt.sack_count > 1 && seq_le(seg->opt.sack[1].left, left) &&
            seq_le(right, seg->opt.sack[1].right))
            dsack = true;
        if (!seq_lt(left, right) || seq_gt(right, c->snd_max) || dsack) {
            c->host->stats->TCPSACKDiscard += !dsack;
            c->host->stats->TCPDSACKRecv += dsack;
            continue;
        }
        if (seq_le(right, floor))
            continue; /* already acknowledged */
        if (seq_lt(left, floor))
            left = floor;
        if (!c->sack) {
            c->sack = calloc(1, sizeof *c->sack);
            if (!c->sack)
                return false; /* without a board we recover as NewReno */
            c->sack->high_rxt = c->snd_una;
        }
        newly += board_add(c->sack, left, right);
    }
    return newly > 0;
}

bool tcp_sack_holds(const struct tcp_conn *c, uint32_t seq, uint32_t *end)
{
    const struct tcp_sack_board *b = c->sack;
    for (unsigned i = 0; b && i < b->count; i++) {
        if (seq_lt(seq, b->range[i].left))
            break;
        if (seq_lt(seq, b->range[i].right)) {
            *end = b->range[i].right;
            return true;
        }
    }
    return false;
}

uint32_t tcp_sack_next_sacked(const struct tcp_conn *c, uint32_t seq)
{
    const struct tcp_sack_board *b = c->sack;
    for (unsigned i = 0; b && i < b->count; i++)
        if (seq_gt(b->range[i].left, seq))
            return b->range[i].left;
    return c->snd_max;
}

/* RFC 6675 §4 IsLost: an unSACKed octet is lost when DupThresh
 * discontiguous segments, or more than (DupThresh - 1) * SMSS bytes, are
 * SACKed above it. Every unSACKed octet below the returned point is lost. */
uint32_t tcp_sack_lost_end(const struct tcp_conn *c)
{
    const struct tcp_sack_board *b = c->sack;
    uint32_t bytes = 0, segs = 0;
    for (int i = b ? (int)b->count - 1 : -1; i >= 0; i--) {
        uint32_t len = b->range[i].right - b->range[i].left;
        bytes += len;
        segs += (len + c->mss - 1) / c->mss;
        if (segs >= DUP_THRESH || bytes > (DUP_THRESH - 1) * (uint32_t)c->mss)
            return b->range[i].left;
    }
    return c->snd_una;
}

/* RFC 6675 §4 SetPipe: octets still in the network. An unSACKed octet
 * counts once if it is not lost, once more if it was retransmitted. */
uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
    const struct tcp_sack_board *b = c->sack;
    if (!b)
        return c->snd_max - c->snd_una;
    uint32_t lost_end = tcp_sack_lost_end(c);
    uint32_t pipe = 0, hole = c->snd_una;
    for (unsigned i = 0; i <= b->count; i++) {
        uint32_t hole_end = i < b->count ? b->range[i].left : c->snd_max;
        if (seq_lt(hole, hole_end)) {
            uint32_t len = hole_end - hole;
            uint32_t lost = seq_le(hole_end, lost_end) ? len : seq_gt(lost_end, hole) ? lost_end - hole : 0;
            uint32_t rtx = seq_le(hole_end, b->high_rxt) ? len : seq_gt(b->high_rxt, hole) ? b->high_rxt - hole : 0;
            pipe += len - lost + rtx;
        }
        if (i < b->count)
            hole = b->range[i].right;
    }
    return pipe;
}

/* RFC 6675 §4 NextSeg rule 1: the first lost, unSACKed octet above
 * HighRxt, and how far its hole reaches. */
bool tcp_sack_next_lost(const struct tcp_conn *c, uint32_t *seq, uint32_t *hole_end)
{
    const struct tcp_sack_board *b = c->sack;
    if (!b)
        return false;
    uint32_t lost_end = tcp_sack_lost_end(c);
    uint32_t from = seq_gt(b->high_rxt, c->snd_una) ? b->high_rxt : c->snd_una;
    uint32_t hole = c->snd_una;
    for (unsigned i = 0; i < b->count; i++) {
        uint32_t end = b->range[i].left;
        uint32_t start = seq_gt(from, hole) ? from : hole;
        if (seq_lt(start, end) && seq_lt(start, lost_end)) {
            *seq = start;
            *hole_end = end;
            return true;
        }
        hole = b->range[i].right;
    }
    return false;
}

/* Bytes in [SND.UNA, to) the peer has not SACKed. */
uint32_t tcp_sack_unsacked(const struct tcp_conn *c, uint32_t to)
{
    uint32_t n = to - c->snd_una;
    const struct tcp_sack_board *b = c->sack;
    for (unsigned i = 0; b && i < b->count && seq_lt(b->range[i].left, to); i++) {
        uint32_t right = seq_lt(b->range[i].right, to) ? b->range[i].right : to;
        n -= right - b->range[i].left;
    }
    return n;
}
