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

static void queue_release_if_empty(struct tcp_conn *c)
{
    if (c->ooo && !c->ooo->head && !c->ooo->fin) {
        free(c->ooo);
        c->ooo = NULL;
    }
}

static void queue_insert(struct tcp_conn *c, struct tcp_ooo_queue *q, uint32_t seq, const uint8_t *p, uint32_t len,
                         bool fin)
{
    struct tcp_counters *st = c->host->stats;
    uint32_t wnd_end = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv : c->rcv_nxt;
    if (fin && seq_le(seq + len, wnd_end)) {
        q->fin = true;
        q->fin_seq = seq + len;
    }
    if (seq_gt(seq + len, wnd_end)) { /* beyond the window: keep what fits */
        st->TCPOFODrop++;
        len = seq_gt(wnd_end, seq) ? wnd_end - seq : 0;
    }
    uint32_t stamp = ++q->clock;
    struct tcp_ooo **link = &q->head;
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
        if (q->segs >= TCP_OOO_MAX_SEGS) {
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
        q->segs++;
        q->bytes += take;
        st->TCPOFOQueue++;
        link = &r->next;
        seq += take;
        p += take;
        len -= take;
    }
}

void tcp_ooo_insert(struct tcp_conn *c, uint32_t seq, const uint8_t *p, uint32_t len, bool fin)
{
    if (!c->ooo && !(c->ooo = calloc(1, sizeof *c->ooo))) {
        c->host->stats->TCPOFODrop++;
        return;
    }
    queue_insert(c, c->ooo, seq, p, len, fin);
    queue_release_if_empty(c);
}

bool tcp_ooo_drain(struct tcp_conn *c)
{
    struct tcp_ooo_queue *q = c->ooo;
    if (!q)
        return false;
    while (q->head && seq_le(q->head->seq, c->rcv_nxt)) {
        struct tcp_ooo *r = q->head;
        uint32_t skip = c->rcv_nxt - r->seq;
        if (skip < r->len) {
            uint32_t want = r->len - skip;
            uint32_t n = c->shut_rd ? want : bytebuf_append(&c->rcv, &c->host->bufcache, r->data + skip, want);
            c->rcv_nxt += n;
            if (n < want) { /* no room yet: keep the rest */
                memmove(r->data, r->data + skip + n, want - n);
                q->bytes -= r->len - (want - n);
                r->seq = c->rcv_nxt;
                r->len = want - n;
                return false;
            }
        }
        q->head = r->next;
        q->segs--;
        q->bytes -= r->len;
        free(r);
    }
    bool fin_in_order = q->fin && q->fin_seq == c->rcv_nxt && !q->head;
    if (fin_in_order)
        q->fin = false; /* the caller takes it */
    queue_release_if_empty(c);
    return fin_in_order;
}

void tcp_ooo_free(struct tcp_conn *c)
{
    if (!c->ooo)
        return;
    while (c->ooo->head) {
        struct tcp_ooo *r = c->ooo->head;
        c->ooo->head = r->next;
        free(r);
    }
    free(c->ooo);
    c->ooo = NULL;
}

/* RFC 2018 §4: the first block holds the segment that triggered the ACK,
 * then the most recently reported ones: blocks in order of their latest
 * arrival, newest first. */
int tcp_ooo_sack_blocks(const struct tcp_conn *c, struct wire_sack_block *out, int max)
{
    struct wire_sack_block blocks[TCP_OOO_MAX_SEGS];
    uint32_t stamps[TCP_OOO_MAX_SEGS];
    int n = 0;
    for (const struct tcp_ooo *r = c->ooo ? c->ooo->head : NULL; r; r = r->next) {
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
