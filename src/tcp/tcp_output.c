/* Everything a connection sends: SYN, SYN-ACK, data, FIN, ACK, RST, and the
 * retransmission timeout (RFC 9293 §3.8, RFC 6298). */
#include <errno.h>
#include <string.h>

#include "tcp/tcp.h"

bool tcp_conn_timers_new(struct tcp_conn *c, enum tcp_timer_kind k, tcp_time_t at)
{
    uint32_t i;
    struct tcp_timers *t = pool_alloc(&c->host->timer_pool, &i);
    if (!t) {
        if (k != TCP_TIMER_DELACK) {
            c->timer_lost = true;
            c->host->timers_lost = true;
        }
        return false;
    }
    for (int j = 0; j < TCP_TIMER_KINDS; j++)
        t->at[j] = TCP_TIME_NEVER;
    t->at[k] = at;
    t->conn = c->e.ref;
    c->timers = i + 1;
    return true;
}

void tcp_conn_clear_deadlines(struct tcp_conn *c)
{
    struct tcp_timers *t = tcp_conn_timers(c);
    if (!t)
        return;
    timer_cancel(&c->host->timers, &t->node);
    pool_free(&c->host->timer_pool, c->timers - 1);
    c->timers = 0;
}

/* Lazy, as Linux's sk_reset_timer users are (inet_csk_clear_xmit_timer
 * leaves the timer running): the node moves only to run earlier. When the
 * deadlines move later or go off, it stays where it is; tcp_conn_timer then
 * finds nothing due, files the node at the earliest deadline or frees the
 * timers. A connection whose deadlines come and go (RTO, delayed ACK) so
 * keeps one record and one node instead of a pool round trip and a wheel
 * unlink and relink for each. */
void tcp_conn_arm_timer_slow(struct tcp_conn *c)
{
    struct tcp_timers *t = tcp_conn_timers(c);
    if (!t)
        return;
    tcp_time_t at = tcp_timers_earliest(t);
    if (timer_armed(&t->node)) {
        if (at < t->node.expires)
            timer_arm(&c->host->timers, &t->node, at);
    } else if (at == TCP_TIME_NEVER) {
        tcp_conn_clear_deadlines(c);
    } else {
        timer_arm(&c->host->timers, &t->node, at);
    }
}

/* The least shift that brings rcvbuf within 16 bits, at most 14: its bit
 * length less 16. */
uint8_t tcp_wscale_for(uint32_t rcvbuf)
{
    if (rcvbuf <= 65535u)
        return 0;
    unsigned shift = 16u - (unsigned)__builtin_clz(rcvbuf);
    return (uint8_t)(shift < WIRE_MAX_WSCALE ? shift : WIRE_MAX_WSCALE);
}

/* The window field: free receive space, never moving the right edge we
 * already advertised to the left (RFC 9293 §3.8.6.2.2). */
uint16_t tcp_rcv_window_field(struct tcp_conn *c)
{
    /* A shut read side still takes data (discarded, or a RST for an orphan):
     * the window stays open, as Linux keeps it. */
    uint32_t space = bytebuf_space(&c->rcv);
    uint32_t promised = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    /* Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): don't open by less than
     * an MSS. One test for both rules (promised < 2^31: no overflow). */
    uint32_t step = c->adv_mss < c->rcv.limit / 2 ? c->adv_mss : c->rcv.limit / 2;
    if (space < promised + step)
        space = promised;
    unsigned shift = c->rcv_wscale;
    uint32_t field = space >> shift;
    if (field > 65535u)
        field = 65535u;
    uint32_t wnd = field << shift;
    if (wnd > c->max_rcv_wnd)
        c->max_rcv_wnd = wnd;
    if (seq_gt(c->rcv_nxt + wnd, c->rcv_adv))
        c->rcv_adv = c->rcv_nxt + wnd;
    return (uint16_t)field;
}

/* Out with the connection's addresses, unpacked straight into the segment. */
static void conn_emit(struct tcp_conn *c, struct wire_seg *seg, bool retransmission)
{
    tcp_entry_tuple(c->host, &c->e, &seg->tuple);
    tcp_emit_seg(c->host, seg, retransmission);
}

