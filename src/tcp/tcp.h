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
#include <string.h>
#include <sys/types.h>

#include "tcp/bytebuf.h"
#include "tcp/hash_table.h"
#include "tcp/pool.h"
#include "tcp/tcp_types.h"
#include "tcp/timer_wheel.h"
#include "wire/wire.h"

enum tcp_entry_kind { TCP_ENTRY_CONN, TCP_ENTRY_REQ, TCP_ENTRY_TW };

/* Entries are named by 32-bit references: a pool in the top bits, the
 * index in the pool below (pool.h); 0 names nothing. */
enum tcp_ref_pool { TCP_REF_CONN = 1, TCP_REF_REQ4, TCP_REF_REQ6, TCP_REF_TW4, TCP_REF_TW6 };
#define TCP_REF(pool, index) (((uint32_t)(pool) << POOL_INDEX_BITS) | (index))
#define TCP_REF_POOL(ref) ((ref) >> POOL_INDEX_BITS)
#define TCP_REF_INDEX(ref) ((ref) & (POOL_INDEX_LIMIT - 1))
_Static_assert(POOL_INDEX_BITS + 3 <= HASH_TABLE_REF_BITS, "references fit a hash_table link");

/* An IPv4 4-tuple as half-open and TIME-WAIT entries keep it (12 bytes;
 * IPv6 entries keep a struct wire_tuple). Addresses as in wire_addr. */
struct tcp_tuple4 {
    uint8_t laddr[4], raddr[4];
    uint16_t lport, rport;
};
/* tcp_tuple_unpack of an IPv4 tuple, inline: every segment a control block
 * sends unpacks its tuple. */
static inline void tcp_tuple4_unpack(struct wire_tuple *t, const struct tcp_tuple4 *p)
{
    wire_addr_set_v4(&t->src, p->laddr);
    wire_addr_set_v4(&t->dst, p->raddr);
    t->sport = p->lport;
    t->dport = p->rport;
}

/* tcp_tuple_pack of an IPv4 tuple, inline: every lookup packs its key. */
static inline void tcp_tuple4_pack(struct tcp_tuple4 *p, const struct wire_tuple *t)
{
    memcpy(p->laddr, t->src.b + 12, 4);
    memcpy(p->raddr, t->dst.b + 12, 4);
    p->lport = t->sport;
    p->rport = t->dport;
}

/* The head of a full control block in the 4-tuple table. Its tuple (local
 * end first) is kept compact for IPv4; an IPv6 tuple lives in the host's
 * tuple6_pool (tcp_entry_tuple reads either). */
struct tcp_entry {
    uint32_t hnext; /* next in the hash chain (a reference) */
    uint32_t ref;   /* this entry's reference */
    union {
        struct tcp_tuple4 v4;
        uint32_t v6; /* index in host->tuple6_pool */
    } tuple;
    uint8_t kind;  /* enum tcp_entry_kind */
    uint8_t state; /* enum tcp_state */
    bool hashed : 1; /* in the table */
    bool v6 : 1;
};

struct tcp_listener;
struct tcp_host;

/* A control block's timers: retransmission or persist (RFC 6298, RFC 9293
 * §3.8.6.1), the delayed ACK, and keepalive or an orphan's FIN-WAIT-2
 * timeout (one Linux sk_timer). They live apart from the block, in a pool,
 * only while one is armed (or was, until the node runs): an idle connection
 * carries a 4-byte reference (DESIGN.md §1). The wheel node runs at the
 * earliest deadline or before it (tcp_conn_arm_timer). */
enum tcp_timer_kind { TCP_TIMER_RTX, TCP_TIMER_DELACK, TCP_TIMER_KEEPALIVE, TCP_TIMER_KINDS };
struct tcp_timers {
    struct timer_node node;
    tcp_time_t at[TCP_TIMER_KINDS]; /* TCP_TIME_NEVER: off */
    uint32_t conn;                  /* the owner's reference */
};

