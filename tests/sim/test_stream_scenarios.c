/* The byte-stream scenarios (sc_stream.c), asserted from their events: the
 * flights of slow start, the out-of-order queue and SACK blocks, duplicate
 * ACKs, fast retransmit against the RTO, exponential backoff, zero-window
 * probes and the tcp_retries2 timeout; in every one the server checks the
 * bytes it reads against what the client sent.
 *
 * Usage: test_sim_stream [NAME]  (one test, as ctest runs them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/catalog.h"
#include "sim_check.h"

#define SEG 1448u /* MSS 1460 less the timestamp option (RFC 7323 §3.2) */
#define RTO_MIN MS(200)  /* Linux TCP_RTO_MIN */
#define RTO_MAX S(120)   /* Linux TCP_RTO_MAX */
#define SERVER_PATH "LISTEN>SYN-RECEIVED>ESTABLISHED>CLOSE-WAIT>LAST-ACK>CLOSED"

/* ---- the stream ---- */

/* Sequence numbers relative to the sender's ISN + 1 (byte 0 of the stream). */
static uint32_t client_base(const struct sim_result *res)
{
    return seg(res, "client", "S", 1)->seq + 1;
}

static uint32_t rel_seq(const struct sim_result *res, const struct sim_event *e)
{
    return e->seq - client_base(res);
}

static uint32_t rel_ack(const struct sim_result *res, const struct sim_event *e)
{
    return e->ack - client_base(res);
}

static bool is_data(const struct sim_event *e, int src)
{
    return e->kind == SIM_EV_SEGMENT && e->src == src && e->len > 0;
}

/* The data segments the client put on the wire (copies made by the link
 * left out), in order; returns how many. */
static size_t client_data(const struct sim_result *res, const struct sim_event **out, size_t cap)
{
    int c = host(res, "client");
    size_t n = 0;
    for (size_t i = 0; i < res->log.n; i++)
        if (is_data(&res->log.ev[i], c) && !res->log.ev[i].dup && n < cap)
            out[n++] = &res->log.ev[i];
    return n;
}

/* Every transmission of the byte at relative seq, in order. */
static size_t sends_of(const struct sim_result *res, uint32_t seq, const struct sim_event **out, size_t cap)
{
    const struct sim_event *all[512];
    size_t n = client_data(res, all, 512), k = 0;
    for (size_t i = 0; i < n; i++)
        if (rel_seq(res, all[i]) == seq && k < cap)
            out[k++] = all[i];
    return k;
}

/* The pure ACKs the server sent, in order. */
static size_t server_acks(const struct sim_result *res, const struct sim_event **out, size_t cap)
{
    int s = host(res, "server");
    size_t n = 0;
    for (size_t i = 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind == SIM_EV_SEGMENT && e->src == s && e->flags == WIRE_ACK && e->len == 0 && n < cap)
            out[n++] = e;
    }
    return n;
}

static uint64_t note_checksum(const struct sim_result *res, const char *text)
{
    const struct sim_event *note = find_note(res, text);
    if (!note) {
        dump_events(res);
        fail_msg("%s: no note \"%s\"", res->log.name, text);
    }
    const char *p = strstr(note->text, "fnv1a ");
    assert_non_null(p);
    return strtoull(p + 6, NULL, 16);
}

/* Every stream scenario but retries2-timeout ends the same way: the server
 * read each byte once, in order (the checksums of both ends agree), and
 * both ends closed. */
static void check_delivered(const struct sim_result *res, unsigned segs)
{
    size_t len = (size_t)segs * SEG;
    char want[96];
    snprintf(want, sizeof want, "EOF: all %zu bytes arrived intact and in order", len);
    uint64_t sent = note_checksum(res, "will send"), got = note_checksum(res, want);
    assert_true(sent == got);
    assert_int_equal(bytes_read(res, "server"), len);
    check_path(res, "server", -1, SERVER_PATH);
    check_app(res, "client", "recv", 1, "EOF");
    /* The client's FIN rides on its last data segment. */
    const struct sim_event *fin = seg(res, "client", "FP.", 1);
    assert_int_equal(rel_seq(res, fin) + fin->len, len);
}

/* ---- bulk-transfer ---- */

