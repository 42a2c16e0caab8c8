/* SEGMENT ARRIVES for a connection's control block: RFC 9293 §3.10.7.3
 * (SYN-SENT) and §3.10.7.4 (the other states), with RFC 5961's defences
 * and Linux's choices where the RFC leaves one. */
#include <errno.h>
#include <string.h>

#include "tcp/tcp.h"

void tcp_keepalive_reset(struct tcp_conn *c, tcp_time_t now)
{
    if (c->orphan && c->e.state == TCP_STATE_FIN_WAIT_2)
        return; /* keepalive_at is the FIN-WAIT-2 timeout now */
    if (c->opt.keepalive && tcp_conn_synchronized(c)) {
        tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, now + TCP_SEC(c->opt.keepidle_s));
        c->probes = 0;
    } else {
        tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, TCP_TIME_NEVER);
    }
    tcp_conn_arm_timer(c);
}

/* RFC 6298 §2: fold a round-trip sample into SRTT/RTTVAR. The RTO floor is
 * Linux's: SRTT plus at least tcp_rto_min. */
static void rtt_sample(struct tcp_conn *c, tcp_time_t sample)
{
    const struct tcp_config *cfg = c->host->cfg;
    uint32_t r = sample > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)sample;
    if (r == 0)
        r = 1;
    if (!c->srtt_us) {
        c->srtt_us = r;
        c->rttvar_us = r / 2;
    } else {
        uint32_t delta = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
        c->rttvar_us = (3 * c->rttvar_us + delta) / 4;
        c->srtt_us = (7 * c->srtt_us + r) / 8;
    }
    uint64_t var = 4ull * c->rttvar_us;
    uint64_t floor = (uint64_t)cfg->tcp_rto_min_ms * 1000;
    uint64_t rto = c->srtt_us + (var > floor ? var : floor);
    uint64_t max = (uint64_t)cfg->tcp_rto_max_ms * 1000;
    c->rto_us = (uint32_t)(rto > max ? max : rto);
}

/* Options of the peer's SYN or SYN-ACK (RFC 9293 §3.7.1, RFC 7323 §2.2, §3.2, RFC 2018 §2). */
static void take_syn_options(struct tcp_conn *c, const struct wire_seg *seg)
{
    const struct tcp_config *cfg = c->host->cfg;
    const struct wire_tcp_options *o = &seg->opt;
    uint32_t peer_mss = tcp_peer_mss(seg);
    c->wscale_ok = cfg->tcp_window_scaling && (o->present & WIRE_OPT_WSCALE);
    if (c->wscale_ok) {
        c->snd_wscale = o->wscale > WIRE_MAX_WSCALE ? WIRE_MAX_WSCALE : o->wscale;
    } else {
        c->snd_wscale = 0;
        c->rcv_wscale = 0;
    }
    c->sack_ok = cfg->tcp_sack && (o->present & WIRE_OPT_SACK_PERM);
    c->ts_ok = cfg->tcp_timestamps && (o->present & WIRE_OPT_TIMESTAMP);
    if (c->ts_ok)
        c->ts_recent = o->ts_val;
    uint32_t mss = peer_mss < c->adv_mss ? peer_mss : c->adv_mss;
    if (c->ts_ok)
        mss -= 12; /* timestamps ride in every segment (Linux mss_cache) */
    if (mss < 64)
        mss = 64;
    c->mss = (uint16_t)mss;
    c->cwnd = 10u * mss; /* RFC 6928 initial window, as Linux */
}

/* Entering ESTABLISHED: wake the user, start keepalive. */
static void established(struct tcp_conn *c, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    tcp_set_state(h, &c->e, c->sd, TCP_STATE_ESTABLISHED, now);
    c->backoff = 0;
    c->last_rcv = now;
    tcp_keepalive_reset(c, now);
    if (c->sd >= 0 && h->ops.wake)
        h->ops.wake(h->ops.ctx, c->sd);
}

