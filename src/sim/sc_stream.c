/* The reliable byte stream: a client sends a few dozen full segments and
 * closes its sending side, the server reads them, checks every byte and
 * closes; on the way the link reorders, duplicates and loses segments, the
 * receiver stops reading, the server vanishes (RFC 9293 §3.8-§3.10,
 * RFC 5681, RFC 6298, RFC 2018). */
#include <stdio.h>

#include "link/simnet.h"
#include "sim/scenarios.h"

/* Payload bytes per full segment: MSS 1460 less the 12 bytes of the
 * timestamp option every segment carries (RFC 7323 §3.2, Linux mss_cache). */
#define STREAM_SEG 1448u

struct stream {
    struct sim_pair p; /* p.cli sends, p.srv receives */
    const char *data;
    size_t len;
};

/* A printable pattern whose every segment differs from its neighbours, so
 * a byte out of place changes the checksum. */
static const char *stream_pattern(struct sim_run *run, size_t len)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char *text = sim_alloc(run, len + 1);
    if (!text)
        return NULL;
    for (size_t i = 0; i < len; i++)
        text[i] = alphabet[(i + i / 62) % 62];
    return text;
}

/* The hosts and apps of every stream scenario: the client sends segs full
 * segments as soon as it is connected and shuts down writing (its FIN rides
 * on the last segment); the server checks what it reads and closes at EOF;
 * the client closes once it reads the server's FIN. server_rmem: the
 * server's tcp_rmem (0: Linux's). */
enum {
    STREAM_UNREAD = 1,    /* the server does not read (until told to) */
    STREAM_NO_SHUTDOWN = 2, /* the client keeps its sending side open */
};
static int stream_start(struct sim_run *run, struct stream *s, unsigned segs, int64_t server_rmem, unsigned flags)
{
    s->len = (size_t)segs * STREAM_SEG;
    s->data = stream_pattern(run, s->len);
    int rc = server_rmem ? sim_pair_setup_server_knob(run, &s->p, "tcp_rmem", server_rmem, NULL)
                         : sim_pair_setup(run, &s->p);
    if (!s->data || rc < 0)
        return -1;
    struct sim_app *sender = s->p.cli, *receiver = s->p.srv;
    receiver->expect = s->data;
    receiver->read = !(flags & STREAM_UNREAD);
    receiver->close_after_eof = 0;
    sender->send_on_connect = s->data;
    sender->shutdown_after_send = !(flags & STREAM_NO_SHUTDOWN);
    sender->close_after_eof = 0;
    sim_note(run, s->p.client, "will send %zu bytes, %u segments of %u (fnv1a %016llx)%s", s->len, segs, STREAM_SEG,
             (unsigned long long)sim_fnv1a(SIM_FNV1A_INIT, s->data, s->len),
             flags & STREAM_NO_SHUTDOWN ? ", then wait for an answer" : ", then shutdown(SHUT_WR)");
    return sim_pair_start(run, &s->p, 16);
}

/* Matches the nth data segment host sends and the next `times - 1`
 * retransmissions of the same sequence number (a filter for simnet's
 * drop_if, delay_if and duplicate_if). */
struct data_match {
    int host;
    unsigned nth, times;
    unsigned seen, matched;
    bool found;
    uint32_t seq;
};

static bool match_data_segment(void *ctx, const struct simnet_packet *pk)
{
    struct data_match *m = ctx;
    if (!pk->seg_ok || pk->src != m->host || pk->seg.payload_len == 0 || m->matched >= m->times)
        return false;
    if (!m->found) {
        if (++m->seen != m->nth)
            return false;
        m->found = true;
        m->seq = pk->seg.seq;
    } else if (pk->seg.seq != m->seq) {
        return false;
    }
    m->matched++;
    return true;
}

enum data_fault { FAULT_DROP, FAULT_DELAY, FAULT_DUPLICATE };

/* Applies fault to the nth data segment of host (and its next times-1
 * retransmissions); extra: the delay, or how late the copy arrives. */
