/* synack track: the passive observer (issue 7). Reads pcap/pcapng files or
 * a live interface, and writes Zeek's conn.log (TSV or JSON), an anomaly
 * log, an `ss -s`-like summary, or the ladder diagram of one connection. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cli/commands.h"
#include "track/track.h"
#include "track/track_capture.h"
#include "track/track_ladder.h"
#include "track/track_log.h"
#include "track/track_summary.h"

#define CMD "track"

static void help(FILE *out)
{
    fprintf(out,
            "usage: synack track FILE... [--format tsv|json] [--summary] [--anomalies]\n"
            "       synack track FILE... --ladder UID [--format text|mermaid|svg]\n"
            "       synack track -i IFACE [-f BPF] [--interval S] [--log FILE]\n"
            "\n"
            "Follows every TCP connection in pcap/pcapng files or on an interface, infers both\n"
            "endpoints' RFC 9293 states, and reports:\n"
            "  (default)        Zeek conn.log: Zeek's fields (conn_state, history...), then ours:\n"
            "                   orig_state resp_state handshake_rtt anomalies\n"
            "  --anomalies      the anomaly log (Zeek weird.log fields): time, connection, evidence\n"
            "  --summary        connections per state per host at the end, like ss -s, and the\n"
            "                   top anomalies (after the log, or alone)\n"
            "  --ladder UID     the ladder diagram of one connection (uid from the conn.log)\n"
            "\n"
            "options:\n"
            "  --format F           tsv (default) or json; text, mermaid or svg with --ladder\n"
            "  --log FILE           also write the conn.log to FILE (live mode: the only conn.log)\n"
            "  --anomaly-log FILE   also write the anomaly log to FILE\n"
            "  -i IFACE             capture live (needs CAP_NET_RAW); stops on SIGINT with a final report\n"
            "  -f BPF               capture filter, e.g. \"tcp port 80\"\n"
            "  --interval S         live: seconds between rolling summaries (default 10)\n"
            "  --snaplen N          live: bytes kept per frame (default 256: headers are enough)\n"
            "  -p, --no-promisc     live: do not put the interface in promiscuous mode\n"
            "  --count N            live: stop after N frames\n"
            "  --duration S         live: stop after S seconds\n"
            "  --verify-checksums   drop segments with bad checksums as Zeek does ('C' in history);\n"
            "                       by default they are counted and tracked (checksum offload)\n"
            "  --max-conns N        connections held at most (262144, ~900 bytes each); the least\n"
            "                       recently active are evicted\n"
            "  --timeout CLASS=S    phase timeout (syn_sent syn_recv established fin_wait close_wait\n"
            "                       last_ack time_wait close), conntrack's defaults\n"
            "  --syn-flood-rate N   unanswered SYNs per second to one service that make a flood (100)\n"
            "  --syn-flood-window S averaging window in seconds (10)\n"
            "  --close-wait S       CLOSE-WAIT silence that makes a leak (60)\n"
            "  --fin-wait-2 S       FIN-WAIT-2 time that is too long (60)\n"
            "  --time-wait N        TIME-WAIT connections per host that make an accumulation (1000)\n"
            "\n"
            "Exit status: 0 ok, 1 a file or interface could not be read, 2 bad usage.\n");
}

enum {
    OPT_FORMAT = 1000,
    OPT_SUMMARY,
    OPT_ANOMALIES,
    OPT_LADDER,
    OPT_LOG,
    OPT_ANOMALY_LOG,
    OPT_INTERVAL,
    OPT_SNAPLEN,
    OPT_COUNT,
    OPT_DURATION,
    OPT_VERIFY,
    OPT_MAX_CONNS,
    OPT_TIMEOUT,
    OPT_FLOOD_RATE,
    OPT_FLOOD_WINDOW,
    OPT_CLOSE_WAIT,
    OPT_FIN_WAIT_2,
    OPT_TIME_WAIT,
    OPT_HELP,
};

struct run {
    struct track_log conn_out, anomaly_out; /* stdout streams */
    struct track_log conn_file, anomaly_file;
    bool conn_stream, anomaly_stream, live_anomalies;
    bool conn_to_file, anomaly_to_file;
    FILE *conn_fp, *anomaly_fp;
    bool json;
    struct track_summary_examples examples;
    struct track_ladder ladder;
    bool ladder_on;
};