/* RFC 9293 §3.10.7.3. */
static void syn_sent_input(struct tcp_conn *c, const struct wire_seg *seg, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    bool ack = seg->flags & WIRE_ACK;
    /* First, the ACK bit: it must acknowledge our SYN and nothing more. */
    if (ack && (seq_le(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max))) {
        h->stats->TCPAckUnacceptable++;
        tcp_send_reset_reply(h, seg, now); /* <SEQ=SEG.ACK><CTL=RST> unless RST */
        return;
    }
    /* Second, RST: only with an acceptable ACK (RFC 5961 §3.2 for SYN-SENT). */
    if (seg->flags & WIRE_RST) {
        if (ack) {
            h->stats->AttemptFails++;
            tcp_conn_done(c, ECONNREFUSED, now);
        }
        return;
    }
    if (!(seg->flags & WIRE_SYN))
        return;
    /* Fourth, SYN. */
    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    c->rcv_adv = c->rcv_nxt + c->max_rcv_wnd; /* our SYN's window, now from RCV.NXT */
    take_syn_options(c, seg);
    if (!ack) {
        /* Simultaneous open (RFC 9293 §3.5, Figure 8): SYN-RECEIVED, SYN-ACK. */
        tcp_set_state(h, &c->e, c->sd, TCP_STATE_SYN_RECEIVED, now);
        tcp_send_syn(c, now);
        return;
    }
    c->snd_una = c->snd_sml = seg->ack;
    if (c->snd_nxt != c->snd_una)
        c->snd_nxt = c->snd_una;
    c->snd_wnd = seg->window; /* never scaled in a SYN (RFC 7323 §2.2) */
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    if (c->backoff == 0)
        rtt_sample(c, now - c->retrans_stamp);
    else
        c->rto_us = 3000000; /* RFC 6298 §5.7: SYN timed out, start from 3 s */
    tcp_conn_set_deadline(c, TCP_TIMER_RTX, TCP_TIME_NEVER);
    tcp_conn_arm_timer(c);
    established(c, now);
    /* Data or FIN riding on the SYN-ACK are processed as in ESTABLISHED. */
    if (seg->payload_len || (seg->flags & WIRE_FIN)) {
        struct wire_seg rest = *seg;
        rest.flags &= (uint8_t)~WIRE_SYN;
        rest.seq = seg->seq + 1;
        tcp_conn_input(c, &rest, now);
        return;
    }
    /* The third segment of the handshake, carrying queued data if any. */
    uint32_t before = c->snd_max;
    tcp_output(c, now);
    if (c->snd_max == before)
        tcp_send_ack(c, now);
}

/* RFC 9293 §3.10.7.4, first check: is the segment in the receive window? */
static bool seq_acceptable(const struct tcp_conn *c, const struct wire_seg *seg)
{
    uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t len = wire_seg_len(seg);
    if (len == 0) /* the right edge itself too, as Linux's tcp_sequence */
        return seq_in(seg->seq, c->rcv_nxt, c->rcv_nxt + wnd + 1);
    if (wnd == 0)
        return seg->seq == c->rcv_nxt; /* payload will be trimmed; ACK and FIN still count */
    return seq_in(seg->seq, c->rcv_nxt, c->rcv_nxt + wnd) ||
           seq_in(seg->seq + len - 1, c->rcv_nxt, c->rcv_nxt + wnd);
}

static void challenge_ack(struct tcp_conn *c, tcp_time_t now)
{
    if (tcp_challenge_ack_allowed(c->host, now))
        tcp_send_ack(c, now);
}

static void schedule_ack(struct tcp_conn *c, bool now_please, tcp_time_t now)
{
    c->ack_pending = true;
    if (now_please) {
        tcp_send_ack(c, now);
        return;
    }
    int started = tcp_conn_start_deadline(c, TCP_TIMER_DELACK, now + TCP_MSEC(c->host->cfg->tcp_delack_ms));
    if (started < 0)
        tcp_send_ack(c, now); /* no memory for a timer: no delay */
    else if (started)
        tcp_conn_arm_timer(c);
}

/* RFC 7323 §4.3: remember the peer's newest timestamp for the segment at
 * the left edge of the window. */
