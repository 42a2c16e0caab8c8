/* track/ — the passive observer: follows every TCP connection in captured
 * traffic, infers both endpoints' RFC 9293 states from the segments seen,
 * keeps Zeek's conn.log view of it (conn_state, history), and raises
 * anomalies with time and evidence (DESIGN.md §1, issue 7).
 *
 * The tracker itself does no I/O: frames come in with their capture time
 * (microseconds), finished connections and anomalies go out through the
 * callbacks of a struct track_sink. Reading files or interfaces is
 * track_capture.h; writing logs, summaries and ladders is track_log.h,
 * track_summary.h and track_ladder.h. */
#ifndef SYNACK_TRACK_H
#define SYNACK_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp/tcp_types.h"
#include "wire/wire.h"

/* ---- Anomalies: one table for names, scope and help (DESIGN.md §1).
 * Names are Zeek's weird names where one exists, ours otherwise.
 * X(id, name, scope, help); scope: C connection, S service, H host. ---- */
#define TRACK_ANOMALIES(X)                                                                          \
    X(SYN_RETRANSMISSION, "SYN_retransmission", 'C', "SYN sent again with the same ISN; the intervals show the backoff") \
    X(SYN_ACK_RETRANSMISSION, "SYN_ACK_retransmission", 'C', "SYN-ACK sent again with the same ISN")    \
    X(UNANSWERED_SYN, "unanswered_SYN", 'C', "SYN never answered by the responder")                    \
    X(CONNECTION_REFUSED, "connection_refused", 'C', "SYN answered by RST (ECONNREFUSED)")             \
    X(HALF_OPEN, "half_open", 'C', "SYN-ACK sent, the handshake never completed")                    \
    X(SYN_FLOOD, "SYN_flood", 'S', "rate of unanswered SYNs to one service above the threshold")       \
    X(STALE_SYN_ACK, "stale_SYN_ACK", 'C', "SYN-ACK answered by RST: old duplicate or forged SYN (RFC 9293 §3.5)") \
    X(CONNECTION_RESET, "connection_reset", 'C', "RST accepted in a synchronized state (RFC 9293 §3.10.7.4)") \
    X(OUT_OF_WINDOW, "out_of_window", 'C', "segment or RST outside the receiver's window (RFC 9293 §3.10.7.4)") \
    X(ZERO_WINDOW, "zero_window", 'C', "a side advertised a zero receive window")                     \
    X(KEEPALIVE_PROBE, "keepalive_probe", 'C', "keepalive probe: SEG.SEQ = SND.NXT - 1 after idle (RFC 9293 §3.8.4)") \
    X(FIN_RETRANSMISSION, "FIN_retransmission", 'C', "FIN sent again at the same sequence number")      \
    X(CLOSE_WAIT_LEAK, "close_wait_leak", 'C', "a side acked the peer's FIN and stayed silent in CLOSE-WAIT past the threshold") \
    X(LONG_FIN_WAIT_2, "long_FIN_WAIT_2", 'C', "a side waited in FIN-WAIT-2 past the threshold (tcp_fin_timeout)") \
    X(TIME_WAIT_ACCUMULATION, "time_wait_accumulation", 'H', "a host holds more TIME-WAIT connections than the threshold") \
    X(SIMULTANEOUS_OPEN, "simultaneous_open", 'C', "both sides sent a SYN (RFC 9293 §3.5, Figure 7)")  \
    X(SIMULTANEOUS_CLOSE, "simultaneous_close", 'C', "both sides sent a FIN before seeing the other's (RFC 9293 §3.6, Figure 13)") \
    X(PORT_REUSE, "port_reuse", 'C', "a new SYN reused the 4-tuple of a closed or TIME-WAIT connection") \
    X(SYN_AFTER_CLOSE, "SYN_after_close", 'C', "SYN from a side that had already closed")             \
    X(SYN_AFTER_RESET, "SYN_after_reset", 'C', "SYN from a side that had sent a RST")                 \
    X(SYN_INSIDE_CONNECTION, "SYN_inside_connection", 'C', "SYN from a side that had already sent data") \
    X(SYN_SEQ_JUMP, "SYN_seq_jump", 'C', "a SYN with a different ISN than the previous one")          \
    X(SYN_WITH_DATA, "SYN_with_data", 'C', "SYN carrying payload")                                     \
    X(ACTIVE_CONNECTION_REUSE, "active_connection_reuse", 'C', "a new SYN on a 4-tuple whose connection was still active") \
    X(PREMATURE_CONNECTION_REUSE, "premature_connection_reuse", 'C', "a new SYN on a 4-tuple closed less than 5 s before") \
    X(DATA_AFTER_RESET, "data_after_reset", 'C', "payload from a side that had sent a RST")          \
    X(FIN_AFTER_RESET, "FIN_after_reset", 'C', "FIN from a side that had sent a RST")                \
    X(RST_WITH_DATA, "RST_with_data", 'C', "RST carrying payload (RFC 9293 §3.5.3)")                  \
    X(SPONTANEOUS_FIN, "spontaneous_FIN", 'C', "first segment seen of a connection is a FIN")         \
    X(SPONTANEOUS_RST, "spontaneous_RST", 'C', "first segment seen of a connection is a RST")         \
    X(INAPPROPRIATE_FIN, "inappropriate_FIN", 'C', "FIN before the handshake completed")              \
    X(DATA_BEFORE_ESTABLISHED, "data_before_established", 'C', "payload before the handshake completed") \
    X(UNSOLICITED_SYN_RESPONSE, "unsolicited_SYN_response", 'C', "SYN-ACK without a SYN seen")        \
    X(BAD_SYN_ACK, "bad_SYN_ack", 'C', "SYN-ACK acknowledging something the SYN did not send")         \
    X(POSSIBLE_SPLIT_ROUTING, "possible_split_routing", 'C', "one side acks traffic never seen: one-direction capture") \
    X(BAD_TCP_CHECKSUM, "bad_TCP_checksum", 'C', "segment with a bad checksum (dropped with --verify-checksums)") \
    X(EVICTED, "evicted", 'C', "dropped from a full connection table before it ended")

