/* The optimised checksum (wire_csum.h: 64-bit host-order sums, an
 * overlapping last load, register-computed header words in wire_build)
 * against a plain RFC 1071 reference written here: one big-endian 16-bit
 * word at a time, folded at the end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "wire/wire.h"
#include "wire_test_util.h"

#define MAX_LEN 2000
#define MAX_ALIGN 8

/* RFC 1071 §4.1, word by word: the sum (not complemented) of data as
 * big-endian words, an odd last byte padded with zero, added to initial. */
static uint16_t rfc1071_sum(const uint8_t *data, size_t len, uint64_t initial)
{
    uint64_t sum = initial;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint64_t)data[i] << 8 | data[i + 1];
    if (len & 1)
        sum += (uint64_t)data[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The TCP pseudo-header as bytes (RFC 9293 §3.1: src, dst, zero, 6,
 * 16-bit length; RFC 8200 §8.1: src, dst, 32-bit length, 3 zeros, 6),
 * summed by the same word-at-a-time loop. */
static uint16_t rfc1071_pseudo(const struct wire_addr *src, const struct wire_addr *dst, size_t len)
{
    uint8_t ph[40] = {0};
    size_t n;
    if (wire_addr_is_v4(src)) {
        memcpy(ph, src->b + 12, 4);
        memcpy(ph + 4, dst->b + 12, 4);
        ph[9] = 6;
        ph[10] = (uint8_t)(len >> 8);
        ph[11] = (uint8_t)len;
        n = 12;
    } else {
        memcpy(ph, src->b, 16);
        memcpy(ph + 16, dst->b, 16);
        ph[32] = (uint8_t)(len >> 24);
        ph[33] = (uint8_t)(len >> 16);
        ph[34] = (uint8_t)(len >> 8);
        ph[35] = (uint8_t)len;
        ph[39] = 6;
        n = 40;
    }
    return rfc1071_sum(ph, n, 0);
}

static uint16_t rfc1071_tcp(const struct wire_addr *src, const struct wire_addr *dst,
                            const uint8_t *tcp, size_t len)
{
    return (uint16_t)~rfc1071_sum(tcp, len, rfc1071_pseudo(src, dst, len));
}

/* Random bytes, all ones (every add carries) or all zeros. */
static void fill(uint8_t *buf, size_t n, int pattern, struct xorshift *rng)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern == 0 ? (uint8_t)xorshift_next(rng) : pattern == 1 ? 0xff : 0x00;
}

static struct wire_addr random_v6(struct xorshift *rng)
{
    uint8_t b[16];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)xorshift_next(rng);
    b[0] = 0xfd; /* never IPv4-mapped */
    return wire_addr_v6(b);
}

/* wire_csum_add + wire_csum_fold agree with the reference for every length
 * 0..2000 at every alignment 0..7. */
static void test_data_every_length_and_alignment(void **state)
{
    (void)state;
    static uint8_t buf[MAX_LEN + MAX_ALIGN];
    struct xorshift rng = {0x1234567887654321ULL};
    for (int pattern = 0; pattern < 3; pattern++) {
        fill(buf, sizeof buf, pattern, &rng);
        for (size_t align = 0; align < MAX_ALIGN; align++)
            for (size_t len = 0; len <= MAX_LEN; len++)
                assert_int_equal(wire_csum_fold(wire_csum_add(0, buf + align, len)),
                                 (uint16_t)~rfc1071_sum(buf + align, len, 0));
    }
}

/* A running sum in, any 32-bit value (including ones that need an
 * end-around carry): the same as adding it word by word. */