static void update_ts_recent(struct tcp_conn *c, const struct wire_seg *seg)
{
    if (c->ts_ok && (seg->opt.present & WIRE_OPT_TIMESTAMP) && seq_le(seg->seq, c->last_ack_sent) &&
        seq_ge(seg->opt.ts_val, c->ts_recent))
        c->ts_recent = seg->opt.ts_val;
}

/* RFC 9293 §3.10.7.4, second check: RST, with RFC 5961 §3.2's exact-match rule. */
static void rst_input(struct tcp_conn *c, const struct wire_seg *seg, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    if (seg->seq != c->rcv_nxt) {
        challenge_ack(c, now);
        return;
    }
    switch ((enum tcp_state)c->e.state) {
    case TCP_STATE_SYN_RECEIVED: /* active side of a simultaneous open */
        h->stats->AttemptFails++;
        tcp_conn_done(c, ECONNREFUSED, now);
        break;
    case TCP_STATE_CLOSE_WAIT:
        tcp_conn_done(c, EPIPE, now); /* Linux tcp_reset */
        break;
    case TCP_STATE_ESTABLISHED:
        tcp_conn_done(c, ECONNRESET, now);
        break;
    case TCP_STATE_FIN_WAIT_1:
    case TCP_STATE_FIN_WAIT_2:
        tcp_conn_done(c, ECONNRESET, now);
        break;
    default: /* CLOSING, LAST-ACK */
        tcp_conn_done(c, 0, now);
        break;
    }
}

/* Data that arrived before: the next ACK reports it as a D-SACK (RFC 2883
 * §4, Linux tcp_dsack_set), when SACK is in use. */
static void note_dsack(struct tcp_conn *c, uint32_t left, uint32_t right)
{
    if (!c->sack_ok)
        return;
    c->host->dsack_conn = c;
    c->host->dsack = (struct wire_sack_block){left, right};
}

/* The ACK that answers an unacceptable segment (RFC 9293 §3.10.7.4),
 * rate-limited as Linux tcp_oow_rate_limited: two ends that disagree on the
 * sequence space would otherwise ACK each other's ACKs forever. Segments
 * with data are always answered. */
static void oow_ack(struct tcp_conn *c, const struct wire_seg *seg, tcp_time_t now)
{
    if (tcp_oow_ack_allowed(c->host, &c->last_oow_ack_ms, seg, now))
        tcp_send_ack(c, now);
}

/* RFC 5681 §3.2 with NewReno (RFC 6582 §3.2): the third duplicate ACK
 * starts fast retransmit; later ones inflate cwnd by an MSS each. */
static void dup_ack_input(struct tcp_conn *c, tcp_time_t now)
{
    if (c->sack) { /* the scoreboard decides (RFC 6675 §5), after the ACK is taken */
        if (c->dupacks < UINT8_MAX)
            c->dupacks++;
        return;
    }
    if (++c->dupacks == 3 && !c->in_recovery && seq_gt(c->snd_una, c->recover - 1)) {
        uint32_t flight = c->snd_max - c->snd_una;
        c->ssthresh = flight / 2 > 2u * c->mss ? flight / 2 : 2u * c->mss;
        c->recover = c->snd_max;
        c->in_recovery = true;
        c->host->stats->TCPFastRetrans++;
        c->host->stats->TCPRenoRecovery++;
        tcp_retransmit_head(c, now);
        c->cwnd = c->ssthresh + 3u * c->mss;
    } else if (c->dupacks > 3 && c->in_recovery) {
        c->cwnd += c->mss;
    }
}

/* RFC 6582 §3.2 steps 3-5: a partial ACK retransmits the next hole and
 * deflates cwnd; a full ACK ends recovery. */
static void recovery_ack(struct tcp_conn *c, uint32_t acked, tcp_time_t now)
{
    if (seq_ge(c->snd_una, c->recover)) {
        uint32_t flight = c->snd_max - c->snd_una;
        c->cwnd = c->ssthresh < flight + c->mss ? c->ssthresh : flight + c->mss;
        c->in_recovery = c->sack_recovery = false;
        return;
    }
    if (c->sack_recovery)
        return; /* RFC 6675: a partial ACK only updates the pipe */
    tcp_retransmit_head(c, now);
    c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
    c->cwnd += c->mss;
}