static void test_bulk_transfer(void **state)
{
    (void)state;
    struct sim_result res;
    run("bulk-transfer", &res);
    check_delivered(&res, 46);
    const struct sim_event *d[64];
    size_t n = client_data(&res, d, 64);
    assert_int_equal(n, 46);
    /* Flights: segments leaving at one instant. Slow start from the
     * initial window of 10 (RFC 6928); every ACK (one per two segments)
     * adds an MSS (RFC 5681 §3.1): cwnd 10, 15, 22 (one segment of the
     * second flight still unacknowledged). Each flight leaves when the ACKs
     * of the one before arrive: a round trip later. */
    static const size_t flights[] = {10, 15, 21, 0};
    size_t i = 0;
    for (size_t f = 0; flights[f]; f++) {
        size_t start = i;
        while (i < n && d[i]->t == d[start]->t)
            i++;
        if (i - start != flights[f]) {
            dump_events(&res);
            fail_msg("flight %zu: %zu segments, want %zu", f + 1, i - start, flights[f]);
        }
        if (f)
            assert_time(d[start]->t, d[0]->t + (tcp_time_t)f * 2 * DELAY);
    }
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(d[k]->len, SEG);
        assert_int_equal(rel_seq(&res, d[k]), k * SEG); /* each byte sent once, in order */
        assert_false(d[k]->lost);
    }
    const struct tcp_counters *c = counters(&res, "client");
    assert_int_equal(c->RetransSegs, 0);
    assert_int_equal(c->TCPTimeouts, 0);
    assert_int_equal(c->TCPFastRetrans, 0);
    sim_result_free(&res);
}

/* ---- reorder ---- */

static void test_reorder(void **state)
{
    (void)state;
    struct sim_result res;
    run("reorder", &res);
    check_delivered(&res, 20);
    const struct sim_event *d[64];
    size_t n = client_data(&res, d, 64);
    assert_int_equal(n, 20); /* nothing retransmitted */
    /* The 3rd segment arrives after the 4th and 5th, before the 6th. */
    assert_true(d[3]->arrives < d[2]->arrives);
    assert_true(d[4]->arrives < d[2]->arrives);
    assert_true(d[5]->arrives > d[2]->arrives);
    /* RFC 2018 §4: each out-of-order arrival is ACKed at once, for the
     * hole, with a SACK block for what the queue holds. */
    const struct sim_event *a[64];
    size_t na = server_acks(&res, a, 64), k = 0;
    while (k < na && !(a[k]->opt.present & WIRE_OPT_SACK))
        k++;
    assert_true(k + 2 < na && k > 0);
    for (size_t j = 0; j < 2; j++) {
        assert_int_equal(rel_ack(&res, a[k + j]), 2 * SEG);
        assert_int_equal(rel_ack(&res, a[k + j - 1]), 2 * SEG); /* a duplicate ACK */
        assert_int_equal(a[k + j]->opt.sack_count, 1);
        assert_int_equal(a[k + j]->opt.sack[0].left - client_base(&res), 3 * SEG);
        assert_int_equal(a[k + j]->opt.sack[0].right - client_base(&res), (4 + j) * SEG);
    }
    /* The 3rd fills the hole: one cumulative ACK for all five, no SACK. */
    assert_int_equal(rel_ack(&res, a[k + 2]), 5 * SEG);
    assert_false(a[k + 2]->opt.present & WIRE_OPT_SACK);
    assert_time(a[k + 2]->t, d[2]->arrives);
    assert_int_equal(counters(&res, "server")->TCPOFOQueue, 2);
    /* Two duplicate ACKs: under the threshold of three (RFC 5681 §3.2). */
    const struct tcp_counters *c = counters(&res, "client");
    assert_int_equal(c->RetransSegs, 0);
    assert_int_equal(c->TCPFastRetrans, 0);
    sim_result_free(&res);
}

/* ---- duplicate ---- */

