/* tcp/ — the protocol: RFC 9293 state machine, listener queues, TIME-WAIT,
 * timers, retransmission. Sans-I/O: packets in as parsed segments, packets
 * out through host->ops.output, time always an argument.
 *
 * One struct tcp_host holds a host's connections. Three kinds of entry share
 * its 4-tuple table, each as small as its job allows (like Linux's
 * tcp_sock, request_sock and inet_timewait_sock, DESIGN.md §1):
 *   struct tcp_conn  a full control block (every state but LISTEN and
 *                    passive SYN-RECEIVED) with its buffers
 *   struct tcp_req   a half-open passive connection (SYN-RECEIVED)
 *   struct tcp_tw    a TIME-WAIT entry (or an orphan's FIN-WAIT-2 tail) */
#ifndef SYNACK_TCP_H
#define SYNACK_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tcp/bytebuf.h"
#include "tcp/hash_table.h"
#include "tcp/tcp_types.h"
#include "tcp/timer_wheel.h"
#include "wire/wire.h"

enum tcp_entry_kind { TCP_ENTRY_CONN, TCP_ENTRY_REQ, TCP_ENTRY_TW };

/* What every table entry starts with. tuple.src is the local end. */
struct tcp_entry {
    struct hash_node hnode;
    struct timer_node timer;
    struct wire_tuple tuple;
    uint8_t kind;  /* enum tcp_entry_kind */
    uint8_t state; /* enum tcp_state */
};

struct tcp_listener;
struct tcp_host;

/* Per-connection choices a socket can make (setsockopt). */
struct tcp_sockopts {
    int32_t linger;      /* -1 off; 0 abortive close */
    uint32_t keepidle_s, keepintvl_s;
    uint16_t keepcnt;
    uint8_t keepalive, nodelay, syn_retries;
    uint16_t mss_clamp; /* 0: none */
    uint32_t rcvbuf, sndbuf;
};

struct tcp_conn {
    struct tcp_entry e;
    struct tcp_host *host;
    int sd;                      /* descriptor, -1 when orphaned or not yet accepted */
    struct tcp_listener *parent; /* set while waiting in an accept queue */
    struct tcp_conn *accept_next;

    /* Send sequence space (RFC 9293 §3.3.1). snd_nxt may fall back to
     * snd_una on a timeout (go-back-N); snd_max is the highest ever sent. */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
    uint32_t snd_sml; /* end of the last small segment sent (Minshall's Nagle) */
    /* Receive sequence space. rcv_adv: right edge we advertised. */
    uint32_t irs, rcv_nxt, rcv_adv, max_rcv_wnd;
    uint32_t cwnd, ssthresh;
    uint16_t mss;     /* effective send MSS (payload bytes per segment) */
    uint16_t adv_mss; /* what we announced */
    uint8_t snd_wscale, rcv_wscale;
    bool ts_ok, sack_ok, wscale_ok, passive;
    uint32_t ts_recent, ts_offset, last_ack_sent;
    uint32_t rtx_tsval; /* TSval of the latest retransmission (RTTM after timeouts) */

    /* Close handshake. */
    bool fin_queued;  /* user closed for writing: FIN follows the data */
    bool fin_sent;    /* fin_seq is valid */
    uint32_t fin_seq; /* sequence number our FIN occupies */
    bool fin_rcvd;    /* peer's FIN consumed (rcv_nxt past it) */
    bool shut_rd;     /* user shut down reading */
    bool orphan;      /* descriptor released: close() was called */
    bool ack_pending; /* an ACK is owed (delayed ACK running) */
    bool quickack;    /* the owed ACK must not wait (a gap just filled) */
    uint8_t unacked_segs; /* full segments received since our last ACK */
    int error;        /* pending errno for the user (SO_ERROR) */

    /* Retransmission (RFC 6298). */
    uint32_t rto_us, srtt_us, rttvar_us;
    uint32_t rtt_seq;
    tcp_time_t rtt_start; /* 0: no sample running (Karn) */
    uint8_t backoff;      /* consecutive timeouts */
    uint8_t probes;       /* keepalive probes unanswered */
    uint8_t zwp_probes;   /* zero-window probes unanswered (Linux icsk_probes_out) */
    tcp_time_t rtx_at, delack_at, keepalive_at, linger2_at;
    tcp_time_t last_rcv; /* for keepalive idle */
    tcp_time_t last_oow_ack; /* when we last answered an out-of-window segment */
    tcp_time_t retrans_stamp; /* SYN-SENT: when the SYN went out; later: when the timed-out head was sent (Linux retrans_stamp) */