/* Fifth check: the ACK field. Returns false if the segment is finished. */
static bool ack_input(struct tcp_conn *c, const struct wire_seg *seg, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    if (c->e.state == TCP_STATE_SYN_RECEIVED) {
        if (!(seq_lt(c->snd_una, seg->ack) && seq_le(seg->ack, c->snd_max))) {
            h->stats->TCPAckUnacceptable++;
            tcp_send_reset_reply(h, seg, now); /* <SEQ=SEG.ACK><CTL=RST> */
            return false;
        }
        c->snd_una = c->iss + 1; /* the SYN is acknowledged */
        c->snd_wnd = (uint32_t)seg->window << c->snd_wscale;
        c->max_snd_wnd = c->snd_wnd;
        c->snd_wl1 = seg->seq;
        c->snd_wl2 = seg->ack;
        tcp_conn_set_deadline(c, TCP_TIMER_RTX, TCP_TIME_NEVER);
        established(c, now);
        if (c->fin_queued) {
            c->fin_queued = false;
            tcp_shutdown(c, false, true, now);
        }
    }
    /* RFC 5961 §5.2: SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT, else ACK and drop. */
    if (seq_gt(seg->ack, c->snd_max)) {
        h->stats->TCPAckUnacceptable++;
        oow_ack(c, seg, now);
        return false;
    }
    if (seq_lt(seg->ack, c->snd_una - c->max_snd_wnd)) {
        h->stats->TCPAckUnacceptable++;
        challenge_ack(c, now);
        return false;
    }
    /* RFC 6675 §2: with SACK, a duplicate ACK must also SACK new data. */
    bool sack_info = c->sack_ok && (seg->opt.present & WIRE_OPT_SACK);
    bool newly_sacked = sack_info && tcp_sack_update(c, seg);
    bool dup_ack = seg->ack == c->snd_una && c->snd_una != c->snd_max && seg->payload_len == 0 &&
                   !(seg->flags & (WIRE_SYN | WIRE_FIN)) && ((uint32_t)seg->window << c->snd_wscale) == c->snd_wnd &&
                   (!sack_info || newly_sacked);
    if (dup_ack)
        dup_ack_input(c, now);
    if (seq_gt(seg->ack, c->snd_una)) {
        uint32_t acked = seg->ack - c->snd_una;
        uint32_t data_acked = acked;
        if (c->fin_sent && seq_gt(seg->ack, c->fin_seq))
            data_acked--; /* FIN occupies a sequence number */
        if (data_acked > bytebuf_len(&c->snd))
            data_acked = bytebuf_len(&c->snd);
        bytebuf_consume(&c->snd, &c->host->bufcache, data_acked);
        c->snd_una = seg->ack;
        if (c->sack)
            tcp_sack_trim(c);
        if (seq_lt(c->snd_nxt, c->snd_una))
            c->snd_nxt = c->snd_una;
        if (c->rtt_timing && seq_gt(seg->ack, c->rtt_seq)) {
            rtt_sample(c, (uint32_t)now - c->rtt_start);
            c->rtt_timing = false;
        } else if (c->backoff && c->ts_ok && (seg->opt.present & WIRE_OPT_TIMESTAMP) && seg->opt.ts_ecr &&
                   seq_ge(seg->opt.ts_ecr, c->rtx_tsval)) {
            /* RFC 7323 §4 (RTTM), as Linux tcp_rtt_tsopt_us: after a
             * retransmission Karn leaves no sample, but the echoed
             * timestamp still times the copy that got through, if it
             * is the latest retransmission's and not an older copy's. */
            uint32_t ms = tcp_ts_now(now) + c->ts_offset - seg->opt.ts_ecr;
            if (ms < 3600u * 1000u)
                rtt_sample(c, TCP_MSEC(ms ? ms : 1));
        }
        c->backoff = 0;
        c->dupacks = 0;
        if (c->in_recovery) {
            recovery_ack(c, acked, now);
        } else if (c->cwnd < c->ssthresh) {
            c->cwnd += acked < c->mss ? acked : c->mss; /* RFC 5681 §3.1 slow start */
        } else {
            c->cwnd += (uint32_t)((uint64_t)c->mss * c->mss / c->cwnd) + 1; /* congestion avoidance */
        }
        tcp_conn_set_deadline(c, TCP_TIMER_RTX, c->snd_una == c->snd_max ? TCP_TIME_NEVER : now + c->rto_us);
        tcp_conn_arm_timer(c);
        if (c->sd >= 0 && h->ops.wake)
            h->ops.wake(h->ops.ctx, c->sd);
    } else if (seg->payload_len == 0 && !(seg->flags & (WIRE_FIN | WIRE_SYN))) {
        h->stats->TCPPureAcks++;
    }
    /* Window update (RFC 9293 §3.10.7.4): only from a newer segment. */
    if (seq_lt(c->snd_wl1, seg->seq) || (c->snd_wl1 == seg->seq && seq_le(c->snd_wl2, seg->ack))) {
        c->snd_wnd = (uint32_t)seg->window << c->snd_wscale;
        if (c->snd_wnd > c->max_snd_wnd)
            c->max_snd_wnd = c->snd_wnd;
        c->snd_wl1 = seg->seq;
        c->snd_wl2 = seg->ack;
    }
    /* RFC 6675 §5: recovery starts on DupThresh duplicate ACKs or when the
     * scoreboard shows the first segment lost; within it, lost holes go
     * out as the pipe drains. */
    if (c->sack && !c->in_recovery && seq_ge(c->snd_una, c->recover) && tcp_conn_synchronized(c) &&
        (c->dupacks >= 3 || seq_gt(tcp_sack_lost_end(c), c->snd_una)))
        tcp_sack_recovery_start(c, now);
    else if (c->sack_recovery)
        tcp_sack_recovery_send(c, now);
    bool fin_acked = c->fin_sent && seq_gt(c->snd_una, c->fin_seq);
    switch ((enum tcp_state)c->e.state) {
    case TCP_STATE_FIN_WAIT_1:
        if (fin_acked) {
            tcp_set_state(h, &c->e, c->sd, TCP_STATE_FIN_WAIT_2, now);
            if (c->orphan) {
                tcp_conn_set_deadline(c, TCP_TIMER_KEEPALIVE, now + TCP_SEC(h->cfg->tcp_fin_timeout));
                tcp_conn_arm_timer(c);
            }
        }
        break;
    case TCP_STATE_CLOSING:
        if (fin_acked) {
            tcp_time_wait(h, c, now);
            return false;
        }
        break;
    case TCP_STATE_LAST_ACK:
        if (fin_acked) {
            tcp_conn_done(c, 0, now);
            return false;
        }
        break;
    default:
        break;
    }
    return true;
}