static void add_timestamp(struct tcp_conn *c, struct wire_seg *seg, tcp_time_t now)
{
    if (!c->ts_ok)
        return;
    seg->opt.present |= WIRE_OPT_TIMESTAMP;
    seg->opt.ts_val = tcp_ts_now(now) + c->ts_offset;
    seg->opt.ts_ecr = c->ts_recent;
}

/* Sends one segment of a synchronized connection: ACK always set. */
static void send_segment(struct tcp_conn *c, uint8_t flags, uint32_t seq, const uint8_t *payload,
                         uint32_t len, tcp_time_t now)
{
    struct wire_seg seg;
    tcp_seg_init(&seg, flags | WIRE_ACK, seq, c->rcv_nxt);
    seg.window = tcp_rcv_window_field(c);
    seg.payload = payload;
    seg.payload_len = len;
    add_timestamp(c, &seg, now);
    int max_blocks = c->ts_ok ? 3 : 4;
    if (c->sack_ok && c->host->dsack_conn == c) {
        /* RFC 2883 §4: a D-SACK block first, the duplicate we just got. */
        seg.opt.sack[seg.opt.sack_count++] = c->host->dsack;
        c->host->dsack_conn = NULL;
        c->host->stats->TCPDSACKOldSent++;
    }
    if (c->sack_ok && c->ooo) /* RFC 2018 §4: report what we hold beyond RCV.NXT */
        seg.opt.sack_count = (uint8_t)(seg.opt.sack_count +
                                       tcp_ooo_sack_blocks(c, seg.opt.sack + seg.opt.sack_count,
                                                           max_blocks - seg.opt.sack_count));
    if (seg.opt.sack_count)
        seg.opt.present |= WIRE_OPT_SACK;
    bool rtx = wire_seg_len(&seg) > 0 && seq_le(seq + wire_seg_len(&seg), c->snd_max);
    if (rtx && c->ts_ok)
        c->rtx_tsval = seg.opt.ts_val; /* RTTM only from echoes of this or later */
    c->last_ack_sent = c->rcv_nxt;
    c->ack_pending = false;
    c->unacked_segs = 0;
    struct tcp_timers *t = tcp_conn_timers(c); /* looked up once, read and set */
    if (t && t->at[TCP_TIMER_DELACK] != TCP_TIME_NEVER) {
        t->at[TCP_TIMER_DELACK] = TCP_TIME_NEVER;
        tcp_conn_arm_timer(c);
    }
    conn_emit(c, &seg, rtx);
}

/* A pure ACK carries SND.MAX: after a timeout rewinds SND.NXT, an older
 * number would fall left of the peer's window and be dropped unread (as
 * BSD; Linux's snd_nxt is our snd_max). */
void tcp_send_ack(struct tcp_conn *c, tcp_time_t now)
{
    send_segment(c, 0, c->snd_max, NULL, 0, now);
}

/* RST from a connection (ABORT, SO_LINGER 0): <SEQ=SND.NXT><CTL=RST,ACK>,
 * as Linux's tcp_send_active_reset. */
void tcp_send_rst_for(struct tcp_conn *c, tcp_time_t now)
{
    struct wire_seg seg;
    tcp_seg_init(&seg, WIRE_RST | WIRE_ACK, c->snd_max, c->rcv_nxt);
    add_timestamp(c, &seg, now);
    conn_emit(c, &seg, false);
}

/* SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED after a simultaneous open), with
 * the options we offer (RFC 9293 §3.7.1, RFC 7323, RFC 2018). No data. */