/* Per-connection choices a socket can make (setsockopt), with Linux's
 * bounds: keepidle and keepintvl 1..32767 s (MAX_TCP_KEEPIDLE,
 * MAX_TCP_KEEPINTVL), keepcnt and syn_retries 1..127. Buffer sizes live
 * with the buffers (struct bytebuf limit) and the listener. */
struct tcp_sockopts {
    int32_t linger; /* -1 off; 0 abortive close */
    uint16_t keepidle_s, keepintvl_s;
    uint16_t mss_clamp; /* 0: none */
    uint8_t keepcnt, syn_retries;
    uint8_t keepalive, nodelay;
};
#define TCP_KEEPIDLE_MAX 32767 /* Linux MAX_TCP_KEEPIDLE, also MAX_TCP_KEEPINTVL */
#define TCP_KEEPCNT_MAX 127    /* Linux MAX_TCP_KEEPCNT */

struct tcp_conn {
    /* Fields are grouped by size so the block has no holes (DESIGN.md §1:
     * memory is designed). */
    struct tcp_entry e;
    struct tcp_host *host;
    struct tcp_sack_board *sack; /* what the peer SACKed (RFC 6675); NULL until it does */
    struct tcp_ooo_queue *ooo;   /* data held beyond RCV.NXT (RFC 9293 §3.10.7.4); NULL while none */

    /* Send sequence space (RFC 9293 §3.3.1). snd_nxt may fall back to
     * snd_una on a timeout (go-back-N); snd_max is the highest ever sent. */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
    uint32_t snd_sml; /* end of the last small segment sent (Minshall's Nagle) */
    /* Receive sequence space. rcv_adv: right edge we advertised. */
    uint32_t irs, rcv_nxt, rcv_adv, max_rcv_wnd;
    uint32_t cwnd, ssthresh;
    uint32_t ts_recent, ts_offset, last_ack_sent;
    uint32_t rtx_tsval; /* TSval of the latest retransmission (RTTM after timeouts) */
    uint32_t fin_seq;   /* sequence number our FIN occupies */
    /* Retransmission (RFC 6298). */
    uint32_t rto_us, srtt_us, rttvar_us;
    uint32_t rtt_seq;
    uint32_t rtt_start; /* low 32 bits of the time the timed segment left (valid while rtt_timing) */
    uint32_t recover;         /* NewReno / RFC 6675 recovery point */
    uint32_t last_oow_ack_ms; /* when we last answered an out-of-window segment (0: never) */
    uint32_t accept_next; /* next in the accept queue or the graveyard (a reference; 0: none) */
    uint32_t timers;      /* index + 1 of its struct tcp_timers in host->timer_pool; 0: none armed */
    int sd;             /* descriptor, -1 when orphaned or not yet accepted */

    uint16_t mss;     /* effective send MSS (payload bytes per segment) */
    uint16_t adv_mss; /* what we announced */
    uint16_t listener; /* index of the listener whose accept queue holds it (while in_accept_q) */
    uint8_t error;     /* pending errno for the user (SO_ERROR) */
    uint8_t snd_wscale : 4, rcv_wscale : 4;
    uint8_t unacked_segs; /* full segments received since our last ACK */
    uint8_t backoff;      /* consecutive timeouts */
    uint8_t probes;       /* keepalive probes unanswered */
    uint8_t zwp_probes;   /* zero-window probes unanswered (Linux icsk_probes_out) */
    uint8_t dupacks;      /* RFC 5681 §3.2 */
    bool ts_ok : 1, sack_ok : 1, wscale_ok : 1, passive : 1;
    bool in_accept_q : 1; /* waits in the accept queue of `listener` */
    bool rtt_timing : 1;  /* an RTT sample is running (Karn) */
    /* Close handshake. */
    bool fin_queued : 1;  /* user closed for writing: FIN follows the data */
    bool fin_sent : 1;    /* fin_seq is valid */
    bool fin_rcvd : 1;    /* peer's FIN consumed (rcv_nxt past it) */
    bool shut_rd : 1;     /* user shut down reading */
    bool orphan : 1;      /* descriptor released: close() was called */
    bool ack_pending : 1; /* an ACK is owed (delayed ACK running) */
    bool timer_lost : 1;  /* a timer could not be armed for lack of memory: reset at the end of the call */
    bool quickack : 1;    /* the owed ACK must not wait (a gap just filled) */
    bool in_recovery : 1; /* RFC 5681 §3.2; NewReno RFC 6582 */
    bool sack_recovery : 1; /* ...driven by the scoreboard (RFC 6675), not NewReno */

