/* Checksums (RFC 1071, RFC 9293 §3.1, RFC 8200 §8.1) against packets
 * Linux sent and against an independent byte-at-a-time oracle. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "wire/wire.h"
#include "wire_test_util.h"

/* The classic worked example (Wikipedia, "IPv4 header checksum"):
 * 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7. */
static void test_ipv4_header_known(void **state)
{
    (void)state;
    uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                     0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    assert_int_equal(wire_csum_fold(wire_csum_add(0, h, sizeof h)), 0xb861);
    h[10] = 0xb8;
    h[11] = 0x61;
    assert_int_equal(wire_csum_fold(wire_csum_add(0, h, sizeof h)), 0);
    /* Linux's own IPv4 header checksums verify. */
    assert_int_equal(wire_csum_fold(wire_csum_add(0, linux_v4_syn, 20)), 0);
    assert_int_equal(wire_csum_fold(wire_csum_add(0, linux_v4_synack, 20)), 0);
    assert_int_equal(wire_csum_fold(wire_csum_add(0, linux_v4_data, 20)), 0);
}

/* RFC 1071 §3 numerical example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to
 * ddf2 (one's complement sum, before the final complement). */
static void test_rfc1071_example(void **state)
{
    (void)state;
    const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(wire_csum_fold(wire_csum_add(0, b, 8)), (uint16_t)~0xddf2);
    /* The same bytes at every misalignment. */
    uint8_t buf[24];
    for (size_t off = 0; off < 16; off++) {
        memcpy(buf + off, b, 8);
        assert_int_equal(wire_csum_fold(wire_csum_add(0, buf + off, 8)), (uint16_t)~0xddf2);
    }
}

struct known_packet {
    const uint8_t *pkt;
    size_t len;
    size_t tcp_off;
    uint16_t tcp_csum; /* as the oracle computed it, see wire_test_util.h */
};

static void check_known(const struct known_packet *k)
{
    const uint8_t *tcp = k->pkt + k->tcp_off;
    size_t tcp_len = k->len - k->tcp_off;
    struct wire_seg s;
    assert_int_equal(wire_parse(k->pkt, k->len, 0, &s), WIRE_ERR_OK);
    /* Over the segment as sent, the checksum verifies to 0. */
    assert_int_equal(wire_tcp_checksum(&s.tuple.src, &s.tuple.dst, tcp, tcp_len), 0);
    /* With the field zeroed, it computes the value on the wire. */
    uint8_t copy[128];
    memcpy(copy, tcp, tcp_len);
    copy[16] = copy[17] = 0;
    assert_int_equal(wire_tcp_checksum(&s.tuple.src, &s.tuple.dst, copy, tcp_len), k->tcp_csum);
    assert_int_equal(k->tcp_csum, tcp[16] << 8 | tcp[17]);
    /* A single flipped bit anywhere in the segment is caught. */
    for (size_t i = 0; i < tcp_len; i++) {
        memcpy(copy, tcp, tcp_len);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        assert_int_not_equal(wire_tcp_checksum(&s.tuple.src, &s.tuple.dst, copy, tcp_len), 0);
    }
}