static void on_conn(void *ctx, const struct track_conn_info *c)
{
    struct run *r = ctx;
    if (r->ladder_on && c->watched)
        track_ladder_set_conn(&r->ladder, c);
    if (r->conn_stream)
        track_log_conn(&r->conn_out, c);
    if (r->conn_to_file)
        track_log_conn(&r->conn_file, c);
}

static void on_anomaly(void *ctx, const struct track_anomaly *a)
{
    struct run *r = ctx;
    track_summary_note(&r->examples, a);
    if (r->anomaly_stream)
        track_log_anomaly(&r->anomaly_out, a);
    if (r->anomaly_to_file)
        track_log_anomaly(&r->anomaly_file, a);
    if (r->live_anomalies) {
        if (r->json) {
            track_log_anomaly(&r->anomaly_out, a);
        } else {
            char ts[TRACK_TIME_STRLEN], o[WIRE_ENDPOINT_STRLEN], p[WIRE_ENDPOINT_STRLEN];
            if (a->uid[0])
                printf("%s %s %s %s -> %s: %s\n", track_time_str(a->t, ts), track_anomaly_name(a->kind), a->uid,
                       wire_endpoint_str(&a->orig, o), wire_endpoint_str(&a->resp, p), a->evidence);
            else
                printf("%s %s: %s\n", track_time_str(a->t, ts), track_anomaly_name(a->kind), a->evidence);
        }
        fflush(stdout);
    }
}

static void on_segment(void *ctx, const struct track_segment_info *s)
{
    struct run *r = ctx;
    if (r->ladder_on)
        track_ladder_add_segment(&r->ladder, s);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_secs(const char *s, tcp_time_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || v < 0 || v > 1e9)
        return false;
    *out = (tcp_time_t)(v * 1e6 + 0.5);
    return true;
}

static bool parse_timeout(const char *arg, struct track_config *cfg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return false;
    for (int k = 0; k < TRACK_TO_COUNT; k++) {
        const char *name = track_timeout_name((enum track_timeout_class)k);
        if (strlen(name) == (size_t)(eq - arg) && strncmp(arg, name, (size_t)(eq - arg)) == 0)
            return parse_secs(eq + 1, &cfg->timeout[k]) && cfg->timeout[k] > 0;
    }
    return false;
}

static FILE *open_out(const char *path)
{
    return strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
}

/* ---- live capture ---- */

static volatile sig_atomic_t stop_requested;
static struct track_capture *live_capture;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    if (live_capture)
        track_capture_break(live_capture);
}

static tcp_time_t wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (tcp_time_t)tv.tv_sec * 1000000u + (tcp_time_t)tv.tv_usec;
}

static tcp_time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (tcp_time_t)ts.tv_sec * 1000000u + (tcp_time_t)ts.tv_nsec / 1000u;
}

static void print_snapshot(struct track *t, struct run *r, struct track_summary_snapshot *snap, const char *title)
{
    struct track_summary_opts so = {.json = r->json, .title = title};
    if (track_summary_print(stdout, t, snap, &r->examples, &so) < 0)
        fprintf(stderr, "synack: track: out of memory while summarizing\n");
    track_summary_snapshot_free(snap);
    fflush(stdout);
}

static void print_summary(struct track *t, struct run *r, const char *title)
{
    print_snapshot(t, r, track_summary_snapshot(t), title);
}