/* Seventh check: segment text, delivered in order; segments ahead of
 * RCV.NXT wait in the out-of-order queue (tcp_reass.c). Returns false if
 * the connection ended. */
static bool data_input(struct tcp_conn *c, const struct wire_seg *seg, bool *fin_in_order, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    uint32_t len = seg->payload_len;
    *fin_in_order = false;
    uint32_t seq = seg->seq;
    const uint8_t *p = seg->payload;
    if (seq_lt(seq, c->rcv_nxt)) {
        uint32_t skip = c->rcv_nxt - seq;
        if (skip > len) {
            skip = len; /* only the FIN (or nothing) is new */
        }
        if (len > 0)
            note_dsack(c, seq, seq + skip);
        seq += skip;
        p += skip;
        len -= skip;
    }
    if (seq != c->rcv_nxt) {
        bool readable = c->e.state == TCP_STATE_ESTABLISHED || c->e.state == TCP_STATE_FIN_WAIT_1 ||
                        c->e.state == TCP_STATE_FIN_WAIT_2;
        if (readable && !c->orphan)
            tcp_ooo_insert(c, seq, p, len, seg->flags & WIRE_FIN);
        schedule_ack(c, true, now); /* out of order: a duplicate ACK at once (RFC 5681 §4.2) */
        return true;
    }
    if (len > 0) {
        bool readable = c->e.state == TCP_STATE_ESTABLISHED || c->e.state == TCP_STATE_FIN_WAIT_1 ||
                        c->e.state == TCP_STATE_FIN_WAIT_2;
        if (!readable)
            return true; /* after the peer's FIN: ignore the text (RFC 9293 §3.10.7.4) */
        if (c->orphan) {
            /* Data for a closed descriptor: reset (Linux TCPAbortOnData). */
            h->stats->TCPAbortOnData++;
            tcp_send_rst_for(c, now);
            tcp_conn_done(c, 0, now);
            return false;
        }
        uint32_t n = len;
        if (c->shut_rd) {
            n = len; /* read side shut: accept and discard */
        } else {
            n = bytebuf_append(&c->rcv, &c->host->bufcache, p, len);
            if (n == 0)
                h->stats->TCPZeroWindowDrop++;
            else if (n < len)
                h->stats->TCPRcvQDrop++;
        }
        c->rcv_nxt += n;
        c->unacked_segs++;
        bool filled_hole = false;
        if (c->ooo && n == len) {
            filled_hole = true; /* RFC 5681 §4.2: ACK at once when a gap (partly) fills */
            if (tcp_ooo_drain(c)) {
                /* The held FIN is in order now: fin_input ACKs data and FIN at once. */
                *fin_in_order = true;
                c->ack_pending = true;
                c->quickack = true;
                if (c->sd >= 0 && h->ops.wake)
                    h->ops.wake(h->ops.ctx, c->sd);
                return true;
            }
        }
        bool full_segments = c->unacked_segs >= 2 || n < len || filled_hole || h->dsack_conn == c;
        schedule_ack(c, full_segments, now);
        if (n < len)
            return true; /* what did not fit is not ours yet, nor the FIN behind it */
        if (c->sd >= 0 && h->ops.wake)
            h->ops.wake(h->ops.ctx, c->sd);
    } else if (seg->payload_len > 0 && !(seg->flags & WIRE_FIN)) {
        schedule_ack(c, true, now); /* a pure duplicate: ACK at once */
    }
    *fin_in_order = (seg->flags & WIRE_FIN) && seq + len == c->rcv_nxt;
    return true;
}

