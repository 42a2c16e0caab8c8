/* The event log and its renderers on a synthetic event list (no stack
 * needed): JSON lines parse and carry the keys DESIGN.md §3 documents, the
 * text ladder matches a literal figure, mermaid and SVG are well formed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/events.h"
#include "sim/ladder.h"
#include "sim/render.h"

/* ---- a synthetic run: handshake with the final ACK lost once ---- */

static struct wire_tuple tuple(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
    struct wire_tuple t = {wire_addr_v4(src), wire_addr_v4(dst), sport, dport};
    return t;
}

static long segment(struct sim_log *log, tcp_time_t t, int src, uint8_t flags, uint32_t seq, uint32_t ack,
                    uint32_t len, tcp_time_t arrives, const char *drop)
{
    struct sim_event e = {.kind = SIM_EV_SEGMENT, .t = t, .host = src, .src = src, .dst = 1 - src,
                          .flags = flags, .seq = seq, .ack = ack, .len = len, .win = 64240, .arrives = arrives,
                          .cause = -1, .segment = -1, .sd = -1};
    e.tuple = src == 0 ? tuple(0x0a000001, 40000, 0x0a000002, 80) : tuple(0x0a000002, 80, 0x0a000001, 40000);
    if (drop) {
        e.lost = true;
        snprintf(e.drop, sizeof e.drop, "%s", drop);
    }
    if (flags & WIRE_SYN) {
        e.opt.present = WIRE_OPT_MSS | WIRE_OPT_WSCALE;
        e.opt.mss = 1460;
        e.opt.wscale = 7;
    }
    long i = sim_log_push(log, &e);
    assert_true(i >= 0);
    return i;
}

static void arrival(struct sim_log *log, long seg)
{
    struct sim_event e = {.kind = SIM_EV_ARRIVAL, .t = log->ev[seg].arrives, .host = log->ev[seg].dst,
                          .segment = seg, .cause = -1, .sd = -1};
    assert_true(sim_log_push(log, &e) >= 0);
}

static void state(struct sim_log *log, tcp_time_t t, int host, enum tcp_state from, enum tcp_state to, long cause)
{
    struct wire_tuple t4 = host == 0 ? tuple(0x0a000001, 40000, 0x0a000002, 80)
                                     : tuple(0x0a000002, 80, 0x0a000001, 40000);
    assert_true(sim_log_state(log, t, host, from, to, &t4, host == 0 ? 3 : -1, cause) >= 0);
}

static void build_log(struct sim_log *log)
{
    sim_log_init(log);
    snprintf(log->name, sizeof log->name, "tiny");
    snprintf(log->description, sizeof log->description, "a \"synthetic\" handshake");
    struct wire_addr c = wire_addr_v4(0x0a000001), s = wire_addr_v4(0x0a000002);
    assert_int_equal(sim_log_add_host(log, "client", &c), 0);
    assert_int_equal(sim_log_add_host(log, "server", &s), 1);

    struct wire_tuple listener = tuple(0x0a000002, 80, 0, 0);
    listener.dst = (struct wire_addr){{0}};
    sim_log_state(log, 0, 1, TCP_STATE_CLOSED, TCP_STATE_LISTEN, &listener, 3, -1);
    long app = sim_log_app(log, 0, 0, "connect", "");
    state(log, 0, 0, TCP_STATE_CLOSED, TCP_STATE_SYN_SENT, -1);
    long syn = segment(log, 0, 0, WIRE_SYN, 1000, 0, 0, TCP_MSEC(10), NULL);
    sim_log_app_result(log, app, "EINPROGRESS");
    arrival(log, syn);
    state(log, TCP_MSEC(10), 1, TCP_STATE_LISTEN, TCP_STATE_SYN_RECEIVED, syn);
    long synack = segment(log, TCP_MSEC(10), 1, WIRE_SYN | WIRE_ACK, 5000, 1001, 0, TCP_MSEC(20), NULL);
    arrival(log, synack);
    state(log, TCP_MSEC(20), 0, TCP_STATE_SYN_SENT, TCP_STATE_ESTABLISHED, synack);
    segment(log, TCP_MSEC(20), 0, WIRE_ACK, 1001, 5001, 0, TCP_MSEC(30), "script");
    sim_log_app(log, TCP_MSEC(20), 0, "connect", "0");
    long data = segment(log, TCP_MSEC(20), 0, WIRE_ACK | WIRE_PSH, 1001, 5001, 5, TCP_MSEC(30), NULL);
    arrival(log, data);
    state(log, TCP_MSEC(30), 1, TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED, data);
    long ack = segment(log, TCP_MSEC(70), 1, WIRE_ACK, 5001, 1006, 0, TCP_MSEC(80), NULL);
    arrival(log, ack);
    sim_log_app(log, TCP_MSEC(70), 1, "recv", "5 bytes");
    sim_log_note(log, TCP_SEC(1), -1, "the end");
}

