/* The core cross-check (issue 7): for every scenario of `synack sim`, the
 * traffic it writes with --pcap, read back by the tracker, must give each
 * simulated host the state the simulator recorded for it.
 *
 * The capture shows segments, not timers, so the state compared is the
 * one each host had when the last segment of that connection arrived:
 * TIME-WAIT expiring 60 s later, or a connect() giving up, leave no trace
 * on the wire. A host with no socket for a 4-tuple (a refused port, a SYN
 * cookie) matches our "-", CLOSED or LISTEN. Addresses that are no
 * simulated host (spoofed sources) are not compared. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track_test_util.h"

#ifndef SYNACK_BIN
#error "SYNACK_BIN must name the synack binary"
#endif

/* ---- the simulator's JSON lines, read with a few string helpers ---- */

static bool json_str(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = 0;
    while (p[n] && p[n] != '"' && n + 1 < cap)
        n++;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool json_num(const char *line, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat);
}

static tcp_time_t usec(double t)
{
    return (tcp_time_t)llround(t * 1e6);
}

struct sim_state {
    tcp_time_t t;
    char local[64], remote[64], to[24];
};

struct sim_segment {
    tcp_time_t t, arrives;
    uint32_t seq, ack;
};

struct sim_run {
    char hosts[8][48];
    int nhosts;
    struct sim_state *st;
    size_t nst;
    struct sim_segment *sg;
    size_t nsg;
};

static void sim_run_free(struct sim_run *r)
{
    free(r->st);
    free(r->sg);
    memset(r, 0, sizeof *r);
}

static bool run_sim(const char *name, const char *pcap, struct sim_run *r)
{
    memset(r, 0, sizeof *r);
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd, "'%s' sim '%s' --format json --pcap '%s' 2>/dev/null", SYNACK_BIN, name, pcap);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return false;
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    size_t cap_st = 0, cap_sg = 0;
    char *line = NULL;
    size_t len = 0;
    while (getline(&line, &len, p) > 0) {
        char kind[24];
        if (!json_str(line, "kind", kind, sizeof kind))
            continue;
        if (strcmp(kind, "scenario") == 0) {
            const char *h = line;
            while ((h = strstr(h, "\"addr\":\"")) && r->nhosts < 8) {
                json_str(h, "addr", r->hosts[r->nhosts++], sizeof r->hosts[0]);
                h += 8;
            }
        } else if (strcmp(kind, "state") == 0) {
            if (r->nst == cap_st) {
                cap_st = cap_st ? cap_st * 2 : 256;
                r->st = realloc(r->st, cap_st * sizeof *r->st);
            }
            struct sim_state *s = &r->st[r->nst++];
            double t = 0;
            json_num(line, "t", &t);
            s->t = usec(t);
            json_str(line, "local", s->local, sizeof s->local);
            json_str(line, "remote", s->remote, sizeof s->remote);
            json_str(line, "to", s->to, sizeof s->to);
        } else if (strcmp(kind, "segment") == 0) {
            if (r->nsg == cap_sg) {
                cap_sg = cap_sg ? cap_sg * 2 : 256;
                r->sg = realloc(r->sg, cap_sg * sizeof *r->sg);
            }
            struct sim_segment *g = &r->sg[r->nsg++];
            double t = 0, a = -1, seq = 0, ack = 0;
            json_num(line, "t", &t);
            json_num(line, "seq", &seq);
            json_num(line, "ack", &ack);
            g->t = usec(t);
            g->arrives = json_num(line, "arrives", &a) ? usec(a) : g->t;
            g->seq = (uint32_t)seq;
            g->ack = (uint32_t)ack;
        }
    }
    free(line);
    return pclose(p) == 0 && r->nhosts > 0;
}

/* ---- the last segment of each connection in the capture ---- */

struct last_seg {
    struct wire_tuple tuple;
    tcp_time_t t;
    uint32_t seq, ack;
};

static bool same_conn(const struct wire_tuple *a, const struct wire_endpoint *x, const struct wire_endpoint *y)
{
    bool fwd = a->sport == x->port && a->dport == y->port && wire_addr_eq(&a->src, &x->addr) &&
               wire_addr_eq(&a->dst, &y->addr);
    bool rev = a->sport == y->port && a->dport == x->port && wire_addr_eq(&a->src, &y->addr) &&
               wire_addr_eq(&a->dst, &x->addr);
    return fwd || rev;
}