static void test_data_with_initial_sum(void **state)
{
    (void)state;
    static uint8_t buf[MAX_LEN + MAX_ALIGN];
    struct xorshift rng = {99};
    fill(buf, sizeof buf, 0, &rng);
    const uint32_t initial[] = {0, 1, 0xffff, 0x10000, 0xfffffffeu, 0xffffffffu};
    for (size_t i = 0; i < sizeof initial / sizeof initial[0]; i++)
        for (size_t len = 0; len <= MAX_LEN; len += 7)
            for (size_t align = 0; align < MAX_ALIGN; align++)
                assert_int_equal(wire_csum_fold(wire_csum_add(initial[i], buf + align, len)),
                                 (uint16_t)~rfc1071_sum(buf + align, len, initial[i]));
}

/* wire_tcp_checksum with the IPv4 pseudo-header, every length and
 * alignment, fresh random addresses for each length. */
static void test_tcp_ipv4_pseudo_header(void **state)
{
    (void)state;
    static uint8_t buf[MAX_LEN + MAX_ALIGN];
    struct xorshift rng = {0xfeedULL};
    for (int pattern = 0; pattern < 3; pattern++) {
        fill(buf, sizeof buf, pattern, &rng);
        for (size_t len = 0; len <= MAX_LEN; len++) {
            struct wire_addr src = wire_addr_v4((uint32_t)xorshift_next(&rng));
            struct wire_addr dst = wire_addr_v4((uint32_t)xorshift_next(&rng));
            for (size_t align = 0; align < MAX_ALIGN; align++)
                assert_int_equal(wire_tcp_checksum(&src, &dst, buf + align, len),
                                 rfc1071_tcp(&src, &dst, buf + align, len));
        }
    }
}

/* The same with the IPv6 pseudo-header. */
static void test_tcp_ipv6_pseudo_header(void **state)
{
    (void)state;
    static uint8_t buf[MAX_LEN + MAX_ALIGN];
    struct xorshift rng = {0xbeefULL};
    for (int pattern = 0; pattern < 3; pattern++) {
        fill(buf, sizeof buf, pattern, &rng);
        for (size_t len = 0; len <= MAX_LEN; len++) {
            struct wire_addr src = random_v6(&rng), dst = random_v6(&rng);
            for (size_t align = 0; align < MAX_ALIGN; align++)
                assert_int_equal(wire_tcp_checksum(&src, &dst, buf + align, len),
                                 rfc1071_tcp(&src, &dst, buf + align, len));
        }
    }
}

/* Extreme addresses: all-ones and all-zero words in the pseudo-header. */
static void test_pseudo_header_extremes(void **state)
{
    (void)state;
    uint8_t ones[16], zeros[16] = {0}, seg[61];
    memset(ones, 0xff, sizeof ones);
    memset(seg, 0xff, sizeof seg);
    const struct wire_addr addrs[] = {wire_addr_v4(0), wire_addr_v4(0xffffffffu), wire_addr_v6(ones),
                                      wire_addr_v6(zeros)};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t len = 0; len <= sizeof seg; len++)
                assert_int_equal(wire_tcp_checksum(&addrs[a], &addrs[b], seg, len),
                                 rfc1071_tcp(&addrs[a], &addrs[b], seg, len));
}