    /* Loss recovery (RFC 5681 §3.2; NewReno RFC 6582, or with SACK RFC 6675). */
    uint8_t dupacks;
    bool in_recovery;
    bool sack_recovery; /* ...driven by the scoreboard (RFC 6675), not NewReno */
    uint32_t recover;
    struct tcp_sack_board *sack; /* what the peer SACKed; NULL until it does */

    /* Out-of-order data held until the hole fills (RFC 9293 §3.10.7.4). */
    struct tcp_ooo *ooo;
    uint32_t ooo_bytes;
    uint16_t ooo_segs;
    bool ooo_fin;      /* a FIN was seen at ooo_fin_seq */
    uint32_t ooo_fin_seq;
    uint32_t ooo_clock; /* arrivals so far: stamps the runs */

    struct tcp_sockopts opt;
    struct bytebuf snd, rcv;
};

/* A run of bytes received ahead of RCV.NXT. */
struct tcp_ooo {
    struct tcp_ooo *next;
    uint32_t seq, len;
    uint32_t stamp; /* arrival order, for SACK block recency */
    uint8_t data[];
};
#define TCP_OOO_MAX_SEGS 256 /* bound on runs per connection: tiny-segment floods */

/* The sender's SACK scoreboard (RFC 6675 §3): disjoint ranges the peer
 * holds above SND.UNA, sorted. */
#define TCP_SACK_RANGES_MAX 32
struct tcp_sack_board {
    uint32_t high_rxt; /* RFC 6675 HighRxt: end of what recovery resent */
    uint8_t count;
    struct wire_sack_block range[TCP_SACK_RANGES_MAX];
};

/* Half-open passive connection: what RFC 9293 §3.10.7.2 keeps on a SYN. */
struct tcp_req {
    struct tcp_entry e;
    struct tcp_listener *listener;
    uint32_t iss, irs;
    uint32_t ts_recent;
    uint16_t peer_mss;
    uint8_t peer_wscale; /* 0xff: not offered */
    uint8_t retries;
    bool ts_ok, sack_ok;
    bool acked; /* final ACK arrived while the accept queue was full */
};

/* TIME-WAIT entry (RFC 9293 §3.10.7.4, Linux inet_timewait_sock). */
struct tcp_tw {
    struct tcp_entry e;
    uint32_t snd_nxt, rcv_nxt;
    uint32_t ts_recent;
    uint32_t last_oow_ack_ms; /* out-of-window ACK rate limit (0: none yet) */
    uint16_t rcv_wnd;
    bool ts_ok;
};

struct tcp_listener {
    int sd;
    struct wire_endpoint local;
    uint32_t backlog;   /* accept-queue bound (after somaxconn) */
    uint32_t syn_q_len;   /* half-open entries */
    uint32_t syn_q_young; /* ...of which no SYN-ACK has timed out yet */
    uint32_t accept_q_len;
    struct tcp_conn *accept_head, *accept_tail;
    struct tcp_sockopts opt; /* inherited by children */
    tcp_time_t last_overflow; /* when the SYN queue last overflowed (cookies) */
    bool overflowed;
    struct tcp_listener *next;
};

struct tcp_host_ops {
    void *ctx;
    void (*output)(void *ctx, const uint8_t *pkt, size_t len);
    void (*state_change)(void *ctx, int sd, const struct wire_tuple *t, enum tcp_state from,
                         enum tcp_state to, tcp_time_t now);
    /* Something the descriptor's owner can see changed (data, EOF, error,
     * connected, room to send, a connection to accept). */
    void (*wake)(void *ctx, int sd);
};