enum track_anomaly_kind {
#define TRACK_ANOMALY_ENUM(id, name, scope, help) TRACK_ANOM_##id,
    TRACK_ANOMALIES(TRACK_ANOMALY_ENUM)
#undef TRACK_ANOMALY_ENUM
    TRACK_ANOM_COUNT
};

const char *track_anomaly_name(enum track_anomaly_kind k); /* "SYN_retransmission" */
const char *track_anomaly_help(enum track_anomaly_kind k);
char track_anomaly_scope(enum track_anomaly_kind k);        /* 'C', 'S' or 'H' */
/* Parses a name; returns -1 if unknown. */
int track_anomaly_parse(const char *name);

/* ---- Zeek's conn_state codes (base/protocols/conn/main.zeek) ---- */
#define TRACK_CONN_STATES(X)                                                         \
    X(S0, "Connection attempt seen, no reply")                                       \
    X(S1, "Connection established, not terminated")                                  \
    X(SF, "Normal establishment and termination")                                    \
    X(REJ, "Connection attempt rejected")                                            \
    X(S2, "Established, close attempt by originator seen (no reply from responder)") \
    X(S3, "Established, close attempt by responder seen (no reply from originator)") \
    X(RSTO, "Established, originator aborted (sent a RST)")                         \
    X(RSTR, "Responder sent a RST")                                                  \
    X(RSTOS0, "Originator sent a SYN followed by a RST, no SYN-ACK seen")            \
    X(RSTRH, "Responder sent a SYN-ACK followed by a RST, no SYN seen")              \
    X(SH, "Originator sent a SYN followed by a FIN, no SYN-ACK seen")                \
    X(SHR, "Responder sent a SYN-ACK followed by a FIN, no SYN seen")               \
    X(OTH, "No SYN seen, just midstream traffic")

enum track_conn_state {
#define TRACK_CONN_STATE_ENUM(id, help) TRACK_CS_##id,
    TRACK_CONN_STATES(TRACK_CONN_STATE_ENUM)
#undef TRACK_CONN_STATE_ENUM
    TRACK_CS_COUNT
};

const char *track_conn_state_name(enum track_conn_state s); /* "RSTOS0" */
const char *track_conn_state_help(enum track_conn_state s);
int track_conn_state_parse(const char *name); /* -1 if unknown */

