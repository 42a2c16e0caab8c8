/* Every scenario of the catalog, asserted from its events: the full state
 * sequence of both hosts, the flags/seq/ack of the key segments, the
 * retransmission times and the errors the applications got. After every
 * run, every host that did not vanish holds no connection (and ASan checks
 * that everything was freed).
 *
 * Usage: test_sim_scenarios [NAME]  (one scenario, as ctest runs them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/catalog.h"
#include "sim/render.h"
#include "sim_check.h"

/* The handshake every normal scenario starts with: SYN, SYN-ACK acking
 * ISN+1, ACK acking the server's ISN+1, at the link's delays from t0. */
static void check_handshake(const struct sim_result *res_, tcp_time_t t0)
{
    struct sim_result res = *res_; /* for assert_time */
    const struct sim_event *syn = seg(res_, "client", "S", 1);
    const struct sim_event *synack = seg(res_, "server", "S.", 1);
    assert_int_equal(syn->len, 0);
    assert_int_equal(synack->len, 0);
    assert_int_equal(synack->ack, syn->seq + 1);
    assert_time(synack->t, t0 + DELAY);
    const struct sim_event *ack = seg_after(res_, synack, "client", NULL);
    assert_true(ack->flags & WIRE_ACK);
    assert_false(ack->flags & WIRE_SYN);
    assert_int_equal(ack->seq, syn->seq + 1);
    assert_int_equal(ack->ack, synack->seq + 1);
    assert_time(ack->t, t0 + 2 * DELAY);
}

#define CLIENT_ACTIVE_CLOSE "CLOSED>SYN-SENT>ESTABLISHED>FIN-WAIT-1>FIN-WAIT-2>TIME-WAIT>CLOSED"
#define SERVER_PASSIVE_CLOSE "LISTEN>SYN-RECEIVED>ESTABLISHED>CLOSE-WAIT>LAST-ACK>CLOSED"
#define LISTENER "CLOSED>LISTEN>CLOSED"

/* ---- opening ---- */

