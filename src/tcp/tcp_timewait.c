/* TIME-WAIT (RFC 9293 §3.10.7.4 and §3.6.1; Linux tcp_minisocks.c): a
 * small entry that outlives the connection for 2*MSL, re-ACKs a repeated
 * FIN and restarts its clock, and lets a newer SYN reuse the 4-tuple.
 *
 * Entries live in a ring per address family in the order their clocks
 * started (all last tcp_timewait_len, so that is expiry order): expiry pops
 * the head, an entry ended early is marked dead and its slot freed when the
 * head passes, and an entry whose clock restarts moves to the tail. */
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

#define TW_BASE_SLACK (UINT64_C(1) << 31) /* a block's base sits this far below its first expiry */

/* The entry at index of ring v6 (ring_at with constant sizes). */
static inline struct tcp_tw *tw_at(const struct ring *r, bool v6, uint32_t index)
{
    return v6 ? ring_at_fixed(r, index, TCP_TW_RING_SHIFT, TCP_TW_SIZE(1))
              : ring_at_fixed(r, index, TCP_TW_RING_SHIFT, TCP_TW_SIZE(0));
}

static uint32_t tw_ref(bool v6, uint32_t index)
{
    return TCP_REF(v6 ? TCP_REF_TW6 : TCP_REF_TW4, index);
}

void tcp_tw_get_tuple(const struct tcp_tw *tw, struct wire_tuple *t)
{
    tcp_tuple_unpack(t, (const uint8_t *)tw + offsetof(struct tcp_tw, tuple), tw->v6);
}

static tcp_time_t tw_expires_at(const struct ring *r, uint32_t index, const struct tcp_tw *tw)
{
    return *ring_tag(r, index) + tw->expires_off;
}

tcp_time_t tcp_tw_expires(const struct tcp_host *h, uint32_t ref)
{
    bool v6 = TCP_REF_POOL(ref) == TCP_REF_TW6;
    const struct ring *r = &h->tw_ring[v6];
    return tw_expires_at(r, TCP_REF_INDEX(ref), tw_at(r, v6, TCP_REF_INDEX(ref)));
}

/* A new entry at the ring's tail expiring at `expires`, or NULL. */
static struct tcp_tw *tw_push(struct tcp_host *h, bool v6, tcp_time_t expires, uint32_t *ref)
{
    struct ring *r = &h->tw_ring[v6];
    for (;;) {
        uint32_t index;
        bool fresh;
        struct tcp_tw *tw = ring_push(r, &index, &fresh);
        if (!tw)
            return NULL;
        if (fresh)
            *ring_tag(r, index) = expires > TW_BASE_SLACK ? expires - TW_BASE_SLACK : 0;
        uint64_t base = *ring_tag(r, index);
        if (expires >= base && expires - base <= UINT32_MAX) {
            tw->expires_off = (uint32_t)(expires - base);
            tw->v6 = v6;
            *ref = tw_ref(v6, index);
            return tw;
        }
        /* Out of this block's range: leave the rest of it dead. */
        while (ring_block_room(r) != ((uint32_t)1 << r->shift))
            if (!ring_push(r, &index, &fresh))
                return NULL;
    }
}

/* Frees dead entries at the head (which forgets the head's hash). */
static void tw_trim(struct tcp_host *h, bool v6)
{
    struct ring *r = &h->tw_ring[v6];
    while (!ring_empty(r) && !tw_at(r, v6, r->head)->live) {
        ring_pop(r);
        h->tw_head_hashed[v6] = 0;
    }
}

/* Ends an entry: out of the table, CLOSED, its slot dead. */
static void tw_kill(struct tcp_host *h, uint32_t ref, struct tcp_tw *tw, tcp_time_t now)
{
    struct wire_tuple t;
    tcp_tw_get_tuple(tw, &t);
    tcp_table_remove(h, ref, &t);
    tcp_set_state_raw(h, &tw->state, &t, -1, TCP_STATE_CLOSED, now);
    tw->live = false;
    tw_trim(h, tw->v6);
}

