/* track/ internals shared by the tracker's files; not part of the API.
 *
 * A connection carries two views of each side:
 *  - z[]: Zeek's endpoint machine (TCP_Endpoint: INACTIVE, SYN_SENT...),
 *    replayed as Zeek does it, so that conn_state, history, byte counts and
 *    the originator/responder roles are Zeek's own (track_zeek.c);
 *  - o[]: our inference of the RFC 9293 state of each side (track_obs.c).
 * Sides are indexed by the tuple: side 0 is the source of the first packet
 * seen; `orig` says which side is Zeek's originator (roles can flip). */
#ifndef SYNACK_TRACK_INTERNAL_H
#define SYNACK_TRACK_INTERNAL_H

#include "track/track.h"

/* Zeek's TCP_Endpoint states (analyzer/protocol/tcp/TCP_Endpoint.h). */
enum zeek_ep_state {
    ZEP_INACTIVE,     /* nothing seen from this side */
    ZEP_SYN_SENT,     /* SYN seen, not acked */
    ZEP_SYN_ACK_SENT, /* SYN-ACK seen, no initial SYN */
    ZEP_PARTIAL,      /* data seen, no SYN */
    ZEP_ESTABLISHED,
    ZEP_CLOSED,       /* FIN seen */
    ZEP_RESET,        /* RST seen */
};

struct track_zeek_ep {
    uint8_t state, prev_state;
    bool did_close;
    uint8_t window_scale;
    int64_t start_seq;
    uint32_t last_seq, ack_seq, seq_wraps, ack_wraps;
    uint64_t hist_last_syn, hist_last_fin, hist_last_rst;
    uint64_t fin_seq;
    uint32_t fin_cnt, rst_cnt;
    uint32_t window, window_seq, window_ack_seq;
    uint32_t chk_cnt, chk_thresh, rxmt_cnt, rxmt_thresh, win0_cnt, win0_thresh, gap_cnt, gap_thresh;
    uint64_t pkts, ip_bytes;
    /* Content-gap detection (Zeek's reassembler, reduced): relative
     * sequence up to which this side's data has been seen or written off. */
    uint64_t reassem_top;
    uint64_t ooo_lo, ooo_hi; /* one out-of-order block above reassem_top */
};

/* Transmissions of a SYN or SYN-ACK by a side: enough intervals for
 * Linux's default tcp_syn_retries (6) and tcp_synack_retries (5). */
#define TRACK_TX_INTERVALS 6
struct track_tx {
    uint8_t count;
    bool reported;
    uint32_t interval_us[TRACK_TX_INTERVALS];
    tcp_time_t first, last;
};

/* Transmissions of a FIN: the first interval is the evidence. */
struct track_fin_tx {
    uint8_t count;
    uint32_t interval_us;
    tcp_time_t last;
};

/* Our RFC 9293 view of one side. */
struct track_obs_side {
    uint8_t state;          /* enum tcp_state */
    bool known;             /* state has evidence; else printed as "-" */
    bool seen;              /* sent at least one segment */
    bool isn_known, nxt_known, ack_known, fin_sent, wscale_offered;
    bool alt_isn_known;     /* two SYNs with different ISNs: which is current is open */
    bool reset;             /* closed by sending an accepted RST */
    uint8_t wscale;
    uint32_t isn, alt_isn, snd_nxt, last_ack, fin_seq;
    uint32_t wnd;           /* last window advertised, as on the wire */
    tcp_time_t state_since, last_sent;
    struct track_tx syn, synack;      /* transmissions, for the retransmission anomalies */
    struct track_fin_tx fin;
    bool cw_reported, fw2_reported, tw_counted;
    /* Delivery evidence: how many segments asking for an answer (data,
     * SYN, FIN, probes) the peer sent since this side last spoke, and this
     * side's state before the first of them. A side that ignores several
     * never received them: it vanished, and what they did is undone. */
    uint8_t undo_state;
    bool undo_known;
    uint16_t ignored;
};

enum {
    TRACK_LIST_NONE = 0xff,
};