struct tcp_host {
    const struct tcp_config *cfg;
    struct tcp_counters *stats;
    struct tcp_host_ops ops;
    uint8_t isn_key[16], port_key[16], ts_key[16], cookie_key[2][16];
    struct hash_table table; /* every tcp_entry by 4-tuple */
    struct timer_wheel timers;
    /* TIME-WAIT entries all last tcp_timewait_len, so they expire in the
     * order they were (re)armed: a FIFO through their timer nodes, oldest
     * first, kept off the wheel (O(1) arm, restart and expiry). */
    struct timer_node tw_fifo; /* circular sentinel */
    struct tcp_listener *listeners;
    size_t conns, reqs, tws;
    uint32_t *port_refs; /* connections and TIME-WAIT entries per local port (bind conflicts) */
    struct tcp_conn *graveyard; /* orphans to free at the end of the call */
    uint32_t port_counter;      /* RFC 6056 Algorithm 3 "next_ephemeral" */
    bool tw_isn_valid;          /* a SYN reopening a TIME-WAIT tuple: its ISS */
    uint32_t tw_isn;
    /* A duplicate just received: the ACK it gets reports it as a D-SACK
     * (RFC 2883); set and consumed within one input call. */
    const struct tcp_conn *dsack_conn;
    struct wire_sack_block dsack;
    tcp_time_t challenge_window_start;
    uint32_t challenge_acks; /* sent in the current second (RFC 5961 §7) */
    uint8_t pkt[WIRE_MAX_HEADER + 65536];
    uint8_t scratch[65536];
};

/* ---- host ---- */
/* 0, or -ENOMEM. */
int tcp_host_init(struct tcp_host *h, const struct tcp_config *cfg, struct tcp_counters *stats,
                   const struct tcp_host_ops *ops, const uint8_t secret[32], tcp_time_t now);
void tcp_host_destroy(struct tcp_host *h);
/* A parsed segment for this host (tuple.src is the remote end). */
void tcp_host_input(struct tcp_host *h, const struct wire_seg *seg, tcp_time_t now);
void tcp_host_tick(struct tcp_host *h, tcp_time_t now);
tcp_time_t tcp_host_next_timer(const struct tcp_host *h);
/* Frees orphans that reached CLOSED during the call. */
void tcp_host_reap(struct tcp_host *h);
/* Entry by local-view tuple (src = local), or NULL. */
struct tcp_entry *tcp_host_lookup(const struct tcp_host *h, const struct wire_tuple *t);
/* True if no entry uses the tuple (for ephemeral port choice). */
bool tcp_host_tuple_free(const struct tcp_host *h, const struct wire_tuple *t, tcp_time_t now);
struct tcp_listener *tcp_host_find_listener(const struct tcp_host *h, const struct wire_addr *a,
                                            uint16_t port);
/* RFC 6056 Algorithm 3 offset for a destination. */
uint32_t tcp_port_offset(const struct tcp_host *h, const struct wire_addr *local,
                         const struct wire_endpoint *remote);

/* ---- listener ---- */
struct tcp_listener *tcp_listen(struct tcp_host *h, int sd, const struct wire_endpoint *local,
                                int backlog, const struct tcp_sockopts *opt, tcp_time_t now);
/* Next established child, or NULL. */
struct tcp_conn *tcp_accept(struct tcp_host *h, struct tcp_listener *l, int sd);
void tcp_listener_close(struct tcp_host *h, struct tcp_listener *l, tcp_time_t now);
uint32_t tcp_syn_queue_max(const struct tcp_host *h, const struct tcp_listener *l);
void tcp_listen_input(struct tcp_host *h, struct tcp_listener *l, const struct wire_seg *seg,
                      const struct wire_tuple *local_tuple, tcp_time_t now);
void tcp_req_input(struct tcp_host *h, struct tcp_req *r, const struct wire_seg *seg, tcp_time_t now);
void tcp_req_timer(struct tcp_host *h, struct tcp_req *r, tcp_time_t now);

/* ---- SYN cookies (RFC 4987 §3.6, Linux syncookies.c) ---- */
#define TCP_COOKIE_MSS_COUNT 4
/* The MSS a cookie can carry: the largest table entry not above mss. */
unsigned tcp_cookie_mss_index(uint16_t mss, bool ipv6);
uint16_t tcp_cookie_mss(unsigned index, bool ipv6);
/* The ISN of a cookie SYN-ACK for the peer's ISN, 4-tuple and time. */
uint32_t tcp_cookie_make(const struct tcp_host *h, const struct wire_tuple *local_view, uint32_t peer_isn,
                         unsigned mss_index, tcp_time_t now);