void tcp_send_syn(struct tcp_conn *c, tcp_time_t now)
{
    const struct tcp_config *cfg = c->host->cfg;
    struct wire_seg seg;
    bool synack = c->e.state == TCP_STATE_SYN_RECEIVED;
    tcp_seg_init(&seg, WIRE_SYN | (synack ? WIRE_ACK : 0), c->iss, synack ? c->rcv_nxt : 0);
    uint32_t space = bytebuf_space(&c->rcv);
    seg.window = (uint16_t)(space > 65535u ? 65535u : space); /* never scaled in a SYN (RFC 7323 §2.2) */
    c->rcv_adv = c->rcv_nxt + seg.window;
    c->max_rcv_wnd = seg.window;
    seg.opt.present = WIRE_OPT_MSS;
    seg.opt.mss = c->adv_mss;
    /* In a SYN-ACK, offer only what the peer offered (RFC 7323 §1.3, RFC 2018 §2). */
    if (cfg->tcp_window_scaling && (!synack || c->wscale_ok)) {
        seg.opt.present |= WIRE_OPT_WSCALE;
        seg.opt.wscale = c->rcv_wscale;
    }
    if (cfg->tcp_sack && (!synack || c->sack_ok))
        seg.opt.present |= WIRE_OPT_SACK_PERM;
    if (cfg->tcp_timestamps && (!synack || c->ts_ok)) {
        seg.opt.present |= WIRE_OPT_TIMESTAMP;
        seg.opt.ts_val = tcp_ts_now(now) + c->ts_offset;
        seg.opt.ts_ecr = synack ? c->ts_recent : 0;
    }
    bool rtx = c->snd_max == c->iss + 1;
    c->snd_max = c->snd_nxt = c->iss + 1;
    conn_emit(c, &seg, rtx);
}

static uint32_t in_flight(const struct tcp_conn *c) { return c->snd_nxt - c->snd_una; }

static void arm_rtx(struct tcp_conn *c, tcp_time_t now)
{
    if (tcp_conn_start_deadline(c, TCP_TIMER_RTX, now + c->rto_us) != 0)
        tcp_conn_arm_timer(c); /* with no timers (no memory) it does nothing */
}

/* Sends new data and the FIN as far as the windows allow (RFC 9293 §3.8.6,
 * RFC 5681 §3.1 for cwnd). force: the SWS override timeout ran out
 * (RFC 9293 §3.8.6.2.1): send what the window takes, however small. */
