/* SYN cookies (RFC 4987 §3.6), laid out as Linux's syncookies.c does it:
 *
 *   ISN = MAC0(4-tuple, peer ISN) + (minute << 24)
 *         + ((MAC1(4-tuple, peer ISN, minute) + MSS index) & 0xffffff)
 *
 * MACs are SipHash-2-4 (libsodium) under two keys derived from the host
 * secret; the minute counter enters the second MAC, so each minute signs
 * with fresh key material and a cookie expires after two minutes. Unlike
 * Linux, which adds the peer's ISN in the clear, the ISN is inside both
 * MACs: a cookie replayed with another SEG.SEQ fails too. Window
 * scale and SACK-permitted ride in the low six bits of the SYN-ACK's
 * TSval when the client sent timestamps. */
#include <sodium.h>
#include <string.h>

#include "tcp/tcp.h"

#define COOKIE_BITS 24
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define COOKIE_MAX_AGE 2 /* minutes (Linux MAX_SYNCOOKIE_AGE) */
#define TS_OPT_BITS 6
#define TS_OPT_WSCALE_MASK 0xfu
#define TS_OPT_SACK (1u << 4)

/* Linux msstab (IPv4) and msstab for IPv6. */
static const uint16_t mss_v4[TCP_COOKIE_MSS_COUNT] = {536, 1300, 1440, 1460};
static const uint16_t mss_v6[TCP_COOKIE_MSS_COUNT] = {1220, 1420, 1440, 8940};

unsigned tcp_cookie_mss_index(uint16_t mss, bool ipv6)
{
    const uint16_t *table = ipv6 ? mss_v6 : mss_v4;
    for (unsigned i = TCP_COOKIE_MSS_COUNT; i-- > 0;)
        if (mss >= table[i])
            return i;
    return 0;
}

uint16_t tcp_cookie_mss(unsigned index, bool ipv6)
{
    return (ipv6 ? mss_v6 : mss_v4)[index % TCP_COOKIE_MSS_COUNT];
}

static uint32_t cookie_minute(tcp_time_t now) { return (uint32_t)(now / TCP_SEC(60)); }

static uint32_t cookie_mac(const struct tcp_host *h, const struct wire_tuple *t, uint32_t peer_isn,
                           uint32_t count, int which)
{
    uint8_t msg[44];
    memcpy(msg, t->src.b, 16);
    memcpy(msg + 16, t->dst.b, 16);
    msg[32] = (uint8_t)(t->sport >> 8);
    msg[33] = (uint8_t)t->sport;
    msg[34] = (uint8_t)(t->dport >> 8);
    msg[35] = (uint8_t)t->dport;
    memcpy(msg + 36, &count, 4);
    memcpy(msg + 40, &peer_isn, 4);
    uint8_t out[8];
    crypto_shorthash_siphash24(out, msg, sizeof msg, h->cookie_key[which]);
    uint32_t v;
    memcpy(&v, out, 4);
    return v;
}

uint32_t tcp_cookie_make(const struct tcp_host *h, const struct wire_tuple *local_view, uint32_t peer_isn,
                         unsigned mss_index, tcp_time_t now)
{
    uint32_t count = cookie_minute(now);
    return cookie_mac(h, local_view, peer_isn, 0, 0) + (count << COOKIE_BITS) +
           ((cookie_mac(h, local_view, peer_isn, count, 1) + mss_index) & COOKIE_MASK);
}

int tcp_cookie_check(const struct tcp_host *h, const struct wire_tuple *local_view, uint32_t peer_isn,
                     uint32_t cookie, tcp_time_t now)
{
    uint32_t count = cookie_minute(now);
    cookie -= cookie_mac(h, local_view, peer_isn, 0, 0);
    uint32_t diff = (count - (cookie >> COOKIE_BITS)) & (0xffffffffu >> COOKIE_BITS);
    if (diff >= COOKIE_MAX_AGE)
        return -1;
    uint32_t data = (cookie - cookie_mac(h, local_view, peer_isn, count - diff, 1)) & COOKIE_MASK;
    return data < TCP_COOKIE_MSS_COUNT ? (int)data : -1;
}

uint32_t tcp_cookie_ts_encode(uint32_t ts_now, int wscale, bool sack)
{
    uint32_t options = wscale < 0 ? TS_OPT_WSCALE_MASK : (uint32_t)wscale;
    if (sack)
        options |= TS_OPT_SACK;
    uint32_t ts = ((ts_now >> TS_OPT_BITS) << TS_OPT_BITS) | options;
    if (ts > ts_now) /* never ahead of the clock (Linux) */
        ts -= 1u << TS_OPT_BITS;
    return ts;
}

bool tcp_cookie_ts_decode(uint32_t ts_ecr, int *wscale, bool *sack)
{
    uint32_t ws = ts_ecr & TS_OPT_WSCALE_MASK;
    *sack = ts_ecr & TS_OPT_SACK;
    if (ws == TS_OPT_WSCALE_MASK) {
        *wscale = -1;
        return true;
    }
    if (ws > WIRE_MAX_WSCALE)
        return false;
    *wscale = (int)ws;
    return true;
}
