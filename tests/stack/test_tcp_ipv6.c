/* The same rules over IPv6 (RFC 9293 is address-family neutral; RFC 8200
 * §8.1 pseudo-header, §5 minimum MTU), and listeners on wildcard
 * addresses (Linux: [::] also accepts IPv4 unless IPV6_V6ONLY). */
#include <errno.h>
#include <string.h>

#include "harness.h"

static struct wire_addr v6(uint8_t last)
{
    uint8_t b[16] = {0xfd, 0};
    b[15] = last;
    return wire_addr_v6(b);
}

/* The harness peer and stack move to fd00::2 and fd00::1. */
static struct harness *harness_v6(void)
{
    struct harness *h = harness_new(NULL);
    h->local.addr = v6(1);
    h->remote.addr = v6(2);
    stack_set_local_addr(h->s, &h->local.addr);
    return h;
}

/* RFC 9293 §3.5 over IPv6: SYN-ACK acks ISN+1; packets are IPv6 with the
 * IPv6 pseudo-header checksum (the harness parses every output). */
static void test_v6_passive_open_and_data(void **state)
{
    (void)state;
    struct harness *h = harness_v6();
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    assert_int_equal(h->out[0].ip_version, 6);
    harness_inject(h, WIRE_ACK | WIRE_PSH, 1001, iss + 1, 65535, "six", 3, NULL);
    char buf[8];
    assert_int_equal(stack_recv(h->s, sd, buf, sizeof buf, h->now), 3);
    assert_memory_equal(buf, "six", 3);
    struct wire_endpoint peer;
    assert_int_equal(stack_getpeername(h->s, sd, &peer), 0);
    assert_true(wire_addr_eq(&peer.addr, &h->remote.addr));
    harness_free(h);
}

/* RFC 8200 §5, RFC 9293 §3.7.1: without an MSS option an IPv6 peer gets
 * 1220-byte segments (1280 - 40 - 20). */
static void test_v6_default_mss_is_1220(void **state)
{
    (void)state;
    struct harness *h = harness_v6();
    int l;
    uint32_t iss;
    int sd = harness_passive_open(h, &l, &iss);
    static uint8_t data[3000];
    memset(data, '6', sizeof data);
    assert_int_equal(stack_send(h->s, sd, data, sizeof data, h->now), 3000);
    harness_expect(h, ".", iss + 1, 1001, 1220);
    harness_free(h);
}

/* Active open over IPv6, and a RST from a closed IPv6 port refuses it
 * (RFC 9293 §3.10.7.3). */
static void test_v6_active_open_refused(void **state)
{
    (void)state;
    struct harness *h = harness_v6();
    int sd = stack_socket(h->s);
    h->remote.port = 80;
    h->local.port = 50000;
    assert_int_equal(stack_bind(h->s, sd, &h->local), 0);
    assert_int_equal(stack_connect(h->s, sd, &h->remote, h->now), -EINPROGRESS);
    const struct wire_seg *syn = harness_expect(h, "S", ANY, ANY, 0);
    assert_int_equal(syn->ip_version, 6);
    harness_inject(h, WIRE_RST | WIRE_ACK, 0, syn->seq + 1, 0, NULL, 0, NULL);
    assert_int_equal(stack_sock_error(h->s, sd), ECONNREFUSED);
    harness_free(h);
}

/* RFC 9293 §3.10.7.1 over IPv6: no socket, RST <SEQ=0><ACK=SEG.SEQ+1>. */
static void test_v6_syn_to_closed_port(void **state)
{
    (void)state;
    struct harness *h = harness_v6();
    harness_inject(h, WIRE_SYN, 77, 0, 65535, NULL, 0, NULL);
    const struct wire_seg *r = harness_expect(h, "R.", 0, 78, 0);
    assert_int_equal(r->ip_version, 6);
    harness_free(h);
}

/* RFC 9293 §3.10.7.2 (a listener with unspecified local address, as
 * Linux INADDR_ANY): a listener on 0.0.0.0 takes connections to any
 * local IPv4 address; the accepted socket's local address is the one the
 * SYN was sent to. */
static void test_v4_wildcard_listener(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = stack_socket(h->s);
    struct wire_endpoint any = {.addr = wire_addr_v4(0), .port = 80};
    assert_int_equal(stack_bind(h->s, l, &any), 0);
    assert_int_equal(stack_listen(h->s, l, 4), 0);
    h->local.addr = wire_addr_v4(0x0a000063); /* 10.0.0.99 */
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 1001, 0);
    assert_true(wire_addr_eq(&sa->tuple.src, &h->local.addr));
    harness_inject(h, WIRE_ACK, 1001, sa->seq + 1, 65535, NULL, 0, NULL);
    int sd = stack_accept(h->s, l, NULL);
    assert_true(sd >= 0);
    struct wire_endpoint name;
    assert_int_equal(stack_getsockname(h->s, sd, &name), 0);
    assert_true(wire_addr_eq(&name.addr, &h->local.addr));
    assert_int_equal(name.port, 80);
    harness_free(h);
}

/* Linux without IPV6_V6ONLY: a listener on [::] accepts IPv6 and IPv4. */
static void test_v6_wildcard_listener_takes_both_families(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = stack_socket(h->s);
    uint8_t zero[16] = {0};
    struct wire_endpoint any = {.addr = wire_addr_v6(zero), .port = 80};
    assert_int_equal(stack_bind(h->s, l, &any), 0);
    assert_int_equal(stack_listen(h->s, l, 4), 0);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL); /* IPv4 */
    uint32_t iss4 = harness_expect(h, "S.", ANY, 1001, 0)->seq;
    harness_inject(h, WIRE_ACK, 1001, iss4 + 1, 65535, NULL, 0, NULL);
    h->local.addr = v6(1);
    h->remote.addr = v6(2);
    harness_inject(h, WIRE_SYN, 3000, 0, 65535, NULL, 0, NULL); /* IPv6 */
    const struct wire_seg *sa = harness_expect(h, "S.", ANY, 3001, 0);
    assert_int_equal(sa->ip_version, 6);
    harness_inject(h, WIRE_ACK, 3001, sa->seq + 1, 65535, NULL, 0, NULL);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    assert_true(stack_accept(h->s, l, NULL) >= 0);
    harness_free(h);
}

/* A listener bound to one IPv4 address does not take IPv6 connections:
 * the SYN finds no socket (RFC 9293 §3.10.7.1). */
static void test_v4_listener_ignores_v6(void **state)
{
    (void)state;
    struct harness *h = harness_new(NULL);
    int l = stack_socket(h->s);
    assert_int_equal(stack_bind(h->s, l, &h->local), 0);
    assert_int_equal(stack_listen(h->s, l, 4), 0);
    h->local.addr = v6(1);
    h->remote.addr = v6(2);
    harness_inject(h, WIRE_SYN, 1000, 0, 65535, NULL, 0, NULL);
    harness_expect(h, "R.", 0, 1001, 0);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v6_passive_open_and_data),
        cmocka_unit_test(test_v6_default_mss_is_1220),
        cmocka_unit_test(test_v6_active_open_refused),
        cmocka_unit_test(test_v6_syn_to_closed_port),
        cmocka_unit_test(test_v4_wildcard_listener),
        cmocka_unit_test(test_v6_wildcard_listener_takes_both_families),
        cmocka_unit_test(test_v4_listener_ignores_v6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