void tcp_time_wait(struct tcp_host *h, struct tcp_conn *c, tcp_time_t now)
{
    const struct tcp_config *cfg = h->cfg;
    if (h->tws >= (size_t)cfg->tcp_max_tw_buckets) {
        h->stats->TCPTimeWaitOverflow++;
        tcp_conn_done(c, 0, now);
        return;
    }
    bool v6 = c->e.v6;
    struct wire_tuple t;
    tcp_entry_tuple(h, &c->e, &t);
    uint32_t ref;
    struct tcp_tw *tw = tw_push(h, v6, now + TCP_SEC(cfg->tcp_timewait_len), &ref);
    if (!tw) {
        tcp_conn_done(c, 0, now);
        return;
    }
    tcp_tuple_pack((uint8_t *)tw + offsetof(struct tcp_tw, tuple), &t, v6);
    tw->state = c->e.state;
    tw->snd_nxt = c->snd_max;
    tw->rcv_nxt = c->rcv_nxt;
    tw->ts_ok = c->ts_ok;
    tw->ts_recent = c->ts_recent;
    tw->rcv_wnd = tcp_rcv_window_field(c);
    /* The entry takes the control block's place in the table (Linux
     * inet_twsk_hashdance): nothing to allocate, nothing to fail. */
    if (c->e.hashed) {
        tcp_table_replace(h, c->e.ref, ref, &t);
        c->e.hashed = false;
    } else if (tcp_table_insert(h, ref, &t) < 0) {
        tw_trim(h, v6);
        h->stats->TCPTimeWaitOverflow++;
        tcp_conn_done(c, 0, now);
        return;
    }
    tw->live = true;
    /* The control block leaves quietly: the TIME-WAIT entry carries on its
     * state, and its user (if any) sees the connection closed. */
    tcp_conn_clear_deadlines(c);
    int sd = c->sd;
    c->e.state = TCP_STATE_CLOSED;
    bytebuf_free(&c->snd, &h->bufcache);
    tcp_set_state_raw(h, &tw->state, &t, sd, TCP_STATE_TIME_WAIT, now);
    if (c->orphan) {
        c->accept_next = h->graveyard;
        h->graveyard = c->e.ref;
    } else if (sd >= 0 && h->ops.wake) {
        h->ops.wake(h->ops.ctx, sd);
    }
}

tcp_time_t tcp_tw_next_timer(const struct tcp_host *h)
{
    tcp_time_t next = TCP_TIME_NEVER;
    for (int v6 = 0; v6 < 2; v6++) {
        const struct ring *r = &h->tw_ring[v6];
        if (ring_empty(r))
            continue;
        tcp_time_t t = tw_expires_at(r, r->head, tw_at(r, v6, r->head));
        if (t < next)
            next = t;
    }
    return next;
}

/* Asks for the table line of the ring's next entry to expire, which its
 * removal will read (a cache and TLB miss in a table of 1M entries), and
 * keeps its hash for that removal. */
static void tw_prefetch_head(struct tcp_host *h, bool v6)
{
    const struct ring *r = &h->tw_ring[v6];
    if (ring_empty(r))
        return;
    struct wire_tuple t;
    tcp_tw_get_tuple(tw_at(r, v6, r->head), &t);
    h->tw_head_hash[v6] = tcp_tuple_hash(h, &t);
    h->tw_head_hashed[v6] = tw_ref(v6, r->head);
    hash_table_prefetch(&h->table, h->tw_head_hash[v6]);
}

/* Both rings' due entries, the earlier first. */
void tcp_tw_expire(struct tcp_host *h, tcp_time_t now)
{
    unsigned killed = 0; /* bit v6: an entry of that ring expired */
    for (;;) {
        int pick = -1;
        tcp_time_t best = now;
        for (int v6 = 0; v6 < 2; v6++) {
            struct ring *r = &h->tw_ring[v6];
            if (ring_empty(r))
                continue;
            tcp_time_t t = tw_expires_at(r, r->head, tw_at(r, v6, r->head));
            if (t <= best && (pick < 0 || t < best)) {
                pick = v6;
                best = t;
            }
        }
        if (pick < 0)
            break;
        struct ring *r = &h->tw_ring[pick];
        uint32_t ref = tw_ref(pick, r->head);
        if (h->tw_head_hashed[pick] == ref)
            tcp_hash_memo_set(h, NULL, ref, h->tw_head_hash[pick]);
        tw_kill(h, ref, tw_at(r, pick, r->head), now);
        tcp_hash_memo_set(h, NULL, 0, 0);
        killed |= 1u << pick;
    }
    for (int v6 = 0; v6 < 2; v6++)
        if (killed & (1u << v6))
            tw_prefetch_head(h, v6);
}