/* The MSS index a returned cookie (SEG.ACK - 1) carries, or -1 if it is
 * forged, for another 4-tuple or peer ISN, or older than two minutes. */
int tcp_cookie_check(const struct tcp_host *h, const struct wire_tuple *local_view, uint32_t peer_isn,
                     uint32_t cookie, tcp_time_t now);
/* Options a cookie SYN-ACK hides in the low bits of its TSval (Linux
 * cookie_init_timestamp): window scale (0xf: none), SACK-permitted. */
uint32_t tcp_cookie_ts_encode(uint32_t ts_now, int wscale, bool sack);
bool tcp_cookie_ts_decode(uint32_t ts_ecr, int *wscale, bool *sack);

/* ---- TIME-WAIT ---- */
/* Replaces c in the table with a TIME-WAIT entry lasting `len`. */
void tcp_time_wait(struct tcp_host *h, struct tcp_conn *c, tcp_time_t now);
/* Returns true if the segment was consumed; false: hand it to a listener
 * (a new SYN that may reuse the tuple, RFC 9293 §3.10.7.4 / RFC 6191). */
bool tcp_tw_input(struct tcp_host *h, struct tcp_tw *tw, const struct wire_seg *seg, tcp_time_t now);
void tcp_tw_timer(struct tcp_host *h, struct tcp_tw *tw, tcp_time_t now);
void tcp_tw_free(struct tcp_host *h, struct tcp_tw *tw, tcp_time_t now);
/* (Re)starts an entry's 2*MSL: to the FIFO's tail. */
void tcp_tw_arm(struct tcp_host *h, struct tcp_tw *tw, tcp_time_t expires);

/* ---- connections ---- */
struct tcp_conn *tcp_conn_new(struct tcp_host *h, const struct wire_tuple *t, const struct tcp_sockopts *opt);
/* Active OPEN (RFC 9293 §3.10.1): sends the SYN. */
int tcp_connect(struct tcp_host *h, struct tcp_conn *c, tcp_time_t now);
ssize_t tcp_send(struct tcp_conn *c, const void *buf, size_t len, tcp_time_t now);
ssize_t tcp_recv(struct tcp_conn *c, void *buf, size_t len, tcp_time_t now);
int tcp_shutdown(struct tcp_conn *c, bool rd, bool wr, tcp_time_t now);
/* close(): orphan the connection; FIN, or RST per SO_LINGER / unread data. */
void tcp_close(struct tcp_conn *c, tcp_time_t now);
/* ABORT (RFC 9293 §3.10.5): RST if synchronized, then CLOSED. */
void tcp_abort(struct tcp_conn *c, tcp_time_t now);
/* Out-of-order queue (tcp_reass.c). */
/* Holds payload at seq (beyond RCV.NXT, inside the window); first copy wins. */
void tcp_ooo_insert(struct tcp_conn *c, uint32_t seq, const uint8_t *p, uint32_t len, bool fin);
/* Moves what the queue holds at RCV.NXT into the receive buffer; returns
 * true if the peer's FIN is now in order. */
bool tcp_ooo_drain(struct tcp_conn *c);
void tcp_ooo_free(struct tcp_conn *c);
/* SACK blocks for what the queue holds (RFC 2018 §4): the latest first. */
int tcp_ooo_sack_blocks(const struct tcp_conn *c, struct wire_sack_block *out, int max);
/* SACK scoreboard (tcp_sack.c, RFC 2018, RFC 6675). */
/* Takes an ACK's blocks; true if data is newly SACKed. */
bool tcp_sack_update(struct tcp_conn *c, const struct wire_seg *seg);
/* After SND.UNA moved: drops covered ranges (the board once all is acked). */
void tcp_sack_trim(struct tcp_conn *c);
void tcp_sack_free(struct tcp_conn *c);
/* True if seq is SACKed; *end: where its range ends. */
bool tcp_sack_holds(const struct tcp_conn *c, uint32_t seq, uint32_t *end);
/* The start of the first SACKed range above seq, or SND.MAX. */
uint32_t tcp_sack_next_sacked(const struct tcp_conn *c, uint32_t seq);
/* RFC 6675 IsLost: unSACKed octets below the result are lost. */
uint32_t tcp_sack_lost_end(const struct tcp_conn *c);
/* Bytes in [SND.UNA, to) not SACKed. */
uint32_t tcp_sack_unsacked(const struct tcp_conn *c, uint32_t to);
/* RFC 6675 SetPipe. */
uint32_t tcp_sack_pipe(const struct tcp_conn *c);
/* RFC 6675 NextSeg rule 1: the next lost octet to resend and its hole's end. */
bool tcp_sack_next_lost(const struct tcp_conn *c, uint32_t *seq, uint32_t *hole_end);
/* Frees a CLOSED connection whose descriptor is released. */
void tcp_conn_free(struct tcp_conn *c);
void tcp_conn_input(struct tcp_conn *c, const struct wire_seg *seg, tcp_time_t now);
void tcp_conn_timer(struct tcp_conn *c, tcp_time_t now);
/* (Re)starts the keepalive clock after SO_KEEPALIVE or establishment. */
void tcp_keepalive_reset(struct tcp_conn *c, tcp_time_t now);
/* Readiness, for poll(): room to send, bytes to read. */
size_t tcp_send_space(const struct tcp_conn *c);
bool tcp_conn_readable(const struct tcp_conn *c);
bool tcp_conn_synchronized(const struct tcp_conn *c);