static int data_fault(struct sim_run *run, enum data_fault fault, int host, unsigned nth, unsigned times,
                      tcp_time_t extra)
{
    struct data_match *m = sim_alloc(run, sizeof *m);
    if (!m)
        return -1;
    *m = (struct data_match){.host = host, .nth = nth, .times = times};
    switch (fault) {
    case FAULT_DROP:
        return simnet_drop_if(sim_net(run), match_data_segment, m);
    case FAULT_DELAY:
        return simnet_delay_if(sim_net(run), match_data_segment, m, extra);
    case FAULT_DUPLICATE:
        return simnet_duplicate_if(sim_net(run), match_data_segment, m, extra);
    }
    return -1;
}

/* ---- bulk-transfer ---- */
#define BULK_SEGS 46 /* flights of 10, 15 and 21 segments */

static int bulk_transfer_setup(struct sim_run *run)
{
    struct stream s;
    if (stream_start(run, &s, BULK_SEGS, 0, 0) < 0)
        return -1;
    sim_note(run, -1, "a clean link: slow start from the initial window of 10 segments (RFC 6928), cwnd + 1 MSS "
                      "per ACK (RFC 5681 §3.1); the receiver ACKs every second segment");
    return 0;
}

const struct sim_scenario sim_sc_bulk_transfer = {
    "bulk-transfer",
    "46 segments on a clean link: slow start from an initial window of 10 (flights of 10, 15, 21), every byte "
    "delivered intact, no retransmission",
    bulk_transfer_setup, 0,
};

/* ---- reorder ---- */
#define REORDER_SEGS 20
#define REORDER_RATE 1250000u         /* bytes per second: 10 Mbit/s, 1.2 ms a segment */
#define REORDER_EXTRA TCP_USEC(3000)  /* two segments overtake the third */

static int reorder_setup(struct sim_run *run)
{
    struct stream s;
    if (stream_start(run, &s, REORDER_SEGS, 0, 0) < 0)
        return -1;
    simnet_link_params(sim_net(run), s.p.client, s.p.server)->rate = REORDER_RATE;
    if (data_fault(run, FAULT_DELAY, s.p.client, 3, 1, REORDER_EXTRA) < 0)
        return -1;
    sim_note(run, -1, "a 10 Mbit/s link; the 3rd data segment takes a 3 ms longer path: the 4th and 5th "
                      "overtake it");
    return 0;
}

const struct sim_scenario sim_sc_reorder = {
    "reorder",
    "two segments overtake a third: they wait out of order, the ACKs carry SACK blocks (RFC 2018), two dup ACKs "
    "stay under the threshold: no retransmission",
    reorder_setup, 0,
};

/* ---- duplicate ---- */
#define DUPLICATE_SEGS 20
#define DUPLICATE_LATE TCP_MSEC(2)

static int duplicate_setup(struct sim_run *run)
{
    struct stream s;
    if (stream_start(run, &s, DUPLICATE_SEGS, 0, 0) < 0)
        return -1;
    if (data_fault(run, FAULT_DUPLICATE, s.p.client, 3, 1, DUPLICATE_LATE) < 0 ||
        data_fault(run, FAULT_DUPLICATE, s.p.client, 7, 1, DUPLICATE_LATE) < 0)
        return -1;
    sim_note(run, -1, "the link delivers the 3rd and 7th data segments twice, the copy 2 ms after the original");
    return 0;
}

const struct sim_scenario sim_sc_duplicate = {
    "duplicate",
    "the link delivers two segments twice: each copy is answered by an immediate (duplicate) ACK and never "
    "delivered to the application again",
    duplicate_setup, 0,
};

/* ---- loss-fast-retransmit ---- */
#define FAST_RETRANSMIT_SEGS 20

