/* A scripted client for the memory bench: the segments a Linux client
 * sends to open a connection, built and read with wire/, so that one server
 * (synack's or lwIP's) can be filled with connections and measured alone. */
#include <string.h>

#include "bench/bench_internal.h"

void bench_script_endpoints(struct bench_script_conn *c, uint64_t i)
{
    memset(c, 0, sizeof *c);
    c->client.addr = wire_addr_v4(BENCH_CLIENT_ADDR + (uint32_t)(i / BENCH_CONNS_PER_ADDR));
    c->client.port = (uint16_t)(32768 + i % BENCH_CONNS_PER_ADDR);
    c->server.addr = wire_addr_v4(BENCH_SERVER_ADDR);
    c->server.port = BENCH_SERVER_PORT;
    c->iss = (uint32_t)(i * 2654435761u);
    c->ts_val = 1000000u + (uint32_t)i;
}

static void script_seg(const struct bench_script_conn *c, struct wire_seg *s)
{
    memset(s, 0, sizeof *s);
    s->tuple.src = c->client.addr;
    s->tuple.dst = c->server.addr;
    s->tuple.sport = c->client.port;
    s->tuple.dport = c->server.port;
    s->ip_version = 4;
    s->window = 64240;
}

size_t bench_script_syn(struct bench_script_conn *c, uint8_t *buf, size_t cap)
{
    struct wire_seg s;
    script_seg(c, &s);
    s.flags = WIRE_SYN;
    s.seq = c->iss;
    s.opt.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE;
    s.opt.mss = 1460;
    s.opt.wscale = 7;
    s.opt.ts_val = c->ts_val;
    return wire_build(buf, cap, &s);
}

bool bench_script_synack(struct bench_script_conn *c, const uint8_t *pkt, size_t len)
{
    struct wire_seg s;
    if (wire_parse(pkt, len, 0, &s) != WIRE_ERR_OK)
        return false;
    if ((s.flags & (WIRE_SYN | WIRE_ACK)) != (WIRE_SYN | WIRE_ACK) || s.ack != c->iss + 1 ||
        s.tuple.dport != c->client.port || !wire_addr_eq(&s.tuple.dst, &c->client.addr))
        return false;
    c->irs = s.seq;
    c->ts_ecr = (s.opt.present & WIRE_OPT_TIMESTAMP) ? s.opt.ts_val : 0;
    return true;
}

size_t bench_script_ack(struct bench_script_conn *c, uint8_t *buf, size_t cap, uint32_t len)
{
    struct wire_seg s;
    script_seg(c, &s);
    s.flags = WIRE_ACK | (len ? WIRE_PSH : 0);
    s.seq = c->iss + 1;
    s.ack = c->irs + 1;
    s.window = 502; /* 64256 >> 7 */
    if (c->ts_ecr) {
        s.opt.present = WIRE_OPT_TIMESTAMP;
        s.opt.ts_val = c->ts_val;
        s.opt.ts_ecr = c->ts_ecr;
    }
    s.payload = len ? bench_request : NULL;
    s.payload_len = len;
    return wire_build(buf, cap, &s);
}
