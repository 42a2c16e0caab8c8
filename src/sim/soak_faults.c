/* `synack soak faults` (issue 9): worlds of 1-8 connections, each under a
 * random mixture of link faults, delay spikes, spoofed RSTs, hosts that
 * freeze, are cut off or reboot, and applications that never read, never
 * close, abort or close early. Every connection must end in a defined
 * state with a defined errno; what is delivered must be a prefix of what
 * was sent (all of it once EOF is read); nothing may hang; both hosts must
 * hold nothing once everything drained. */
#include <string.h>

#include "sim/soak_internal.h"
#include "wire/wire.h"

#define FAULTS_WINDOW TCP_SEC(60)   /* faults start in the first minute */
#define STARTS_WINDOW TCP_SEC(20)   /* connections open in the first 20 s */
#define APP_DEADLINE TCP_SEC(1800)  /* never-read/never-close apps exit here */
#define HANG_DEADLINE TCP_SEC(3600) /* every app must be done here */

struct fault {
    enum soak_fault kind;
    int target;       /* host or direction */
    int conn;         /* RSTs: which connection */
    tcp_time_t extra; /* delay spikes */
    tcp_time_t until;
    uint32_t rnd;
};

struct faults_trial {
    struct fault faults[8];
    int nfaults;
    struct {
        int conn, side;
        enum soak_end end;
    } kills[2 * SOAK_MAX_CONNS];
    int nkills;
};

/* ---- the faults ---- */
static void count(struct soak_world *w, enum soak_fault f) { w->sum->faults[f]++; }

static void link_restore(struct soak_world *w, void *arg)
{
    struct fault *f = arg;
    if (f->kind == SOAK_FAULT_DELAY_SPIKE) {
        w->dir[f->target].extra_delay -= f->extra;
        soak_apply_link(w, f->target);
    } else if (f->kind == SOAK_FAULT_LOSS_BURST) {
        w->dir[f->target].blackouts--;
        soak_apply_link(w, f->target);
    } else { /* a cut host: both directions of its link */
        for (int d = 0; d < 2; d++) {
            w->dir[d].blackouts--;
            soak_apply_link(w, d);
        }
    }
}

static void host_resume(struct soak_world *w, void *arg)
{
    struct fault *f = arg;
    if (f->kind == SOAK_FAULT_REBOOT && soak_host_reboot(w, f->target) < 0)
        return;
    soak_host_up(w, f->target);
}

/* RFC 5961 §3: a spoofed RST toward `target`, seen from the other side's
 * address and port: at the target's RCV.NXT (the last ACK it sent), inside
 * its window but not there, or anywhere. */
static bool inject_rst(struct soak_world *w, const struct fault *f)
{
    struct soak_conn *c = &w->conns[f->conn % w->nconns];
    int t = f->target;
    if (!c->seen[t])
        return false;
    struct wire_seg seg = {0};
    seg.tuple = wire_tuple_reverse(&c->tuple[t]);
    seg.ip_version = wire_addr_is_v4(&seg.tuple.src) ? 4 : 6;
    seg.flags = WIRE_RST;
    uint32_t wnd = c->last_win[t] > 1 ? c->last_win[t] : 2;
    if (f->kind == SOAK_FAULT_RST_EXACT)
        seg.seq = c->last_ack[t];
    else if (f->kind == SOAK_FAULT_RST_IN_WINDOW)
        seg.seq = c->last_ack[t] + 1 + f->rnd % (wnd - 1);
    else
        seg.seq = f->rnd;
    uint8_t pkt[WIRE_MAX_HEADER];
    size_t len = wire_build(pkt, sizeof pkt, &seg);
    return len && simnet_inject(w->net, simnet_now(w->net), !t, pkt, len) == 0;
}

static void fault_start(struct soak_world *w, void *arg)
{
    struct fault *f = arg;
    switch (f->kind) {
    case SOAK_FAULT_DELAY_SPIKE:
        w->dir[f->target].extra_delay += f->extra;
        soak_apply_link(w, f->target);
        soak_at(w, f->until, link_restore, f);
        break;
    case SOAK_FAULT_LOSS_BURST:
        w->dir[f->target].blackouts++;
        soak_apply_link(w, f->target);
        soak_at(w, f->until, link_restore, f);
        break;
    case SOAK_FAULT_CUT:
        for (int d = 0; d < 2; d++) {
            w->dir[d].blackouts++;
            soak_apply_link(w, d);
        }
        soak_at(w, f->until, link_restore, f);
        break;
    case SOAK_FAULT_FREEZE:
    case SOAK_FAULT_REBOOT:
        soak_host_down(w, f->target);
        soak_at(w, f->until, host_resume, f);
        break;
    case SOAK_FAULT_RST_EXACT:
    case SOAK_FAULT_RST_IN_WINDOW:
    case SOAK_FAULT_RST_BLIND:
        if (!inject_rst(w, f))
            return; /* nothing seen on that connection yet: not injected */
        break;
    default:
        return;
    }
    count(w, f->kind);
}