static int loss_fast_retransmit_setup(struct sim_run *run)
{
    struct stream s;
    if (stream_start(run, &s, FAST_RETRANSMIT_SEGS, 0, 0) < 0 ||
        data_fault(run, FAULT_DROP, s.p.client, 3, 1, 0) < 0)
        return -1;
    sim_note(run, -1, "the 3rd data segment is lost; each segment after it draws a duplicate ACK");
    return 0;
}

const struct sim_scenario sim_sc_loss_fast_retransmit = {
    "loss-fast-retransmit",
    "one data segment is lost: the third duplicate ACK triggers fast retransmit one round trip later, long "
    "before the RTO (RFC 5681 §3.2, SACK recovery RFC 6675)",
    loss_fast_retransmit_setup, 0,
};

/* ---- loss-rto ---- */
#define RTO_SEGS 20

static int loss_rto_setup(struct sim_run *run)
{
    struct stream s;
    if (stream_start(run, &s, RTO_SEGS, 0, 0) < 0 ||
        data_fault(run, FAULT_DROP, s.p.client, RTO_SEGS, 2, 0) < 0)
        return -1;
    sim_note(run, -1, "the last data segment (with the FIN) is lost, and its first retransmission too: nothing "
                      "follows it, so no duplicate ACK can come");
    return 0;
}

const struct sim_scenario sim_sc_loss_rto = {
    "loss-rto",
    "the tail segment is lost twice: only the retransmission timer can repair it, after the RTO (SRTT + "
    "max(4*RTTVAR, 200 ms)), then twice that (RFC 6298 §5.5)",
    loss_rto_setup, 0,
};

/* ---- zero-window-persist ---- */
#define PERSIST_SEGS 30
#define PERSIST_RCVBUF (10 * STREAM_SEG) /* the initial window fills it */
#define PERSIST_READ_AT TCP_SEC(4)

static int zero_window_persist_setup(struct sim_run *run)
{
    struct stream s;
    if (stream_start(run, &s, PERSIST_SEGS, PERSIST_RCVBUF, STREAM_UNREAD) < 0 ||
        sim_app_read_from(run, s.p.srv, PERSIST_READ_AT) < 0)
        return -1;
    sim_note(run, s.p.server, "receive buffer %u bytes; the application does not read until t=4 s",
             PERSIST_RCVBUF);
    return sim_at_action(run, PERSIST_READ_AT, SIM_ACT_NOTE, s.p.server, NULL,
                         "the application starts reading: the window opens again");
}

const struct sim_scenario sim_sc_zero_window_persist = {
    "zero-window-persist",
    "the receiver does not read: the window closes, the sender probes it with backoff (RFC 9293 §3.8.6.1); the "
    "app reads at 4 s, the window reopens",
    zero_window_persist_setup, 0,
};

/* ---- retries2-timeout ---- */
#define RETRIES2_SEGS 30
#define RETRIES2_VANISH TCP_MSEC(45) /* after the first flight is ACKed */

static int retries2_timeout_setup(struct sim_run *run)
{
    struct stream s;
    /* The client keeps its sending side open, blocked in recv(). */
    if (stream_start(run, &s, RETRIES2_SEGS, 0, STREAM_NO_SHUTDOWN) < 0)
        return -1;
    sim_vanish(run, s.p.server, RETRIES2_VANISH, "mid-transfer (power cut)");
    struct tcp_config cfg;
    sim_host_config(run, NULL, &cfg);
    sim_note(run, -1, "the client retransmits with a doubling RTO capped at tcp_rto_max (%lld ms) until "
                      "tcp_retries2 = %lld says the time is up: the time that many doublings from tcp_rto_min "
                      "would take (924.6 s for 15, as Linux)",
             (long long)cfg.tcp_rto_max_ms, (long long)cfg.tcp_retries2);
    return 0;
}

const struct sim_scenario sim_sc_retries2_timeout = {
    "retries2-timeout",
    "the server vanishes mid-transfer: retransmissions back off (doubling, cap 120 s) until tcp_retries2's "
    "924.6 s are up; the client's recv() gets ETIMEDOUT",
    retries2_timeout_setup, 0,
};
