/* Reassembly: data that arrives ahead of RCV.NXT waits in a sorted list of
 * runs until the hole before it fills (RFC 9293 §3.10.7.4: segments beyond
 * RCV.NXT are held for later processing). Memory is bounded: only bytes
 * inside the advertised window are kept, and at most TCP_OOO_MAX_SEGS runs.
 * Overlaps keep the first copy (no double delivery). */
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

static struct tcp_ooo *run_new(uint32_t seq, const uint8_t *p, uint32_t len)
{
    struct tcp_ooo *r = malloc(sizeof *r + len);
    if (!r)
        return NULL;
    r->next = NULL;
    r->seq = seq;
    r->len = len;
    memcpy(r->data, p, len);
    return r;
}

void tcp_ooo_insert(struct tcp_conn *c, uint32_t seq, const uint8_t *p, uint32_t len, bool fin)
{
    struct tcp_counters *st = c->host->stats;
    uint32_t wnd_end = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv : c->rcv_nxt;
    if (fin && seq_le(seq + len, wnd_end)) {
        c->ooo_fin = true;
        c->ooo_fin_seq = seq + len;
    }
    if (seq_gt(seq + len, wnd_end)) { /* beyond the window: keep what fits */
        st->TCPOFODrop++;
        len = seq_gt(wnd_end, seq) ? wnd_end - seq : 0;
    }
    uint32_t stamp = ++c->ooo_clock;
    struct tcp_ooo **link = &c->ooo;
    while (len > 0) {
        struct tcp_ooo *cur = *link;
        if (cur && seq_le(cur->seq + cur->len, seq)) { /* entirely before us */
            link = &cur->next;
            continue;
        }
        if (cur && seq_le(cur->seq, seq)) { /* overlaps our start: first copy wins */
            uint32_t skip = cur->seq + cur->len - seq;
            if (skip >= len) {
                cur->stamp = stamp; /* a repeat: still the latest arrival */
                return;
            }
            seq += skip;
            p += skip;
            len -= skip;
            link = &cur->next;
            continue;
        }
        /* Up to the next run (or all of it). */
        uint32_t take = len;
        if (cur && seq_lt(cur->seq, seq + len))
            take = cur->seq - seq;
        if (c->ooo_segs >= TCP_OOO_MAX_SEGS) {
            st->TCPOFODrop++;
            return;
        }
        struct tcp_ooo *r = run_new(seq, p, take);
        if (!r) {
            st->TCPOFODrop++;
            return;
        }
        r->stamp = stamp;
        r->next = cur;
        *link = r;
        c->ooo_segs++;
        c->ooo_bytes += take;
        st->TCPOFOQueue++;
        link = &r->next;
        seq += take;
        p += take;
        len -= take;
    }
}

bool tcp_ooo_drain(struct tcp_conn *c)
{
    while (c->ooo && seq_le(c->ooo->seq, c->rcv_nxt)) {
        struct tcp_ooo *r = c->ooo;
        uint32_t skip = c->rcv_nxt - r->seq;
        if (skip < r->len) {
            uint32_t want = r->len - skip;
            uint32_t n = c->shut_rd ? want : bytebuf_append(&c->rcv, r->data + skip, want);
            c->rcv_nxt += n;
            if (n < want) { /* no room yet: keep the rest */
                memmove(r->data, r->data + skip + n, want - n);
                c->ooo_bytes -= r->len - (want - n);
                r->seq = c->rcv_nxt;
                r->len = want - n;
                return false;
            }
        }
        c->ooo = r->next;
        c->ooo_segs--;
        c->ooo_bytes -= r->len;
        free(r);
    }
    return c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt && !c->ooo;
}

void tcp_ooo_free(struct tcp_conn *c)
{
    while (c->ooo) {
        struct tcp_ooo *r = c->ooo;
        c->ooo = r->next;
        free(r);
    }
    c->ooo_bytes = 0;
    c->ooo_segs = 0;
    c->ooo_fin = false;
}

/* RFC 2018 §4: the first block holds the segment that triggered the ACK,
 * then the most recently reported ones: blocks in order of their latest
 * arrival, newest first. */
int tcp_ooo_sack_blocks(const struct tcp_conn *c, struct wire_sack_block *out, int max)
{
    struct wire_sack_block blocks[TCP_OOO_MAX_SEGS];
    uint32_t stamps[TCP_OOO_MAX_SEGS];
    int n = 0;
    for (const struct tcp_ooo *r = c->ooo; r; r = r->next) {
        if (n > 0 && blocks[n - 1].right == r->seq) { /* adjacent runs make one block */
            blocks[n - 1].right = r->seq + r->len;
            if (r->stamp > stamps[n - 1])
                stamps[n - 1] = r->stamp;
        } else {
            blocks[n] = (struct wire_sack_block){r->seq, r->seq + r->len};
            stamps[n++] = r->stamp;
        }
    }
    int k = 0;
    for (; k < max && k < n; k++) { /* selection of the newest max blocks */
        int best = k;
        for (int i = k + 1; i < n; i++)
            if (stamps[i] > stamps[best])
                best = i;
        struct wire_sack_block b = blocks[best];
        uint32_t st = stamps[best];
        blocks[best] = blocks[k];
        stamps[best] = stamps[k];
        blocks[k] = b;
        stamps[k] = st;
        out[k] = b;
    }
    return k;
}