/* ---- the applications' own faults ---- */
static void app_kill(struct soak_world *w, void *arg)
{
    struct faults_trial *ft = w->ctx;
    int k = (int)(intptr_t)arg;
    struct soak_conn *c = &w->conns[ft->kills[k].conn];
    enum soak_end end = ft->kills[k].end;
    if (soak_ep_end_now(c->ep[ft->kills[k].side], end))
        count(w, end == SOAK_END_ABORTED ? SOAK_FAULT_APP_ABORT : SOAK_FAULT_APP_EARLY_CLOSE);
}

static void lazy_exit(struct soak_world *w, void *arg)
{
    (void)arg;
    soak_exit_apps(w, true);
}

/* Learns each side's latest ACK and window per connection (not from our
 * own forgeries). */
static void observe(struct soak_world *w, const struct simnet_packet *p)
{
    if (p->injected || !p->seg_ok || p->src < 0 || p->src > 1 || !(p->seg.flags & WIRE_ACK))
        return;
    uint16_t client_port = p->src == 0 ? p->seg.tuple.sport : p->seg.tuple.dport;
    for (int i = 0; i < w->nconns; i++) {
        struct soak_conn *c = &w->conns[i];
        if (c->client_port != client_port || !c->ep[0])
            continue;
        c->seen[p->src] = true;
        c->tuple[p->src] = p->seg.tuple;
        c->last_ack[p->src] = p->seg.ack;
        c->last_win[p->src] = p->seg.window;
    }
}

static uint64_t draw_size(struct sim_rng *rng)
{
    unsigned r = (unsigned)sim_rng_below(rng, 20);
    if (r < 10)
        return sim_rng_below(rng, 4096);
    if (r < 17)
        return sim_rng_below(rng, 65536);
    return sim_rng_below(rng, 512 * 1024);
}

static enum soak_behaviour draw_behaviour(struct soak_world *w, struct sim_rng *rng)
{
    unsigned r = (unsigned)sim_rng_below(rng, 20);
    if (r == 0) {
        count(w, SOAK_FAULT_APP_NEVER_READ);
        return SOAK_APP_NEVER_READ;
    }
    if (r == 1) {
        count(w, SOAK_FAULT_APP_NEVER_CLOSE);
        return SOAK_APP_NEVER_CLOSE;
    }
    return SOAK_APP_NORMAL;
}

static double maybe(struct sim_rng *rng, double max)
{
    return sim_rng_below(rng, 2) ? sim_rng_unit(rng) * max : 0.0;
}

static int faults_trial(struct soak_world *w, const struct soak_options *o, uint64_t trial,
                        struct soak_summary *sum)
{
    static struct faults_trial ft;
    memset(&ft, 0, sizeof ft);
    struct sim_rng rng;
    uint64_t seed = soak_trial_seed(o->seed ^ UINT64_C(0xfa017), trial);
    sim_rng_seed(&rng, seed);
    struct simnet_link_params p[2];
    tcp_time_t delay = TCP_MSEC(1 + sim_rng_below(&rng, 100));
    for (int d = 0; d < 2; d++) {
        memset(&p[d], 0, sizeof p[d]);
        p[d].delay = delay;
        p[d].loss = maybe(&rng, 0.10);
        p[d].duplicate = maybe(&rng, 0.05);
        p[d].reorder = maybe(&rng, 0.10);
        p[d].reorder_max = 1 + sim_rng_below(&rng, 2 * delay);
    }
    struct tcp_config tcp[2];
    for (int i = 0; i < 2; i++) {
        tcp_config_default(&tcp[i]);
        if (sim_rng_below(&rng, 5) == 0)
            tcp[i].tcp_sack = 0;
        if (sim_rng_below(&rng, 5) == 0)
            tcp[i].tcp_timestamps = 0;
        if (sim_rng_below(&rng, 10) == 0)
            tcp[i].tcp_rmem = tcp[i].tcp_wmem = 8192 + (int64_t)sim_rng_below(&rng, 32768);
        if (sim_rng_below(&rng, 5) == 0)
            tcp[i].tcp_retries2 = 5;
        if (sim_rng_below(&rng, 10) == 0)
            tcp[i].tcp_rfc1337 = 1;
        if (sim_rng_below(&rng, 10) == 0)
            tcp[i].tcp_syncookies = 2;
    }
    bool v6 = sim_rng_below(&rng, 5) == 0;
    if (soak_world_init(w, seed, tcp, v6, &p[0], &p[1], sum) < 0) {
        soak_world_free(w);
        return -2;
    }
    w->ctx = &ft;
    w->keepidle = 30; /* dead peers found within a minute */
    w->keepintvl = 5;
    w->keepcnt = 4;
    w->observe = observe;
    sum->trials++;