struct track_conn {
    struct track_conn *hnext;              /* hash chain */
    struct track_conn *prev, *next;        /* list of its timeout class, oldest first */
    struct track_conn *hs_prev, *hs_next;  /* pending handshakes (SYN flood), by SYN time */
    struct track_conn *all_prev, *all_next;/* every connection, by start (flush order) */
    uint64_t hash;
    struct wire_tuple tuple;               /* side 0 = source of the first packet */
    uint8_t orig;                          /* which side is Zeek's originator */
    uint8_t tclass;                        /* timeout class, or TRACK_LIST_NONE */
    bool hs_pending, hs_counted;
    bool seen_first_ack, is_partial, watched;
    uint8_t first_packet_seen;             /* bit 1 orig, bit 2 resp (Zeek's) */
    uint8_t hist_len;
    uint32_t hist_seen;                    /* Zeek's CheckHistory mask (resp << 16) */
    char history[TRACK_HISTORY_MAX];
    char uid[TRACK_UID_LEN];
    tcp_time_t start_time, last_time;      /* Zeek's (duration) */
    tcp_time_t last_activity;              /* any packet: drives the timeouts */
    tcp_time_t hs_syn_time;                /* first SYN: pending-handshake order */
    tcp_time_t handshake_rtt;
    bool has_rtt;
    uint64_t missed_bytes;
    uint64_t anomalies;
    struct track_zeek_ep z[2];
    struct track_obs_side o[2];
};

/* Connections are carved from slabs and recycled through a free list:
 * a busy tracker ends and starts connections all the time, and malloc's
 * bins were a tenth of its time. */
#define TRACK_SLAB_CONNS 64
struct track_conn_slab {
    struct track_conn_slab *next;
    size_t used;
    struct track_conn conns[TRACK_SLAB_CONNS];
};

struct track_list {
    struct track_conn *head, *tail;
    size_t n;
};

/* Per-service (responder address and port) unanswered-SYN rate. */
#define TRACK_FLOOD_EXACT 32
#define TRACK_FLOOD_BITMAP_BITS 1024
struct track_service {
    struct track_service *hnext, *prev, *next; /* hash chain, LRU list */
    struct wire_endpoint ep;
    uint64_t hash;
    uint64_t *bucket_sec;                  /* syn_flood_window_s one-second buckets: */
    uint32_t *bucket;                      /* which second, how many unanswered SYNs */
    bool flooding;
    uint32_t episode_syns;
    uint32_t exact_n;
    uint64_t exact[TRACK_FLOOD_EXACT];
    uint8_t bitmap[TRACK_FLOOD_BITMAP_BITS / 8];
    tcp_time_t last_t;
};

/* Per-host TIME-WAIT gauge. */
struct track_host {
    struct track_host *hnext;
    struct wire_addr addr;
    uint64_t hash;
    uint32_t time_wait;
    bool alarmed;
};

struct track {
    struct track_config cfg;
    struct track_sink sink;
    struct track_stats stats;
    tcp_time_t now;
    bool started;
    uint64_t conn_counter;
    unsigned char hash_key[16];
    char watch_uid[TRACK_UID_LEN];

    struct track_conn **buckets;
    size_t nbuckets;                        /* power of two */
    struct track_list lists[TRACK_TO_COUNT];
    struct track_list pending;              /* hs_prev/hs_next */
    struct track_list all;                  /* all_prev/all_next */

    struct track_service **svc_buckets;
    size_t svc_nbuckets, svc_count;
    struct track_service *svc_head, *svc_tail;

    struct track_host **host_buckets;
    size_t host_nbuckets, host_count;

    uint8_t *scratch;                       /* truncated frames padded to their IP length */
    struct track_conn *free_conns;          /* ended connections kept for reuse (hnext) */
    struct track_conn_slab *slabs;          /* where every connection lives */
};