static void test_linux_packets(void **state)
{
    (void)state;
    const struct known_packet k[] = {
        {linux_v4_syn, linux_v4_syn_len, 20, 0xe82b},
        {linux_v4_synack, linux_v4_synack_len, 20, 0xbd49},
        {linux_v4_data, linux_v4_data_len, 20, 0x314c}, /* odd payload length */
        {linux_v6_syn, linux_v6_syn_len, 40, 0x9724},
        {linux_v6_synack, linux_v6_synack_len, 40, 0x4381},
        {linux_v6_data, linux_v6_data_len, 40, 0xb75e}, /* odd payload length */
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        check_known(&k[i]);
}

/* The 8-bytes-at-a-time loop agrees with the oracle for every length from
 * 0 to 300 at every alignment, on random and on all-ones data (carries). */
static void test_against_oracle(void **state)
{
    (void)state;
    struct xorshift rng = {0x9e3779b97f4a7c15ULL};
    uint8_t buf[320];
    for (int pattern = 0; pattern < 3; pattern++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = pattern == 0 ? (uint8_t)xorshift_next(&rng) : pattern == 1 ? 0xff : 0x00;
        for (size_t off = 0; off < 8; off++)
            for (size_t len = 0; len <= 300; len++)
                assert_int_equal(wire_csum_fold(wire_csum_add(0, buf + off, len)),
                                 ref_checksum(buf + off, len, 0));
    }
}

/* Partial sums chain: even-length pieces add up to the one-shot sum, and a
 * starting sum near 2^32 keeps its end-around carry. */
static void test_chaining(void **state)
{
    (void)state;
    struct xorshift rng = {42};
    uint8_t buf[256];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)xorshift_next(&rng);
    uint16_t whole = wire_csum_fold(wire_csum_add(0, buf, sizeof buf));
    for (size_t cut = 0; cut <= sizeof buf; cut += 2) {
        uint32_t s = wire_csum_add(0, buf, cut);
        s = wire_csum_add(s, buf + cut, sizeof buf - cut);
        assert_int_equal(wire_csum_fold(s), whole);
    }
    /* 0xffffffff is a one's-complement 0xffff+...: folds the same as 0xffff. */
    const uint8_t one[2] = {0x00, 0x01};
    assert_int_equal(wire_csum_fold(wire_csum_add(0xffffffffu, one, 2)),
                     wire_csum_fold(wire_csum_add(0xffffu, one, 2)));
    assert_int_equal(wire_csum_fold(0), 0xffff);
    assert_int_equal(wire_csum_fold(0xffff), 0);
    assert_int_equal(wire_csum_fold(0x1fffe), 0);
}

/* The pseudo-header matters: the same segment bytes under other addresses
 * (or the other family) no longer verify. */
static void test_pseudo_header(void **state)
{
    (void)state;
    const uint8_t *tcp = linux_v4_syn + 20;
    struct wire_addr lo = wire_addr_v4(0x7f000001), other = wire_addr_v4(0x7f000002);
    assert_int_equal(wire_tcp_checksum(&lo, &lo, tcp, 40), 0);
    assert_int_not_equal(wire_tcp_checksum(&lo, &other, tcp, 40), 0);
    assert_int_not_equal(wire_tcp_checksum(&other, &lo, tcp, 40), 0);
    /* Length is in the pseudo-header: two zero bytes appended add nothing
     * to the data sum, but the segment no longer verifies. */
    uint8_t longer[42] = {0};
    memcpy(longer, tcp, 40);
    assert_int_not_equal(wire_tcp_checksum(&lo, &lo, longer, 42), 0);
    /* The IPv6 pseudo-header for the IPv6 SYN. */
    struct wire_addr v6lo;
    assert_true(wire_addr_parse("::1", &v6lo));
    assert_int_equal(wire_tcp_checksum(&v6lo, &v6lo, linux_v6_syn + 40, 40), 0);
    assert_int_not_equal(wire_tcp_checksum(&lo, &lo, linux_v6_syn + 40, 40), 0);
    /* Against the oracle for a large IPv6 segment (length needs > 16 bits
     * in the v6 pseudo-header sum path). */
    static uint8_t big[70000];
    struct xorshift rng = {7};
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)xorshift_next(&rng);
    uint8_t hdr[40] = {0x60};
    memcpy(hdr + 8, v6lo.b, 16);
    memcpy(hdr + 24, v6lo.b, 16);
    uint32_t pseudo = 0;
    for (int i = 8; i < 40; i += 2)
        pseudo += (uint32_t)(hdr[i] << 8 | hdr[i + 1]);
    pseudo += 6 + (uint32_t)(sizeof big >> 16) + (uint32_t)(sizeof big & 0xffff);
    assert_int_equal(wire_tcp_checksum(&v6lo, &v6lo, big, sizeof big),
                     ref_checksum(big, sizeof big, pseudo));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_header_known), cmocka_unit_test(test_rfc1071_example),
        cmocka_unit_test(test_linux_packets),     cmocka_unit_test(test_against_oracle),
        cmocka_unit_test(test_chaining),          cmocka_unit_test(test_pseudo_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
