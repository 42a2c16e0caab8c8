/* TIME-WAIT (RFC 9293 §3.10.7.4 and §3.6.1; Linux tcp_minisocks.c): a
 * small entry that outlives the connection for 2*MSL, re-ACKs a repeated
 * FIN and restarts its clock, and lets a newer SYN reuse the 4-tuple. */
#include <stdlib.h>

#include "tcp/tcp.h"

void tcp_time_wait(struct tcp_host *h, struct tcp_conn *c, tcp_time_t now)
{
    const struct tcp_config *cfg = h->cfg;
    if (h->tws >= (size_t)cfg->tcp_max_tw_buckets) {
        h->stats->TCPTimeWaitOverflow++;
        tcp_conn_done(c, 0, now);
        return;
    }
    struct tcp_tw *tw = calloc(1, sizeof *tw);
    if (!tw) {
        tcp_conn_done(c, 0, now);
        return;
    }
    tw->e.kind = TCP_ENTRY_TW;
    tw->e.tuple = c->e.tuple;
    tw->e.state = c->e.state;
    tw->snd_nxt = c->snd_max;
    tw->rcv_nxt = c->rcv_nxt;
    tw->ts_ok = c->ts_ok;
    tw->ts_recent = c->ts_recent;
    tw->rcv_wnd = tcp_rcv_window_field(c);
    if (tcp_entry_insert(h, &tw->e) < 0) {
        free(tw);
        h->stats->TCPTimeWaitOverflow++;
        tcp_conn_done(c, 0, now);
        return;
    }
    /* The control block leaves quietly: the TIME-WAIT entry carries on its
     * state, and its user (if any) sees the connection closed. */
    tcp_entry_remove(h, &c->e);
    c->rtx_at = c->delack_at = c->keepalive_at = c->linger2_at = TCP_TIME_NEVER;
    int sd = c->sd;
    c->e.state = TCP_STATE_CLOSED;
    bytebuf_free(&c->snd);
    tcp_set_state(h, &tw->e, sd, TCP_STATE_TIME_WAIT, now);
    tcp_tw_arm(h, tw, now + TCP_SEC(cfg->tcp_timewait_len));
    if (c->orphan) {
        c->accept_next = h->graveyard;
        h->graveyard = c;
    } else if (sd >= 0 && h->ops.wake) {
        h->ops.wake(h->ops.ctx, sd);
    }
}

void tcp_tw_free(struct tcp_host *h, struct tcp_tw *tw, tcp_time_t now)
{
    tcp_entry_remove(h, &tw->e);
    tcp_set_state(h, &tw->e, -1, TCP_STATE_CLOSED, now);
    free(tw);
}

void tcp_tw_timer(struct tcp_host *h, struct tcp_tw *tw, tcp_time_t now)
{
    tcp_tw_free(h, tw, now);
}

static void tw_send_ack(struct tcp_host *h, struct tcp_tw *tw, tcp_time_t now)
{
    struct wire_seg ack = {0};
    ack.flags = WIRE_ACK;
    ack.seq = tw->snd_nxt;
    ack.ack = tw->rcv_nxt;
    ack.window = tw->rcv_wnd;
    if (tw->ts_ok) {
        ack.opt.present = WIRE_OPT_TIMESTAMP;
        ack.opt.ts_val = tcp_ts_now(now) + tcp_ts_offset(h, &tw->e.tuple);
        ack.opt.ts_ecr = tw->ts_recent;
    }
    tcp_emit(h, &tw->e.tuple, &ack);
}

void tcp_tw_arm(struct tcp_host *h, struct tcp_tw *tw, tcp_time_t expires)
{
    struct timer_node *n = &tw->e.timer;
    if (n->next) {
        n->prev->next = n->next;
        n->next->prev = n->prev;
    }
    n->expires = expires;
    n->next = &h->tw_fifo;
    n->prev = h->tw_fifo.prev;
    h->tw_fifo.prev->next = n;
    h->tw_fifo.prev = n;
}

static void tw_restart(struct tcp_host *h, struct tcp_tw *tw, tcp_time_t now)
{
    tcp_tw_arm(h, tw, now + TCP_SEC(h->cfg->tcp_timewait_len));
}

/* Linux tcp_timewait_state_process for the TIME-WAIT substate. */
bool tcp_tw_input(struct tcp_host *h, struct tcp_tw *tw, const struct wire_seg *seg, tcp_time_t now)
{
    uint8_t flags = seg->flags;
    bool ts_newer = tw->ts_ok && (seg->opt.present & WIRE_OPT_TIMESTAMP) &&
                    seq_gt(seg->opt.ts_val, tw->ts_recent);
    /* In window: exactly at RCV.NXT and carrying nothing, or a RST. */
    if (seg->seq == tw->rcv_nxt && (wire_seg_len(seg) == 0 || (flags & WIRE_RST))) {
        if (flags & WIRE_RST) {
            /* TIME-WAIT assassination (RFC 1337): honoured unless tcp_rfc1337. */
            if (!h->cfg->tcp_rfc1337) {
                h->stats->TCPTimeWaitKilled++;
                tcp_tw_free(h, tw, now);
            }
            return true;
        }
        tw_restart(h, tw, now);
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
        tcp_tw_free(h, tw, now);
        return false;
    }
    if (flags & WIRE_RST)
        return true;
    /* Anything else (a repeated FIN above all) is ACKed at once, and
     * restarts the 2*MSL clock when it carries an ACK (RFC 9293 §3.10.7.4). */
    if (flags & WIRE_ACK)
        tw_restart(h, tw, now);
    /* Linux tcp_timewait_check_oow_rate_limit: segments without data or
     * FIN are answered at most every tcp_invalid_ratelimit (no ACK wars). */
    uint32_t now_ms = (uint32_t)(now / 1000u) | 1u;
    if (wire_seg_len(seg) == 0 && tw->last_oow_ack_ms &&
        now_ms - tw->last_oow_ack_ms < (uint32_t)h->cfg->tcp_invalid_ratelimit) {
        h->stats->TCPACKSkippedSeq++;
        return true;
    }
    tw->last_oow_ack_ms = now_ms;
    tw_send_ack(h, tw, now);
    return true;
}
