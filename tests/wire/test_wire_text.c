/* Sequence arithmetic (RFC 9293 §3.4), addresses, endpoints, tuples and the
 * text forms: tcpdump flag letters and rejection reason names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "wire/wire.h"

static void test_seq_wraparound(void **state)
{
    (void)state;
    const uint32_t near_top = 0xfffffff0u, past_wrap = 0x00000010u;
    assert_true(seq_lt(near_top, past_wrap));
    assert_true(seq_le(near_top, past_wrap));
    assert_false(seq_gt(near_top, past_wrap));
    assert_true(seq_gt(past_wrap, near_top));
    assert_true(seq_ge(past_wrap, near_top));
    assert_true(seq_le(7, 7) && seq_ge(7, 7) && !seq_lt(7, 7) && !seq_gt(7, 7));
    assert_true(seq_lt(0xffffffffu, 0));
    assert_true(seq_gt(0, 0xffffffffu));
    assert_int_equal(seq_max(near_top, past_wrap), past_wrap);
    assert_int_equal(seq_min(near_top, past_wrap), near_top);
    /* Half the space apart minus one is still "after". */
    assert_true(seq_lt(0, 0x7fffffffu));
    assert_true(seq_gt(0, 0x80000001u));
    /* A window that straddles 2^32: [0xfffffff0, 0x10). */
    assert_true(seq_in(0xfffffff0u, near_top, past_wrap));
    assert_true(seq_in(0xffffffffu, near_top, past_wrap));
    assert_true(seq_in(0, near_top, past_wrap));
    assert_true(seq_in(0xf, near_top, past_wrap));
    assert_false(seq_in(0x10, near_top, past_wrap)); /* hi is excluded */
    assert_false(seq_in(0xffffffefu, near_top, past_wrap));
    assert_false(seq_in(0x80000000u, near_top, past_wrap));
    assert_false(seq_in(5, 5, 5)); /* empty window */
    /* Walking one step at a time across the wrap keeps order. */
    uint32_t s = 0xfffffffau;
    for (int i = 0; i < 12; i++, s++)
        assert_true(seq_lt(s, s + 1) && seq_gt(s + 1, s));
}

static void test_seg_len(void **state)
{
    (void)state;
    struct wire_seg s = {0};
    s.payload_len = 100;
    assert_int_equal(wire_seg_len(&s), 100);
    s.flags = WIRE_SYN;
    assert_int_equal(wire_seg_len(&s), 101);
    s.flags = WIRE_SYN | WIRE_FIN | WIRE_ACK | WIRE_PSH;
    assert_int_equal(wire_seg_len(&s), 102);
}