static void output(struct tcp_conn *c, tcp_time_t now, bool force)
{
    /* Not synchronized, or SYN-RECEIVED: CLOSED, LISTEN and the SYN states
     * come first in enum tcp_state. */
    _Static_assert(TCP_STATE_SYN_RECEIVED == 3 && TCP_STATE_ESTABLISHED == 4, "enum tcp_state order");
    if (c->e.state <= TCP_STATE_SYN_RECEIVED)
        return;
    struct tcp_host *h = c->host;
    uint32_t data_end = c->snd_una + bytebuf_len(&c->snd);
    bool sent = false;
    for (;;) {
        if (!seq_lt(c->snd_nxt, data_end))
            break;
        uint32_t sacked_end, len_cap = UINT32_MAX;
        if (c->sack && seq_lt(c->snd_nxt, c->snd_max)) {
            /* Resending after a timeout: skip what the peer SACKed (RFC 6675
             * §5.1). A block may cover our FIN too (Linux SACKs it). */
            if (tcp_sack_holds(c, c->snd_nxt, &sacked_end)) {
                c->snd_nxt = seq_lt(sacked_end, data_end) ? sacked_end : data_end;
                continue;
            }
            len_cap = tcp_sack_next_sacked(c, c->snd_nxt) - c->snd_nxt;
        }
        uint32_t avail = data_end - c->snd_nxt;
        /* In flight for cwnd: unSACKed bytes, or RFC 6675's pipe in recovery. */
        uint32_t flight = !c->sack ? in_flight(c)
                          : c->sack_recovery ? tcp_sack_pipe(c)
                                             : tcp_sack_unsacked(c, c->snd_nxt);
        uint32_t wnd_room = seq_lt(c->snd_nxt, c->snd_una + c->snd_wnd) ? c->snd_una + c->snd_wnd - c->snd_nxt : 0;
        uint32_t cwnd_room = c->cwnd > flight ? c->cwnd - flight : 0;
        uint32_t room = wnd_room < cwnd_room ? wnd_room : cwnd_room;
        uint32_t len = avail < c->mss ? avail : c->mss;
        if (len > len_cap)
            len = len_cap;
        if (len > room) {
            /* Sender SWS avoidance (RFC 9293 §3.8.6.2.1): send a partial
             * segment only if it is all we have or the window allows half
             * the peer's maximum window. */
            if (room == 0 || (!force && room < avail && room < c->max_snd_wnd / 2))
                break;
            len = room;
        }
        /* Nagle (RFC 9293 §3.7.4) as Linux does it (Minshall's variant,
         * tcp_minshall_check): hold a small segment only while an earlier
         * small one is unacknowledged. */
        if (len < c->mss && flight > 0 && seq_gt(c->snd_sml, c->snd_una) && !c->opt.nodelay &&
            !c->fin_queued && !force)
            break;
        force = false;
        uint32_t off = c->snd_nxt - c->snd_una;
        const uint8_t *p = bytebuf_view(&c->snd, off, len, h->scratch);
        bool last = c->snd_nxt + len == data_end;
        bool fin = last && c->fin_queued;
        bool rtx = seq_lt(c->snd_nxt, c->snd_max);
        if (rtx)
            h->stats->RetransSegs++;
        else if (!c->rtt_timing) {
            c->rtt_seq = c->snd_nxt;
            c->rtt_start = (uint32_t)now;
            c->rtt_timing = true;
        }
        send_segment(c, (last ? WIRE_PSH : 0) | (fin ? WIRE_FIN : 0), c->snd_nxt, p, len, now);
        c->snd_nxt += len;
        if (len < c->mss)
            c->snd_sml = c->snd_nxt;
        if (fin) {
            c->fin_sent = true;
            c->fin_seq = c->snd_nxt;
            c->snd_nxt++;
        }
        if (seq_gt(c->snd_nxt, c->snd_max))
            c->snd_max = c->snd_nxt;
        sent = true;
    }
    /* A FIN with no data left to carry it (unless the peer SACKed it). */
    uint32_t fin_sacked_end;
    if (c->fin_queued && c->snd_nxt == data_end && (!c->fin_sent || c->snd_nxt == c->fin_seq) &&
        !(c->fin_sent && tcp_sack_holds(c, c->fin_seq, &fin_sacked_end))) {
        if (c->fin_sent)
            h->stats->RetransSegs++;
        send_segment(c, WIRE_FIN, c->snd_nxt, NULL, 0, now);
        c->fin_sent = true;
        c->fin_seq = c->snd_nxt;
        c->snd_nxt++;
        if (seq_gt(c->snd_nxt, c->snd_max))
            c->snd_max = c->snd_nxt;
        sent = true;
    }
    if (sent || in_flight(c))
        arm_rtx(c, now);
    else if (seq_lt(c->snd_nxt, data_end))
        arm_rtx(c, now); /* data held by the window: persist / SWS override timer */
}

void tcp_output(struct tcp_conn *c, tcp_time_t now)
{
    /* Half the calls (input owing only a delayed ACK) find nothing queued,
     * no FIN and nothing in flight: no segment and no timer to arm. */
    if (bytebuf_len(&c->snd) == 0 && !c->fin_queued && c->snd_nxt == c->snd_una)
        return;
    output(c, now, false);
}

/* Resends what lies at seq, at most one MSS and never past hole_end (a
 * SACKed range or SND.MAX); the FIN too if it is there. Returns the
 * sequence space resent. */
static uint32_t retransmit_at(struct tcp_conn *c, uint32_t seq, uint32_t hole_end, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    uint32_t off = seq - c->snd_una, buffered = bytebuf_len(&c->snd);
    uint32_t len = off < buffered ? buffered - off : 0;
    if (len > hole_end - seq)
        len = hole_end - seq;
    if (len > c->mss)
        len = c->mss;
    bool fin = c->fin_sent && seq + len == c->fin_seq && seq_lt(c->fin_seq, hole_end);
    if (len == 0 && !fin)
        return 0;
    const uint8_t *p = len ? bytebuf_view(&c->snd, off, len, h->scratch) : NULL;
    h->stats->RetransSegs++;
    if (c->rtt_timing && seq_lt(c->rtt_seq, seq + len + fin))
        c->rtt_timing = false; /* Karn */
    send_segment(c, (fin ? WIRE_FIN : 0) | (len ? WIRE_PSH : 0), seq, p, len, now);
    return len + fin;
}

/* Resends the first unacknowledged segment (fast retransmit, RFC 5681
 * §3.2; NewReno partial ACKs, RFC 6582), leaving SND.NXT where it is. */