/* Eighth check: FIN (RFC 9293 §3.10.7.4). */
static void fin_input(struct tcp_conn *c, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    bool quick = c->quickack;
    c->quickack = false;
    c->rcv_nxt++;
    c->fin_rcvd = true;
    switch ((enum tcp_state)c->e.state) {
    case TCP_STATE_SYN_RECEIVED:
    case TCP_STATE_ESTABLISHED:
        tcp_set_state(h, &c->e, c->sd, TCP_STATE_CLOSE_WAIT, now);
        /* Linux delays this ACK (pingpong), so a prompt close() merges it
         * with our FIN: the three-segment close. Not when the FIN closed a
         * hole in the data: that ACK is owed at once (RFC 5681 §4.2). */
        schedule_ack(c, quick, now);
        break;
    case TCP_STATE_FIN_WAIT_1:
        tcp_send_ack(c, now);
        if (c->fin_sent && seq_gt(c->snd_una, c->fin_seq)) {
            tcp_time_wait(h, c, now);
            return;
        }
        tcp_set_state(h, &c->e, c->sd, TCP_STATE_CLOSING, now); /* simultaneous close */
        break;
    case TCP_STATE_FIN_WAIT_2:
        tcp_send_ack(c, now);
        tcp_time_wait(h, c, now);
        return;
    default:
        tcp_send_ack(c, now);
        break;
    }
    if (c->sd >= 0 && h->ops.wake)
        h->ops.wake(h->ops.ctx, c->sd);
}