static int run_live(struct track *t, struct run *r, const char *iface, const char *bpf, int snaplen, bool promisc,
                    tcp_time_t interval, uint64_t max_frames, tcp_time_t max_duration)
{
    char err[512];
    struct track_capture *cap = track_capture_open_live(iface, bpf, snaplen, promisc, 200, err, sizeof err);
    if (!cap)
        return cli_fail(CMD, "%s", err);
    live_capture = cap;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fprintf(stderr, "synack: track: listening on %s%s%s, Ctrl-C for the final report\n", iface,
            bpf ? " with filter " : "", bpf ? bpf : "");
    tcp_time_t start = mono_now(), next_report = start + interval;
    int rc = CLI_OK;
    while (!stop_requested) {
        long budget = 1000;
        if (max_frames) {
            uint64_t seen = track_get_stats(t)->frames;
            if (seen >= max_frames)
                break;
            if (max_frames - seen < (uint64_t)budget)
                budget = (long)(max_frames - seen);
        }
        enum track_capture_result res = track_capture_feed(cap, t, budget, err, sizeof err);
        if (res == TRACK_CAPTURE_ERROR) {
            rc = cli_fail(CMD, "%s", err);
            break;
        }
        if (res == TRACK_CAPTURE_MORE && !stop_requested)
            track_capture_wait(cap, 200);
        /* Without traffic, time still passes: let timeouts fire. */
        tcp_time_t wall = wall_now();
        if (wall > track_now(t))
            track_advance(t, wall);
        tcp_time_t m = mono_now();
        if (max_duration && m - start >= max_duration)
            break;
        if (interval && m >= next_report) {
            print_summary(t, r, "rolling summary");
            next_report = m + interval;
        }
    }
    uint64_t received, dropped;
    if (track_capture_drops(cap, &received, &dropped) && dropped)
        fprintf(stderr, "synack: track: the kernel dropped %llu of %llu frames\n", (unsigned long long)dropped,
                (unsigned long long)received);
    live_capture = NULL;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    track_capture_close(cap);
    struct track_summary_snapshot *snap = track_summary_snapshot(t);
    track_flush(t);
    print_snapshot(t, r, snap, "final report");
    return rc;
}

