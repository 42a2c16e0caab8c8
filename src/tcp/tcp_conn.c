/* A connection's life outside segment arrival: creation, the user calls of
 * RFC 9293 §3.10.1-§3.10.6, timers, and its end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

struct tcp_conn *tcp_conn_new(struct tcp_host *h, const struct wire_tuple *t, const struct tcp_sockopts *opt,
                              uint32_t rcvbuf, uint32_t sndbuf)
{
    struct tcp_conn *c = tcp_conn_alloc(h);
    if (!c)
        return NULL;
    const struct tcp_config *cfg = h->cfg;
    c->e.kind = TCP_ENTRY_CONN;
    c->e.state = TCP_STATE_CLOSED;
    c->host = h;
    if (tcp_entry_set_tuple(h, &c->e, t) < 0) {
        tcp_conn_release(c);
        return NULL;
    }
    c->sd = -1;
    c->opt = *opt;
    bytebuf_init(&c->snd, sndbuf);
    bytebuf_init(&c->rcv, rcvbuf);
    c->rcv_wscale = cfg->tcp_window_scaling ? tcp_wscale_for(rcvbuf) : 0;
    /* Linux bounds: TCP_MIN_MSS 88 .. the largest a 16-bit option holds. */
    uint32_t mss = (uint32_t)(cfg->tcp_mss < 88 ? 88 : cfg->tcp_mss > 65495 ? 65495 : cfg->tcp_mss);
    if (opt->mss_clamp && opt->mss_clamp < mss)
        mss = opt->mss_clamp;
    c->adv_mss = (uint16_t)mss;
    c->mss = 536; /* RFC 9293 §3.7.1 default until the peer says otherwise */
    c->rto_us = (uint32_t)(cfg->tcp_rto_initial_ms * 1000);
    c->ssthresh = UINT32_MAX;
    return c;
}

void tcp_conn_free(struct tcp_conn *c)
{
    tcp_entry_remove(c->host, &c->e);
    tcp_ooo_free(c);
    tcp_sack_free(c);
    bytebuf_free(&c->snd, &c->host->bufcache);
    bytebuf_free(&c->rcv, &c->host->bufcache);
    tcp_conn_clear_deadlines(c);
    tcp_conn_release(c);
}

void tcp_conn_done(struct tcp_conn *c, int err, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    if (err && !c->error)
        c->error = (uint8_t)err;
    tcp_entry_remove(h, &c->e);
    tcp_conn_clear_deadlines(c);
    tcp_set_state(h, &c->e, c->sd, TCP_STATE_CLOSED, now);
    bytebuf_free(&c->snd, &c->host->bufcache);
    tcp_ooo_free(c);
    tcp_sack_free(c);
    if (c->orphan) {
        c->accept_next = h->graveyard;
        h->graveyard = c->e.ref;
    } else if (c->sd >= 0 && h->ops.wake) {
        h->ops.wake(h->ops.ctx, c->sd);
    }
}

/* Active OPEN (RFC 9293 §3.10.1): ISN per RFC 6528, SYN, SYN-SENT. */
int tcp_connect(struct tcp_host *h, struct tcp_conn *c, tcp_time_t now)
{
    struct wire_tuple t;
    tcp_entry_tuple(h, &c->e, &t);
    c->iss = tcp_isn(h, &t, now);
    c->ts_offset = tcp_ts_offset(h, &t);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->recover = c->snd_sml = c->iss; /* RFC 6582 §3.2 */
    if (tcp_entry_insert(h, &c->e) < 0)
        return -ENOMEM;
    h->stats->ActiveOpens++;
    tcp_set_state(h, &c->e, c->sd, TCP_STATE_SYN_SENT, now);
    c->retrans_stamp = now;
    if (!tcp_conn_set_deadline(c, TCP_TIMER_RTX, now + c->rto_us)) {
        c->timer_lost = false;
        tcp_conn_done(c, ENOMEM, now);
        return -ENOMEM;
    }
    tcp_send_syn(c, now);
    tcp_conn_arm_timer(c);
    return 0;
}

size_t tcp_send_space(const struct tcp_conn *c) { return bytebuf_space(&c->snd); }

bool tcp_conn_readable(const struct tcp_conn *c)
{
    return bytebuf_len(&c->rcv) > 0 || c->fin_rcvd || c->shut_rd || c->e.state == TCP_STATE_CLOSED;
}

