/* tcp_siphash24 is libsodium's crypto_shorthash_siphash24: ISNs, ports and
 * timestamp offsets (RFC 6528, RFC 6056, RFC 7323 §5.4) keep their values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "tcp/tcp.h"

static void test_matches_libsodium(void **state)
{
    (void)state;
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)(i * 29 + 7);
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)(i * 131 + 3);
    for (size_t len = 0; len <= sizeof msg; len++) {
        uint8_t out[8];
        crypto_shorthash_siphash24(out, msg, len, key);
        uint64_t want;
        memcpy(&want, out, 8);
        assert_int_equal(tcp_siphash24(key, msg, len), want);
    }
}

/* The reference vector of the SipHash paper (Appendix A): key 00..0f,
 * message 00..0e, 0xa129ca6149be45e5. */
static void test_paper_vector(void **state)
{
    (void)state;
    uint8_t key[16], msg[15];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(tcp_siphash24(key, msg, sizeof msg), UINT64_C(0xa129ca6149be45e5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_libsodium),
        cmocka_unit_test(test_paper_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