/* ---- internals shared by the files of tcp/ ---- */
void tcp_set_state(struct tcp_host *h, struct tcp_entry *e, int sd, enum tcp_state to, tcp_time_t now);
/* Moves c to CLOSED with an error for its user; orphans go to the graveyard. */
void tcp_conn_done(struct tcp_conn *c, int err, tcp_time_t now);
void tcp_conn_arm_timer(struct tcp_conn *c);
void tcp_output(struct tcp_conn *c, tcp_time_t now);
void tcp_send_ack(struct tcp_conn *c, tcp_time_t now);
void tcp_send_rst_for(struct tcp_conn *c, tcp_time_t now);
void tcp_send_syn(struct tcp_conn *c, tcp_time_t now);
void tcp_retransmit_timeout(struct tcp_conn *c, tcp_time_t now);
void tcp_retransmit_head(struct tcp_conn *c, tcp_time_t now);
/* RFC 6675 §5: enter SACK recovery / resend lost holes while the pipe allows. */
void tcp_sack_recovery_start(struct tcp_conn *c, tcp_time_t now);
void tcp_sack_recovery_send(struct tcp_conn *c, tcp_time_t now);
/* A reply to a segment that matched nothing usable (RFC 9293 §3.10.7.1). */
void tcp_send_reset_reply(struct tcp_host *h, const struct wire_seg *seg, tcp_time_t now);
/* Raw segment out: fills addresses from the local-view tuple and emits. */
void tcp_emit(struct tcp_host *h, const struct wire_tuple *local_view, struct wire_seg *seg);
void tcp_emit_rtx(struct tcp_host *h, const struct wire_tuple *local_view, struct wire_seg *seg, bool retransmission);
bool tcp_challenge_ack_allowed(struct tcp_host *h, tcp_time_t now);
uint32_t tcp_isn(const struct tcp_host *h, const struct wire_tuple *local_view, tcp_time_t now);
uint32_t tcp_ts_offset(const struct tcp_host *h, const struct wire_tuple *local_view);
static inline uint32_t tcp_ts_now(tcp_time_t now) { return (uint32_t)(now / 1000u); } /* 1 ms clock */
uint64_t tcp_tuple_hash(const struct tcp_host *h, const struct wire_tuple *t);
/* 0, or -ENOMEM when the table cannot hold it. */
int tcp_entry_insert(struct tcp_host *h, struct tcp_entry *e);
void tcp_entry_remove(struct tcp_host *h, struct tcp_entry *e);
uint16_t tcp_rcv_window_field(struct tcp_conn *c);
/* The MSS a SYN announces; without one (or with 0, which Linux ignores)
 * the default of RFC 9293 §3.7.1 (536) or RFC 8200 §5 (1220 for IPv6). */
static inline uint16_t tcp_peer_mss(const struct wire_seg *syn)
{
    if ((syn->opt.present & WIRE_OPT_MSS) && syn->opt.mss)
        return syn->opt.mss;
    return syn->ip_version == 6 ? 1220 : 536;
}
uint8_t tcp_wscale_for(uint32_t rcvbuf);

#endif