static void test_duplicate(void **state)
{
    (void)state;
    struct sim_result res;
    run("duplicate", &res);
    check_delivered(&res, 20); /* 28960 bytes read: no copy delivered twice */
    int c = host(&res, "client");
    uint32_t copies[4];
    size_t ncopies = 0;
    const struct sim_event *last_copy = NULL;
    for (size_t i = 0; i < res.log.n; i++) {
        const struct sim_event *e = &res.log.ev[i];
        if (is_data(e, c) && e->dup) {
            assert_true(ncopies < 4);
            copies[ncopies++] = rel_seq(&res, e);
            last_copy = e;
        }
    }
    assert_int_equal(ncopies, 2);
    assert_int_equal(copies[0], 2 * SEG);
    assert_int_equal(copies[1], 6 * SEG);
    /* Each copy is old data, outside the window: dropped, counted, and
     * answered at once with an ACK for RCV.NXT (RFC 9293 §3.10.7.4, first
     * check): a duplicate ACK. */
    assert_int_equal(counters(&res, "server")->TCPSegUnacceptable, 2);
    const struct sim_event *a[64];
    size_t na = server_acks(&res, a, 64), dupacks = 0;
    for (size_t k = 1; k < na; k++)
        if (a[k]->ack == a[k - 1]->ack && a[k]->t <= last_copy->arrives) {
            dupacks++;
            assert_time(a[k]->t, last_copy->arrives);
        }
    assert_int_equal(dupacks, 2);
    const struct tcp_counters *cc = counters(&res, "client");
    assert_int_equal(cc->RetransSegs, 0);
    assert_int_equal(cc->TCPFastRetrans, 0);
    sim_result_free(&res);
}

/* ---- loss-fast-retransmit ---- */

static void test_loss_fast_retransmit(void **state)
{
    (void)state;
    struct sim_result res;
    run("loss-fast-retransmit", &res);
    check_delivered(&res, 20);
    const struct sim_event *tx[8];
    assert_int_equal(sends_of(&res, 2 * SEG, tx, 8), 2);
    assert_true(tx[0]->lost);
    assert_string_equal(tx[0]->drop, "script");
    assert_false(tx[1]->lost);
    /* The third duplicate ACK (RFC 5681 §3.2) arrives one round trip after
     * the loss; the retransmission leaves at that instant. */
    const struct sim_event *a[64];
    size_t na = server_acks(&res, a, 64), k = 0, dups = 0;
    while (k < na && rel_ack(&res, a[k]) != 2 * SEG)
        k++;
    for (k++; k < na && rel_ack(&res, a[k]) == 2 * SEG && dups < 3; k++)
        dups++;
    assert_int_equal(dups, 3);
    const struct sim_event *third = a[k - 1];
    assert_true(third->opt.present & WIRE_OPT_SACK);
    assert_time(tx[1]->t, third->arrives);
    assert_time(tx[1]->t, tx[0]->t + 2 * DELAY);
    /* Long before the retransmission timer, which cannot fire before
     * RTO_MIN (RFC 6298 §2.4 with Linux's 200 ms floor). */
    assert_true(tx[1]->t - tx[0]->t < RTO_MIN);
    const struct tcp_counters *c = counters(&res, "client");
    assert_int_equal(c->TCPFastRetrans, 1);
    assert_int_equal(c->RetransSegs, 1);
    assert_int_equal(c->TCPTimeouts, 0);
    sim_result_free(&res);
}

/* ---- loss-rto ---- */

/* When the retransmission timer that fired at `fired` was (re)started: the
 * later of the segment's sending and the last ACK to arrive before
 * (RFC 6298 §5.3). */
static tcp_time_t timer_start(const struct sim_result *res, const struct sim_event *sent, tcp_time_t fired)
{
    const struct sim_event *a[128];
    size_t na = server_acks(res, a, 128);
    tcp_time_t start = sent->t;
    for (size_t k = 0; k < na; k++)
        if (a[k]->arrives <= fired && a[k]->arrives > start && !a[k]->lost)
            start = a[k]->arrives;
    return start;
}

static void test_loss_rto(void **state)
{
    (void)state;
    struct sim_result res;
    run("loss-rto", &res);
    check_delivered(&res, 20);
    const struct sim_event *tx[8];
    assert_int_equal(sends_of(&res, 19 * SEG, tx, 8), 3);
    assert_true(tx[0]->lost && tx[1]->lost && !tx[2]->lost);
    for (int i = 0; i < 3; i++)
        assert_true(tx[i]->flags & WIRE_FIN);
    /* RFC 6298 §2.3: RTO = SRTT + max(G, 4 * RTTVAR), at least Linux's
     * 200 ms: SRTT is a 20 ms round trip here. */
    tcp_time_t rto = tx[1]->t - timer_start(&res, tx[0], tx[1]->t);
    assert_in_range(rto, RTO_MIN + 2 * DELAY, MS(300));
    /* RFC 6298 §5.5: lost again, the timer doubles. */
    assert_time(tx[2]->t - tx[1]->t, 2 * rto);
    const struct tcp_counters *c = counters(&res, "client");
    assert_int_equal(c->TCPTimeouts, 2);
    assert_int_equal(c->RetransSegs, 2);
    assert_int_equal(c->TCPFastRetrans, 0);
    sim_result_free(&res);
}