static void test_addr(void **state)
{
    (void)state;
    char buf[WIRE_ADDR_STRLEN];
    struct wire_addr a = wire_addr_v4(0x0a000001);
    assert_true(wire_addr_is_v4(&a));
    assert_int_equal(wire_addr_v4_host(&a), 0x0a000001);
    assert_string_equal(wire_addr_str(&a, buf), "10.0.0.1");
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
    assert_memory_equal(a.b, mapped, 16);

    struct wire_addr p;
    assert_true(wire_addr_parse("10.0.0.1", &p));
    assert_true(wire_addr_eq(&a, &p));
    assert_true(wire_addr_parse("::ffff:10.0.0.1", &p)); /* same address */
    assert_true(wire_addr_eq(&a, &p));
    assert_true(wire_addr_parse("fd00::1", &p));
    assert_false(wire_addr_is_v4(&p));
    assert_string_equal(wire_addr_str(&p, buf), "fd00::1");
    const uint8_t fd00_1[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    struct wire_addr v6 = wire_addr_v6(fd00_1);
    assert_true(wire_addr_eq(&v6, &p));
    assert_false(wire_addr_eq(&v6, &a));
    assert_true(wire_addr_parse("2001:db8:0:0:1:0:0:1", &p));
    assert_string_equal(wire_addr_str(&p, buf), "2001:db8::1:0:0:1"); /* RFC 5952 */
    assert_true(wire_addr_parse("255.255.255.255", &p));
    assert_string_equal(wire_addr_str(&p, buf), "255.255.255.255");
    assert_true(wire_addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &p));
    assert_string_equal(wire_addr_str(&p, buf), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

    const char *bad[] = {"", "10.0.0", "10.0.0.256", "10.0.0.1 ", " 10.0.0.1", "fd00:::1",
                         "[fd00::1]", "10.0.0.1:80", "hello", "1.2.3.4.5", "g::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(wire_addr_parse(bad[i], &p));
    assert_false(wire_addr_parse(NULL, &p));

    struct wire_addr any4 = wire_addr_v4(0), any6;
    assert_true(wire_addr_parse("::", &any6));
    assert_true(wire_addr_is_unspecified(&any4));
    assert_true(wire_addr_is_unspecified(&any6));
    assert_false(wire_addr_is_unspecified(&a));
    assert_false(wire_addr_is_unspecified(&v6));
    assert_false(wire_addr_eq(&any4, &any6)); /* 0.0.0.0 is ::ffff:0:0, not :: */
    assert_string_equal(wire_addr_str(&any4, buf), "0.0.0.0");
    assert_string_equal(wire_addr_str(&any6, buf), "::");
}

static void test_endpoint(void **state)
{
    (void)state;
    char buf[WIRE_ENDPOINT_STRLEN];
    struct wire_endpoint e;
    assert_true(wire_endpoint_parse("10.0.0.1:80", &e));
    assert_int_equal(e.port, 80);
    assert_int_equal(wire_addr_v4_host(&e.addr), 0x0a000001);
    assert_string_equal(wire_endpoint_str(&e, buf), "10.0.0.1:80");
    assert_true(wire_endpoint_parse("[fd00::1]:65535", &e));
    assert_int_equal(e.port, 65535);
    assert_string_equal(wire_endpoint_str(&e, buf), "[fd00::1]:65535");
    assert_true(wire_endpoint_parse("0.0.0.0:0", &e));
    assert_int_equal(e.port, 0);
    assert_true(wire_endpoint_parse("[::ffff:1.2.3.4]:9", &e)); /* names the IPv4 address */
    assert_string_equal(wire_endpoint_str(&e, buf), "1.2.3.4:9");
    /* The longest text form fits. */
    assert_true(wire_endpoint_parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", &e));
    assert_string_equal(wire_endpoint_str(&e, buf),
                        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    assert_true(strlen(buf) < WIRE_ENDPOINT_STRLEN);

    const char *bad[] = {
        "",          "10.0.0.1",     "10.0.0.1:",       "10.0.0.1:65536", "10.0.0.1:-1",
        ":80",       "10.0.0.1:8a",  "10.0.0.1:80 ",    "fd00::1:80",     "[fd00::1]",
        "[fd00::1]:", "[fd00::1]80", "[1.2.3.4]:80",    "[]:80",          "10.0.0.1:123456",
        "[fd00::1:80", "10.0.0.1:+80", "host:80",        "10.0.0.1:00080x",
        "10.0.0.1:4294967376", /* wraps to 80 in 32 bits */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct wire_endpoint untouched = {.port = 4242};
        assert_false(wire_endpoint_parse(bad[i], &untouched));
        assert_int_equal(untouched.port, 4242);
    }
    assert_false(wire_endpoint_parse(NULL, &e));
}

static void test_tuple(void **state)
{
    (void)state;
    struct wire_tuple t = {.src = wire_addr_v4(0x0a000001), .dst = wire_addr_v4(0x0a000002),
                           .sport = 40000, .dport = 80};
    struct wire_tuple r = wire_tuple_reverse(&t);
    assert_true(wire_addr_eq(&r.src, &t.dst));
    assert_true(wire_addr_eq(&r.dst, &t.src));
    assert_int_equal(r.sport, 80);
    assert_int_equal(r.dport, 40000);
    assert_false(wire_tuple_eq(&t, &r));
    struct wire_tuple rr = wire_tuple_reverse(&r);
    assert_true(wire_tuple_eq(&t, &rr));
    rr.sport++;
    assert_false(wire_tuple_eq(&t, &rr));
    rr = t;
    rr.dst.b[15] ^= 1;
    assert_false(wire_tuple_eq(&t, &rr));
}

static void test_flags(void **state)
{
    (void)state;
    char buf[WIRE_FLAGS_STRLEN];
    const struct {
        uint8_t flags;
        const char *text;
    } cases[] = {
        {WIRE_SYN, "S"},
        {WIRE_SYN | WIRE_ACK, "S."},
        {WIRE_ACK, "."},
        {WIRE_FIN | WIRE_ACK, "F."},
        {WIRE_PSH | WIRE_ACK, "P."},
        {WIRE_FIN | WIRE_PSH | WIRE_ACK, "FP."},
        {WIRE_RST, "R"},
        {WIRE_RST | WIRE_ACK, "R."},
        {WIRE_SYN | WIRE_ECE | WIRE_CWR, "SEW"}, /* ECN setup SYN (RFC 3168 §6.1.1) */
        {WIRE_SYN | WIRE_ACK | WIRE_ECE, "S.E"},
        {WIRE_URG | WIRE_ACK, ".U"},
        {0xff, "FSRP.UEW"},
        {0, "[none]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_string_equal(wire_flags_str(cases[i].flags, buf), cases[i].text);
        uint8_t back = 0x5a;
        assert_true(wire_flags_parse(cases[i].text, &back));
        assert_int_equal(back, cases[i].flags);
    }
    /* Every combination round-trips and fits the buffer. */
    for (unsigned f = 0; f < 256; f++) {
        uint8_t back;
        wire_flags_str((uint8_t)f, buf);
        assert_true(strlen(buf) < WIRE_FLAGS_STRLEN);
        assert_true(wire_flags_parse(buf, &back));
        assert_int_equal(back, f);
    }
    uint8_t f;
    assert_true(wire_flags_parse(".S", &f)); /* any order is understood */
    assert_int_equal(f, WIRE_SYN | WIRE_ACK);
    assert_true(wire_flags_parse("none", &f));
    assert_int_equal(f, 0);
    const char *bad[] = {"", "SS", "..", "s", "A", "S. ", "[S]", "[none", "X", "SYN"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = 0x5a;
        assert_false(wire_flags_parse(bad[i], &f));
        assert_int_equal(f, 0x5a);
    }
    assert_false(wire_flags_parse(NULL, &f));
}

static void test_err_names(void **state)
{
    (void)state;
    assert_string_equal(wire_err_name(WIRE_ERR_OK), "OK");
    assert_string_equal(wire_err_name(WIRE_ERR_BAD_TCP_CHECKSUM), "BAD_TCP_CHECKSUM");
    assert_string_equal(wire_err_text(WIRE_ERR_BAD_TCP_CHECKSUM), "bad TCP checksum");
    assert_string_equal(wire_err_name(WIRE_ERR_BUFFER_TOO_SMALL), "BUFFER_TOO_SMALL");
    assert_string_equal(wire_err_name(WIRE_ERR_COUNT), "UNKNOWN");
    assert_string_equal(wire_err_text((enum wire_err)-1), "unknown error");
    /* Every reason has a distinct, non-empty name and text. */
    for (int i = 0; i < WIRE_ERR_COUNT; i++) {
        assert_true(strlen(wire_err_name((enum wire_err)i)) > 0);
        assert_true(strlen(wire_err_text((enum wire_err)i)) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(wire_err_name((enum wire_err)i), wire_err_name((enum wire_err)j));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_wraparound), cmocka_unit_test(test_seg_len),
        cmocka_unit_test(test_addr),           cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_tuple),          cmocka_unit_test(test_flags),
        cmocka_unit_test(test_err_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
