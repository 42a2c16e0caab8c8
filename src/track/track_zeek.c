/* Zeek's view of a connection, replayed step by step so that conn_state,
 * history, byte counts and the originator/responder roles match Zeek's
 * conn.log: TCPSessionAdapter::Process() and its helpers, TCP_Endpoint's
 * history and size rules, and conn_state() of base/protocols/conn/main.zeek.
 *
 * Deliberate differences, all documented in the tracker's README notes:
 *  - no analyzer timers: connections end by our phase timeouts, not by
 *    Zeek's 5 s attempt/close delays, so SYN retransmissions stay in one
 *    record;
 *  - a SYN from the responder while the originator is in SYN_SENT is a
 *    simultaneous open, not a reuse (Zeek's IsReuse would split it);
 *  - payload cut by the snaplen is not a content gap;
 *  - gaps are found with one out-of-order block, not a full reassembler. */
#include <ctype.h>
#include <string.h>

#include "track/track_internal.h"

/* Connection history masks (Zeek's Session HIST_*). */
enum {
    HIST_SYN_PKT = 0x1,
    HIST_FIN_PKT = 0x2,
    HIST_RST_PKT = 0x4,
    HIST_FIN_RST_PKT = 0x8,
    HIST_DATA_PKT = 0x10,
    HIST_ACK_PKT = 0x20,
    HIST_MULTI_FLAG_PKT = 0x40,
};

#define TOO_LARGE_SEQ_DELTA 1048576
#define TCP_CONNECTION_LINGER TCP_SEC(5) /* Zeek's tcp_connection_linger */