/* ---- zero-window-persist ---- */

static void test_zero_window_persist(void **state)
{
    (void)state;
    struct sim_result res;
    run("zero-window-persist", &res);
    check_delivered(&res, 30);
    const tcp_time_t read_at = S(4);
    /* The 14480-byte buffer fills with the initial window: win=0. */
    const struct sim_event *a[128];
    size_t na = server_acks(&res, a, 128), k = 0;
    while (k < na && a[k]->win != 0)
        k++;
    assert_true(k < na);
    const struct sim_event *zero = a[k];
    assert_int_equal(rel_ack(&res, zero), 10 * SEG);
    /* No data while the window is shut; zero-window probes instead
     * (RFC 9293 §3.8.6.1), as Linux's: no data, SEQ = SND.UNA - 1. */
    int c = host(&res, "client");
    tcp_time_t probes[16] = {0};
    size_t np = 0;
    for (size_t i = 0; i < res.log.n; i++) {
        const struct sim_event *e = &res.log.ev[i];
        if (e->kind != SIM_EV_SEGMENT || e->src != c || e->t <= zero->t || e->t > read_at)
            continue;
        assert_int_equal(e->len, 0);
        assert_int_equal(e->flags, WIRE_ACK);
        assert_int_equal(rel_seq(&res, e), 10 * SEG - 1);
        assert_true(np < 16);
        probes[np++] = e->t;
    }
    assert_int_equal(np, 4);
    /* The first after an RTO, then each interval twice the last. */
    assert_in_range(probes[0] - zero->arrives, RTO_MIN + 2 * DELAY, MS(300));
    for (size_t i = 2; i < np; i++)
        assert_time(probes[i] - probes[i - 1], 2 * (probes[i - 1] - probes[i - 2]));
    /* The application reads at 4 s: the window opens at once (a window
     * update), and the data flows again one trip later. */
    assert_time(app(&res, "server", "recv", 1)->t, read_at);
    const struct sim_event *update = NULL;
    for (k = 0; k < na && !update; k++)
        if (a[k]->t >= read_at && a[k]->win > 0)
            update = a[k];
    assert_non_null(update);
    assert_time(update->t, read_at);
    assert_int_equal(rel_ack(&res, update), 10 * SEG);
    const struct sim_event *tx[4];
    assert_int_equal(sends_of(&res, 10 * SEG, tx, 4), 1);
    assert_time(tx[0]->t, read_at + DELAY);
    assert_int_equal(counters(&res, "client")->RetransSegs, 0);
    sim_result_free(&res);
}

/* ---- retries2-timeout ---- */

/* Linux tcp_retransmits_timed_out: the time `retries` doubling timeouts
 * from TCP_RTO_MIN take, each capped at TCP_RTO_MAX. */
static tcp_time_t retries2_budget(unsigned retries)
{
    tcp_time_t total = 0, rto = RTO_MIN;
    for (unsigned i = 0; i <= retries; i++) {
        total += rto < RTO_MAX ? rto : RTO_MAX;
        rto *= 2;
    }
    return total;
}

/* Runs retries2-timeout (tcp_retries2 = retries, -1: the default) and
 * checks the backoff series against the one the rule predicts; returns
 * the time from the timer's start to ETIMEDOUT. */