static void conn_input(struct tcp_conn *c, const struct wire_seg *seg, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    if (c->e.state == TCP_STATE_SYN_SENT) {
        syn_sent_input(c, seg, now);
        return;
    }
    if (c->e.state == TCP_STATE_CLOSED)
        return;
    /* The peer's SYN-ACK of a simultaneous open repeats its SYN at IRS, just
     * left of the window; Linux's tcp_sequence accepts it (end_seq = RCV.NXT)
     * and so completes the open with it (RFC 9293 §3.5, Figure 8). */
    bool simultaneous = c->e.state == TCP_STATE_SYN_RECEIVED && !c->passive &&
                        (seg->flags & (WIRE_SYN | WIRE_ACK | WIRE_RST)) == (WIRE_SYN | WIRE_ACK) &&
                        seg->seq == c->irs && seg->ack == c->snd_max;
    /* PAWS (RFC 7323 §5.3 R1): a TSval older than TS.Recent marks an old
     * duplicate: ACK and drop it, the ACK rate-limited as Linux's
     * tcp_validate_incoming does (two ends whose TS.Recent ran ahead of each
     * other's clock would otherwise ACK each other forever). A RST is let
     * through (Linux). */
    if (c->ts_ok && (seg->opt.present & WIRE_OPT_TIMESTAMP) && !(seg->flags & WIRE_RST) &&
        seq_lt(seg->opt.ts_val, c->ts_recent)) {
        h->stats->TCPPAWSEstab++;
        oow_ack(c, seg, now);
        return;
    }
    /* First: sequence number. */
    if (!simultaneous && !seq_acceptable(c, seg)) {
        h->stats->TCPSegUnacceptable++;
        if (seg->flags & WIRE_RST) {
            h->stats->TCPRstUnacceptable++;
        } else if (seg->flags & WIRE_SYN) {
            /* RFC 5961 §4.2: any SYN, in window or not, gets a challenge ACK
             * (Linux tcp_validate_incoming: syn_challenge). */
            h->stats->TCPSYNChallenge++;
            challenge_ack(c, now);
        } else {
            if (seg->payload_len > 0 && seq_le(seg->seq + seg->payload_len, c->rcv_nxt))
                note_dsack(c, seg->seq, seg->seq + seg->payload_len); /* an old duplicate */
            oow_ack(c, seg, now); /* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
        }
        return;
    }
    if (seg->flags & WIRE_RST) {
        rst_input(c, seg, now);
        return;
    }
    /* Fourth: SYN in a synchronized state is answered by a challenge ACK
     * (RFC 5961 §4.2). Linux lets the SYN-ACK of a simultaneous open pass. */
    if (seg->flags & WIRE_SYN) {
        if (!simultaneous) {
            h->stats->TCPSYNChallenge++;
            challenge_ack(c, now);
            return;
        }
    }
    if (!(seg->flags & WIRE_ACK))
        return; /* RFC 9293 §3.10.7.4 fifth: no ACK, drop */
    c->last_rcv = now;
    c->probes = 0;
    c->zwp_probes = 0;
    update_ts_recent(c, seg);
    if (!ack_input(c, seg, now))
        return;
    struct wire_seg body = *seg;
    if (body.flags & WIRE_SYN) { /* the simultaneous-open SYN-ACK: its SYN is old */
        body.flags &= (uint8_t)~WIRE_SYN;
        body.seq++;
    }
    bool fin = false;
    if (body.payload_len || (body.flags & WIRE_FIN)) {
        if (!data_input(c, &body, &fin, now))
            return;
    } else if (seg->flags & WIRE_SYN) {
        tcp_send_ack(c, now); /* Linux ACKs the duplicate SYN of a simultaneous open */
    }
    if (fin) {
        fin_input(c, now);
        if (c->e.kind != TCP_ENTRY_CONN || c->e.state == TCP_STATE_CLOSED)
            return;
    }
    if (c->e.state != TCP_STATE_CLOSED)
        tcp_output(c, now);
}

void tcp_conn_input(struct tcp_conn *c, const struct wire_seg *seg, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    conn_input(c, seg, now);
    h->dsack_conn = NULL; /* a D-SACK not sent by now is dropped (c may be gone) */
}