/* RFC 9293 state names from the shared TCP_STATES table; "-" for
 * TRACK_STATE_UNKNOWN (a side never seen and not inferable). */
#define TRACK_STATE_UNKNOWN TCP_STATE_COUNT
const char *track_state_name(int state);

/* ---- Configuration ---- */
/* Table timeouts per connection phase, like conntrack's
 * (nf_conntrack_tcp_timeout_*). X(id, name, default seconds). */
#define TRACK_TIMEOUTS(X)             \
    X(SYN_SENT, "syn_sent", 120)      \
    X(SYN_RECV, "syn_recv", 60)       \
    X(ESTABLISHED, "established", 432000) \
    X(FIN_WAIT, "fin_wait", 120)      \
    X(CLOSE_WAIT, "close_wait", 60)   \
    X(LAST_ACK, "last_ack", 30)       \
    X(TIME_WAIT, "time_wait", 120)    \
    X(CLOSE, "close", 10)

enum track_timeout_class {
#define TRACK_TIMEOUT_ENUM(id, name, secs) TRACK_TO_##id,
    TRACK_TIMEOUTS(TRACK_TIMEOUT_ENUM)
#undef TRACK_TIMEOUT_ENUM
    TRACK_TO_COUNT
};

const char *track_timeout_name(enum track_timeout_class c);

struct track_config {
    size_t max_conns;                          /* table bound; least recently active evicted */
    tcp_time_t timeout[TRACK_TO_COUNT];        /* per phase, microseconds */
    bool verify_checksums;                     /* Zeek's default: bad checksum -> 'C', segment dropped */
    /* Anomaly thresholds. */
    tcp_time_t close_wait_leak;                /* silent in CLOSE-WAIT this long (default 60 s) */
    tcp_time_t fin_wait_2_long;                /* in FIN-WAIT-2 this long (default tcp_fin_timeout, 60 s) */
    uint32_t time_wait_per_host;               /* TIME-WAIT connections held by one host (default 1000) */
    uint32_t syn_flood_rate;                   /* unanswered SYNs per second to one service (default 100) */
    uint32_t syn_flood_window_s;               /* averaged over this many seconds (default 10) */
    tcp_time_t syn_answer_timeout;             /* a SYN is unanswered after this long (default 3 s) */
    uint64_t seed;                             /* for uids; same input + seed = same uids */
    const char *watch_uid;                     /* report every segment of this connection (ladder) */
};

void track_config_default(struct track_config *c);

/* ---- What the tracker reports ---- */
#define TRACK_UID_LEN 20
#define TRACK_HISTORY_MAX 48
#define TRACK_EVIDENCE_MAX 192

/* A finished (or flushed) connection: one conn.log record. */
struct track_conn_info {
    char uid[TRACK_UID_LEN];
    tcp_time_t ts;                  /* first packet */
    struct wire_endpoint orig, resp;
    bool has_duration;              /* Zeek leaves duration and bytes unset when 0 */
    tcp_time_t duration;
    uint64_t orig_bytes, resp_bytes;
    enum track_conn_state conn_state;
    uint64_t missed_bytes;
    char history[TRACK_HISTORY_MAX];
    uint64_t orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes;
    int orig_state, resp_state;     /* enum tcp_state or TRACK_STATE_UNKNOWN */
    bool has_handshake_rtt;
    tcp_time_t handshake_rtt;       /* last SYN to the ACK that completed the handshake */
    uint64_t anomalies;             /* bit (1 << kind) per anomaly raised */
    bool watched;                   /* it is config.watch_uid */
};

struct track_anomaly {
    enum track_anomaly_kind kind;
    tcp_time_t t;
    char uid[TRACK_UID_LEN];        /* "" for service and host anomalies */
    struct wire_endpoint orig, resp;/* service: resp; host: resp.addr */
    int side;                       /* 0 orig, 1 resp, -1 not about one side */
    char evidence[TRACK_EVIDENCE_MAX];
};

