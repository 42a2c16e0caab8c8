/* Text forms of addresses and endpoints (the address and tuple helpers
 * are inline in wire.h). IPv4 addresses are stored IPv4-mapped
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2). inet_pton and inet_ntop are pure
 * functions (no syscalls). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"

bool wire_addr_parse(const char *text, struct wire_addr *out)
{
    uint8_t v4[4], v6[16];
    if (!text)
        return false;
    if (inet_pton(AF_INET, text, v4) == 1) {
        *out = wire_addr_v4((uint32_t)v4[0] << 24 | (uint32_t)v4[1] << 16 |
                            (uint32_t)v4[2] << 8 | v4[3]);
        return true;
    }
    if (inet_pton(AF_INET6, text, v6) == 1) {
        *out = wire_addr_v6(v6);
        return true;
    }
    return false;
}

char *wire_addr_str(const struct wire_addr *a, char buf[WIRE_ADDR_STRLEN])
{
    const char *r = wire_addr_is_v4(a) ? inet_ntop(AF_INET, a->b + 12, buf, WIRE_ADDR_STRLEN)
                                       : inet_ntop(AF_INET6, a->b, buf, WIRE_ADDR_STRLEN);
    if (!r) /* cannot happen with a 46-byte buffer; keep the output defined */
        strcpy(buf, "?");
    return buf;
}

char *wire_endpoint_str(const struct wire_endpoint *e, char buf[WIRE_ENDPOINT_STRLEN])
{
    char host[WIRE_ADDR_STRLEN];
    wire_addr_str(&e->addr, host);
    snprintf(buf, WIRE_ENDPOINT_STRLEN, wire_addr_is_v4(&e->addr) ? "%s:%u" : "[%s]:%u", host,
             (unsigned)e->port);
    return buf;
}

/* Decimal port 0..65535, 1 to 5 digits, nothing else. */
static bool endpoint_parse_port(const char *p, uint16_t *port)
{
    uint32_t v = 0;
    size_t n = 0;
    for (; p[n]; n++) {
        if (p[n] < '0' || p[n] > '9' || n >= 5)
            return false;
        v = v * 10 + (uint32_t)(p[n] - '0');
    }
    if (n == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

bool wire_endpoint_parse(const char *text, struct wire_endpoint *out)
{
    char host[WIRE_ADDR_STRLEN];
    const char *host_start, *host_end, *port;
    if (!text)
        return false;
    if (text[0] == '[') { /* "[V6]:PORT" (RFC 3986 §3.2.2) */
        host_start = text + 1;
        host_end = strchr(host_start, ']');
        if (!host_end || host_end[1] != ':')
            return false;
        port = host_end + 2;
    } else { /* "V4:PORT": exactly one colon, so a bare IPv6 address is refused */
        host_start = text;
        host_end = strchr(text, ':');
        if (!host_end || strchr(host_end + 1, ':'))
            return false;
        port = host_end + 1;
    }
    size_t n = (size_t)(host_end - host_start);
    if (n == 0 || n >= sizeof host)
        return false;
    memcpy(host, host_start, n);
    host[n] = '\0';
    struct wire_endpoint e;
    if (!wire_addr_parse(host, &e.addr) || !endpoint_parse_port(port, &e.port))
        return false;
    /* "[1.2.3.4]:80" is not a form anyone writes; refuse it. "[::ffff:1.2.3.4]:80" is
     * accepted (it is an IPv6 literal) and names the IPv4 address. */
    if (text[0] == '[' && strchr(host, ':') == NULL)
        return false;
    *out = e;
    return true;
}