static size_t last_segments(const char *pcap, struct last_seg *out, size_t cap)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(pcap, err);
    assert_non_null(p);
    size_t n = 0;
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1) {
        struct wire_seg seg;
        if (wire_parse(data, h->caplen, WIRE_PARSE_LENIENT | WIRE_PARSE_NO_CHECKSUM, &seg) != WIRE_ERR_OK)
            continue;
        struct wire_endpoint s = {seg.tuple.src, seg.tuple.sport}, d = {seg.tuple.dst, seg.tuple.dport};
        size_t i = 0;
        while (i < n && !same_conn(&out[i].tuple, &s, &d))
            i++;
        if (i == n) {
            if (n == cap)
                continue;
            n++;
        }
        out[i].tuple = seg.tuple;
        out[i].t = (tcp_time_t)h->ts.tv_sec * 1000000u + (tcp_time_t)h->ts.tv_usec;
        out[i].seq = seg.seq;
        out[i].ack = seg.ack;
    }
    pcap_close(p);
    return n;
}

static bool is_sim_host(const struct sim_run *r, const struct wire_addr *a)
{
    char text[WIRE_ADDR_STRLEN];
    wire_addr_str(a, text);
    for (int i = 0; i < r->nhosts; i++)
        if (strcmp(r->hosts[i], text) == 0)
            return true;
    return false;
}

static struct tt_result result;
static struct last_seg lasts[4096];

/* Compares one scenario; returns the number of mismatches (printed). */
static int check_scenario(const char *name)
{
    const char *pcap = tt_path("sim.pcap");
    struct sim_run sim;
    if (!run_sim(name, pcap, &sim)) {
        print_error("%s: synack sim failed\n", name);
        sim_run_free(&sim);
        return 1;
    }
    char err[256];
    assert_int_equal(tt_run(pcap, NULL, &result, err, sizeof err), 0);
    size_t nl = last_segments(pcap, lasts, sizeof lasts / sizeof lasts[0]);
    int bad = 0;
    /* Later records of a 4-tuple supersede earlier ones (Zeek splits). */
    for (size_t i = 0; i < result.nconns; i++) {
        const struct track_conn_info *c = &result.conns[i];
        bool superseded = false;
        for (size_t j = i + 1; j < result.nconns; j++)
            superseded |= same_conn((struct wire_tuple[]){{c->orig.addr, c->resp.addr, c->orig.port, c->resp.port}},
                                    &result.conns[j].orig, &result.conns[j].resp);
        if (superseded)
            continue;
        const struct last_seg *ls = NULL;
        for (size_t k = 0; k < nl; k++)
            if (same_conn(&lasts[k].tuple, &c->orig, &c->resp))
                ls = &lasts[k];
        assert_non_null(ls);
        tcp_time_t cutoff = ls->t;
        for (size_t k = 0; k < sim.nsg; k++)
            if (sim.sg[k].t == ls->t && sim.sg[k].seq == ls->seq && sim.sg[k].ack == ls->ack &&
                sim.sg[k].arrives > cutoff)
                cutoff = sim.sg[k].arrives;
        const struct wire_endpoint *ends[2] = {&c->orig, &c->resp};
        const int ours_state[2] = {c->orig_state, c->resp_state};
        for (int e = 0; e < 2; e++) {
            if (!is_sim_host(&sim, &ends[e]->addr))
                continue;
            char local[64], remote[64];
            wire_endpoint_str(ends[e], local);
            wire_endpoint_str(ends[!e], remote);
            const char *st = NULL;
            for (size_t k = 0; k < sim.nst; k++)
                if (sim.st[k].t <= cutoff && strcmp(sim.st[k].local, local) == 0 &&
                    strcmp(sim.st[k].remote, remote) == 0)
                    st = sim.st[k].to;
            const char *ours = track_state_name(ours_state[e]);
            bool ok = st ? strcmp(st, ours) == 0
                         : (strcmp(ours, "-") == 0 || strcmp(ours, "CLOSED") == 0 || strcmp(ours, "LISTEN") == 0);
            if (!ok) {
                print_error("%s: %s (%s) simulator %s, track %s [history %s]\n", name, local,
                            e == 0 ? "orig" : "resp", st ? st : "no socket", ours, c->history);
                bad++;
            }
        }
    }
    sim_run_free(&sim);
    return bad;
}

static void test_every_scenario(void **state)
{
    (void)state;
    char cmd[2048];
    int len = snprintf(cmd, sizeof cmd, "'%s' sim --list 2>/dev/null", SYNACK_BIN);
    assert_true(len > 0 && (size_t)len < sizeof cmd);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char names[128][64];
    int n = 0;
    char line[512];
    while (n < 128 && fgets(line, sizeof line, p))
        if (sscanf(line, "%63s", names[n]) == 1)
            n++;
    if (pclose(p) != 0 || n == 0) {
        print_message("synack sim is not available in this build: skipping\n");
        skip();
    }
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += check_scenario(names[i]);
    print_message("%d scenarios cross-checked\n", n);
    assert_int_equal(bad, 0);
}

static int teardown(void **state)
{
    (void)state;
    tt_tmp_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_scenario),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