void tcp_retransmit_head(struct tcp_conn *c, tcp_time_t now)
{
    retransmit_at(c, c->snd_una, tcp_sack_next_sacked(c, c->snd_una), now);
    tcp_conn_set_deadline(c, TCP_TIMER_RTX, now + c->rto_us);
    tcp_conn_arm_timer(c);
}

/* RFC 6675 §5 step 4: RecoveryPoint = HighData, ssthresh = cwnd =
 * FlightSize / 2, resend the first segment. */
void tcp_sack_recovery_start(struct tcp_conn *c, tcp_time_t now)
{
    uint32_t flight = c->snd_max - c->snd_una;
    c->ssthresh = flight / 2 > 2u * c->mss ? flight / 2 : 2u * c->mss;
    c->cwnd = c->ssthresh;
    c->recover = c->snd_max;
    c->in_recovery = c->sack_recovery = true;
    c->host->stats->TCPSackRecovery++;
    c->host->stats->TCPFastRetrans++;
    c->sack->high_rxt = c->snd_una;
    uint32_t hole_end = tcp_sack_next_sacked(c, c->snd_una);
    c->sack->high_rxt = c->snd_una + retransmit_at(c, c->snd_una, hole_end, now);
    tcp_conn_set_deadline(c, TCP_TIMER_RTX, now + c->rto_us);
    tcp_conn_arm_timer(c);
    tcp_sack_recovery_send(c, now);
}

/* RFC 6675 §5 step (C): while cwnd - pipe >= 1 SMSS, resend the next lost
 * hole (NextSeg rule 1); new data (rule 2) is left to output(). */
void tcp_sack_recovery_send(struct tcp_conn *c, tcp_time_t now)
{
    uint32_t seq, hole_end;
    while (c->sack && c->sack_recovery && c->cwnd >= tcp_sack_pipe(c) + c->mss &&
           tcp_sack_next_lost(c, &seq, &hole_end)) {
        uint32_t n = retransmit_at(c, seq, hole_end, now);
        if (n == 0)
            break;
        c->sack->high_rxt = seq + n;
    }
}

/* Linux tcp_retransmits_timed_out: data retries end by time, not count:
 * the time `boundary` doubling timeouts from TCP_RTO_MIN would take, each
 * capped at TCP_RTO_MAX (924.6 s for tcp_retries2 = 15). A longer RTO thus
 * gets fewer retries, as in Linux. */
static tcp_time_t retries_timeout(const struct tcp_config *cfg, unsigned boundary)
{
    tcp_time_t base = TCP_MSEC(cfg->tcp_rto_min_ms), max = TCP_MSEC(cfg->tcp_rto_max_ms);
    tcp_time_t total = 0, rto = base ? base : 1;
    for (unsigned i = 0; i <= boundary; i++) {
        total += rto < max ? rto : max;
        if (rto < max)
            rto *= 2;
    }
    return total;
}

/* RFC 6298 §5.4-5.6 (and go-back-N, RFC 9293 §3.8.1): on expiry retransmit
 * from SND.UNA, double the RTO, count towards the retry limit. */