static tcp_time_t check_retries2(int retries, size_t want_rtx)
{
    struct sim_options opt;
    sim_options_default(&opt);
    if (retries >= 0)
        assert_int_equal(sim_options_add_sysctl(&opt, "tcp_retries2", retries), 0);
    struct sim_result res;
    run_with("retries2-timeout", &opt, &res);
    assert_true(res.frozen[host(&res, "server")]);
    /* The first segment the server never acknowledged. */
    const struct sim_event *a[64];
    size_t na = server_acks(&res, a, 64);
    assert_true(na > 0);
    uint32_t head = rel_ack(&res, a[na - 1]);
    const struct sim_event *tx[32];
    size_t n = sends_of(&res, head, tx, 32);
    assert_int_equal(n, want_rtx + 1);
    /* RFC 6298 §5.5: each timeout doubles the RTO; Linux caps it at
     * TCP_RTO_MAX. The series predicted from the first RTO: */
    tcp_time_t rto = (tx[2]->t - tx[1]->t) / 2, start = tx[1]->t - rto;
    assert_in_range(rto, RTO_MIN + 2 * DELAY, MS(300));
    tcp_time_t budget = retries2_budget(retries >= 0 ? (unsigned)retries : 15);
    tcp_time_t expiry = start;
    size_t capped = 0;
    for (size_t i = 1;; i++) {
        expiry += rto;
        if (expiry - start >= budget)
            break;
        assert_true(i < n);
        struct sim_result *r = &res;
        if (tx[i]->t != expiry) {
            dump_events(r);
            fail_msg("retransmission %zu at %.6f s, want %.6f s", i, (double)tx[i]->t / 1e6, (double)expiry / 1e6);
        }
        assert_true(tx[i]->lost);
        capped += rto == RTO_MAX;
        rto = rto * 2 < RTO_MAX ? rto * 2 : RTO_MAX;
    }
    /* The timer that finds the time up ends the connection: the client's
     * pending recv() returns ETIMEDOUT (RFC 9293 §3.8.3, R2). */
    const struct sim_event *fail = app(&res, "client", "recv", 1);
    assert_string_equal(fail->result, "ETIMEDOUT");
    assert_time(fail->t, expiry);
    const struct tcp_counters *c = counters(&res, "client");
    assert_int_equal(c->TCPAbortOnTimeout, 1);
    assert_int_equal(c->RetransSegs, want_rtx);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>ESTABLISHED>CLOSED");
    if (retries < 0)
        assert_true(capped >= 5); /* the default series reaches the 120 s cap */
    sim_result_free(&res);
    return expiry - start;
}

static void test_retries2_timeout(void **state)
{
    (void)state;
    /* 15 retries: 924.6 s of budget; the series from a 220 ms RTO crosses
     * it at its 16th expiry. */
    tcp_time_t total = check_retries2(-1, 15);
    assert_in_range(total, S(900), S(950));
}

static void test_retries2_timeout_small(void **state)
{
    (void)state;
    /* tcp_retries2 = 3: 0.2 + 0.4 + 0.8 + 1.6 = 3 s; a 220 ms RTO expires
     * at 0.22, 0.66, 1.54 (three retransmissions) and 3.30 s: ETIMEDOUT. */
    assert_int_equal(retries2_budget(3), MS(3000));
    tcp_time_t total = check_retries2(3, 3);
    assert_in_range(total, S(3), S(4));
}

/* ---- under random loss ---- */

/* Every stream scenario, 10 seeds, 10% loss both ways: the stream arrives
 * intact or the connection fails with ETIMEDOUT; nothing hangs. */
static void test_stream_under_loss(void **state)
{
    (void)state;
    static const char *const names[] = {"bulk-transfer", "reorder", "duplicate", "loss-fast-retransmit",
                                        "loss-rto", "zero-window-persist"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (uint64_t seed = 1; seed <= 10; seed++) {
            struct sim_options opt;
            sim_options_default(&opt);
            opt.seed = seed;
            opt.loss = 0.1;
            struct sim_result res;
            run_with(names[i], &opt, &res);
            bool intact = find_note(&res, "arrived intact and in order") != NULL;
            bool timed_out = app_count(&res, "client", "recv", "ETIMEDOUT") > 0;
            if (!intact && !timed_out) {
                dump_events(&res);
                fail_msg("%s seed %" PRIu64 ": neither delivered nor failed", names[i], seed);
            }
            assert_null(find_note(&res, "corrupt"));
            sim_result_free(&res);
        }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        {"bulk-transfer", test_bulk_transfer, NULL, NULL, NULL},
        {"reorder", test_reorder, NULL, NULL, NULL},
        {"duplicate", test_duplicate, NULL, NULL, NULL},
        {"loss-fast-retransmit", test_loss_fast_retransmit, NULL, NULL, NULL},
        {"loss-rto", test_loss_rto, NULL, NULL, NULL},
        {"zero-window-persist", test_zero_window_persist, NULL, NULL, NULL},
        {"retries2-timeout", test_retries2_timeout, NULL, NULL, NULL},
        {"retries2-timeout-small", test_retries2_timeout_small, NULL, NULL, NULL},
        {"under-loss", test_stream_under_loss, NULL, NULL, NULL},
    };
    return run_tests_named(tests, sizeof tests / sizeof tests[0], argc, argv);
}