/* SEND (RFC 9293 §3.10.2). */
ssize_t tcp_send(struct tcp_conn *c, const void *buf, size_t len, tcp_time_t now)
{
    if (c->error) {
        int err = c->error;
        c->error = 0;
        return -err;
    }
    switch ((enum tcp_state)c->e.state) {
    case TCP_STATE_SYN_SENT:
    case TCP_STATE_SYN_RECEIVED:
    case TCP_STATE_ESTABLISHED:
    case TCP_STATE_CLOSE_WAIT:
        break;
    case TCP_STATE_CLOSED:
        return -EPIPE; /* Linux tcp_sendmsg: the error was reported once; then EPIPE */
    default:
        return -EPIPE; /* "connection closing" */
    }
    if (c->fin_queued)
        return -EPIPE;
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    uint32_t n = bytebuf_append(&c->snd, &c->host->bufcache, buf, (uint32_t)len);
    if (n == 0 && len > 0)
        return -EAGAIN;
    tcp_output(c, now);
    return n;
}

/* RECEIVE (RFC 9293 §3.10.3). Reading may open the window enough to be
 * worth an update (RFC 9293 §3.8.6.2.2). */
ssize_t tcp_recv(struct tcp_conn *c, void *buf, size_t len, tcp_time_t now)
{
    uint32_t have = bytebuf_len(&c->rcv);
    if (have && !c->shut_rd) {
        uint32_t n = len < have ? (uint32_t)len : have;
        uint32_t before = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
        bytebuf_copy_out(&c->rcv, 0, buf, n);
        bytebuf_consume(&c->rcv, &c->host->bufcache, n);
        uint32_t after = bytebuf_space(&c->rcv);
        bool open = c->e.state == TCP_STATE_ESTABLISHED || c->e.state == TCP_STATE_FIN_WAIT_1 ||
                    c->e.state == TCP_STATE_FIN_WAIT_2;
        /* Linux tcp_cleanup_rbuf: update when the window had fallen to half
         * its largest or less and reading at least doubles it. */
        if (open && 2u * before <= c->max_rcv_wnd && after >= 2u * before && after >= c->adv_mss)
            tcp_send_ack(c, now); /* window update */
        return n;
    }
    /* Linux tcp_recvmsg: after the peer's FIN the end of the stream comes
     * first (SOCK_DONE); a later error (a RST in CLOSE-WAIT) stays pending
     * for send() and SO_ERROR. */
    if (c->fin_rcvd)
        return 0;
    if (c->error) {
        int err = c->error;
        c->error = 0;
        return -err;
    }
    if (c->shut_rd || c->e.state == TCP_STATE_CLOSED)
        return 0;
    return -EAGAIN;
}

/* CLOSE for one direction (shutdown(2)): FIN after the queued data. */
static void queue_fin(struct tcp_conn *c, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    if (c->fin_queued)
        return;
    c->fin_queued = true;
    switch ((enum tcp_state)c->e.state) {
    case TCP_STATE_ESTABLISHED:
        tcp_set_state(h, &c->e, c->sd, TCP_STATE_FIN_WAIT_1, now);
        break;
    case TCP_STATE_CLOSE_WAIT:
        tcp_set_state(h, &c->e, c->sd, TCP_STATE_LAST_ACK, now);
        break;
    default:
        return; /* SYN-RECEIVED: the FIN waits for ESTABLISHED (RFC 9293 §3.10.4) */
    }
    tcp_output(c, now);
}

int tcp_shutdown(struct tcp_conn *c, bool rd, bool wr, tcp_time_t now)
{
    if (rd)
        c->shut_rd = true;
    if (wr) {
        if (c->e.state == TCP_STATE_SYN_SENT) {
            tcp_conn_done(c, 0, now); /* RFC 9293 §3.10.4: delete the TCB */
            return 0;
        }
        queue_fin(c, now);
    }
    return 0;
}

/* close(): the descriptor goes away; the connection finishes on its own. */
void tcp_close(struct tcp_conn *c, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    c->sd = -1;
    if (c->e.state == TCP_STATE_CLOSED) {
        tcp_conn_free(c);
        return;
    }
    c->orphan = true;
    c->shut_rd = true;
    if (c->opt.linger == 0) {
        /* SO_LINGER with a zero timeout: abortive close (RFC 9293 §3.10.5). */
        h->stats->TCPAbortOnLinger++;
        tcp_abort(c, now);
        return;
    }
    if (bytebuf_len(&c->rcv) > 0 && tcp_conn_synchronized(c)) {
        /* Unread data: reset, not FIN (RFC 2525 §2.17, Linux tcp_close). */
        h->stats->TCPAbortOnClose++;
        tcp_abort(c, now);
        return;
    }
    switch ((enum tcp_state)c->e.state) {
    case TCP_STATE_SYN_SENT:
        tcp_conn_done(c, 0, now);
        break;
    case TCP_STATE_SYN_RECEIVED:
    case TCP_STATE_ESTABLISHED:
    case TCP_STATE_CLOSE_WAIT:
        if (c->e.state == TCP_STATE_SYN_RECEIVED)
            c->fin_queued = true;
        else
            queue_fin(c, now);
        break;
    case TCP_STATE_FIN_WAIT_2:
        /* An orphan in FIN-WAIT-2 lives tcp_fin_timeout (Linux). */
        tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, now + TCP_SEC(h->cfg->tcp_fin_timeout));
        tcp_conn_arm_timer(c);
        break;
    default:
        break;
    }
    tcp_host_reap(h);
}

