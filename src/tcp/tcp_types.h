/* The facts every layer shares, one table each (DESIGN.md §1, §2):
 * time, connection states, knobs, counters. */
#ifndef SYNACK_TCP_TYPES_H
#define SYNACK_TCP_TYPES_H

#include <stdint.h>

/* ---- Time: a monotonic clock in microseconds, always passed in. ---- */
typedef uint64_t tcp_time_t;
#define TCP_USEC(x) ((tcp_time_t)(x))
#define TCP_MSEC(x) ((tcp_time_t)(x) * 1000u)
#define TCP_SEC(x) ((tcp_time_t)(x) * 1000000u)
#define TCP_TIME_NEVER UINT64_MAX

/* ---- States (RFC 9293 §3.3.2): machine name, ss(8) abbreviation ---- */
#define TCP_STATES(X)                           \
    X(CLOSED, "CLOSED", "UNCONN")               \
    X(LISTEN, "LISTEN", "LISTEN")               \
    X(SYN_SENT, "SYN-SENT", "SYN-SENT")         \
    X(SYN_RECEIVED, "SYN-RECEIVED", "SYN-RECV") \
    X(ESTABLISHED, "ESTABLISHED", "ESTAB")      \
    X(FIN_WAIT_1, "FIN-WAIT-1", "FIN-WAIT-1")   \
    X(FIN_WAIT_2, "FIN-WAIT-2", "FIN-WAIT-2")   \
    X(CLOSE_WAIT, "CLOSE-WAIT", "CLOSE-WAIT")   \
    X(CLOSING, "CLOSING", "CLOSING")            \
    X(LAST_ACK, "LAST-ACK", "LAST-ACK")         \
    X(TIME_WAIT, "TIME-WAIT", "TIME-WAIT")

enum tcp_state {
#define TCP_STATE_ENUM(id, name, ss) TCP_STATE_##id,
    TCP_STATES(TCP_STATE_ENUM)
#undef TCP_STATE_ENUM
    TCP_STATE_COUNT
};

const char *tcp_state_name(enum tcp_state s);    /* "SYN-RECEIVED" */
const char *tcp_state_ss_name(enum tcp_state s); /* "SYN-RECV" */
/* Parses an RFC name ("FIN-WAIT-1") or ss name; returns -1 if unknown. */
int tcp_state_parse(const char *name);

/* ---- Knobs: Linux sysctl names, same meaning and defaults (DESIGN.md §2).
 * X(field, default, unit, help). Times are in the unit named. ---- */