/* ---- track.c ---- */
void track_raise(struct track *t, struct track_conn *c, enum track_anomaly_kind kind, tcp_time_t when,
                 int side, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* An anomaly about a service (resp = its address and port) or a host. */
void track_raise_at(struct track *t, enum track_anomaly_kind kind, tcp_time_t when,
                    const struct wire_endpoint *resp, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
uint64_t track_hash_bytes(const struct track *t, const void *data, size_t len);
/* Zeek's role of side s: true if s is the originator. */
static inline bool track_is_orig(const struct track_conn *c, int s)
{
    return c->orig == s;
}
/* "orig" / "resp" for side s. */
static inline const char *track_role(const struct track_conn *c, int s)
{
    return track_is_orig(c, s) ? "orig" : "resp";
}

/* ---- track_table.c ---- */
int track_table_init(struct track *t);
void track_table_free(struct track *t);
struct track_conn *track_table_find(struct track *t, const struct wire_tuple *tuple, uint64_t hash);
uint64_t track_tuple_hash(const struct track *t, const struct wire_tuple *tuple);
/* A zeroed connection (free list, else a slab), or NULL. */
struct track_conn *track_conn_alloc(struct track *t);
/* Gives an ended, unlinked connection back to the free list. */
void track_conn_release(struct track *t, struct track_conn *c);
/* Inserts a fresh connection (caller filled tuple and hash). */
void track_table_insert(struct track *t, struct track_conn *c);
/* Unlinks from the hash table and every list (does not free). */
void track_table_remove(struct track *t, struct track_conn *c);
/* Moves c to the tail of the list of its (possibly new) timeout class. */
void track_table_touch(struct track *t, struct track_conn *c);
void track_list_push(struct track_list *l, struct track_conn *c, int which);
void track_list_unlink(struct track_list *l, struct track_conn *c, int which);
enum { TRACK_LINK_CLASS, TRACK_LINK_PENDING, TRACK_LINK_ALL };
enum track_timeout_class track_conn_class(const struct track_conn *c);

/* ---- track_zeek.c ---- */
void track_zeek_init(struct track_conn *c);
/* Zeek's NewConn role heuristic: flip when the first packet is not a
 * plain SYN and comes from a likely server port. */
bool track_zeek_want_flip(const struct wire_seg *seg);
bool track_zeek_likely_server_port(uint16_t port);
/* Zeek's IsReuse(): does this SYN start a new connection on the tuple? */
bool track_zeek_is_reuse(struct track *t, struct track_conn *c, int side, const struct wire_seg *seg,
                         tcp_time_t now);
/* Zeek's TCPSessionAdapter::Process for one segment from side s. */
void track_zeek_segment(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                        tcp_time_t now, uint32_t ip_len);
/* A segment with a bad checksum (verify mode): Zeek's ChecksumError. */
void track_zeek_bad_checksum(struct track_conn *c, int s);
void track_zeek_flip(struct track_conn *c);
void track_history_add(struct track_conn *c, char code);
enum track_conn_state track_zeek_conn_state(const struct track_conn *c);
uint64_t track_zeek_size(const struct track_conn *c, int s);

/* ---- track_obs.c ---- */
void track_obs_init(struct track_conn *c, tcp_time_t now);
void track_obs_segment(struct track *t, struct track_conn *c, int s, const struct wire_seg *seg,
                       tcp_time_t now, bool first);
/* Threshold checks that depend on time only (CLOSE-WAIT leak, long
 * FIN-WAIT-2), as of `now`. */
void track_obs_check_time(struct track *t, struct track_conn *c, tcp_time_t now);
/* End-of-connection anomalies (unanswered SYN, half-open, SYN retransmissions). */
void track_obs_finish(struct track *t, struct track_conn *c, tcp_time_t now);
void track_obs_set_state(struct track *t, struct track_conn *c, int s, enum tcp_state st, tcp_time_t now);
/* A new record on the same 4-tuple while the old one was still open
 * (Zeek's SYN_seq_jump / active_connection_reuse split): our view of the
 * endpoints carries over. old_o is indexed like the old record's tuple. */
void track_obs_carry_over(struct track *t, struct track_conn *c, const struct track_obs_side old_o[2], bool swapped,
                          tcp_time_t now);

/* ---- track_aggr.c ---- */
int track_aggr_init(struct track *t);
void track_aggr_free(struct track *t);
/* A SYN to c's responder went unanswered (handshake not completed in time). */
void track_aggr_unanswered_syn(struct track *t, const struct track_conn *c, tcp_time_t syn_time);
/* A side entered (+1) or left (-1) TIME-WAIT. */
void track_aggr_time_wait(struct track *t, const struct wire_addr *host, int delta, tcp_time_t now);
uint32_t track_aggr_host_time_wait(const struct track *t, const struct wire_addr *host);

/* ---- track_link.c ---- */
/* Finds the IP header inside a frame. Returns the offset, or -1 with *why
 * set: 0 not IP, 1 truncated link header, 2 unsupported link type. */
long track_link_ip_offset(int dlt, const uint8_t *frame, size_t caplen, int *why);

#endif