static char *render_to_string(const struct sim_log *log, enum sim_format f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_int_equal(sim_render(log, f, out), 0);
    fclose(out);
    return buf;
}

/* ---- a small JSON reader: enough to check that each line is one valid
 * object and to list its keys and the types of their values ---- */

struct json_cursor {
    const char *p;
    bool ok;
};

static void json_ws(struct json_cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
        c->p++;
}

static char json_value(struct json_cursor *c);

static void json_string(struct json_cursor *c, char *out, size_t cap)
{
    size_t n = 0;
    if (*c->p != '"') {
        c->ok = false;
        return;
    }
    c->p++;
    while (*c->p && *c->p != '"') {
        if ((unsigned char)*c->p < 0x20)
            c->ok = false;
        if (*c->p == '\\') {
            c->p++;
            if (!strchr("\"\\/bfnrtu", *c->p))
                c->ok = false;
        }
        if (out && n + 1 < cap)
            out[n++] = *c->p;
        c->p++;
    }
    if (*c->p != '"')
        c->ok = false;
    else
        c->p++;
    if (out)
        out[n] = '\0';
}

/* Object: fills keys/types of the top level when keys != NULL. */
static void json_object(struct json_cursor *c, char keys[][32], char *types, size_t *nkeys)
{
    c->p++; /* { */
    json_ws(c);
    if (*c->p == '}') {
        c->p++;
        return;
    }
    for (;;) {
        char key[32];
        json_ws(c);
        json_string(c, key, sizeof key);
        json_ws(c);
        if (*c->p != ':') {
            c->ok = false;
            return;
        }
        c->p++;
        char type = json_value(c);
        if (keys && *nkeys < 32) {
            for (size_t i = 0; i < *nkeys; i++)
                if (!strcmp(keys[i], key))
                    c->ok = false; /* duplicate key */
            snprintf(keys[*nkeys], 32, "%s", key);
            types[(*nkeys)++] = type;
        }
        json_ws(c);
        if (*c->p == ',') {
            c->p++;
            continue;
        }
        if (*c->p == '}') {
            c->p++;
            return;
        }
        c->ok = false;
        return;
    }
}

/* Returns the value's type: s n b z(null) o a. */
static char json_value(struct json_cursor *c)
{
    json_ws(c);
    if (*c->p == '"') {
        json_string(c, NULL, 0);
        return 's';
    }
    if (*c->p == '{') {
        json_object(c, NULL, NULL, NULL);
        return 'o';
    }
    if (*c->p == '[') {
        c->p++;
        json_ws(c);
        if (*c->p == ']') {
            c->p++;
            return 'a';
        }
        for (;;) {
            json_value(c);
            json_ws(c);
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p == ']') {
                c->p++;
                return 'a';
            }
            c->ok = false;
            return 'a';
        }
    }
    if (!strncmp(c->p, "true", 4) || !strncmp(c->p, "false", 5)) {
        c->p += *c->p == 't' ? 4 : 5;
        return 'b';
    }
    if (!strncmp(c->p, "null", 4)) {
        c->p += 4;
        return 'z';
    }
    char *end;
    strtod(c->p, &end);
    if (end == c->p || !(*c->p == '-' || (*c->p >= '0' && *c->p <= '9')))
        c->ok = false;
    c->p = end;
    return 'n';
}