/* A random segment: either family, any options, payload 0..max_payload. */
static void random_seg(struct wire_seg *s, struct xorshift *rng, const uint8_t *payload,
                       uint32_t max_payload)
{
    memset(s, 0, sizeof *s);
    if (xorshift_next(rng) & 1) {
        s->tuple.src = wire_addr_v4(0x0a000000u | (uint32_t)(xorshift_next(rng) & 0xffffff));
        s->tuple.dst = wire_addr_v4(0xc0a80000u | (uint32_t)(xorshift_next(rng) & 0xffff));
    } else {
        s->tuple.src = random_v6(rng);
        s->tuple.dst = random_v6(rng);
    }
    s->tuple.sport = (uint16_t)(1 + xorshift_next(rng) % 65535);
    s->tuple.dport = (uint16_t)(1 + xorshift_next(rng) % 65535);
    s->ttl = (uint8_t)xorshift_next(rng);
    s->tos = (uint8_t)xorshift_next(rng);
    s->flags = WIRE_ACK | (uint8_t)(xorshift_next(rng) & (WIRE_PSH | WIRE_FIN | WIRE_URG));
    s->seq = (uint32_t)xorshift_next(rng);
    s->ack = (uint32_t)xorshift_next(rng);
    s->window = (uint16_t)xorshift_next(rng);
    s->urg_ptr = (uint16_t)xorshift_next(rng);
    s->opt.present = (uint8_t)(xorshift_next(rng) & 0x1f);
    s->opt.mss = (uint16_t)xorshift_next(rng);
    s->opt.wscale = (uint8_t)(xorshift_next(rng) % 15);
    s->opt.ts_val = (uint32_t)xorshift_next(rng);
    s->opt.ts_ecr = (uint32_t)xorshift_next(rng);
    s->opt.sack_count = (uint8_t)(1 + xorshift_next(rng) % WIRE_MAX_SACK_BLOCKS);
    for (size_t i = 0; i < WIRE_MAX_SACK_BLOCKS; i++) {
        s->opt.sack[i].left = (uint32_t)xorshift_next(rng);
        s->opt.sack[i].right = (uint32_t)xorshift_next(rng);
    }
    s->payload_len = (uint32_t)(xorshift_next(rng) % (max_payload + 1));
    s->payload = payload + xorshift_next(rng) % MAX_ALIGN;
}

/* wire_build computes both checksums from the values it writes, not from
 * the bytes: each must equal the reference over the bytes it wrote. */
static void test_build_matches_reference(void **state)
{
    (void)state;
    static uint8_t payload[MAX_LEN + MAX_ALIGN];
    static uint8_t pkt[WIRE_MAX_HEADER + MAX_LEN];
    struct xorshift rng = {2024};
    fill(payload, sizeof payload, 0, &rng);
    for (int i = 0; i < 4000; i++) {
        struct wire_seg s;
        random_seg(&s, &rng, payload, i < 2000 ? 64 : MAX_LEN - 100);
        size_t len = wire_build(pkt, sizeof pkt, &s);
        assert_int_not_equal(len, 0);
        size_t ip_len = wire_addr_is_v4(&s.tuple.src) ? 20 : 40;
        if (ip_len == 20) { /* the header including its checksum sums to 0xffff */
            assert_int_equal(rfc1071_sum(pkt, 20, 0), 0xffff);
        }
        uint8_t *tcp = pkt + ip_len;
        uint16_t field = (uint16_t)(tcp[16] << 8 | tcp[17]);
        tcp[16] = tcp[17] = 0;
        assert_int_equal(field, rfc1071_tcp(&s.tuple.src, &s.tuple.dst, tcp, len - ip_len));
        tcp[16] = (uint8_t)(field >> 8);
        tcp[17] = (uint8_t)field;
        struct wire_seg out;
        assert_int_equal(wire_parse(pkt, len, 0, &out), WIRE_ERR_OK);
    }
}

/* A payload chosen so the TCP sum is 0xffff: the checksum field is 0x0000
 * (TCP has no "0 means none" rule), and it verifies. Then every single
 * wrong value of the field is refused. */