#define TCP_KNOBS(X)                                                                          \
    X(tcp_syn_retries, 6, "count", "SYN retransmissions before connect() fails")             \
    X(tcp_synack_retries, 5, "count", "SYN-ACK retransmissions before a half-open entry goes") \
    X(tcp_syn_linear_timeouts, 0, "count", "first SYN retries at a fixed 1 s (Linux 6.x: 4)") \
    X(tcp_max_syn_backlog, 1024, "count", "SYN queue bound per listener")                     \
    X(somaxconn, 4096, "count", "upper bound on a listen() backlog")                          \
    X(tcp_abort_on_overflow, 0, "bool", "RST instead of dropping an ACK to a full accept queue") \
    X(tcp_syncookies, 1, "0/1/2", "SYN cookies: 0 never, 1 when the SYN queue is full, 2 always") \
    X(tcp_fin_timeout, 60, "s", "FIN-WAIT-2 lifetime of an orphaned connection")              \
    X(tcp_orphan_retries, 0, "count", "as tcp_retries2, for orphans (0 means 8, as Linux)")    \
    X(tcp_retries2, 15, "count", "ETIMEDOUT once this many doubling RTOs from tcp_rto_min have passed (Linux: 924.6 s)")                     \
    X(tcp_keepalive_time, 7200, "s", "idle time before the first keepalive probe")            \
    X(tcp_keepalive_intvl, 75, "s", "interval between keepalive probes")                      \
    X(tcp_keepalive_probes, 9, "count", "unanswered probes before ETIMEDOUT")                 \
    X(tcp_max_tw_buckets, 262144, "count", "TIME-WAIT entries held at most")                  \
    X(tcp_rfc1337, 0, "bool", "TIME-WAIT ignores RSTs (RFC 1337)")                           \
    X(tcp_tw_reuse, 2, "0/1/2", "reuse TIME-WAIT ports for outgoing connections")            \
    X(tcp_timewait_len, 60, "s", "TIME-WAIT length (Linux TCP_TIMEWAIT_LEN, 2*MSL)")          \
    X(tcp_rto_initial_ms, 1000, "ms", "initial RTO (RFC 6298 §2.1)")                         \
    X(tcp_rto_min_ms, 200, "ms", "lower bound on the RTO (Linux TCP_RTO_MIN)")               \
    X(tcp_rto_max_ms, 120000, "ms", "upper bound on the RTO (Linux TCP_RTO_MAX)")            \
    X(tcp_delack_ms, 40, "ms", "delayed-ACK timeout (Linux TCP_DELACK_MIN)")                 \
    X(tcp_challenge_ack_limit, 1000, "1/s", "challenge ACKs per second (RFC 5961 §7)")        \
    X(tcp_invalid_ratelimit, 500, "ms", "least time between ACKs to out-of-window segments")  \
    X(tcp_mss, 1460, "bytes", "MSS advertised (clamped to the link MTU)")                    \
    X(tcp_rmem, 131072, "bytes", "receive buffer per connection")                            \
    X(tcp_wmem, 131072, "bytes", "send buffer per connection")                               \
    X(tcp_window_scaling, 1, "bool", "offer window scaling (RFC 7323)")                      \
    X(tcp_timestamps, 1, "bool", "offer timestamps (RFC 7323)")                              \
    X(tcp_sack, 1, "bool", "offer SACK (RFC 2018)")

struct tcp_config {
#define TCP_KNOB_FIELD(name, def, unit, help) int64_t name;
    TCP_KNOBS(TCP_KNOB_FIELD)
#undef TCP_KNOB_FIELD
};

/* Linux's defaults. */
void tcp_config_default(struct tcp_config *c);
/* Sets a knob by sysctl name ("tcp_syn_retries" or "net.ipv4.tcp_syn_retries").
 * Returns 0, or -1 if the name is unknown. */
int tcp_config_set(struct tcp_config *c, const char *name, int64_t value);
/* Knob count and introspection, for --help and config files. */
int tcp_config_count(void);
const char *tcp_config_name(int i);
const char *tcp_config_help(int i);
const char *tcp_config_unit(int i);
int64_t tcp_config_get(const struct tcp_config *c, int i);

/* ---- Counters: `netstat -s` / nstat names (DESIGN.md §2).
 * X(name, help). Names without a Linux twin are ours, same style. ---- */