struct json_line {
    char keys[32][32];
    char types[32];
    size_t n;
};

static bool json_parse_line(const char *line, struct json_line *out)
{
    struct json_cursor c = {line, true};
    memset(out, 0, sizeof *out);
    json_ws(&c);
    if (*c.p != '{')
        return false;
    json_object(&c, out->keys, out->types, &out->n);
    json_ws(&c);
    return c.ok && *c.p == '\0';
}

static char json_type_of(const struct json_line *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->keys[i], key))
            return l->types[i];
    return 0;
}

/* Every line of out is a JSON object with the keys its kind promises. */
static void check_json_schema(const char *out, size_t *kinds_seen)
{
    static const struct {
        const char *kind, *keys, *types;
    } schema[] = {
        {"scenario", "kind t name description seed hosts", "snssna"},
        {"state", "kind t host from to", "snsss"},
        {"segment", "kind t src dst flags seq ack len lost", "snsssnnnb"},
        {"app", "kind t host call result", "snsss"},
        {"note", "kind t host text", "sn?s"},
    };
    char *copy = strdup(out);
    assert_non_null(copy);
    for (char *save, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct json_line l;
        if (!json_parse_line(line, &l))
            fail_msg("not one JSON object: %s", line);
        assert_int_equal(json_type_of(&l, "kind"), 's');
        assert_string_equal(l.keys[0], "kind");
        bool known = false;
        for (size_t k = 0; k < sizeof schema / sizeof schema[0]; k++) {
            if (!strstr(line, schema[k].kind) || strncmp(line + 9, schema[k].kind, strlen(schema[k].kind)))
                continue;
            known = true;
            kinds_seen[k]++;
            char keys[128];
            snprintf(keys, sizeof keys, "%s", schema[k].keys);
            size_t i = 0;
            for (char *s2, *key = strtok_r(keys, " ", &s2); key; key = strtok_r(NULL, " ", &s2), i++) {
                char type = json_type_of(&l, key);
                if (!type)
                    fail_msg("%s line lacks \"%s\": %s", schema[k].kind, key, line);
                if (schema[k].types[i] != '?' && type != schema[k].types[i])
                    fail_msg("\"%s\" has type %c, not %c: %s", key, type, schema[k].types[i], line);
            }
        }
        if (!known)
            fail_msg("unknown kind: %s", line);
    }
    free(copy);
}

static void test_json_lines_follow_the_schema(void **state_)
{
    (void)state_;
    struct sim_log log;
    build_log(&log);
    char *out = render_to_string(&log, SIM_FORMAT_JSON);
    size_t kinds[5] = {0};
    check_json_schema(out, kinds);
    assert_int_equal(kinds[0], 1); /* scenario */
    assert_int_equal(kinds[1], 5); /* states */
    assert_int_equal(kinds[2], 5); /* segments (arrivals are not printed) */
    assert_int_equal(kinds[3], 3); /* app */
    assert_int_equal(kinds[4], 1); /* note */
    /* Literal lines, as DESIGN.md §3 shows them. */
    assert_non_null(strstr(out, "{\"kind\":\"state\",\"t\":0.020000,\"host\":\"client\",\"from\":\"SYN-SENT\","
                                "\"to\":\"ESTABLISHED\""));
    assert_non_null(strstr(out, "{\"kind\":\"segment\",\"t\":0.010000,\"src\":\"server\",\"dst\":\"client\","
                                "\"flags\":\"S.\",\"seq\":5000,\"ack\":1001,\"len\":0,\"win\":64240,"
                                "\"lost\":false,\"arrives\":0.020000,\"opts\":\"mss 1460,wscale 7\"}"));
    assert_non_null(strstr(out, "\"flags\":\".\",\"seq\":1001,\"ack\":5001,\"len\":0,\"win\":64240,\"lost\":true,"
                                "\"drop\":\"script\"}"));
    assert_non_null(strstr(out, "{\"kind\":\"app\",\"t\":0.000000,\"host\":\"client\",\"call\":\"connect\","
                                "\"result\":\"EINPROGRESS\"}"));
    assert_non_null(strstr(out, "\"description\":\"a \\\"synthetic\\\" handshake\""));
    assert_non_null(strstr(out, "{\"kind\":\"note\",\"t\":1.000000,\"host\":null,\"text\":\"the end\"}"));
    free(out);
    sim_log_free(&log);
}