    tcp_time_t last_rcv;      /* for keepalive idle */
    tcp_time_t retrans_stamp; /* SYN-SENT: when the SYN went out; later: when the timed-out head was sent (Linux retrans_stamp) */

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

/* The out-of-order queue: allocated with the first segment that arrives
 * ahead of RCV.NXT, freed when the hole fills. */
struct tcp_ooo_queue {
    struct tcp_ooo *head; /* runs, sorted and disjoint */
    uint32_t bytes;
    uint32_t fin_seq;
    uint32_t clock; /* arrivals so far: stamps the runs */
    uint16_t segs;
    bool fin; /* a FIN was seen at fin_seq */
};

/* The sender's SACK scoreboard (RFC 6675 §3): disjoint ranges the peer
 * holds above SND.UNA, sorted. */
#define TCP_SACK_RANGES_MAX 32
struct tcp_sack_board {
    uint32_t high_rxt; /* RFC 6675 HighRxt: end of what recovery resent */
    uint8_t count;
    struct wire_sack_block range[TCP_SACK_RANGES_MAX];
};

/* Half-open passive connection: what RFC 9293 §3.10.7.2 keeps on a SYN
 * (Linux request_sock). In a pool per address family; the IPv6 variant's
 * tuple (a struct wire_tuple) extends past the struct. Its SYN-ACK timer is
 * a place in the FIFO of its retry count (all entries there wait the same
 * interval, so each FIFO is in expiry order). */
struct tcp_req {
    uint32_t hnext;      /* hash chain */
    uint32_t qnext, qprev; /* retry-level FIFO (references) */
    uint32_t expires_lo, expires_hi; /* SYN-ACK timer, tcp_time_t */
    uint32_t iss, irs;
    uint32_t ts_recent;
    uint32_t last_oow_ack_ms; /* out-of-window ACK rate limit (0: none yet) */
    uint16_t peer_mss;
    uint16_t listener;   /* index in host->listener_tab */
    uint8_t peer_wscale; /* 0xff: not offered */
    uint8_t retries;
    uint8_t state;
    uint8_t ts_ok : 1, sack_ok : 1,
        acked : 1, /* final ACK came while the accept queue was full */
        v6 : 1;
    uint8_t tuple[sizeof(struct tcp_tuple4)]; /* struct tcp_tuple4, or a struct wire_tuple (v6) */
};
#define TCP_REQ_SIZE(v6) \
    (offsetof(struct tcp_req, tuple) + ((v6) ? sizeof(struct wire_tuple) : sizeof(struct tcp_tuple4)))
#define TCP_REQ_LEVELS 8 /* retry-level FIFOs; the last holds every higher count */

/* TIME-WAIT entry (RFC 9293 §3.10.7.4, Linux inet_timewait_sock). They all
 * last tcp_timewait_len, so they live in a ring per address family in
 * arming order: the ring is their expiry FIFO. The expiry is 32 bits of
 * microseconds above a base kept per ring block; an entry whose clock
 * restarts moves to the tail. */
struct tcp_tw {
    uint32_t hnext;
    uint32_t expires_off; /* expiry - the block's base */
    uint32_t snd_nxt, rcv_nxt;
    uint32_t ts_recent;
    uint32_t last_oow_ack_ms; /* out-of-window ACK rate limit (0: none yet) */
    uint16_t rcv_wnd;
    uint8_t state;
    uint8_t live : 1, ts_ok : 1, v6 : 1;
    uint8_t tuple[sizeof(struct tcp_tuple4)]; /* as in struct tcp_req */
};
#define TCP_TW_SIZE(v6) \
    (offsetof(struct tcp_tw, tuple) + ((v6) ? sizeof(struct wire_tuple) : sizeof(struct tcp_tuple4)))

struct tcp_listener {
    int sd;
    struct wire_endpoint local;
    uint32_t backlog;   /* accept-queue bound (after somaxconn) */
    uint32_t syn_q_len;   /* half-open entries */
    uint32_t syn_q_young; /* ...of which no SYN-ACK has timed out yet */
    uint32_t accept_q_len;
    struct tcp_conn *accept_head, *accept_tail;
    struct tcp_sockopts opt; /* inherited by children */
    uint32_t rcvbuf, sndbuf; /* children's buffer limits (SO_RCVBUF, SO_SNDBUF) */
    tcp_time_t last_overflow; /* when the SYN queue last overflowed (cookies) */
    bool overflowed;
    uint16_t idx; /* in host->listener_tab */
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

#define TCP_TS_CACHE_SLOTS 64
struct tcp_ts_cached {
    uint32_t laddr, raddr, offset;
    bool valid;
};
/* The RFC 6056 offset of the last destination connected to. */
struct tcp_port_offset_cached {
    struct wire_addr local;
    struct wire_endpoint remote;
    uint32_t offset;
    bool valid;
};

/* The pools' objects per block, log2 (blocks of about 16-32 KiB). */
#define TCP_CONN_POOL_SHIFT 6
#define TCP_TIMER_POOL_SHIFT 8
#define TCP_TUPLE6_POOL_SHIFT 8
#define TCP_REQ_POOL_SHIFT 9
#define TCP_TW_RING_SHIFT 9

struct tcp_host {
    const struct tcp_config *cfg;
    struct tcp_counters *stats;
    struct tcp_host_ops ops;
    uint8_t isn_key[16], port_key[16], cookie_key[2][16], ts_key[16];
    uint64_t table_key[4];
    struct tcp_ts_cached ts_cache[TCP_TS_CACHE_SLOTS]; /* TSval offsets of recent IPv4 address pairs */
    struct tcp_port_offset_cached port_offset_cache;
    struct hash_table table; /* every entry by 4-tuple (references) */
    struct timer_wheel timers; /* control blocks' timers */
    struct pool conn_pool, req_pool[2]; /* [v6] */
    struct pool tuple6_pool;            /* IPv6 control blocks' tuples (struct wire_tuple) */
    struct pool timer_pool;             /* struct tcp_timers of control blocks with a timer armed */
    bool timers_lost;                   /* some control block has timer_lost set */
    struct ring tw_ring[2];             /* [v6]: TIME-WAIT entries, expiry order */
    struct bytebuf_cache bufcache;      /* small send and receive rings, for reuse */
    uint32_t req_head[TCP_REQ_LEVELS], req_tail[TCP_REQ_LEVELS]; /* SYN-ACK timer FIFOs */
    uint32_t req_levels; /* bit L: FIFO L is not empty */
    struct tcp_listener **listener_tab;
    uint32_t listener_cap;
    struct tcp_listener *listeners;
    size_t conns, reqs, tws;
    uint32_t *port_refs; /* connections and TIME-WAIT entries per local port (bind conflicts) */
    uint32_t graveyard; /* orphans to free at the end of the call (references) */
    uint32_t port_counter;      /* RFC 6056 Algorithm 3 "next_ephemeral" */
    /* The table hash of the tuple in hand (a segment's, or an expiring
     * TIME-WAIT entry's), so the table changes it causes need not hash it
     * again: it holds for the tuple at `hash_memo_tuple` (that very object)
     * and for the entry `hash_memo_ref` (0: none). Set and cleared within
     * one call. */
    const struct wire_tuple *hash_memo_tuple;
    uint32_t hash_memo_ref, hash_memo;
    uint32_t tw_head_hashed[2], tw_head_hash[2]; /* [v6]: the ring head whose hash is kept (0: none), and it */
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

/* Sets what the host's hash memo covers (NULL, 0: nothing). */
static inline void tcp_hash_memo_set(struct tcp_host *h, const struct wire_tuple *t, uint32_t ref, uint32_t hash)
{
    h->hash_memo_tuple = t;
    h->hash_memo_ref = ref;
    h->hash_memo = hash;
}

/* ---- host ---- */
/* 0, or -ENOMEM. */
int tcp_host_init(struct tcp_host *h, const struct tcp_config *cfg, struct tcp_counters *stats,
                   const struct tcp_host_ops *ops, const uint8_t secret[32], tcp_time_t now);
void tcp_host_destroy(struct tcp_host *h);
/* A parsed segment for this host (tuple.src is the remote end). */
void tcp_host_input(struct tcp_host *h, const struct wire_seg *seg, tcp_time_t now);
/* The same with the hash of the segment's local-view tuple (from
 * tcp_host_prefetch, asked for before the segment was parsed). */
void tcp_host_input_hashed(struct tcp_host *h, const struct wire_seg *seg, uint32_t hash, tcp_time_t now);
void tcp_host_tick(struct tcp_host *h, tcp_time_t now);
tcp_time_t tcp_host_next_timer(const struct tcp_host *h);
/* Frees orphans that reached CLOSED during the call (and resets control
 * blocks that lost a timer for lack of memory). */
void tcp_host_reap_now(struct tcp_host *h);
static inline void tcp_host_reap(struct tcp_host *h)
{
    if (h->graveyard || h->timers_lost)
        tcp_host_reap_now(h);
}
/* Reference of the entry with a local-view tuple (src = local) and its
 * table hash, or 0. */
uint32_t tcp_host_lookup(const struct tcp_host *h, const struct wire_tuple *t, uint32_t hash);
/* What `ss` shows of a table entry. */
struct tcp_entry_view {
    enum tcp_entry_kind kind;
    enum tcp_state state;
    struct wire_tuple tuple;
    tcp_time_t timer_expires; /* 0: no timer */
    const struct tcp_conn *conn; /* TCP_ENTRY_CONN */
    uint8_t retries;             /* TCP_ENTRY_REQ: SYN-ACKs retransmitted */
};
/* Calls fn for every entry until it returns non-zero. */
void tcp_host_walk(struct tcp_host *h, int (*fn)(void *ctx, const struct tcp_entry_view *v), void *ctx);
/* Bytes the host holds for its tables beyond the entries (bucket arrays). */
size_t tcp_host_table_bytes(const struct tcp_host *h);
/* True if no entry uses the tuple (for ephemeral port choice). */
bool tcp_host_tuple_free(const struct tcp_host *h, const struct wire_tuple *t, tcp_time_t now);
struct tcp_listener *tcp_host_find_listener(const struct tcp_host *h, const struct wire_addr *a,
                                            uint16_t port);
/* RFC 6056 Algorithm 3 offset for a destination (the last one's is
 * cached: a client connecting again and again hashes once). */
uint32_t tcp_port_offset(struct tcp_host *h, const struct wire_addr *local, const struct wire_endpoint *remote);
/* Asks the CPU for the table line of a local-view tuple, to be looked up
 * soon (a cold line costs a trip to memory at a million entries); returns
 * the tuple's hash. */
uint32_t tcp_host_prefetch(const struct tcp_host *h, const struct wire_tuple *local_view);

/* ---- listener ---- */
struct tcp_listener *tcp_listen(struct tcp_host *h, int sd, const struct wire_endpoint *local,
                                int backlog, const struct tcp_sockopts *opt, uint32_t rcvbuf, uint32_t sndbuf,
                                tcp_time_t now);
/* Next established child, or NULL. */
struct tcp_conn *tcp_accept(struct tcp_host *h, struct tcp_listener *l, int sd);
void tcp_listener_close(struct tcp_host *h, struct tcp_listener *l, tcp_time_t now);
struct tcp_listener *tcp_listener_at(const struct tcp_host *h, uint16_t idx);
uint32_t tcp_syn_queue_max(const struct tcp_host *h, const struct tcp_listener *l);
void tcp_listen_input(struct tcp_host *h, struct tcp_listener *l, const struct wire_seg *seg,
                      const struct wire_tuple *local_tuple, tcp_time_t now);
void tcp_req_input(struct tcp_host *h, uint32_t ref, const struct wire_seg *seg, tcp_time_t now);
/* SYN-ACK timers: the FIFOs' earliest expiry; fires the earliest if due. */
tcp_time_t tcp_req_next_timer(const struct tcp_host *h);
void tcp_req_expire(struct tcp_host *h, tcp_time_t now);
void tcp_req_get_tuple(const struct tcp_req *r, struct wire_tuple *t);
static inline tcp_time_t tcp_req_expires(const struct tcp_req *r)
{
    return ((tcp_time_t)r->expires_hi << 32) | r->expires_lo;
}

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
bool tcp_tw_input(struct tcp_host *h, uint32_t ref, const struct wire_seg *seg, tcp_time_t now);
/* The rings' earliest expiry, and expiring what is due. */
tcp_time_t tcp_tw_next_timer(const struct tcp_host *h);
void tcp_tw_expire(struct tcp_host *h, tcp_time_t now);
tcp_time_t tcp_tw_expires(const struct tcp_host *h, uint32_t ref);
void tcp_tw_get_tuple(const struct tcp_tw *tw, struct wire_tuple *t);

/* ---- connections ---- */
/* A zeroed control block from the host's pool, and its return. */
struct tcp_conn *tcp_conn_alloc(struct tcp_host *h);
void tcp_conn_release(struct tcp_conn *c);
struct tcp_conn *tcp_conn_new(struct tcp_host *h, const struct wire_tuple *t, const struct tcp_sockopts *opt,
                              uint32_t rcvbuf, uint32_t sndbuf);
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
static inline bool tcp_conn_synchronized(const struct tcp_conn *c)
{
    return c->e.state >= TCP_STATE_SYN_RECEIVED && c->e.state != TCP_STATE_CLOSED;
}

/* ---- internals shared by the files of tcp/ ---- */
void tcp_set_state(struct tcp_host *h, struct tcp_entry *e, int sd, enum tcp_state to, tcp_time_t now);
/* Moves c to CLOSED with an error for its user; orphans go to the graveyard. */
void tcp_conn_done(struct tcp_conn *c, int err, tcp_time_t now);
/* Timers (tcp_output.c). A deadline, or TCP_TIME_NEVER. */
static inline tcp_time_t tcp_conn_deadline(const struct tcp_conn *c, enum tcp_timer_kind k);
/* Sets a deadline (TCP_TIME_NEVER: off); tcp_conn_arm_timer then makes
 * sure the node runs no later than the earliest (it may run earlier: see
 * there), and the timers are freed when the node runs with none left. False when
 * the timers' storage could not be allocated: the deadline is not set and,
 * unless it is the delayed ACK (send the ACK now instead), the connection
 * is reset at the end of the call (TCPAbortOnMemory). */
static inline bool tcp_conn_set_deadline(struct tcp_conn *c, enum tcp_timer_kind k, tcp_time_t at);
/* Sets deadline k to `at` unless it is running (one look at the timers):
 * 1 if set (the caller arms the node), 0 if it was running, -1 as
 * tcp_conn_set_deadline's false. */
static inline int tcp_conn_start_deadline(struct tcp_conn *c, enum tcp_timer_kind k, tcp_time_t at);
bool tcp_conn_timers_new(struct tcp_conn *c, enum tcp_timer_kind k, tcp_time_t at); /* its slow path */
static inline void tcp_conn_arm_timer(struct tcp_conn *c);
void tcp_conn_arm_timer_slow(struct tcp_conn *c); /* the node moves, or the timers go */
static inline tcp_time_t tcp_timers_earliest(const struct tcp_timers *t); /* TCP_TIME_NEVER: none */
/* Every deadline off, the timers freed. */
void tcp_conn_clear_deadlines(struct tcp_conn *c);
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
/* A segment to send: every field wire_build reads but the tuple, which
 * the sender writes (`= {0}` would clear it first, and gcc clears the 120
 * bytes with a rep stos, slow to start). */
static inline void tcp_seg_init(struct wire_seg *seg, uint8_t flags, uint32_t seq, uint32_t ack)
{
    seg->ttl = 0; /* the default */
    seg->tos = 0;
    seg->flags = flags;
    seg->seq = seq;
    seg->ack = ack;
    seg->window = 0;
    seg->urg_ptr = 0;
    seg->opt = (struct wire_tcp_options){0};
    seg->payload = NULL;
    seg->payload_len = 0;
}
/* Raw segment out: fills addresses from the local-view tuple and emits. */
void tcp_emit(struct tcp_host *h, const struct wire_tuple *local_view, struct wire_seg *seg);
void tcp_emit_rtx(struct tcp_host *h, const struct wire_tuple *local_view, struct wire_seg *seg, bool retransmission);
/* The same for a segment whose tuple (local view) is already filled in. */
void tcp_emit_seg(struct tcp_host *h, struct wire_seg *seg, bool retransmission);
bool tcp_challenge_ack_allowed(struct tcp_host *h, tcp_time_t now);
/* Linux tcp_oow_rate_limited: may an ACK answer this unacceptable segment
 * now? With data, always; without, once per tcp_invalid_ratelimit per
 * entry (*last_ms: when it last did, 0: never). Counts those held back. */
bool tcp_oow_ack_allowed(struct tcp_host *h, uint32_t *last_ms, const struct wire_seg *seg, tcp_time_t now);
/* The ISN (RFC 6528) and the TSval offset (RFC 7323 §5.4; 0 without
 * tcp_timestamps) of a connection. */
uint32_t tcp_isn(const struct tcp_host *h, const struct wire_tuple *local_view, tcp_time_t now);
uint32_t tcp_ts_offset(const struct tcp_host *h, const struct wire_tuple *local_view);
static inline uint32_t tcp_ts_now(tcp_time_t now) { return (uint32_t)(now / 1000u); } /* 1 ms clock */
/* Table hash of a local-view tuple (keyed multiply-fold, never 0). */
uint32_t tcp_tuple_hash(const struct tcp_host *h, const struct wire_tuple *t);
/* The entry a reference names. */
static inline void *tcp_ref_ptr(const struct tcp_host *h, uint32_t ref)
{
    uint32_t i = TCP_REF_INDEX(ref);
    switch (TCP_REF_POOL(ref)) {
    case TCP_REF_CONN:
        return pool_at_fixed(&h->conn_pool, i, TCP_CONN_POOL_SHIFT, sizeof(struct tcp_conn));
    case TCP_REF_REQ4:
        return pool_at_fixed(&h->req_pool[0], i, TCP_REQ_POOL_SHIFT, TCP_REQ_SIZE(0));
    case TCP_REF_REQ6:
        return pool_at_fixed(&h->req_pool[1], i, TCP_REQ_POOL_SHIFT, TCP_REQ_SIZE(1));
    case TCP_REF_TW4:
        return ring_at_fixed(&h->tw_ring[0], i, TCP_TW_RING_SHIFT, TCP_TW_SIZE(0));
    default:
        return ring_at_fixed(&h->tw_ring[1], i, TCP_TW_RING_SHIFT, TCP_TW_SIZE(1));
    }
}
/* The control block a TCP_REF_CONN reference names; NULL for 0. */
static inline struct tcp_conn *tcp_conn_at(const struct tcp_host *h, uint32_t ref)
{
    return ref ? (struct tcp_conn *)pool_at_fixed(&h->conn_pool, TCP_REF_INDEX(ref), TCP_CONN_POOL_SHIFT,
                                                  sizeof(struct tcp_conn))
               : NULL;
}
static inline struct tcp_timers *tcp_conn_timers(const struct tcp_conn *c)
{
    return c->timers ? (struct tcp_timers *)pool_at_fixed(&c->host->timer_pool, c->timers - 1, TCP_TIMER_POOL_SHIFT,
                                                          sizeof(struct tcp_timers))
                     : NULL;
}
static inline void tcp_entry_tuple(const struct tcp_host *h, const struct tcp_entry *e, struct wire_tuple *t)
{
    if (e->v6)
        *t = *(const struct wire_tuple *)pool_at(&h->tuple6_pool, e->tuple.v6);
    else
        tcp_tuple4_unpack(t, &e->tuple.v4);
}
static inline tcp_time_t tcp_conn_deadline(const struct tcp_conn *c, enum tcp_timer_kind k)
{
    return c->timers ? tcp_conn_timers(c)->at[k] : TCP_TIME_NEVER;
}
static inline bool tcp_conn_set_deadline(struct tcp_conn *c, enum tcp_timer_kind k, tcp_time_t at)
{
    if (c->timers) {
        tcp_conn_timers(c)->at[k] = at;
        return true;
    }
    return at == TCP_TIME_NEVER || tcp_conn_timers_new(c, k, at);
}
static inline int tcp_conn_start_deadline(struct tcp_conn *c, enum tcp_timer_kind k, tcp_time_t at)
{
    struct tcp_timers *t = tcp_conn_timers(c);
    if (!t)
        return tcp_conn_timers_new(c, k, at) ? 1 : -1;
    if (t->at[k] != TCP_TIME_NEVER)
        return 0;
    t->at[k] = at;
    return 1;
}
static inline tcp_time_t tcp_timers_earliest(const struct tcp_timers *t)
{
    tcp_time_t at = t->at[0];
    for (int j = 1; j < TCP_TIMER_KINDS; j++)
        if (t->at[j] < at)
            at = t->at[j];
    return at;
}
/* Most calls find the node armed no later than every deadline: nothing to do. */
static inline void tcp_conn_arm_timer(struct tcp_conn *c)
{
    const struct tcp_timers *t = tcp_conn_timers(c);
    if (t && !(timer_armed(&t->node) && tcp_timers_earliest(t) >= t->node.expires))
        tcp_conn_arm_timer_slow(c);
}
/* Files a reference (kind counted) or takes it out. 0, or -ENOMEM. */
int tcp_table_insert(struct tcp_host *h, uint32_t ref, const struct wire_tuple *t);
void tcp_table_remove(struct tcp_host *h, uint32_t ref, const struct wire_tuple *t);
/* new_ref takes ref's place (the same tuple; nothing is allocated). */
void tcp_table_replace(struct tcp_host *h, uint32_t ref, uint32_t new_ref, const struct wire_tuple *t);
/* A control block's tuple: set once (0, or -ENOMEM for an IPv6 tuple's
 * storage), read, and released with the block. */
int tcp_entry_set_tuple(struct tcp_host *h, struct tcp_entry *e, const struct wire_tuple *t);
static inline void tcp_entry_tuple(const struct tcp_host *h, const struct tcp_entry *e, struct wire_tuple *t);
void tcp_entry_drop_tuple(struct tcp_host *h, struct tcp_entry *e);
/* A control block into the table and out (its timer cancelled). */
int tcp_entry_insert(struct tcp_host *h, struct tcp_entry *e);
void tcp_entry_remove(struct tcp_host *h, struct tcp_entry *e);
/* tcp_set_state for entries that are not control blocks. */
void tcp_set_state_raw(struct tcp_host *h, uint8_t *state, const struct wire_tuple *t, int sd, enum tcp_state to,
                       tcp_time_t now);
/* The compact tuple forms of half-open and TIME-WAIT entries. */
static inline bool tcp_tuple_is_v4(const struct wire_tuple *t)
{
    return wire_addr_is_v4(&t->src) && wire_addr_is_v4(&t->dst);
}
/* wire_tuple_eq, inline: the struct has no padding. */
static inline bool tcp_tuple_same(const struct wire_tuple *a, const struct wire_tuple *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}
void tcp_tuple_pack(void *dst, const struct wire_tuple *t, bool v6);
void tcp_tuple_unpack(struct wire_tuple *t, const void *src, bool v6);
/* SipHash-2-4: libsodium's crypto_shorthash_siphash24, as a number. */
uint64_t tcp_siphash24(const uint8_t key[16], const void *m, size_t len);
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