#define TCP_COUNTERS(X)                                                               \
    X(ActiveOpens, "connections opened by connect()")                                \
    X(PassiveOpens, "connections opened from a listener")                            \
    X(AttemptFails, "handshakes that failed (SYN-SENT/SYN-RECEIVED to CLOSED)")      \
    X(EstabResets, "resets in ESTABLISHED or CLOSE-WAIT")                            \
    X(CurrEstab, "connections now in ESTABLISHED or CLOSE-WAIT (gauge)")             \
    X(InSegs, "segments received")                                                   \
    X(OutSegs, "segments sent")                                                      \
    X(RetransSegs, "segments retransmitted")                                         \
    X(InErrs, "segments received with errors")                                       \
    X(IpInDiscards, "IP packets dropped before TCP: malformed, fragment, not TCP")  \
    X(InCsumErrors, "segments received with a bad checksum")                         \
    X(OutRsts, "resets sent")                                                        \
    X(ListenOverflows, "final ACKs or SYNs dropped: accept queue full")              \
    X(ListenDrops, "SYNs and ACKs dropped at a listener for any reason")             \
    X(SyncookiesSent, "SYN cookies sent")                                            \
    X(SyncookiesRecv, "valid SYN cookies received")                                  \
    X(SyncookiesFailed, "invalid SYN cookies received")                              \
    X(TCPReqQFullDrop, "SYNs dropped: SYN queue full and no cookies")                \
    X(TCPReqQFullDoCookies, "SYNs answered with a cookie (queue full, or tcp_syncookies=2)") \
    X(TCPTimeWaitOverflow, "TIME-WAIT entries not made: tcp_max_tw_buckets")         \
    X(TCPChallengeACK, "challenge ACKs sent (RFC 5961)")                             \
    X(TCPSYNChallenge, "challenge ACKs sent for a SYN (RFC 5961 §4)")                \
    X(TCPChallengeACKLimited, "challenge ACKs suppressed by the rate limit")        \
    X(TCPAbortOnTimeout, "connections aborted: retransmission limit")                \
    X(TCPAbortOnData, "connections reset: data unread or arriving after close")      \
    X(TCPAbortOnClose, "connections reset by close() with unread data")              \
    X(TCPAbortOnLinger, "connections reset by SO_LINGER 0")                          \
    X(TCPAbortOnMemory, "connections reset for lack of memory (orphans, timers)")    \
    X(TCPTimeouts, "retransmission timeouts")                                        \
    X(TCPSynRetrans, "SYN and SYN-ACK retransmissions")                              \
    X(TCPKeepAlive, "keepalive probes sent")                                         \
    X(TCPDelayedACKs, "delayed ACKs sent")                                           \
    X(TCPPureAcks, "segments received that only acknowledged")                      \
    X(TCPOFOQueue, "segments put in the out-of-order queue")                        \
    X(TCPOFODrop, "out-of-order segments dropped: queue full")                       \
    X(TCPRcvQDrop, "segments dropped: receive buffer full")                          \
    X(TCPZeroWindowDrop, "segments dropped: zero window")                           \
    X(TCPDSACKRecv, "D-SACK blocks received: the peer got a segment twice (RFC 2883)") \
    X(TCPDSACKOldSent, "D-SACKs sent for data received twice (RFC 2883)")          \
    X(TCPFastRetrans, "fast retransmissions")                                        \
    X(TCPSackRecovery, "loss recoveries driven by SACK (RFC 6675)")                  \
    X(TCPRenoRecovery, "loss recoveries without SACK (NewReno, RFC 6582)")           \
    X(TCPSACKDiscard, "SACK blocks ignored: malformed or beyond SND.MAX")            \
    X(TCPPAWSEstab, "segments dropped by PAWS (RFC 7323 §5)")                        \
    X(TCPACKSkippedSynRecv, "out-of-window segments to SYN-RECEIVED dropped")        \
    X(TCPRstUnacceptable, "RSTs ignored: not in window")                             \
    X(TCPACKSkippedSeq, "ACKs to out-of-window segments not sent (rate limit)")      \
    X(TCPAckUnacceptable, "ACKs ignored: not acceptable")                           \
    X(TCPSegUnacceptable, "segments outside the receive window")                    \
    X(TCPOrphanFinTimeout, "orphans closed by tcp_fin_timeout in FIN-WAIT-2")        \
    X(TCPTimeWaitRecycled, "TIME-WAIT entries reused by a new SYN (RFC 6191)")       \
    X(TCPTimeWaitKilled, "TIME-WAIT entries killed by a RST (no RFC 1337)")          \
    X(NoSocketRsts, "resets sent for segments that match no socket")

struct tcp_counters {
#define TCP_COUNTER_FIELD(name, help) uint64_t name;
    TCP_COUNTERS(TCP_COUNTER_FIELD)
#undef TCP_COUNTER_FIELD
};

int tcp_counter_count(void);
const char *tcp_counter_name(int i);
const char *tcp_counter_help(int i);
uint64_t tcp_counter_get(const struct tcp_counters *c, int i);

#endif