static const char expected_ladder[] =
    "synack sim tiny: a \"synthetic\" handshake\n"
    "\n"
    "     time  client                                                            server\n"
    "           CLOSED           |                                              | CLOSED\n"
    "    0.000                   |                                              | LISTEN\n"
    "    0.000                   |  connect() = EINPROGRESS                     |\n"
    "    0.000  SYN-SENT         |--[S] seq=1000 ------------------------------>| SYN-RECEIVED\n"
    "    0.010  ESTABLISHED      |<-------------------- [S.] seq=5000 ack=1001--|\n"
    "    0.020                   |--[.] ack=1 ---------------------X            |\n"
    "    0.020                   |  connect() = 0                               |\n"
    "    0.020                   |--[P.] seq=1:6 ack=1 ------------------------>| ESTABLISHED\n"
    "    0.070                   |<--------------------------------- [.] ack=6--|\n"
    "    0.070                   |                            recv() = 5 bytes  |\n"
    "    1.000  * the end\n";

static void test_text_ladder(void **state_)
{
    (void)state_;
    struct sim_log log;
    build_log(&log);
    char *out = render_to_string(&log, SIM_FORMAT_TEXT);
    assert_string_equal(out, expected_ladder);
    free(out);
    sim_log_free(&log);
}

static void test_text_sack_blocks(void **state_)
{
    (void)state_;
    struct sim_log log;
    build_log(&log);
    /* A duplicate ACK with two SACK blocks (RFC 2018 §3), numbered like its
     * ACK field: relative to the client's ISN. */
    long dup = segment(&log, TCP_MSEC(75), 1, WIRE_ACK, 5001, 1006, 0, TCP_MSEC(85), NULL);
    log.ev[dup].opt.present = WIRE_OPT_SACK;
    log.ev[dup].opt.sack_count = 2;
    log.ev[dup].opt.sack[0] = (struct wire_sack_block){2454, 3902};
    log.ev[dup].opt.sack[1] = (struct wire_sack_block){4000, 5000};
    char *out = render_to_string(&log, SIM_FORMAT_TEXT);
    assert_non_null(strstr(out, "[.] ack=6 sack=1454:2902,3000:4000--|"));
    assert_non_null(strstr(out, "[.] ack=6--|")); /* an ACK without blocks shows none */
    free(out);
    sim_log_free(&log);
}