int cmd_track(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"summary", no_argument, NULL, OPT_SUMMARY},
        {"anomalies", no_argument, NULL, OPT_ANOMALIES},
        {"ladder", required_argument, NULL, OPT_LADDER},
        {"log", required_argument, NULL, OPT_LOG},
        {"anomaly-log", required_argument, NULL, OPT_ANOMALY_LOG},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"snaplen", required_argument, NULL, OPT_SNAPLEN},
        {"no-promisc", no_argument, NULL, 'p'},
        {"count", required_argument, NULL, OPT_COUNT},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"verify-checksums", no_argument, NULL, OPT_VERIFY},
        {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"syn-flood-rate", required_argument, NULL, OPT_FLOOD_RATE},
        {"syn-flood-window", required_argument, NULL, OPT_FLOOD_WINDOW},
        {"close-wait", required_argument, NULL, OPT_CLOSE_WAIT},
        {"fin-wait-2", required_argument, NULL, OPT_FIN_WAIT_2},
        {"time-wait", required_argument, NULL, OPT_TIME_WAIT},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct track_config cfg;
    track_config_default(&cfg);
    const char *format = NULL, *ladder_uid = NULL, *log_path = NULL, *anomaly_log_path = NULL;
    const char *iface = NULL, *bpf = NULL;
    bool summary = false, anomalies = false, promisc = true;
    tcp_time_t interval = TCP_SEC(10), duration = 0;
    uint64_t snaplen = 256, count = 0, v;

    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":i:f:ph", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_FORMAT:
            format = optarg;
            break;
        case OPT_SUMMARY:
            summary = true;
            break;
        case OPT_ANOMALIES:
            anomalies = true;
            break;
        case OPT_LADDER:
            ladder_uid = optarg;
            break;
        case OPT_LOG:
            log_path = optarg;
            break;
        case OPT_ANOMALY_LOG:
            anomaly_log_path = optarg;
            break;
        case 'i':
            iface = optarg;
            break;
        case 'f':
            bpf = optarg;
            break;
        case 'p':
            promisc = false;
            break;
        case OPT_INTERVAL:
            if (!parse_secs(optarg, &interval))
                return cli_usage_error(CMD, "--interval wants seconds, not '%s'", optarg);
            break;
        case OPT_SNAPLEN:
            if (!parse_u64(optarg, &snaplen) || snaplen < 64 || snaplen > 262144)
                return cli_usage_error(CMD, "--snaplen wants 64..262144 bytes, not '%s'", optarg);
            break;
        case OPT_COUNT:
            if (!parse_u64(optarg, &count) || count == 0)
                return cli_usage_error(CMD, "--count wants a positive number, not '%s'", optarg);
            break;
        case OPT_DURATION:
            if (!parse_secs(optarg, &duration) || duration == 0)
                return cli_usage_error(CMD, "--duration wants seconds, not '%s'", optarg);
            break;
        case OPT_VERIFY:
            cfg.verify_checksums = true;
            break;
        case OPT_MAX_CONNS:
            if (!parse_u64(optarg, &v) || v == 0 || v > (1u << 30))
                return cli_usage_error(CMD, "--max-conns wants 1..%u, not '%s'", 1u << 30, optarg);
            cfg.max_conns = (size_t)v;
            break;
        case OPT_TIMEOUT:
            if (!parse_timeout(optarg, &cfg))
                return cli_usage_error(CMD, "--timeout wants CLASS=SECONDS (e.g. time_wait=60), not '%s'", optarg);
            break;
        case OPT_FLOOD_RATE:
            if (!parse_u64(optarg, &v) || v > UINT32_MAX)
                return cli_usage_error(CMD, "--syn-flood-rate wants a number, not '%s'", optarg);
            cfg.syn_flood_rate = (uint32_t)v;
            break;
        case OPT_FLOOD_WINDOW:
            if (!parse_u64(optarg, &v) || v == 0 || v > 3600)
                return cli_usage_error(CMD, "--syn-flood-window wants 1..3600 seconds, not '%s'", optarg);
            cfg.syn_flood_window_s = (uint32_t)v;
            break;
        case OPT_CLOSE_WAIT:
            if (!parse_secs(optarg, &cfg.close_wait_leak) || cfg.close_wait_leak == 0)
                return cli_usage_error(CMD, "--close-wait wants seconds, not '%s'", optarg);
            break;
        case OPT_FIN_WAIT_2:
            if (!parse_secs(optarg, &cfg.fin_wait_2_long) || cfg.fin_wait_2_long == 0)
                return cli_usage_error(CMD, "--fin-wait-2 wants seconds, not '%s'", optarg);
            break;
        case OPT_TIME_WAIT:
            if (!parse_u64(optarg, &v) || v > UINT32_MAX)
                return cli_usage_error(CMD, "--time-wait wants a number, not '%s'", optarg);
            cfg.time_wait_per_host = (uint32_t)v;
            break;
        case 'h':
        case OPT_HELP:
            help(stdout);
            return CLI_OK;
        case ':':
            return cli_usage_error(CMD, "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error(CMD, "unknown option '%s' (see synack track --help)", argv[optind - 1]);
        }
    }
    int nfiles = argc - optind;
    if (!iface && nfiles == 0)
        return cli_usage_error(CMD, "give capture files or -i IFACE (see synack track --help)");
    if (iface && nfiles > 0)
        return cli_usage_error(CMD, "give either capture files or -i IFACE, not both");
    if (bpf && !iface)
        return cli_usage_error(CMD, "-f applies to live capture (-i); filter files with tcpdump -r -w");
    if (iface && ladder_uid)
        return cli_usage_error(CMD, "--ladder reads files; record with tcpdump -w first");

    struct run r;
    memset(&r, 0, sizeof r);
    int ladder_fmt = TRACK_LADDER_TEXT;
    if (ladder_uid) {
        if (format && (ladder_fmt = track_ladder_format_parse(format)) < 0)
            return cli_usage_error(CMD, "--format with --ladder is text, mermaid or svg, not '%s'", format);
        cfg.watch_uid = ladder_uid;
        track_ladder_init(&r.ladder, 0);
        r.ladder_on = true;
    } else if (format) {
        if (strcmp(format, "json") == 0)
            r.json = true;
        else if (strcmp(format, "tsv") != 0)
            return cli_usage_error(CMD, "--format is tsv or json (text, mermaid, svg with --ladder), not '%s'",
                                   format);
    }
    enum track_log_format lf = r.json ? TRACK_LOG_JSON : TRACK_LOG_TSV;
    time_t opened = time(NULL);
    if (iface) {
        r.live_anomalies = true;
        if (r.json)
            track_log_init(&r.anomaly_out, stdout, TRACK_LOG_JSON, TRACK_LOG_ANOMALY, opened);
    } else if (!ladder_uid) {
        r.anomaly_stream = anomalies;
        r.conn_stream = !anomalies && !summary;
        track_log_init(&r.conn_out, stdout, lf, TRACK_LOG_CONN, opened);
        track_log_init(&r.anomaly_out, stdout, lf, TRACK_LOG_ANOMALY, opened);
    }
    if (log_path) {
        r.conn_fp = open_out(log_path);
        if (!r.conn_fp)
            return cli_fail(CMD, "%s: %s", log_path, strerror(errno));
        track_log_init(&r.conn_file, r.conn_fp, lf, TRACK_LOG_CONN, opened);
        r.conn_to_file = true;
    }
    if (anomaly_log_path) {
        r.anomaly_fp = open_out(anomaly_log_path);
        if (!r.anomaly_fp) {
            if (r.conn_fp && r.conn_fp != stdout)
                fclose(r.conn_fp);
            return cli_fail(CMD, "%s: %s", anomaly_log_path, strerror(errno));
        }
        track_log_init(&r.anomaly_file, r.anomaly_fp, lf, TRACK_LOG_ANOMALY, opened);
        r.anomaly_to_file = true;
    }

    struct track_summary_snapshot *snap = NULL;
    struct track_sink sink = {on_conn, on_anomaly, on_segment, &r};
    struct track *t = track_new(&cfg, &sink);
    int rc = CLI_OK;
    if (!t) {
        rc = cli_fail(CMD, "out of memory");
        goto out;
    }

    if (iface) {
        rc = run_live(t, &r, iface, bpf, (int)snaplen, promisc, interval, count, duration);
    } else {
        char err[512];
        for (int i = optind; i < argc; i++) {
            struct track_capture *cap = track_capture_open_file(argv[i], err, sizeof err);
            if (!cap) {
                rc = cli_fail(CMD, "%s", err);
                continue;
            }
            if (track_capture_feed(cap, t, 0, err, sizeof err) == TRACK_CAPTURE_ERROR)
                rc = cli_fail(CMD, "%s", err);
            track_capture_close(cap);
        }
        /* The states at the end of the capture are those before the flush. */
        if (summary && !ladder_uid)
            snap = track_summary_snapshot(t);
        track_flush(t);
        if (ladder_uid) {
            if (track_ladder_render(stdout, &r.ladder, (enum track_ladder_format)ladder_fmt) < 0)
                rc = cli_fail(CMD, "no connection with uid %s in the capture", ladder_uid);
        }
    }
    time_t closed = time(NULL);
    if (r.conn_stream)
        track_log_close(&r.conn_out, closed);
    if (r.anomaly_stream)
        track_log_close(&r.anomaly_out, closed);
    if (r.conn_to_file)
        track_log_close(&r.conn_file, closed);
    if (r.anomaly_to_file)
        track_log_close(&r.anomaly_file, closed);
    if (summary && !ladder_uid && !iface) {
        print_snapshot(t, &r, snap, "end of capture");
        snap = NULL;
    }
out:
    track_summary_snapshot_free(snap);
    track_free(t);
    if (r.ladder_on)
        track_ladder_free(&r.ladder);
    if (r.conn_fp && r.conn_fp != stdout && fclose(r.conn_fp) != 0 && rc == CLI_OK)
        rc = cli_fail(CMD, "%s: %s", log_path, strerror(errno));
    if (r.anomaly_fp && r.anomaly_fp != stdout && fclose(r.anomaly_fp) != 0 && rc == CLI_OK)
        rc = cli_fail(CMD, "%s: %s", anomaly_log_path, strerror(errno));
    if (fflush(stdout) != 0 && rc == CLI_OK)
        rc = cli_fail(CMD, "writing the output: %s", strerror(errno));
    return rc;
}