static void tw_send_ack(struct tcp_host *h, const struct tcp_tw *tw, tcp_time_t now)
{
    struct wire_tuple t;
    tcp_tw_get_tuple(tw, &t);
    struct wire_seg ack = {0};
    ack.flags = WIRE_ACK;
    ack.seq = tw->snd_nxt;
    ack.ack = tw->rcv_nxt;
    ack.window = tw->rcv_wnd;
    if (tw->ts_ok) {
        ack.opt.present = WIRE_OPT_TIMESTAMP;
        ack.opt.ts_val = tcp_ts_now(now) + tcp_ts_offset(h, &t);
        ack.opt.ts_ecr = tw->ts_recent;
    }
    tcp_emit(h, &t, &ack);
}

/* Restarts the 2*MSL clock: the entry moves to the ring's tail (a new
 * reference). Returns the entry's new place, or NULL if it had to go. */
static struct tcp_tw *tw_restart(struct tcp_host *h, uint32_t *ref, struct tcp_tw *tw, tcp_time_t now)
{
    bool v6 = tw->v6;
    uint32_t nref;
    struct tcp_tw *n = tw_push(h, v6, now + TCP_SEC(h->cfg->tcp_timewait_len), &nref);
    /* The push may have grown the ring: find the old entry again. */
    tw = tcp_ref_ptr(h, *ref);
    if (!n) {
        tw_kill(h, *ref, tw, now);
        return NULL;
    }
    uint32_t off = n->expires_off;
    memcpy(n, tw, TCP_TW_SIZE(v6));
    n->expires_off = off;
    struct wire_tuple t;
    tcp_tw_get_tuple(tw, &t);
    tcp_table_remove(h, *ref, &t);
    tw->live = false;
    if (tcp_table_insert(h, nref, &t) < 0) {
        n->live = false;
        tw_trim(h, v6);
        tcp_set_state_raw(h, &n->state, &t, -1, TCP_STATE_CLOSED, now);
        return NULL;
    }
    tw_trim(h, v6);
    *ref = nref;
    return n;
}

/* Linux tcp_timewait_state_process for the TIME-WAIT substate. */
bool tcp_tw_input(struct tcp_host *h, uint32_t ref, const struct wire_seg *seg, tcp_time_t now)
{
    struct tcp_tw *tw = tcp_ref_ptr(h, ref);
    uint8_t flags = seg->flags;
    bool ts_newer = tw->ts_ok && (seg->opt.present & WIRE_OPT_TIMESTAMP) &&
                    seq_gt(seg->opt.ts_val, tw->ts_recent);
    /* In window: exactly at RCV.NXT and carrying nothing, or a RST. */
    if (seg->seq == tw->rcv_nxt && (wire_seg_len(seg) == 0 || (flags & WIRE_RST))) {
        if (flags & WIRE_RST) {
            /* TIME-WAIT assassination (RFC 1337): honoured unless tcp_rfc1337. */
            if (!h->cfg->tcp_rfc1337) {
                h->stats->TCPTimeWaitKilled++;
                tw_kill(h, ref, tw, now);
            }
            return true;
        }
        tw_restart(h, &ref, tw, now);
        return true;
    }
    /* A new SYN beyond the old connection's sequence space (or with a newer
     * timestamp) may open a new incarnation (RFC 9293 §3.10.7.4, RFC 6191). */
    if ((flags & (WIRE_SYN | WIRE_RST | WIRE_ACK)) == WIRE_SYN &&
        (seq_gt(seg->seq, tw->rcv_nxt) || ts_newer)) {
        h->stats->TCPTimeWaitRecycled++;
        /* RFC 1122 §4.2.2.13: the new ISS above the old sequence space
         * (Linux tcp_timewait_state_process: tw_snd_nxt + 65535 + 2). */
        h->tw_isn = tw->snd_nxt + 65537;
        h->tw_isn_valid = true;
        tw_kill(h, ref, tw, now);
        return false;
    }
    if (flags & WIRE_RST)
        return true;
    /* Anything else (a repeated FIN above all) is ACKed at once, and
     * restarts the 2*MSL clock when it carries an ACK (RFC 9293 §3.10.7.4). */
    if ((flags & WIRE_ACK) && !(tw = tw_restart(h, &ref, tw, now)))
        return true;
    /* Linux tcp_timewait_check_oow_rate_limit: segments without data or
     * FIN are answered at most every tcp_invalid_ratelimit (no ACK wars). */
    if (tcp_oow_ack_allowed(h, &tw->last_oow_ack_ms, seg, now))
        tw_send_ack(h, tw, now);
    return true;
}