static void test_handshake(void **state)
{
    (void)state;
    struct sim_result res;
    run("handshake", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    check_path(&res, "server", 0, LISTENER);
    check_handshake(&res, 0);
    assert_int_equal(seg_count(&res, "client", "S"), 1);
    assert_int_equal(seg_count(&res, "server", "S."), 1);
    const struct sim_event *syn = seg(&res, "client", "S", 1), *synack = seg(&res, "server", "S.", 1);
    check_app(&res, "client", "connect", 1, "EINPROGRESS");
    check_app(&res, "client", "connect", 2, "0");
    assert_time(app(&res, "client", "connect", 2)->t, 2 * DELAY);

    /* Data both ways: "hello" and its echo. */
    const struct sim_event *data = seg(&res, "client", "P.", 1);
    assert_int_equal(data->len, 5);
    assert_int_equal(data->seq, syn->seq + 1);
    const struct sim_event *echo = seg(&res, "server", "P.", 1);
    assert_int_equal(echo->len, 5);
    assert_int_equal(echo->seq, synack->seq + 1);
    assert_int_equal(echo->ack, syn->seq + 1 + 5);
    check_app(&res, "server", "recv", 1, "5 bytes");
    check_app(&res, "client", "recv", 1, "5 bytes");

    /* Four-segment close: FIN, ACK, FIN, ACK; each FIN takes one number. */
    const struct sim_event *fin = seg(&res, "client", "F.", 1);
    assert_time(fin->t, 2 * DELAY + S(1)); /* the client closes 1 s after connecting */
    assert_int_equal(fin->seq, syn->seq + 1 + 5);
    const struct sim_event *ack_of_fin = seg_after(&res, fin, "server", NULL);
    assert_int_equal(ack_of_fin->flags, WIRE_ACK);
    assert_int_equal(ack_of_fin->ack, fin->seq + 1);
    const struct sim_event *sfin = seg(&res, "server", "F.", 1);
    assert_time(sfin->t, fin->arrives + MS(500));
    assert_int_equal(sfin->seq, synack->seq + 1 + 5);
    assert_int_equal(sfin->ack, fin->seq + 1);
    const struct sim_event *last = seg_after(&res, sfin, "client", NULL);
    assert_int_equal(last->flags, WIRE_ACK);
    assert_int_equal(last->ack, sfin->seq + 1);
    assert_int_equal(seg_count(&res, "client", "F."), 1);
    assert_int_equal(seg_count(&res, "server", "F."), 1);
    check_app(&res, "server", "recv", 2, "EOF");

    /* TIME-WAIT lasts 60 s from the FIN that put it there. */
    const struct sim_event *tw = state_ev(&res, "client", TCP_STATE_FIN_WAIT_2, TCP_STATE_TIME_WAIT, 1);
    assert_time(tw->t, sfin->arrives);
    assert_time(state_ev(&res, "client", TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED, 1)->t, sfin->arrives + S(60));
    assert_time(state_ev(&res, "server", TCP_STATE_LAST_ACK, TCP_STATE_CLOSED, 1)->t, last->arrives);
    sim_result_free(&res);
}

static void test_data_on_third_ack(void **state)
{
    (void)state;
    struct sim_result res;
    run("data-on-third-ack", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    const struct sim_event *syn = seg(&res, "client", "S", 1), *synack = seg(&res, "server", "S.", 1);
    /* The client's first segment after the SYN is the data, not a pure ACK. */
    const struct sim_event *data = seg(&res, "client", "P.", 1);
    assert_false(data->lost);
    for (const struct sim_event *e = syn + 1; e < data; e++)
        if (e->kind == SIM_EV_SEGMENT)
            assert_int_not_equal(e->src, syn->src);
    assert_int_equal(data->len, 5);
    assert_int_equal(data->seq, syn->seq + 1);
    assert_int_equal(data->ack, synack->seq + 1);
    /* The data segment's arrival is what moved the server to ESTABLISHED. */
    const struct sim_event *est = state_ev(&res, "server", TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED, 1);
    assert_int_equal(est->cause, data - res.log.ev);
    assert_time(est->t, data->arrives);
    assert_int_equal(seg_count(&res, "server", "S."), 1); /* no SYN-ACK timeout needed */
    check_app(&res, "server", "recv", 1, "5 bytes");
    sim_result_free(&res);
}

static void test_syn_lost(void **state)
{
    (void)state;
    struct sim_result res;
    run("syn-lost", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    const struct sim_event *syn1 = seg(&res, "client", "S", 1), *syn2 = seg(&res, "client", "S", 2);
    assert_true(syn1->lost);
    assert_string_equal(syn1->drop, "script");
    assert_false(syn2->lost);
    assert_time(syn1->t, 0);
    assert_time(syn2->t, S(1)); /* initial RTO, RFC 6298 §2.1 */
    assert_int_equal(syn2->seq, syn1->seq);
    assert_int_equal(seg_count(&res, "client", "S"), 2);
    check_handshake(&res, S(1));
    assert_time(state_ev(&res, "client", TCP_STATE_SYN_SENT, TCP_STATE_ESTABLISHED, 1)->t, S(1) + 2 * DELAY);
    check_app(&res, "client", "connect", 2, "0");
    sim_result_free(&res);
}

static void test_syn_timeout(void **state)
{
    (void)state;
    struct sim_result res;
    run("syn-timeout", &res);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>CLOSED");
    static const int at[] = {0, 1, 3, 7, 15, 31, 63};
    assert_int_equal(seg_count(&res, "client", "S"), 7);
    assert_int_equal(seg_count(&res, "client", NULL), 7);
    const struct sim_event *first = seg(&res, "client", "S", 1);
    for (unsigned i = 0; i < 7; i++) {
        const struct sim_event *s = seg(&res, "client", "S", i + 1);
        assert_time(s->t, S(at[i]));
        assert_int_equal(s->seq, first->seq);
        assert_true(s->lost);
    }
    check_app(&res, "client", "connect", 1, "EINPROGRESS");
    check_app(&res, "client", "connect", 2, "ETIMEDOUT");
    assert_time(app(&res, "client", "connect", 2)->t, S(127));
    assert_time(state_ev(&res, "client", TCP_STATE_SYN_SENT, TCP_STATE_CLOSED, 1)->t, S(127));
    assert_true(res.frozen[host(&res, "server")]);
    sim_result_free(&res);
}

static void test_synack_lost(void **state)
{
    (void)state;
    struct sim_result res;
    run("synack-lost", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    const struct sim_event *syn = seg(&res, "client", "S", 1);
    const struct sim_event *sa1 = seg(&res, "server", "S.", 1), *sa2 = seg(&res, "server", "S.", 2);
    assert_true(sa1->lost);
    assert_false(sa2->lost);
    assert_int_equal(sa2->seq, sa1->seq); /* the same half-open entry, the same ISN */
    assert_int_equal(sa2->ack, syn->seq + 1);
    /* The client's SYN timer (1 s after its SYN) and the server's SYN-ACK
     * timer (1 s after its SYN-ACK) both fire; the first repair wins. */
    assert_time(seg(&res, "client", "S", 2)->t, S(1));
    assert_true(sa2->t >= S(1) + DELAY - 1 && sa2->t <= S(1) + 2 * DELAY);
    const struct sim_event *est = state_ev(&res, "client", TCP_STATE_SYN_SENT, TCP_STATE_ESTABLISHED, 1);
    assert_time(est->t, sa2->arrives);
    check_app(&res, "client", "connect", 2, "0");
    sim_result_free(&res);
}

static void test_ack_lost(void **state)
{
    (void)state;
    struct sim_result res;
    run("ack-lost", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    const struct sim_event *sa1 = seg(&res, "server", "S.", 1), *sa2 = seg(&res, "server", "S.", 2);
    const struct sim_event *ack1 = seg(&res, "client", ".", 1);
    assert_true(ack1->lost);
    assert_time(ack1->t, 2 * DELAY);
    /* The client is ESTABLISHED, the server still SYN-RECEIVED. */
    assert_time(state_ev(&res, "client", TCP_STATE_SYN_SENT, TCP_STATE_ESTABLISHED, 1)->t, 2 * DELAY);
    /* SYN-ACK timer: 1 s after the first SYN-ACK, same numbers. */
    assert_time(sa2->t, sa1->t + S(1));
    assert_int_equal(sa2->seq, sa1->seq);
    assert_int_equal(sa2->ack, sa1->ack);
    const struct sim_event *ack2 = seg_after(&res, sa2, "client", NULL);
    assert_int_equal(ack2->flags, WIRE_ACK);
    assert_int_equal(ack2->ack, sa2->seq + 1);
    assert_time(ack2->t, sa2->arrives);
    assert_time(state_ev(&res, "server", TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED, 1)->t, ack2->arrives);
    sim_result_free(&res);
}

static void test_synack_timeout(void **state)
{
    (void)state;
    struct sim_result res;
    run("synack-timeout", &res);
    check_path(&res, "server", -1, "LISTEN>SYN-RECEIVED>CLOSED");
    check_path(&res, "server", 0, LISTENER);
    assert_true(res.frozen[host(&res, "client")]);
    static const int at[] = {0, 1, 3, 7, 15, 31};
    const struct sim_event *first = seg(&res, "server", "S.", 1);
    const struct sim_event *syn = seg(&res, "client", "S", 1);
    tcp_time_t t0 = first->t;
    assert_time(t0, DELAY);
    assert_int_equal(seg_count(&res, "server", "S."), 6);
    for (unsigned i = 0; i < 6; i++) {
        const struct sim_event *s = seg(&res, "server", "S.", i + 1);
        assert_time(s->t, t0 + S(at[i]));
        assert_int_equal(s->seq, first->seq);
        assert_int_equal(s->ack, syn->seq + 1);
        assert_true(s->lost);
    }
    assert_time(state_ev(&res, "server", TCP_STATE_LISTEN, TCP_STATE_SYN_RECEIVED, 1)->t, t0);
    assert_time(state_ev(&res, "server", TCP_STATE_SYN_RECEIVED, TCP_STATE_CLOSED, 1)->t, t0 + S(63));
    assert_int_equal(app_count(&res, "server", "accept", NULL), 0);
    sim_result_free(&res);
}

static void test_stale_syn(void **state)
{
    (void)state;
    struct sim_result res;
    run("stale-syn", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1,
               "LISTEN>SYN-RECEIVED>LISTEN>SYN-RECEIVED>ESTABLISHED>CLOSE-WAIT>LAST-ACK>CLOSED");
    const struct sim_event *old = seg(&res, "client", "S", 1);
    const struct sim_event *syn = seg(&res, "client", "S", 2);
    if (!old->injected) { /* whichever left first */
        const struct sim_event *t = old;
        old = syn;
        syn = t;
    }
    assert_true(old->injected);
    assert_int_equal(old->seq, 90);
    assert_false(syn->injected);
    /* The server answers the old SYN... */
    const struct sim_event *sa1 = seg(&res, "server", "S.", 1);
    assert_int_equal(sa1->ack, 91);
    /* ...the client, in SYN-SENT, sees an unacceptable ACK and resets it
     * with <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.3)... */
    const struct sim_event *rst = seg(&res, "client", "R", 1);
    assert_int_equal(rst->seq, 91);
    assert_time(rst->t, sa1->arrives);
    /* ...which returns the server to LISTEN; the real SYN then opens. */
    const struct sim_event *back = state_ev(&res, "server", TCP_STATE_SYN_RECEIVED, TCP_STATE_LISTEN, 1);
    assert_time(back->t, rst->arrives);
    const struct sim_event *sa2 = seg(&res, "server", "S.", 2);
    assert_int_equal(sa2->ack, syn->seq + 1);
    assert_true(sa2->t >= back->t);
    assert_time(state_ev(&res, "client", TCP_STATE_SYN_SENT, TCP_STATE_ESTABLISHED, 1)->t, sa2->arrives);
    check_app(&res, "client", "connect", 2, "0");
    sim_result_free(&res);
}

static void test_simultaneous_open(void **state)
{
    (void)state;
    struct sim_result res;
    run("simultaneous-open", &res);
    check_path(&res, "peer-a", -1,
               "CLOSED>SYN-SENT>SYN-RECEIVED>ESTABLISHED>FIN-WAIT-1>FIN-WAIT-2>TIME-WAIT>CLOSED");
    check_path(&res, "peer-b", -1, "CLOSED>SYN-SENT>SYN-RECEIVED>ESTABLISHED>CLOSE-WAIT>LAST-ACK>CLOSED");
    const struct sim_event *syn_a = seg(&res, "peer-a", "S", 1), *syn_b = seg(&res, "peer-b", "S", 1);
    assert_time(syn_a->t, 0);
    assert_time(syn_b->t, 0);
    /* RFC 9293 §3.5 Figure 7: each answers the other's SYN with a SYN-ACK
     * carrying its own ISN again. */
    const struct sim_event *sa_a = seg(&res, "peer-a", "S.", 1), *sa_b = seg(&res, "peer-b", "S.", 1);
    assert_int_equal(sa_a->seq, syn_a->seq);
    assert_int_equal(sa_a->ack, syn_b->seq + 1);
    assert_int_equal(sa_b->seq, syn_b->seq);
    assert_int_equal(sa_b->ack, syn_a->seq + 1);
    assert_time(state_ev(&res, "peer-a", TCP_STATE_SYN_SENT, TCP_STATE_SYN_RECEIVED, 1)->t, DELAY);
    assert_time(state_ev(&res, "peer-a", TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED, 1)->t, 2 * DELAY);
    assert_time(state_ev(&res, "peer-b", TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED, 1)->t, 2 * DELAY);
    check_app(&res, "peer-a", "connect", 2, "0");
    check_app(&res, "peer-b", "connect", 2, "0");
    sim_result_free(&res);
}

/* ---- closing ---- */

static void test_close_merged_finack(void **state)
{
    (void)state;
    struct sim_result res;
    run("close-merged-finack", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    const struct sim_event *fin = seg(&res, "client", "F.", 1);
    /* The server's very next segment is FIN+ACK, sent on the FIN's arrival. */
    const struct sim_event *finack = seg_after(&res, fin, "server", NULL);
    assert_int_equal(finack->flags, WIRE_FIN | WIRE_ACK);
    assert_int_equal(finack->ack, fin->seq + 1);
    assert_time(finack->t, fin->arrives);
    const struct sim_event *last = seg_after(&res, finack, "client", NULL);
    assert_int_equal(last->flags, WIRE_ACK);
    assert_int_equal(last->ack, finack->seq + 1);
    /* Three segments in all from the first FIN on. */
    size_t after = 0;
    for (const struct sim_event *e = fin; e < res.log.ev + res.log.n; e++)
        after += e->kind == SIM_EV_SEGMENT;
    assert_int_equal(after, 3);
    /* The client skips nothing: FIN-WAIT-2 is passed through on the FIN+ACK. */
    assert_time(state_ev(&res, "client", TCP_STATE_FIN_WAIT_2, TCP_STATE_TIME_WAIT, 1)->t, finack->arrives);
    assert_time(state_ev(&res, "client", TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED, 1)->t, finack->arrives + S(60));
    sim_result_free(&res);
}

static void test_half_close(void **state)
{
    (void)state;
    struct sim_result res;
    run("half-close", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    check_app(&res, "client", "shutdown", 1, "0");
    const struct sim_event *fin = seg(&res, "client", "F.", 1);
    assert_time(fin->t, MS(500));
    const struct sim_event *cw = state_ev(&res, "server", TCP_STATE_ESTABLISHED, TCP_STATE_CLOSE_WAIT, 1);
    const struct sim_event *la = state_ev(&res, "server", TCP_STATE_CLOSE_WAIT, TCP_STATE_LAST_ACK, 1);
    assert_time(cw->t, fin->arrives);
    assert_time(la->t, MS(2500));
    /* Three data segments from CLOSE-WAIT, all read by the half-closed client. */
    const struct sim_event *synack = seg(&res, "server", "S.", 1);
    for (unsigned i = 0; i < 3; i++) {
        const struct sim_event *d = seg(&res, "server", "P.", i + 1);
        assert_time(d->t, MS(1000 + 500 * i));
        assert_int_equal(d->len, 6);
        assert_int_equal(d->seq, synack->seq + 1 + 6 * i);
        assert_int_equal(d->ack, fin->seq + 1);
        assert_true(d->t > cw->t && d->t < la->t);
        check_app(&res, "client", "recv", i + 1, "6 bytes");
    }
    check_app(&res, "client", "recv", 4, "EOF");
    const struct sim_event *sfin = seg(&res, "server", "F.", 1);
    assert_int_equal(sfin->seq, synack->seq + 1 + 18);
    const struct sim_event *last = seg_after(&res, sfin, "client", NULL);
    assert_int_equal(last->ack, sfin->seq + 1);
    sim_result_free(&res);
}

static void test_simultaneous_close(void **state)
{
    (void)state;
    struct sim_result res;
    run("simultaneous-close", &res);
    const char *both = "FIN-WAIT-1>CLOSING>TIME-WAIT>CLOSED";
    char want[256];
    snprintf(want, sizeof want, "CLOSED>SYN-SENT>ESTABLISHED>%s", both);
    check_path(&res, "client", -1, want);
    snprintf(want, sizeof want, "LISTEN>SYN-RECEIVED>ESTABLISHED>%s", both);
    check_path(&res, "server", -1, want);
    const struct sim_event *cfin = seg(&res, "client", "F.", 1), *sfin = seg(&res, "server", "F.", 1);
    assert_time(cfin->t, S(1));
    assert_time(sfin->t, S(1));
    /* Each FIN acks only the data, not the other FIN: they crossed. */
    assert_int_equal(cfin->ack, sfin->seq);
    assert_int_equal(sfin->ack, cfin->seq);
    const char *hosts[2] = {"client", "server"};
    for (int i = 0; i < 2; i++) {
        const struct sim_event *closing = state_ev(&res, hosts[i], TCP_STATE_FIN_WAIT_1, TCP_STATE_CLOSING, 1);
        assert_time(closing->t, S(1) + DELAY);
        const struct sim_event *tw = state_ev(&res, hosts[i], TCP_STATE_CLOSING, TCP_STATE_TIME_WAIT, 1);
        assert_time(state_ev(&res, hosts[i], TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED, 1)->t, tw->t + S(60));
    }
    /* Each ACKs the other's FIN: ack = FIN's seq + 1. */
    assert_int_equal(seg_after(&res, cfin, "client", ".")->ack, sfin->seq + 1);
    assert_int_equal(seg_after(&res, sfin, "server", ".")->ack, cfin->seq + 1);
    sim_result_free(&res);
}

static void test_last_ack_lost(void **state)
{
    (void)state;
    struct sim_result res;
    run("last-ack-lost", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    const struct sim_event *fin1 = seg(&res, "server", "F.", 1), *fin2 = seg(&res, "server", "F.", 2);
    assert_int_equal(seg_count(&res, "server", "F."), 2);
    assert_int_equal(fin2->seq, fin1->seq);
    const struct sim_event *ack1 = seg_after(&res, fin1, "client", NULL);
    assert_true(ack1->lost);
    assert_int_equal(ack1->ack, fin1->seq + 1);
    assert_true(fin2->t > fin1->t);
    /* TIME-WAIT answers the retransmitted FIN with an ACK... */
    const struct sim_event *ack2 = seg_after(&res, fin2, "client", NULL);
    assert_int_equal(ack2->flags, WIRE_ACK);
    assert_int_equal(ack2->ack, fin2->seq + 1);
    assert_false(ack2->lost);
    assert_time(ack2->t, fin2->arrives);
    /* ...and restarts its 60 s from that FIN (RFC 9293 §3.10.7.4). */
    assert_time(state_ev(&res, "client", TCP_STATE_FIN_WAIT_2, TCP_STATE_TIME_WAIT, 1)->t, fin1->arrives);
    assert_time(state_ev(&res, "client", TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED, 1)->t, fin2->arrives + S(60));
    assert_time(state_ev(&res, "server", TCP_STATE_LAST_ACK, TCP_STATE_CLOSED, 1)->t, ack2->arrives);
    sim_result_free(&res);
}

static void test_fin_wait_2_timeout(void **state)
{
    (void)state;
    struct sim_result res;
    run("fin-wait-2-timeout", &res);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>ESTABLISHED>FIN-WAIT-1>FIN-WAIT-2>CLOSED");
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    const struct sim_event *fw2 = state_ev(&res, "client", TCP_STATE_FIN_WAIT_1, TCP_STATE_FIN_WAIT_2, 1);
    /* tcp_fin_timeout = 60 s for an orphan in FIN-WAIT-2. */
    assert_time(state_ev(&res, "client", TCP_STATE_FIN_WAIT_2, TCP_STATE_CLOSED, 1)->t, fw2->t + S(60));
    /* The server's FIN at 100 s finds nothing: RST <SEQ=SEG.ACK> (RFC 9293 §3.10.7.1). */
    const struct sim_event *sfin = seg(&res, "server", "F.", 1);
    assert_time(sfin->t, S(100));
    const struct sim_event *rst = seg_after(&res, sfin, "client", NULL);
    assert_true(rst->flags & WIRE_RST);
    assert_int_equal(rst->seq, sfin->ack);
    assert_time(state_ev(&res, "server", TCP_STATE_LAST_ACK, TCP_STATE_CLOSED, 1)->t, rst->arrives);
    sim_result_free(&res);
}

static void test_orphan_fin_retries(void **state)
{
    (void)state;
    struct sim_result res;
    run("orphan-fin-retries", &res);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>ESTABLISHED>FIN-WAIT-1>CLOSED");
    assert_true(res.frozen[host(&res, "server")]);
    size_t fins = seg_count(&res, "client", "F.");
    const struct sim_event *first = seg(&res, "client", "F.", 1);
    assert_time(first->t, S(1));
    /* tcp_orphan_retries = 8: the FIN and 8 retransmissions. */
    assert_int_equal(fins, 9);
    tcp_time_t gap = 0;
    for (unsigned i = 1; i <= fins; i++) {
        const struct sim_event *f = seg(&res, "client", "F.", i);
        assert_int_equal(f->seq, first->seq);
        assert_true(f->lost);
        if (i >= 2) {
            tcp_time_t g = f->t - seg(&res, "client", "F.", i - 1)->t;
            if (i >= 3)
                assert_time(g, 2 * gap); /* exponential backoff */
            gap = g;
        }
    }
    const struct sim_event *closed = state_ev(&res, "client", TCP_STATE_FIN_WAIT_1, TCP_STATE_CLOSED, 1);
    assert_true(closed->t > seg(&res, "client", "F.", (unsigned)fins)->t);
    assert_true(res.counters[host(&res, "client")].TCPAbortOnTimeout >= 1);
    sim_result_free(&res);
}

/* ---- resets ---- */

static void test_rst_refused(void **state)
{
    (void)state;
    struct sim_result res;
    run("rst-refused", &res);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>CLOSED");
    check_path(&res, "server", -1, "");
    const struct sim_event *syn = seg(&res, "client", "S", 1);
    const struct sim_event *rst = seg(&res, "server", "R.", 1);
    assert_time(rst->t, DELAY);
    assert_int_equal(rst->seq, 0);
    assert_int_equal(rst->ack, syn->seq + 1);
    assert_int_equal(seg_count(&res, "client", NULL), 1);
    assert_time(state_ev(&res, "client", TCP_STATE_SYN_SENT, TCP_STATE_CLOSED, 1)->t, 2 * DELAY);
    check_app(&res, "client", "connect", 2, "ECONNREFUSED");
    assert_time(app(&res, "client", "connect", 2)->t, 2 * DELAY);
    sim_result_free(&res);
}

static void test_rst_in_syn_received(void **state)
{
    (void)state;
    struct sim_result res;
    run("rst-in-syn-received", &res);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>CLOSED");
    check_path(&res, "server", -1, "LISTEN>SYN-RECEIVED>LISTEN");
    check_path(&res, "server", 0, LISTENER);
    check_app(&res, "client", "close", 1, "0");
    assert_time(state_ev(&res, "client", TCP_STATE_SYN_SENT, TCP_STATE_CLOSED, 1)->t, MS(15));
    const struct sim_event *synack = seg(&res, "server", "S.", 1);
    const struct sim_event *rst = seg(&res, "client", "R", 1);
    assert_time(rst->t, synack->arrives);
    assert_int_equal(rst->seq, synack->ack);
    assert_time(state_ev(&res, "server", TCP_STATE_SYN_RECEIVED, TCP_STATE_LISTEN, 1)->t, rst->arrives);
    assert_int_equal(seg_count(&res, "server", "S."), 1); /* the half-open entry is gone: no retransmission */
    assert_int_equal(app_count(&res, "server", "accept", NULL), 0);
    sim_result_free(&res);
}

static void test_rst_abort(void **state)
{
    (void)state;
    struct sim_result res;
    run("rst-abort", &res);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>ESTABLISHED>CLOSED");
    check_path(&res, "server", -1, "LISTEN>SYN-RECEIVED>ESTABLISHED>CLOSED");
    check_app(&res, "client", "setsockopt", 1, "0");
    assert_string_equal(app(&res, "client", "setsockopt", 1)->args, "SO_LINGER, 0");
    const struct sim_event *syn = seg(&res, "client", "S", 1);
    const struct sim_event *rst = seg(&res, "client", "R.", 1);
    assert_time(rst->t, S(1));
    assert_int_equal(rst->seq, syn->seq + 1 + 5);
    assert_int_equal(seg_count(&res, "client", "F."), 0);
    assert_int_equal(seg_count(&res, "server", "F."), 0);
    assert_time(state_ev(&res, "client", TCP_STATE_ESTABLISHED, TCP_STATE_CLOSED, 1)->t, S(1));
    assert_time(state_ev(&res, "server", TCP_STATE_ESTABLISHED, TCP_STATE_CLOSED, 1)->t, rst->arrives);
    check_app(&res, "server", "recv", 2, "ECONNRESET");
    sim_result_free(&res);
}

/* ---- timers ---- */

static void test_keepalive_dead_peer(void **state)
{
    (void)state;
    struct sim_result res;
    run("keepalive-dead-peer", &res);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>ESTABLISHED>CLOSED");
    assert_true(res.frozen[host(&res, "server")]);
    int client = host(&res, "client");
    /* The last segment the client received before the server vanished. */
    tcp_time_t last_rcv = 0;
    for (size_t i = 0; i < res.log.n; i++)
        if (res.log.ev[i].kind == SIM_EV_ARRIVAL && res.log.ev[i].host == client && res.log.ev[i].t < S(1))
            last_rcv = res.log.ev[i].t;
    assert_true(last_rcv > 0);
    /* Probes: idle 10 s, then every 5 s; each carries SND.UNA - 1 and no data. */
    const struct sim_event *syn = seg(&res, "client", "S", 1);
    size_t probes = 0;
    tcp_time_t last_probe = 0;
    for (size_t i = 0; i < res.log.n; i++) {
        const struct sim_event *e = &res.log.ev[i];
        if (e->kind != SIM_EV_SEGMENT || e->src != client || e->t < S(1) || e->flags != WIRE_ACK)
            continue;
        assert_time(e->t, last_rcv + S(10) + S(5) * probes);
        assert_int_equal(e->seq, syn->seq + 1 + 5 - 1);
        assert_int_equal(e->len, 0);
        assert_true(e->lost);
        last_probe = e->t;
        probes++;
    }
    assert_int_equal(probes, 3);
    check_app(&res, "client", "recv", 2, "ETIMEDOUT");
    assert_time(app(&res, "client", "recv", 2)->t, last_probe + S(5));
    assert_time(state_ev(&res, "client", TCP_STATE_ESTABLISHED, TCP_STATE_CLOSED, 1)->t, last_probe + S(5));
    sim_result_free(&res);
}

static void test_process_exit(void **state)
{
    (void)state;
    struct sim_result res;
    run("process-exit", &res);
    check_path(&res, "client", -1, "CLOSED>SYN-SENT>ESTABLISHED>CLOSE-WAIT>LAST-ACK>CLOSED");
    check_path(&res, "server", -1, "LISTEN>SYN-RECEIVED>ESTABLISHED>FIN-WAIT-1>FIN-WAIT-2>TIME-WAIT>CLOSED");
    check_path(&res, "server", 0, LISTENER);
    assert_time(state_ev(&res, "server", TCP_STATE_LISTEN, TCP_STATE_CLOSED, 1)->t, S(1));
    const struct sim_event *fin = seg(&res, "server", "F.", 1);
    assert_time(fin->t, S(1));
    assert_int_equal(seg_count(&res, "server", "R"), 0);
    assert_int_equal(seg_count(&res, "server", "R."), 0);
    check_app(&res, "client", "recv", 2, "EOF");
    const struct sim_event *cfin = seg(&res, "client", "F.", 1);
    assert_time(cfin->t, fin->arrives); /* the client closes on EOF */
    const struct sim_event *tw = state_ev(&res, "server", TCP_STATE_FIN_WAIT_2, TCP_STATE_TIME_WAIT, 1);
    assert_time(tw->t, cfin->arrives);
    assert_time(state_ev(&res, "server", TCP_STATE_TIME_WAIT, TCP_STATE_CLOSED, 1)->t, cfin->arrives + S(60));
    sim_result_free(&res);
}

/* The first SYN a client sent on each of its connections, in order. */
static size_t client_syns(const struct sim_result *res, const struct sim_event **out, size_t cap)
{
    int client = host(res, "client");
    size_t n = 0;
    for (size_t i = 0; i < res->log.n; i++) {
        const struct sim_event *e = &res->log.ev[i];
        if (e->kind != SIM_EV_SEGMENT || e->src != client || e->flags != WIRE_SYN)
            continue;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= out[j]->tuple.sport == e->tuple.sport;
        if (!seen && n < cap)
            out[n++] = e;
    }
    return n;
}

/* The established-at time of the server's connection to remote port. */
static const struct sim_event *server_established(const struct sim_result *res, uint16_t port)
{
    const struct sim_event *e;
    for (unsigned n = 1; (e = sim_log_state_nth(&res->log, host(res, "server"), TCP_STATE_SYN_RECEIVED,
                                                TCP_STATE_ESTABLISHED, n)); n++)
        if (e->tuple.dport == port)
            return e;
    fail_msg("no connection from port %u was established", port);
    return NULL;
}

static void test_accept_queue_full(void **state)
{
    (void)state;
    struct sim_result res;
    run("accept-queue-full", &res);
    int server = host(&res, "server"), client = host(&res, "client");
    const struct sim_event *syn[3];
    assert_int_equal(client_syns(&res, syn, 3), 3);
    /* The first two fill the accept queue (backlog 1 holds 2, as Linux). */
    for (int i = 0; i < 3; i++) {
        assert_time(syn[i]->t, MS(100) * (tcp_time_t)i);
        check_path(&res, "server", syn[i]->tuple.sport, SERVER_PASSIVE_CLOSE);
    }
    assert_time(server_established(&res, syn[0]->tuple.sport)->t, 3 * DELAY);
    assert_time(server_established(&res, syn[1]->tuple.sport)->t, MS(100) + 3 * DELAY);
    /* The third's SYNs at 0.2, 1.2, 3.2 s are dropped without an answer; the
     * one at 7.2 s, after the app drained the queue at 5 s, gets in. */
    static const int retry_ms[] = {200, 1200, 3200, 7200};
    unsigned n = 0;
    for (size_t i = 0; i < res.log.n; i++) {
        const struct sim_event *e = &res.log.ev[i];
        if (e->kind == SIM_EV_SEGMENT && e->src == client && e->flags == WIRE_SYN &&
            e->tuple.sport == syn[2]->tuple.sport) {
            assert_true(n < 4);
            assert_time(e->t, MS(retry_ms[n]));
            n++;
        }
    }
    assert_int_equal(n, 4);
    const struct sim_event *synack = NULL;
    for (size_t i = 0; i < res.log.n && !synack; i++) {
        const struct sim_event *e = &res.log.ev[i];
        if (e->kind == SIM_EV_SEGMENT && e->src == server && e->flags == (WIRE_SYN | WIRE_ACK) &&
            e->tuple.dport == syn[2]->tuple.sport)
            synack = e;
    }
    assert_non_null(synack);
    assert_time(synack->t, MS(7200) + DELAY);
    assert_time(server_established(&res, syn[2]->tuple.sport)->t, MS(7200) + 3 * DELAY);
    assert_int_equal(res.counters[server].ListenOverflows, 3);
    /* Accepted: two at 5 s, the third as soon as it is established. */
    assert_time(app(&res, "server", "accept", 1)->t, S(5));
    assert_time(app(&res, "server", "accept", 2)->t, S(5));
    assert_time(app(&res, "server", "accept", 3)->t, MS(7200) + 3 * DELAY);
    assert_int_equal(app_count(&res, "client", "connect", "0"), 3);
    check_path(&res, "server", 0, LISTENER);
    sim_result_free(&res);
}

/* ---- hostile traffic ---- */

static void test_challenge_ack(void **state)
{
    (void)state;
    struct sim_result res;
    run("challenge-ack", &res);
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    check_path(&res, "server", -1, SERVER_PASSIVE_CLOSE);
    const struct sim_event *syn = seg(&res, "client", "S", 1);
    uint32_t rcv_nxt = syn->seq + 1 + 5;
    /* RFC 5961 §3.2: an in-window RST that is not exactly RCV.NXT gets a
     * challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, nothing else. */
    const struct sim_event *rst = seg(&res, "client", "R", 1);
    assert_true(rst->injected);
    assert_int_equal(rst->seq, rcv_nxt + 1000);
    const struct sim_event *ch1 = seg_after(&res, rst, "server", NULL);
    assert_int_equal(ch1->flags, WIRE_ACK);
    assert_int_equal(ch1->ack, rcv_nxt);
    assert_time(ch1->t, rst->arrives);
    /* RFC 5961 §4.2: a SYN in a synchronized state, the same. */
    const struct sim_event *bad_syn = seg(&res, "client", "S", 2);
    assert_true(bad_syn->injected);
    const struct sim_event *ch2 = seg_after(&res, bad_syn, "server", NULL);
    assert_int_equal(ch2->flags, WIRE_ACK);
    assert_int_equal(ch2->ack, rcv_nxt);
    assert_time(ch2->t, bad_syn->arrives);
    assert_int_equal(ch2->seq, ch1->seq);
    /* The connection lives on and closes normally at 3 s. */
    assert_time(state_ev(&res, "server", TCP_STATE_ESTABLISHED, TCP_STATE_CLOSE_WAIT, 1)->t, S(3) + DELAY);
    assert_true(res.counters[host(&res, "server")].TCPChallengeACK >= 2);
    assert_int_equal(res.counters[host(&res, "server")].EstabResets, 0);
    sim_result_free(&res);
}

static void test_syn_flood(void **state)
{
    (void)state;
    struct sim_result res;
    run("syn-flood", &res);
    int server = host(&res, "server"), attacker = host(&res, "attacker");
    check_path(&res, "client", -1, CLIENT_ACTIVE_CLOSE);
    assert_int_equal(seg_count(&res, "attacker", "S"), 200);
    /* The SYN queue (backlog 16) fills with half-open entries, each gone
     * after its SYN-ACK retries (63 s). */
    size_t half_open = 0, expired = 0;
    for (size_t i = 0; i < res.log.n; i++) {
        const struct sim_event *e = &res.log.ev[i];
        if (e->kind != SIM_EV_STATE || e->host != server || e->tuple.dport == 0 ||
            wire_addr_eq(&e->tuple.dst, &res.log.host_addrs[host(&res, "client")]))
            continue;
        half_open += e->from == TCP_STATE_LISTEN && e->to == TCP_STATE_SYN_RECEIVED;
        expired += e->from == TCP_STATE_SYN_RECEIVED && e->to == TCP_STATE_CLOSED;
    }
    assert_int_equal(half_open, 16);
    assert_int_equal(expired, 16);
    /* The real client: answered with a cookie, no half-open entry kept. */
    const struct sim_event *syn = seg(&res, "client", "S", 1);
    assert_time(syn->t, MS(500));
    const struct sim_event *synack = seg_after(&res, syn, "server", NULL);
    for (; synack->dst != host(&res, "client"); synack = seg_after(&res, synack, "server", NULL))
        ;
    assert_int_equal(synack->flags, WIRE_SYN | WIRE_ACK);
    assert_int_equal(synack->ack, syn->seq + 1);
    char path[256];
    sim_log_path(&res.log, server, syn->tuple.sport, path, sizeof path);
    assert_null(strstr(path, "LISTEN>SYN-RECEIVED"));
    assert_non_null(strstr(path, "ESTABLISHED>CLOSE-WAIT>LAST-ACK>CLOSED"));
    assert_time(state_ev(&res, "client", TCP_STATE_SYN_SENT, TCP_STATE_ESTABLISHED, 1)->t, synack->arrives);
    assert_true(res.counters[server].SyncookiesSent >= 1);
    assert_int_equal(res.counters[server].SyncookiesRecv, 1);
    assert_int_equal(app_count(&res, "server", "accept", NULL), 1);
    check_app(&res, "client", "recv", 1, "5 bytes");
    assert_false(res.has_stack[attacker]);
    sim_result_free(&res);
}

/* ---- the whole catalog: deterministic, and it survives random loss ---- */

static char *json_of(const struct sim_scenario *sc, uint64_t seed, double loss, int *status)
{
    struct sim_options opt;
    sim_options_default(&opt);
    opt.seed = seed;
    opt.loss = loss;
    struct sim_result res;
    *status = sim_run_scenario(sc, &opt, &res);
    for (int i = 0; i < res.nhosts && *status == 0; i++)
        if (res.has_stack[i] && !res.frozen[i] && res.conns_left[i]) {
            fprintf(stderr, "%s seed %llu loss %.2f: %s holds %zu connection(s)\n", sc->name,
                    (unsigned long long)seed, loss, sim_log_host_name(&res.log, i), res.conns_left[i]);
            dump_events(&res);
            *status = -1;
        }
    if (*status != 0)
        fprintf(stderr, "%s seed %llu loss %.2f: %s\n", sc->name, (unsigned long long)seed, loss, res.error);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    sim_render_json(&res.log, out);
    fclose(out);
    sim_result_free(&res);
    return buf;
}

static void test_catalog(void **state)
{
    (void)state;
    static const char *const required[] = {
        "handshake", "data-on-third-ack", "syn-lost", "syn-timeout", "synack-lost", "ack-lost",
        "synack-timeout", "stale-syn", "simultaneous-open", "close-merged-finack", "half-close",
        "simultaneous-close", "last-ack-lost", "fin-wait-2-timeout", "orphan-fin-retries", "rst-refused",
        "rst-in-syn-received", "rst-abort", "keepalive-dead-peer", "process-exit", "accept-queue-full",
        "bulk-transfer", "reorder", "duplicate", "loss-fast-retransmit", "loss-rto", "zero-window-persist",
        "retries2-timeout",
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!sim_scenario_find(required[i]))
            fail_msg("scenario %s is missing", required[i]);
    assert_null(sim_scenario_find("nope"));
    int failures = 0;
    for (size_t i = 0; i < sim_scenario_count(); i++) {
        const struct sim_scenario *sc = sim_scenario_at(i);
        /* Same seed, same run, to the byte. */
        int s1, s2;
        char *a = json_of(sc, 7, 0.1, &s1), *b = json_of(sc, 7, 0.1, &s2);
        if (strcmp(a, b) != 0) {
            fprintf(stderr, "%s: two runs with seed 7 differ\n", sc->name);
            failures++;
        }
        free(a);
        free(b);
        failures += s1 != 0;
        /* Random loss on top of the script: every connection still ends. */
        for (uint64_t seed = 1; seed <= 4; seed++) {
            int st;
            free(json_of(sc, seed, 0.2, &st));
            failures += st != 0;
        }
    }
    assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        {"handshake", test_handshake, NULL, NULL, NULL},
        {"data-on-third-ack", test_data_on_third_ack, NULL, NULL, NULL},
        {"syn-lost", test_syn_lost, NULL, NULL, NULL},
        {"syn-timeout", test_syn_timeout, NULL, NULL, NULL},
        {"synack-lost", test_synack_lost, NULL, NULL, NULL},
        {"ack-lost", test_ack_lost, NULL, NULL, NULL},
        {"synack-timeout", test_synack_timeout, NULL, NULL, NULL},
        {"stale-syn", test_stale_syn, NULL, NULL, NULL},
        {"simultaneous-open", test_simultaneous_open, NULL, NULL, NULL},
        {"close-merged-finack", test_close_merged_finack, NULL, NULL, NULL},
        {"half-close", test_half_close, NULL, NULL, NULL},
        {"simultaneous-close", test_simultaneous_close, NULL, NULL, NULL},
        {"last-ack-lost", test_last_ack_lost, NULL, NULL, NULL},
        {"fin-wait-2-timeout", test_fin_wait_2_timeout, NULL, NULL, NULL},
        {"orphan-fin-retries", test_orphan_fin_retries, NULL, NULL, NULL},
        {"rst-refused", test_rst_refused, NULL, NULL, NULL},
        {"rst-in-syn-received", test_rst_in_syn_received, NULL, NULL, NULL},
        {"rst-abort", test_rst_abort, NULL, NULL, NULL},
        {"keepalive-dead-peer", test_keepalive_dead_peer, NULL, NULL, NULL},
        {"process-exit", test_process_exit, NULL, NULL, NULL},
        {"accept-queue-full", test_accept_queue_full, NULL, NULL, NULL},
        {"challenge-ack", test_challenge_ack, NULL, NULL, NULL},
        {"syn-flood", test_syn_flood, NULL, NULL, NULL},
        {"catalog", test_catalog, NULL, NULL, NULL},
    };
    return run_tests_named(tests, sizeof tests / sizeof tests[0], argc, argv);
}