static inline int32_t seq_delta(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

/* b <= a <= c in sequence space (Zeek's seq_between). */
static bool seq_between(uint32_t a, uint32_t b, uint32_t c)
{
    if (b <= c)
        return a >= b && a <= c;
    return a >= b || a <= c;
}

/* Zeek's likely_server_ports for TCP: the ports its default analyzers
 * register (Analyzer::register_for_ports). */
static const uint16_t likely_server_ports[] = {
    21,  22,  23,  25,  53,  79,  80,  81,   88,   135,  139,  143,  389,  443,  445,  465,  502,
    513, 514, 563, 585, 587, 614, 631, 636,  989,  990,  992,  993,  995,  1080, 1434, 1883, 2811,
    3128, 3268, 3306, 3389, 5222, 5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888,
    20000,
};

bool track_zeek_likely_server_port(uint16_t port)
{
    size_t lo = 0, hi = sizeof likely_server_ports / sizeof likely_server_ports[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (likely_server_ports[mid] == port)
            return true;
        if (likely_server_ports[mid] < port)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool track_zeek_want_flip(const struct wire_seg *seg)
{
    uint8_t f = seg->flags;
    if ((f & WIRE_SYN) && !(f & WIRE_ACK))
        return false;
    /* Partial connection or one starting with a SYN-ACK: guess the true
     * responder by the ports (TCPAnalyzer::WantConnection). */
    if (!track_zeek_likely_server_port(seg->tuple.sport))
        return false;
    if (track_zeek_likely_server_port(seg->tuple.dport))
        return !(f & WIRE_SYN) && seg->tuple.sport < seg->tuple.dport;
    return true;
}

void track_zeek_init(struct track_conn *c)
{
    for (int s = 0; s < 2; s++) {
        struct track_zeek_ep *z = &c->z[s];
        memset(z, 0, sizeof *z);
        z->state = z->prev_state = ZEP_INACTIVE;
        z->chk_thresh = z->rxmt_thresh = z->win0_thresh = z->gap_thresh = 1;
        z->reassem_top = 1;
    }
}

void track_history_add(struct track_conn *c, char code)
{
    if (c->hist_len + 1 < TRACK_HISTORY_MAX) {
        c->history[c->hist_len++] = code;
        c->history[c->hist_len] = '\0';
    }
}

static void history_replace(struct track_conn *c, const char *h)
{
    size_t n = strlen(h);
    memcpy(c->history, h, n + 1);
    c->hist_len = (uint8_t)n;
}

void track_zeek_flip(struct track_conn *c)
{
    c->orig ^= 1;
    uint8_t f = c->first_packet_seen;
    c->first_packet_seen = (uint8_t)(((f & 1) ? 2 : 0) | ((f & 2) ? 1 : 0));
    c->is_partial = false;
    track_history_add(c, '^');
}

/* Session::CheckHistory: adds code the first time mask is seen. */
static bool conn_check_history(struct track_conn *c, uint32_t mask, char code)
{
    if ((c->hist_seen & mask) == 0) {
        c->hist_seen |= mask;
        track_history_add(c, code);
        return false;
    }
    return true;
}

/* TCP_Endpoint::CheckHistory, with its late flip of connections that
 * began with a SYN-ACK. */
static bool ep_check_history(struct track_conn *c, int s, uint32_t mask, char code)
{
    if ((code == 'A' || code == 'D') && strcmp(c->history, "H") == 0) {
        track_zeek_flip(c);
        history_replace(c, "^h");
        c->first_packet_seen |= 1;
    }
    if (!track_is_orig(c, s)) {
        mask <<= 16;
        code = (char)tolower((unsigned char)code);
    }
    return conn_check_history(c, mask, code);
}

static void ep_add_history(struct track_conn *c, int s, char code)
{
    if (!track_is_orig(c, s))
        code = (char)tolower((unsigned char)code);
    track_history_add(c, code);
}

/* Session::ScaledHistoryEntry: the letter again at 1, 10, 100... */
static void scaled_history(struct track_conn *c, int s, char code, uint32_t *counter, uint32_t *thresh)
{
    if (++*counter == *thresh) {
        ep_add_history(c, s, code);
        uint32_t next = *thresh * 10;
        if (next <= *thresh)
            *counter = 0;
        else
            *thresh = next;
    }
}

void track_zeek_bad_checksum(struct track_conn *c, int s)
{
    scaled_history(c, s, 'C', &c->z[s].chk_cnt, &c->z[s].chk_thresh);
}

static void ep_set_state(struct track_zeek_ep *z, uint8_t st)
{
    if (st != z->state) {
        z->prev_state = z->state;
        z->state = st;
    }
}

static bool ep_no_data_acked(const struct track_zeek_ep *z)
{
    uint64_t ack = ((uint64_t)z->ack_wraps << 32) + z->ack_seq;
    uint64_t start = (uint64_t)z->start_seq;
    return ack == start || ack == start + 1;
}

uint64_t track_zeek_size(const struct track_conn *c, int s)
{
    const struct track_zeek_ep *z = &c->z[s], *peer = &c->z[!s];
    if (z->prev_state == ZEP_SYN_SENT && z->state == ZEP_RESET && peer->state == ZEP_INACTIVE &&
        !ep_no_data_acked(z))
        return 0; /* a half-open connection discovered and aborted */
    uint64_t last64 = ((uint64_t)z->seq_wraps << 32) + z->last_seq;
    uint64_t ack64 = ((uint64_t)z->ack_wraps << 32) + z->ack_seq;
    uint64_t size = (last64 > ack64 ? last64 : ack64) - (uint64_t)z->start_seq;
    if (size != 0)
        --size; /* the SYN octet */
    if (z->fin_cnt > 0 && size != 0)
        --size; /* the FIN octet */
    return size;
}

static void init_endpoint(struct track *t, struct track_conn *c, int s, uint8_t flags, uint32_t first_seq,
                          uint32_t last_seq, tcp_time_t now)
{
    struct track_zeek_ep *z = &c->z[s];
    switch (z->state) {
    case ZEP_INACTIVE:
        if (flags & WIRE_SYN) {
            z->ack_seq = first_seq;
            z->start_seq = first_seq;
        } else {
            /* Partial connection: number as though a SYN had been seen. */
            z->ack_seq = first_seq - 1;
            z->start_seq = (uint32_t)(first_seq - 1);
            last_seq = first_seq;
        }
        z->last_seq = last_seq;
        break;
    case ZEP_SYN_SENT:
    case ZEP_SYN_ACK_SENT:
        if ((flags & WIRE_SYN) && first_seq != (uint32_t)z->start_seq) {
            track_raise(t, c, TRACK_ANOM_SYN_SEQ_JUMP, now, s, "%s sent a SYN with ISN %u after ISN %u",
                        track_role(c, s), first_seq, (uint32_t)z->start_seq);
            z->start_seq = first_seq;
            z->ack_seq = first_seq;
            z->last_seq = last_seq;
        }
        break;
    case ZEP_ESTABLISHED:
    case ZEP_PARTIAL:
        if (flags & WIRE_SYN) {
            if (track_zeek_size(c, s) > 0)
                track_raise(t, c, TRACK_ANOM_SYN_INSIDE_CONNECTION, now, s,
                            "%s sent a SYN after %llu bytes of data", track_role(c, s),
                            (unsigned long long)track_zeek_size(c, s));
            if (first_seq != (uint32_t)z->start_seq)
                track_raise(t, c, TRACK_ANOM_SYN_SEQ_JUMP, now, s, "%s sent a SYN with ISN %u after ISN %u",
                            track_role(c, s), first_seq, (uint32_t)z->start_seq);
            z->start_seq = first_seq;
            z->ack_seq = first_seq;
            z->last_seq = last_seq;
        }
        break;
    case ZEP_RESET:
        if ((flags & WIRE_SYN) && z->prev_state == ZEP_INACTIVE) {
            z->start_seq = first_seq;
            z->ack_seq = first_seq;
            z->last_seq = last_seq;
        }
        break;
    default:
        break;
    }
}

static uint64_t relative_seq(const struct track_zeek_ep *z, uint32_t cur, uint32_t last, uint32_t wraps,
                             bool *underflow)
{
    int32_t delta = seq_delta(cur, last);
    if (delta < 0) {
        if (wraps && cur > last)
            --wraps;
    } else if (delta > 0) {
        if (cur < last)
            ++wraps;
    }
    if (wraps == 0) {
        delta = seq_delta(cur, (uint32_t)z->start_seq);
        if (underflow && delta < 0)
            *underflow = true;
        return (uint64_t)(int64_t)delta;
    }
    return ((uint64_t)wraps << 32) + cur - (uint64_t)z->start_seq;
}

static void update_history(struct track_conn *c, int s, uint8_t flags, uint64_t rel_seq, uint32_t len)
{
    struct track_zeek_ep *z = &c->z[s];
    int bits = !!(flags & WIRE_SYN) + !!(flags & WIRE_FIN) + !!(flags & WIRE_RST);
    if (bits > 1) {
        if ((flags & WIRE_FIN) && (flags & WIRE_RST))
            ep_check_history(c, s, HIST_FIN_RST_PKT, 'I');
        else
            ep_check_history(c, s, HIST_MULTI_FLAG_PKT, 'Q');
    } else if (bits == 1) {
        if (flags & WIRE_SYN) {
            char code = (flags & WIRE_ACK) ? 'H' : 'S';
            if (ep_check_history(c, s, HIST_SYN_PKT, code) && rel_seq != z->hist_last_syn)
                ep_add_history(c, s, code);
            z->hist_last_syn = rel_seq;
        }
        if (flags & WIRE_FIN) {
            /* A FIN's sequence number comes after its data. */
            if (ep_check_history(c, s, HIST_FIN_PKT, 'F') && rel_seq + len != z->hist_last_fin)
                ep_add_history(c, s, 'F');
            z->hist_last_fin = rel_seq + len;
        }
        if (flags & WIRE_RST) {
            if (ep_check_history(c, s, HIST_RST_PKT, 'R') && rel_seq != z->hist_last_rst)
                ep_add_history(c, s, 'R');
            z->hist_last_rst = rel_seq;
        }
    } else {
        if (len)
            ep_check_history(c, s, HIST_DATA_PKT, 'D');
        else if (flags & WIRE_ACK)
            ep_check_history(c, s, HIST_ACK_PKT, 'A');
    }
}

static void update_window(struct track_conn *c, int s, const struct wire_seg *seg)
{
    struct track_zeek_ep *z = &c->z[s], *peer = &c->z[!s];
    /* Zero windows after a RST or after the peer's FIN are boring. */
    if (seg->window == 0 && !(seg->flags & WIRE_RST) && peer->state != ZEP_CLOSED && z->state != ZEP_RESET)
        scaled_history(c, s, 'W', &z->win0_cnt, &z->win0_thresh);
}

static void init_peer(struct track *t, struct track_conn *c, int s, uint8_t flags, uint32_t ack,
                      tcp_time_t now)
{
    struct track_zeek_ep *z = &c->z[s], *peer = &c->z[!s];
    if (!(flags & (WIRE_SYN | WIRE_FIN | WIRE_RST)) &&
        (z->state == ZEP_SYN_SENT || z->state == ZEP_SYN_ACK_SENT || z->state == ZEP_ESTABLISHED))
        track_raise(t, c, TRACK_ANOM_POSSIBLE_SPLIT_ROUTING, now, s,
                    "%s acks data from a peer never seen", track_role(c, s));
    peer->start_seq = (uint32_t)(ack - 1);
    peer->ack_seq = ack - 1;
    peer->last_seq = ack - 1;
}

static void update_ack_seq(struct track_zeek_ep *z, uint32_t ack)
{
    int32_t delta = seq_delta(ack, z->ack_seq);
    if (ack == 0 && delta > TOO_LARGE_SEQ_DELTA)
        return; /* more likely a broken ack than a wrap landing on 0 */
    if (delta > 0) {
        if (ack < z->ack_seq)
            ++z->ack_wraps;
        z->ack_seq = ack;
    }
}

static int32_t update_last_seq(struct track_conn *c, int s, uint32_t last_seq, uint8_t flags, uint32_t len)
{
    struct track_zeek_ep *z = &c->z[s];
    int32_t delta = seq_delta(last_seq, z->last_seq);
    if ((flags & (WIRE_SYN | WIRE_RST)) && (delta > TOO_LARGE_SEQ_DELTA || delta < -TOO_LARGE_SEQ_DELTA)) {
        /* untrusted */
    } else if ((flags & WIRE_FIN) && (int64_t)z->last_seq == z->start_seq + 1) {
        /* Only SYN and FIN seen (> 2 GB connections): trust the FIN. */
        if (last_seq < z->last_seq)
            ++z->seq_wraps;
        z->last_seq = last_seq;
    } else if (z->state == ZEP_RESET) {
        /* nothing after a RST is trusted */
    } else if (delta > 0) {
        if (last_seq < z->last_seq)
            ++z->seq_wraps;
        z->last_seq = last_seq;
    } else if (delta <= 0 && len > 0) {
        scaled_history(c, s, 'T', &z->rxmt_cnt, &z->rxmt_thresh);
    }
    return delta;
}

struct zeek_close {
    bool do_close, gen_event;
};

static void update_inactive(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                            bool is_orig, tcp_time_t now, struct zeek_close *out)
{
    struct track_zeek_ep *z = &c->z[s], *peer = &c->z[!s];
    uint8_t flags = seg->flags;
    uint32_t len = seg->payload_len;
    if (flags & WIRE_SYN) {
        if (is_orig) {
            ep_set_state(z, (flags & WIRE_ACK) ? ZEP_SYN_ACK_SENT : ZEP_SYN_SENT);
        } else {
            if (flags & WIRE_ACK) {
                if (peer->state != ZEP_INACTIVE && peer->state != ZEP_PARTIAL &&
                    !seq_between(seg->ack, (uint32_t)peer->start_seq, peer->last_seq))
                    track_raise(t, c, TRACK_ANOM_BAD_SYN_ACK, now, s,
                                "SYN-ACK acks %u, the SYN was %u", seg->ack, (uint32_t)peer->start_seq);
            } else if (peer->state == ZEP_SYN_ACK_SENT && seg->seq == (uint32_t)z->start_seq) {
                /* SYN and SYN-ACK seen in reverse order: flip and establish. */
                c->is_partial = false;
                track_zeek_flip(c);
                ep_set_state(peer, ZEP_ESTABLISHED);
                c->first_packet_seen |= 1;
            } else {
                track_raise(t, c, TRACK_ANOM_SIMULTANEOUS_OPEN, now, s,
                            "both sides sent a SYN: %s ISN %u, %s ISN %u", track_role(c, !s),
                            (uint32_t)peer->start_seq, track_role(c, s), seg->seq);
            }
            if (peer->state == ZEP_SYN_SENT)
                ep_set_state(peer, ZEP_ESTABLISHED);
            else if (peer->state == ZEP_INACTIVE)
                track_raise(t, c, TRACK_ANOM_UNSOLICITED_SYN_RESPONSE, now, s,
                            "%s sent a SYN-ACK, no SYN seen", track_role(c, s));
            ep_set_state(z, ZEP_ESTABLISHED);
        }
    }
    if (flags & WIRE_FIN) {
        ep_set_state(z, ZEP_CLOSED);
        out->do_close = out->gen_event = true;
        if (peer->state != ZEP_PARTIAL && !(flags & WIRE_SYN))
            track_raise(t, c, TRACK_ANOM_SPONTANEOUS_FIN, now, s, "%s sent a FIN as its first segment",
                        track_role(c, s));
    }
    if (flags & WIRE_RST) {
        ep_set_state(z, ZEP_RESET);
        bool is_reject = false;
        if (is_orig) {
            /* Our peer is established: a SYN-ACK but no SYN seen (reverse scan). */
            if (peer->state == ZEP_ESTABLISHED)
                is_reject = true;
        } else if (peer->state == ZEP_SYN_SENT || peer->state == ZEP_SYN_ACK_SENT) {
            is_reject = true;
        }
        out->do_close = true;
        out->gen_event = !is_reject;
        if (!is_reject && peer->state == ZEP_INACTIVE)
            track_raise(t, c, TRACK_ANOM_SPONTANEOUS_RST, now, s, "%s sent a RST as its first segment",
                        track_role(c, s));
    }
    if (z->state == ZEP_INACTIVE) { /* no control flag changed the state */
        if (!is_orig && len == 0 && c->z[c->orig].state == ZEP_SYN_SENT) {
            /* an ack of the SYN before the SYN-ACK: not a partial connection */
        } else if ((flags & WIRE_ACK) && peer->state == ZEP_ESTABLISHED) {
            /* SYN-ACK then ACK, the SYN missed: establish. */
            ep_set_state(z, ZEP_ESTABLISHED);
            c->is_partial = false;
            c->first_packet_seen |= is_orig ? 1 : 2;
        } else {
            ep_set_state(z, ZEP_PARTIAL);
        }
    }
}

static void update_syn_sent(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                            tcp_time_t now, struct zeek_close *out)
{
    struct track_zeek_ep *z = &c->z[s], *peer = &c->z[!s];
    uint8_t flags = seg->flags;
    if (flags & WIRE_FIN) {
        if (peer->state == ZEP_INACTIVE || peer->state == ZEP_SYN_SENT)
            track_raise(t, c, TRACK_ANOM_INAPPROPRIATE_FIN, now, s,
                        "%s sent a FIN before the handshake completed", track_role(c, s));
        ep_set_state(z, ZEP_CLOSED);
        out->do_close = out->gen_event = true;
    }
    if (flags & WIRE_RST) {
        ep_set_state(z, ZEP_RESET);
        out->do_close = true;
    } else if (seg->payload_len > 0) {
        track_raise(t, c, TRACK_ANOM_DATA_BEFORE_ESTABLISHED, now, s,
                    "%s sent %u bytes before the handshake completed", track_role(c, s), seg->payload_len);
    }
}

static void update_established(struct track_conn *c, int s, uint8_t flags, struct zeek_close *out)
{
    struct track_zeek_ep *z = &c->z[s], *peer = &c->z[!s];
    if ((flags & WIRE_SYN) && z->state == ZEP_PARTIAL && peer->state == ZEP_INACTIVE && !(flags & WIRE_ACK))
        ep_set_state(z, ZEP_SYN_SENT); /* SYN_after_partial */
    if ((flags & WIRE_FIN) && !(flags & WIRE_RST)) {
        ep_set_state(z, ZEP_CLOSED);
        /* The peer sent FIN then RST: that was a normal termination. */
        if (peer->state == ZEP_RESET && peer->prev_state == ZEP_CLOSED)
            ep_set_state(peer, ZEP_CLOSED);
        out->do_close = out->gen_event = true;
    }
    if (flags & WIRE_RST) {
        ep_set_state(z, ZEP_RESET);
        out->do_close = true;
    }
}

static void update_closed(struct track *t, struct track_conn *c, int s, uint8_t flags, tcp_time_t now,
                          struct zeek_close *out)
{
    struct track_zeek_ep *z = &c->z[s], *peer = &c->z[!s];
    if (flags & WIRE_SYN)
        track_raise(t, c, TRACK_ANOM_SYN_AFTER_CLOSE, now, s, "%s sent a SYN after its FIN", track_role(c, s));
    /* After a FIN exchange, a RST does not change the state. */
    if ((flags & WIRE_RST) && peer->state != ZEP_CLOSED) {
        ep_set_state(z, ZEP_RESET);
        if (!z->did_close)
            out->do_close = true;
    }
}

static void update_reset(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                         tcp_time_t now)
{
    if (seg->flags & WIRE_SYN)
        track_raise(t, c, TRACK_ANOM_SYN_AFTER_RESET, now, s, "%s sent a SYN after its RST", track_role(c, s));
    if (seg->flags & WIRE_FIN)
        track_raise(t, c, TRACK_ANOM_FIN_AFTER_RESET, now, s, "%s sent a FIN after its RST", track_role(c, s));
    if (seg->payload_len > 0 && !(seg->flags & WIRE_RST))
        track_raise(t, c, TRACK_ANOM_DATA_AFTER_RESET, now, s, "%s sent %u bytes after its RST",
                    track_role(c, s), seg->payload_len);
}

/* Zeek's content-gap accounting (TCP_Reassembler, reduced to one
 * out-of-order block). Gaps count only while both sides are established
 * or closing cleanly. */
static bool ep_clean(const struct track_zeek_ep *z)
{
    return z->state == ZEP_ESTABLISHED || (z->state == ZEP_CLOSED && z->prev_state == ZEP_ESTABLISHED);
}

static void gap(struct track_conn *c, int s, uint64_t len)
{
    if (len == 0)
        return;
    if (ep_clean(&c->z[s]) && ep_clean(&c->z[!s])) {
        scaled_history(c, s, 'G', &c->z[s].gap_cnt, &c->z[s].gap_thresh);
        c->missed_bytes += len;
    }
}

static void data_sent(struct track_zeek_ep *z, uint64_t seq, uint32_t len)
{
    uint64_t end = seq + len;
    if (end <= z->reassem_top)
        return;
    if (seq <= z->reassem_top) {
        z->reassem_top = end;
        if (z->ooo_hi && z->ooo_lo <= z->reassem_top) {
            if (z->ooo_hi > z->reassem_top)
                z->reassem_top = z->ooo_hi;
            z->ooo_lo = z->ooo_hi = 0;
        }
        return;
    }
    /* Above a hole: keep one block, extended or replaced by the lower one. */
    if (z->ooo_hi == 0 || end < z->ooo_lo || seq > z->ooo_hi) {
        if (z->ooo_hi == 0 || seq < z->ooo_lo) {
            z->ooo_lo = seq;
            z->ooo_hi = end;
        }
    } else {
        if (seq < z->ooo_lo)
            z->ooo_lo = seq;
        if (end > z->ooo_hi)
            z->ooo_hi = end;
    }
}

static void ack_received(struct track_conn *c, int s, uint64_t seq)
{
    struct track_zeek_ep *z = &c->z[s];
    if (z->fin_cnt > 0 && seq >= z->fin_seq)
        seq = z->fin_seq - 1;
    if (seq <= z->reassem_top)
        return;
    if (seq <= 2 && c->is_partial)
        return; /* a partial connection's faked initial sequence */
    if (z->ooo_hi && z->ooo_lo < seq) {
        gap(c, s, z->ooo_lo - z->reassem_top);
        z->reassem_top = z->ooo_hi;
        z->ooo_lo = z->ooo_hi = 0;
        if (seq <= z->reassem_top)
            return;
    }
    gap(c, s, seq - z->reassem_top);
    z->reassem_top = seq;
}

bool track_zeek_is_reuse(struct track *t, struct track_conn *c, int side, const struct wire_seg *seg,
                         tcp_time_t now)
{
    uint8_t flags = seg->flags;
    if (!(flags & WIRE_SYN))
        return false;
    int o = c->orig, r = !c->orig;
    int conn_orig = o;
    if (flags & WIRE_ACK) {
        if (c->z[o].state != ZEP_INACTIVE)
            return false; /* not a half connection */
        conn_orig = r;
    }
    bool closed = c->z[o].did_close || c->z[r].did_close;
    bool any_reset = c->z[o].state == ZEP_RESET || c->z[r].state == ZEP_RESET;
    if (!closed) {
        /* Ours: a SYN from the other side while the originator waits in
         * SYN_SENT is a simultaneous open (RFC 9293 §3.5), not a reuse. */
        if (!(flags & WIRE_ACK) && side == r &&
            (c->z[r].state == ZEP_INACTIVE || c->z[r].state == ZEP_SYN_SENT) &&
            (c->z[o].state == ZEP_SYN_SENT || c->z[o].state == ZEP_ESTABLISHED))
            return false;
        if (seg->seq == (uint32_t)c->z[conn_orig].start_seq)
            return false;
        if (!(flags & WIRE_ACK) && c->z[conn_orig].state == ZEP_SYN_ACK_SENT && c->z[r].state == ZEP_INACTIVE &&
            seg->seq == (uint32_t)c->z[r].start_seq)
            return false; /* SYN and SYN-ACK flipped; Process() sorts it out */
        if (c->z[conn_orig].state == ZEP_SYN_SENT)
            track_raise(t, c, TRACK_ANOM_SYN_SEQ_JUMP, now, side, "new SYN with ISN %u after ISN %u",
                        seg->seq, (uint32_t)c->z[conn_orig].start_seq);
        else
            track_raise(t, c, TRACK_ANOM_ACTIVE_CONNECTION_REUSE, now, side,
                        "new SYN on the 4-tuple of an active connection");
    } else {
        bool active = (c->z[o].state != ZEP_INACTIVE && !c->z[o].did_close) ||
                      (c->z[r].state != ZEP_INACTIVE && !c->z[r].did_close);
        if (active && !any_reset)
            track_raise(t, c, TRACK_ANOM_ACTIVE_CONNECTION_REUSE, now, side,
                        "new SYN on the 4-tuple of a half-closed connection");
        else if (now - c->last_time < TCP_CONNECTION_LINGER && !any_reset)
            track_raise(t, c, TRACK_ANOM_PREMATURE_CONNECTION_REUSE, now, side,
                        "new SYN %.3fs after the connection closed", (double)(now - c->last_time) / 1e6);
    }
    return true;
}

void track_zeek_segment(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                        tcp_time_t now, uint32_t ip_len)
{
    struct track_zeek_ep *z = &c->z[s], *peer = &c->z[!s];
    uint8_t flags = seg->flags;
    uint32_t len = seg->payload_len;
    bool is_orig = track_is_orig(c, s); /* stale after a flip below, as in Zeek */

    /* SetPartialStatus */
    if (is_orig) {
        if (!(c->first_packet_seen & 1))
            c->is_partial = !(flags & WIRE_SYN) || (flags & WIRE_ACK);
    } else if (!(c->first_packet_seen & 2) && !c->is_partial) {
        c->is_partial = !(flags & WIRE_SYN);
    }

    /* Sequence space: SYN and FIN take one; a RST's data does not count. */
    uint32_t seg_len = len + !!(flags & WIRE_SYN) + !!(flags & WIRE_FIN);
    if (flags & WIRE_RST)
        seg_len -= len;
    uint32_t seq_end = seg->seq + seg_len;
    init_endpoint(t, c, s, flags, seg->seq, seq_end, now);

    bool underflow = false;
    uint64_t rel_seq = relative_seq(z, seg->seq, z->last_seq, z->seq_wraps, &underflow);

    update_history(c, s, flags, rel_seq, len);
    update_window(c, s, seg);

    if (!c->z[0].did_close || !c->z[1].did_close)
        c->last_time = now;

    if (flags & WIRE_SYN) {
        if (len > 0)
            track_raise(t, c, TRACK_ANOM_SYN_WITH_DATA, now, s, "%s SYN carries %u bytes", track_role(c, s),
                        len);
        if (seg->opt.present & WIRE_OPT_WSCALE)
            z->window_scale = seg->opt.wscale;
    }
    if (flags & WIRE_FIN) {
        ++z->fin_cnt;
        z->fin_seq = rel_seq + seg_len;
    }
    if (flags & WIRE_RST)
        ++z->rst_cnt;

    uint64_t rel_ack = 0;
    if (flags & WIRE_ACK) {
        if (track_is_orig(c, s) && !c->seen_first_ack &&
            (z->state == ZEP_ESTABLISHED || z->state == ZEP_SYN_SENT))
            c->seen_first_ack = true;
        if (peer->state == ZEP_INACTIVE) {
            rel_ack = 1;
            init_peer(t, c, s, flags, seg->ack, now);
        } else {
            bool ack_underflow = false;
            rel_ack = relative_seq(peer, seg->ack, peer->ack_seq, peer->ack_wraps, &ack_underflow);
            if (ack_underflow)
                rel_ack = 0;
            else if (!(flags & WIRE_RST))
                update_ack_seq(peer, seg->ack); /* acks in RSTs are not trusted */
        }
    }

    int32_t delta_last = update_last_seq(c, s, seq_end, flags, len);
    (void)delta_last;

    struct zeek_close close = {false, false};
    switch (z->state) {
    case ZEP_INACTIVE:
        update_inactive(t, c, s, seg, is_orig, now, &close);
        break;
    case ZEP_SYN_SENT:
    case ZEP_SYN_ACK_SENT:
        update_syn_sent(t, c, s, seg, now, &close);
        break;
    case ZEP_ESTABLISHED:
    case ZEP_PARTIAL:
        update_established(c, s, flags, &close);
        break;
    case ZEP_CLOSED:
        update_closed(t, c, s, flags, now, &close);
        break;
    case ZEP_RESET:
        update_reset(t, c, s, seg, now);
        break;
    default:
        break;
    }

    if (flags & WIRE_ACK)
        ack_received(c, !s, rel_ack);

    /* Payload counts as seen even when the snaplen cut it (ours: Zeek
     * would report it as a content gap, but those bytes did cross the wire;
     * missed_bytes should mean loss, not a short snaplen). */
    if (len > 0 && !(flags & WIRE_RST) && !underflow)
        data_sent(z, (flags & WIRE_SYN) ? rel_seq + 1 : rel_seq, len);

    if (close.do_close && !z->did_close)
        z->did_close = true;

    /* ConnSize: packets and IP bytes per side. */
    z->pkts++;
    z->ip_bytes += ip_len;
}

/* /\^?S[^HAFGIQ]*R.*\/ matched against the whole history. */
static bool history_is_syn_then_rst(const char *h)
{
    if (*h == '^')
        h++;
    if (*h++ != 'S')
        return false;
    for (; *h; h++) {
        if (*h == 'R')
            return true;
        if (strchr("HAFGIQ", *h))
            return false;
    }
    return false;
}

enum track_conn_state track_zeek_conn_state(const struct track_conn *c)
{
    int o = c->orig, r = !c->orig;
    uint8_t os = c->z[o].state, rs = c->z[r].state;
    bool o_inactive = os == ZEP_INACTIVE || os == ZEP_PARTIAL;
    bool r_inactive = rs == ZEP_INACTIVE || rs == ZEP_PARTIAL;

    if (rs == ZEP_RESET) {
        if (os == ZEP_SYN_SENT || os == ZEP_SYN_ACK_SENT ||
            (os == ZEP_RESET && track_zeek_size(c, o) == 0 && track_zeek_size(c, r) == 0))
            return TRACK_CS_REJ;
        if (o_inactive)
            return TRACK_CS_RSTRH;
        return TRACK_CS_RSTR;
    }
    if (os == ZEP_RESET) {
        if (r_inactive)
            return history_is_syn_then_rst(c->history) ? TRACK_CS_RSTOS0 : TRACK_CS_OTH;
        return TRACK_CS_RSTO;
    }
    if (rs == ZEP_CLOSED && os == ZEP_CLOSED)
        return TRACK_CS_SF;
    if (os == ZEP_CLOSED)
        return r_inactive ? TRACK_CS_SH : TRACK_CS_S2;
    if (rs == ZEP_CLOSED)
        return o_inactive ? TRACK_CS_SHR : TRACK_CS_S3;
    if (os == ZEP_SYN_SENT && rs == ZEP_INACTIVE)
        return TRACK_CS_S0;
    if (os == ZEP_ESTABLISHED && rs == ZEP_ESTABLISHED)
        return TRACK_CS_S1;
    return TRACK_CS_OTH;
}