    int nconns = 1 + (int)sim_rng_below(&rng, SOAK_MAX_CONNS);
    for (int i = 0; i < nconns; i++) {
        struct soak_conn *c = soak_conn_add(w, sim_rng_below(&rng, STARTS_WINDOW));
        c->size[0] = SOAK_ID_BYTES + draw_size(&rng);
        c->size[1] = sim_rng_below(&rng, 4) ? draw_size(&rng) : 0;
        for (int side = 0; side < 2; side++) {
            c->behaviour[side] = draw_behaviour(w, &rng);
            if (sim_rng_below(&rng, 20) == 0 && ft.nkills < 2 * SOAK_MAX_CONNS) {
                int k = ft.nkills++;
                ft.kills[k].conn = i;
                ft.kills[k].side = side;
                ft.kills[k].end = sim_rng_below(&rng, 2) ? SOAK_END_ABORTED : SOAK_END_CLOSED_EARLY;
                soak_at(w, c->start + sim_rng_below(&rng, TCP_SEC(10)), app_kill, (void *)(intptr_t)k);
            }
        }
    }
    ft.nfaults = (int)sim_rng_below(&rng, 5);
    for (int i = 0; i < ft.nfaults; i++) {
        struct fault *f = &ft.faults[i];
        static const enum soak_fault kinds[] = {
            SOAK_FAULT_DELAY_SPIKE, SOAK_FAULT_LOSS_BURST, SOAK_FAULT_RST_EXACT, SOAK_FAULT_RST_IN_WINDOW,
            SOAK_FAULT_RST_BLIND,   SOAK_FAULT_FREEZE,     SOAK_FAULT_CUT,      SOAK_FAULT_REBOOT,
        };
        f->kind = kinds[sim_rng_below(&rng, sizeof kinds / sizeof kinds[0])];
        f->target = (int)sim_rng_below(&rng, 2);
        f->conn = (int)sim_rng_below(&rng, (uint64_t)nconns);
        f->rnd = (uint32_t)sim_rng_next(&rng);
        tcp_time_t t = sim_rng_below(&rng, FAULTS_WINDOW);
        switch (f->kind) {
        case SOAK_FAULT_DELAY_SPIKE:
            f->extra = TCP_MSEC(200 + sim_rng_below(&rng, 3800));
            f->until = t + TCP_MSEC(100 + sim_rng_below(&rng, 4900));
            break;
        case SOAK_FAULT_LOSS_BURST:
            f->until = t + TCP_MSEC(100 + sim_rng_below(&rng, 9900));
            break;
        case SOAK_FAULT_CUT:
            f->until = t + TCP_SEC(1 + sim_rng_below(&rng, 90));
            break;
        case SOAK_FAULT_FREEZE:
            f->until = t + TCP_SEC(1 + sim_rng_below(&rng, 120));
            break;
        case SOAK_FAULT_REBOOT:
            f->until = t + TCP_SEC(1 + sim_rng_below(&rng, 60));
            break;
        default:
            break;
        }
        soak_at(w, t, fault_start, f);
    }
    soak_at(w, APP_DEADLINE, lazy_exit, NULL);
    if (soak_run_until(w, HANG_DEADLINE) == 0)
        soak_finish(w);
    return w->fail[0] ? -1 : 0;
}

int soak_faults(const struct soak_options *o, struct soak_summary *out)
{
    return soak_loop(o, out, true, faults_trial);
}