static void test_zero_checksum_and_every_wrong_field(void **state)
{
    (void)state;
    struct xorshift rng = {5};
    uint8_t payload[16];
    fill(payload, sizeof payload, 0, &rng);
    struct wire_seg s = {0};
    s.tuple.src = wire_addr_v4(0x0a000001);
    s.tuple.dst = wire_addr_v4(0x0a000002);
    s.tuple.sport = 1234;
    s.tuple.dport = 80;
    s.flags = WIRE_ACK | WIRE_PSH;
    s.payload = payload;
    s.payload_len = sizeof payload;
    uint8_t pkt[128];
    size_t len = wire_build(pkt, sizeof pkt, &s);
    assert_int_not_equal(len, 0);
    /* Adding the field's value into the last payload word turns it to 0:
     * the one's-complement sum grows by exactly that much. */
    uint16_t field = (uint16_t)(pkt[36] << 8 | pkt[37]);
    uint32_t word = (uint32_t)(payload[14] << 8 | payload[15]) + field;
    word = (word & 0xffff) + (word >> 16);
    payload[14] = (uint8_t)(word >> 8);
    payload[15] = (uint8_t)word;
    len = wire_build(pkt, sizeof pkt, &s);
    assert_int_equal(pkt[36] << 8 | pkt[37], 0x0000);
    assert_int_equal(rfc1071_sum(pkt + 20, len - 20, rfc1071_pseudo(&s.tuple.src, &s.tuple.dst, len - 20)),
                     0xffff);
    struct wire_seg out;
    assert_int_equal(wire_parse(pkt, len, 0, &out), WIRE_ERR_OK);
    /* 0xffff is the other zero: RFC 1071 treats it alike, so it verifies
     * too; every other value is refused. */
    for (uint32_t v = 1; v <= 0xffff; v++) {
        pkt[36] = (uint8_t)(v >> 8);
        pkt[37] = (uint8_t)v;
        assert_int_equal(wire_parse(pkt, len, 0, &out),
                         v == 0xffff ? WIRE_ERR_OK : WIRE_ERR_BAD_TCP_CHECKSUM);
    }
}

/* Parsing verifies with the same sums: a built packet is accepted, and one
 * flipped bit anywhere in the IPv4 header or the segment is refused. */
static void test_parse_refuses_flipped_bits(void **state)
{
    (void)state;
    static uint8_t payload[MAX_LEN + MAX_ALIGN];
    uint8_t pkt[WIRE_MAX_HEADER + 300];
    struct xorshift rng = {77};
    fill(payload, sizeof payload, 0, &rng);
    for (int i = 0; i < 200; i++) {
        struct wire_seg s, out;
        random_seg(&s, &rng, payload, 200);
        size_t len = wire_build(pkt, sizeof pkt, &s);
        assert_int_equal(wire_parse(pkt, len, 0, &out), WIRE_ERR_OK);
        size_t ip_len = wire_addr_is_v4(&s.tuple.src) ? 20 : 40;
        /* IPv4 header checksum: bytes 0..9 and 12..19 beyond the fields
         * that are checked first (version, IHL, length, fragment, protocol,
         * addresses) are TOS, identification and TTL. */
        if (ip_len == 20) {
            const size_t ip_bytes[] = {1, 4, 5, 8, 10, 11};
            for (size_t k = 0; k < sizeof ip_bytes / sizeof ip_bytes[0]; k++) {
                uint8_t bit = (uint8_t)(1u << (xorshift_next(&rng) % 8));
                pkt[ip_bytes[k]] ^= bit;
                assert_int_equal(wire_parse(pkt, len, 0, &out), WIRE_ERR_BAD_IP_CHECKSUM);
                pkt[ip_bytes[k]] ^= bit;
            }
        }
        /* The data offset (byte 12) is checked before the checksum. */
        for (size_t at = ip_len; at < len; at++) {
            if (at == ip_len + 12)
                continue;
            uint8_t bit = (uint8_t)(1u << (at % 8));
            pkt[at] ^= bit;
            assert_int_equal(wire_parse(pkt, len, 0, &out), WIRE_ERR_BAD_TCP_CHECKSUM);
            pkt[at] ^= bit;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_every_length_and_alignment),
        cmocka_unit_test(test_data_with_initial_sum),
        cmocka_unit_test(test_tcp_ipv4_pseudo_header),
        cmocka_unit_test(test_tcp_ipv6_pseudo_header),
        cmocka_unit_test(test_pseudo_header_extremes),
        cmocka_unit_test(test_build_matches_reference),
        cmocka_unit_test(test_zero_checksum_and_every_wrong_field),
        cmocka_unit_test(test_parse_refuses_flipped_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