void tcp_retransmit_timeout(struct tcp_conn *c, tcp_time_t now)
{
    struct tcp_host *h = c->host;
    const struct tcp_config *cfg = h->cfg;
    tcp_conn_set_deadline(c, TCP_TIMER_RTX, TCP_TIME_NEVER);
    bool syn_phase = c->e.state == TCP_STATE_SYN_SENT || c->e.state == TCP_STATE_SYN_RECEIVED;
    /* Nothing in flight but data held back by the peer's window. */
    bool window_stall = !syn_phase && c->snd_una == c->snd_max && bytebuf_len(&c->snd) > 0;
    bool zero_window_probe = window_stall && c->snd_wnd == 0;
    int limit;
    if (syn_phase)
        limit = c->opt.syn_retries;
    else if (c->orphan)
        limit = cfg->tcp_orphan_retries ? (int)cfg->tcp_orphan_retries : 8;
    else
        limit = (int)cfg->tcp_retries2;
    if (!syn_phase && !window_stall && c->backoff == 0)
        c->retrans_stamp = now - c->rto_us; /* about when the head segment went out */
    bool expired = syn_phase ? c->backoff >= limit
                             : c->backoff > 0 && now - c->retrans_stamp >= retries_timeout(cfg, (unsigned)limit);
    if (!zero_window_probe && expired) {
        h->stats->TCPAbortOnTimeout++;
        if (syn_phase)
            h->stats->AttemptFails++;
        tcp_conn_done(c, ETIMEDOUT, now);
        return;
    }
    h->stats->TCPTimeouts++;
    c->backoff++;
    c->rtt_timing = false; /* Karn: no sample from a retransmitted segment */
    /* SYN retries: tcp_syn_linear_timeouts at the initial RTO, then doubling. */
    if (syn_phase && c->backoff <= cfg->tcp_syn_linear_timeouts)
        c->rto_us = (uint32_t)(cfg->tcp_rto_initial_ms * 1000);
    else {
        uint64_t rto = (uint64_t)c->rto_us * 2;
        uint64_t max = (uint64_t)cfg->tcp_rto_max_ms * 1000;
        c->rto_us = (uint32_t)(rto > max ? max : rto);
    }
    if (syn_phase) {
        h->stats->TCPSynRetrans++;
        h->stats->RetransSegs++;
        tcp_send_syn(c, now);
        tcp_conn_set_deadline(c, TCP_TIMER_RTX, now + c->rto_us);
        tcp_conn_arm_timer(c);
        return;
    }
    if (window_stall && !zero_window_probe) {
        /* A small window held the data back (sender SWS avoidance): the
         * override timeout sends what fits (RFC 9293 §3.8.6.2.1). */
        c->backoff--;
        output(c, now, true);
        if (tcp_conn_deadline(c, TCP_TIMER_RTX) == TCP_TIME_NEVER) {
            tcp_conn_set_deadline(c, TCP_TIMER_RTX, now + c->rto_us);
            tcp_conn_arm_timer(c);
        }
        return;
    }
    if (zero_window_probe) {
        /* Linux tcp_probe_timer: unanswered probes count to the same limit. */
        /* An orphan gives up once the probe interval reaches TCP_RTO_MAX,
         * answered or not (Linux tcp_probe_timer: !alive, tcp_orphan_retries). */
        bool alive = c->rto_us < (uint64_t)cfg->tcp_rto_max_ms * 1000;
        if (c->zwp_probes >= limit || (c->orphan && !alive)) {
            h->stats->TCPAbortOnTimeout++;
            tcp_conn_done(c, ETIMEDOUT, now);
            return;
        }
        c->zwp_probes++;
        /* RFC 9293 §3.8.6.1: probe the zero window. Like Linux
         * (tcp_xmit_probe_skb), an old sequence number that the peer must
         * answer with an ACK carrying its current window. */
        send_segment(c, 0, c->snd_una - 1, NULL, 0, now);
        c->backoff--; /* persist probes do not count towards tcp_retries2 */
        tcp_conn_set_deadline(c, TCP_TIMER_RTX, now + c->rto_us);
        tcp_conn_arm_timer(c);
        return;
    }
    /* RFC 5681 §3.1: after a timeout, ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS. */
    uint32_t flight = c->snd_max - c->snd_una;
    c->ssthresh = flight / 2 > 2u * c->mss ? flight / 2 : 2u * c->mss;
    c->cwnd = c->mss;
    c->snd_nxt = c->snd_una;
    c->dupacks = 0;
    c->in_recovery = c->sack_recovery = false;
    c->recover = c->snd_max; /* RFC 6582 §3.2 step 4: no fast retransmit for this flight */
    /* RFC 2018 §8: a receiver may discard what it SACKed. A second timeout
     * in a row forgets the board and resends everything (Linux does so on
     * evidence of reneging). */
    if (c->backoff >= 2)
        tcp_sack_free(c);
    output(c, now, true); /* the head goes whatever SWS avoidance would say */
    if (tcp_conn_deadline(c, TCP_TIMER_RTX) == TCP_TIME_NEVER) {
        tcp_conn_set_deadline(c, TCP_TIMER_RTX, now + c->rto_us);
        tcp_conn_arm_timer(c);
    }
}