/* One segment of the watched connection, with both sides' states after it. */
struct track_segment_info {
    tcp_time_t t;
    struct wire_endpoint src, dst;
    uint8_t flags;
    uint32_t seq, ack, len;
    uint16_t win;
    int src_state, dst_state;       /* after the segment (TRACK_STATE_UNKNOWN if unknown) */
    bool bad_checksum;
};

struct track_sink {
    void (*conn)(void *ctx, const struct track_conn_info *c);
    void (*anomaly)(void *ctx, const struct track_anomaly *a);
    void (*segment)(void *ctx, const struct track_segment_info *s);
    void *ctx;
};

/* ---- Counters: frames and segments that did not make it into a
 * connection are counted here, never fatal. X(name, help). ---- */
#define TRACK_COUNTERS(X)                                                         \
    X(frames, "frames read")                                                      \
    X(frame_bytes, "bytes on the wire (original lengths)")                        \
    X(segments, "TCP segments tracked")                                           \
    X(truncated, "frames cut by the snapshot length (headers kept, tracked)")    \
    X(not_ip, "frames that carry no IP (ARP, LLDP...)")                           \
    X(not_tcp, "IP packets that carry no TCP (UDP, ICMP...)")                     \
    X(fragments, "IP fragments (not reassembled)")                                \
    X(garbage, "frames that could not be decoded (see the reasons)")             \
    X(bad_ip_checksum, "IPv4 headers with a bad checksum")                        \
    X(bad_tcp_checksum, "TCP segments with a bad checksum (offload?)")            \
    X(unchecked, "segments whose checksum could not be checked (truncated)")     \
    X(unsupported_link, "frames of a link type we do not decode")                \
    X(connections, "connections seen")                                            \
    X(evicted, "connections evicted from a full table")                          \
    X(expired, "connections removed by their phase timeout")                      \
    X(reused, "connections ended by a new SYN on their 4-tuple")                 \
    X(anomalies, "anomalies raised")

struct track_stats {
#define TRACK_COUNTER_FIELD(name, help) uint64_t name;
    TRACK_COUNTERS(TRACK_COUNTER_FIELD)
#undef TRACK_COUNTER_FIELD
    uint64_t garbage_by_reason[WIRE_ERR_COUNT];   /* why garbage frames were refused */
    uint64_t anomalies_by_kind[TRACK_ANOM_COUNT];
    uint64_t conn_states[TRACK_CS_COUNT];         /* conn_state of connections reported */
    size_t active;                                /* connections in the table now */
    size_t peak_active;
};

int track_counter_count(void);
const char *track_counter_name(int i);
const char *track_counter_help(int i);
uint64_t track_counter_get(const struct track_stats *s, int i);

/* ---- The tracker ---- */
struct track;

/* Returns NULL on allocation failure. cfg and sink are copied. */
struct track *track_new(const struct track_config *cfg, const struct track_sink *sink);
/* Frees everything; connections still open are NOT reported (see track_flush). */
void track_free(struct track *t);

/* Link types track_frame decodes (libpcap DLT_ values). */
bool track_link_supported(int dlt);

/* Feeds one captured frame of link type dlt: caplen bytes captured of an
 * original wirelen. Times are clamped to be monotonic (a frame older than
 * the last one counts as if it came with it). Never fails: what cannot be
 * used is counted in the stats. */
void track_frame(struct track *t, int dlt, tcp_time_t now, const uint8_t *frame, size_t caplen,
                 size_t wirelen);
/* Feeds one IP packet (starting at the IP header). */
void track_ip(struct track *t, tcp_time_t now, const uint8_t *pkt, size_t caplen, size_t wirelen);

/* Lets time pass without traffic (live mode): expires connections whose
 * phase timed out, counts unanswered SYNs. */
void track_advance(struct track *t, tcp_time_t now);
/* End of input: reports every connection still in the table (in the order
 * they started) and empties it. Time is the last frame's. */
void track_flush(struct track *t);

const struct track_stats *track_get_stats(const struct track *t);
const struct track_config *track_get_config(const struct track *t);
tcp_time_t track_now(const struct track *t);

/* Visits every connection in the table, in the order they started, with
 * its current record as if it ended now; for summaries. */
void track_foreach(const struct track *t, void (*fn)(void *ctx, const struct track_conn_info *c),
                   void *ctx);

#endif