static void test_mermaid(void **state_)
{
    (void)state_;
    struct sim_log log;
    build_log(&log);
    char *out = render_to_string(&log, SIM_FORMAT_MERMAID);
    assert_int_equal(strncmp(out, "sequenceDiagram\n", 16), 0);
    assert_non_null(strstr(out, "    participant client as client 10.0.0.1\n"));
    assert_non_null(strstr(out, "    client->>server: 0.000 [S] seq=1000\n"));
    assert_non_null(strstr(out, "    server->>client: 0.010 [S.] seq=5000 ack=1001\n"));
    assert_non_null(strstr(out, "    client-xserver: 0.020 [.] ack=1 lost (script)\n"));
    assert_non_null(strstr(out, "    Note over client: ESTABLISHED\n"));
    assert_non_null(strstr(out, "    Note left of client: 0.000 connect() = EINPROGRESS\n"));
    assert_non_null(strstr(out, "    Note right of server: 0.070 recv() = 5 bytes\n"));
    assert_non_null(strstr(out, "    Note over client,server: the end\n"));
    free(out);
    sim_log_free(&log);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_svg(void **state_)
{
    (void)state_;
    struct sim_log log;
    build_log(&log);
    char *out = render_to_string(&log, SIM_FORMAT_SVG);
    assert_int_equal(strncmp(out, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39), 0);
    size_t len = strlen(out);
    assert_string_equal(out + len - 7, "</svg>\n");
    assert_int_equal(count(out, "marker-end=\"url(#head)\""), 4); /* delivered segments */
    assert_int_equal(count(out, "stroke-dasharray"), 1);            /* the lost one */
    assert_int_equal(count(out, "class=\"statetext\""), 5);         /* state boxes */
    assert_non_null(strstr(out, "a &quot;synthetic&quot; handshake"));
    assert_null(strstr(out, "a \"synthetic\""));
    assert_non_null(strstr(out, "[S.] seq=5000 ack=1001"));
    /* Tags balance. */
    assert_int_equal(count(out, "<text"), count(out, "</text>"));
    free(out);
    sim_log_free(&log);
}

static void test_queries(void **state_)
{
    (void)state_;
    struct sim_log log;
    build_log(&log);
    char path[256];
    assert_string_equal(sim_log_path(&log, 0, -1, path, sizeof path), "CLOSED>SYN-SENT>ESTABLISHED");
    assert_string_equal(sim_log_path(&log, 1, -1, path, sizeof path), "LISTEN>SYN-RECEIVED>ESTABLISHED");
    assert_string_equal(sim_log_path(&log, 1, 0, path, sizeof path), "CLOSED>LISTEN");
    assert_string_equal(sim_log_path(&log, 1, 40000, path, sizeof path), "LISTEN>SYN-RECEIVED>ESTABLISHED");
    assert_string_equal(sim_log_path(&log, 1, 41000, path, sizeof path), "");
    assert_int_equal(sim_log_segment_count(&log, 0, NULL), 3);
    assert_int_equal(sim_log_segment_count(&log, -1, "S."), 1);
    const struct sim_event *e = sim_log_segment_nth(&log, 0, ".", 1);
    assert_non_null(e);
    assert_true(e->lost);
    assert_null(sim_log_segment_nth(&log, 0, ".", 2));
    e = sim_log_app_nth(&log, 0, "connect", 2);
    assert_non_null(e);
    assert_string_equal(e->result, "0");
    e = sim_log_state_nth(&log, 1, -1, TCP_STATE_ESTABLISHED, 1);
    assert_non_null(e);
    assert_int_equal(e->t, TCP_MSEC(30));
    assert_int_equal(sim_log_host(&log, "server"), 1);
    assert_int_equal(sim_log_host(&log, "nobody"), -1);
    char buf[64];
    struct wire_tcp_options o = {.present = WIRE_OPT_MSS | WIRE_OPT_SACK_PERM | WIRE_OPT_TIMESTAMP | WIRE_OPT_WSCALE,
                                 .mss = 1460, .wscale = 7, .ts_val = 1, .ts_ecr = 0};
    assert_string_equal(sim_opts_str(&o, buf, sizeof buf), "mss 1460,sackOK,TS val 1 ecr 0,wscale 7");
    assert_string_equal(sim_time_str(TCP_SEC(127) + 5, buf, sizeof buf), "127.000005");
    assert_int_equal(sim_format_parse("svg"), SIM_FORMAT_SVG);
    assert_int_equal(sim_format_parse("png"), -1);
    sim_log_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines_follow_the_schema),
        cmocka_unit_test(test_text_ladder),
        cmocka_unit_test(test_text_sack_blocks),
        cmocka_unit_test(test_mermaid),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