/* ABORT (RFC 9293 §3.10.5): RST in the synchronized states, then CLOSED. */
void tcp_abort(struct tcp_conn *c, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    bytebuf_free(&c->rcv, &c->host->bufcache);
    if (tcp_conn_synchronized(c)) /* RFC 9293 §3.10.5, SYN-RECEIVED included */
        tcp_send_rst_for(c, now);
    if (c->e.state != TCP_STATE_CLOSED)
        tcp_conn_done(c, 0, now);
    if (c->orphan)
        tcp_host_reap(h);
}

/* Keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6; Linux tcp_keepalive_timer):
 * after keepidle of silence, probe every keepintvl with SEG.SEQ = SND.UNA-1;
 * keepcnt unanswered probes end the connection with ETIMEDOUT and a RST. */
static void keepalive_timer(struct tcp_conn *c, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, TCP_TIME_NEVER);
    if (!c->opt.keepalive || c->e.state == TCP_STATE_SYN_SENT || c->e.state == TCP_STATE_SYN_RECEIVED)
        return;
    tcp_time_t idle = TCP_SEC(c->opt.keepidle_s);
    if (c->snd_max != c->snd_una || bytebuf_len(&c->snd)) {
        tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, now + idle); /* data outstanding: the retransmission timer watches */
        return;
    }
    if (now < c->last_rcv + idle && c->probes == 0) {
        tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, c->last_rcv + idle);
        return;
    }
    if (c->probes >= c->opt.keepcnt) {
        h->stats->TCPAbortOnTimeout++;
        tcp_send_rst_for(c, now);
        tcp_conn_done(c, ETIMEDOUT, now);
        return;
    }
    c->probes++;
    h->stats->TCPKeepAlive++;
    struct wire_seg probe = {0};
    probe.flags = WIRE_ACK;
    probe.seq = c->snd_una - 1;
    probe.ack = c->rcv_nxt;
    probe.window = tcp_rcv_window_field(c);
    if (c->ts_ok) {
        probe.opt.present = WIRE_OPT_TIMESTAMP;
        probe.opt.ts_val = tcp_ts_now(now) + c->ts_offset;
        probe.opt.ts_ecr = c->ts_recent;
    }
    struct wire_tuple t;
    tcp_entry_tuple(h, &c->e, &t);
    tcp_emit(h, &t, &probe);
    tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, now + TCP_SEC(c->opt.keepintvl_s));
}

void tcp_conn_timer(struct tcp_conn *c, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    if (tcp_conn_deadline(c, TCP_TIMER_DELACK) <= now) {
        tcp_conn_set_deadline(c, TCP_TIMER_DELACK, TCP_TIME_NEVER);
        if (c->ack_pending) {
            h->stats->TCPDelayedACKs++;
            tcp_send_ack(c, now);
        }
    }
    if (tcp_conn_deadline(c, TCP_TIMER_RTX) <= now) {
        tcp_retransmit_timeout(c, now);
        if (c->e.state == TCP_STATE_CLOSED)
            return;
    }
    if (tcp_conn_deadline(c, TCP_TIMER_KEEPALIVE) <= now && c->orphan && c->e.state == TCP_STATE_FIN_WAIT_2) {
        /* tcp_fin_timeout ran out for an orphan in FIN-WAIT-2: it goes
         * quietly, as Linux's FIN-WAIT-2 timewait socket does. */
        tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, TCP_TIME_NEVER);
        h->stats->TCPOrphanFinTimeout++;
        tcp_conn_done(c, 0, now);
        return;
    }
    if (tcp_conn_deadline(c, TCP_TIMER_KEEPALIVE) <= now) {
        keepalive_timer(c, now);
        if (c->e.state == TCP_STATE_CLOSED)
            return;
    }
    tcp_conn_arm_timer(c);
}
