/* fuzz_track: the capture reader and the tracker (issue 7 "bad input",
 * issue 9). Two ways in, chosen by the input's first bytes:
 *
 *  - a capture file (pcap magic in either byte order, micro or nano, or a
 *    pcapng section header): the bytes are written to a file and read
 *    with track_capture_open_file/track_capture_feed, exactly as
 *    `synack track FILE` reads them (our classic-pcap reader, libpcap for
 *    the rest);
 *  - anything else: a stream of frames fed to track_frame directly, each
 *    "dlt selector, time step, length, bytes", which reaches the tracker's
 *    state machines much faster than the file format does.
 *
 * Every connection and anomaly is written to conn.log and the anomaly log
 * (TSV or JSON), the summary is printed, and the first connection's ladder
 * is drawn in the three formats (a second pass with --ladder's watch_uid).
 * Checks: the table stays within max_conns, flush empties it, the per-state
 * counts add up to the connections reported. Output goes to /dev/null. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "track/track.h"
#include "track/track_capture.h"
#include "track/track_ladder.h"
#include "track/track_log.h"
#include "track/track_summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_track: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static FILE *devnull;
static char capture_path[256];

struct run {
    struct track_log conn_log, anomaly_log;
    struct track_summary_examples examples;
    struct track_ladder ladder;
    bool ladder_on;
    char first_uid[TRACK_UID_LEN];
    uint64_t conns;
};

static void on_conn(void *ctx, const struct track_conn_info *c)
{
    struct run *r = ctx;
    CHECK(c->uid[0] == 'C');
    CHECK(memchr(c->history, '\0', sizeof c->history) != NULL);
    CHECK((int)c->conn_state >= 0 && c->conn_state < TRACK_CS_COUNT);
    if (!r->first_uid[0])
        memcpy(r->first_uid, c->uid, sizeof r->first_uid);
    if (r->ladder_on && c->watched)
        track_ladder_set_conn(&r->ladder, c);
    track_log_conn(&r->conn_log, c);
    r->conns++;
}

static void on_anomaly(void *ctx, const struct track_anomaly *a)
{
    struct run *r = ctx;
    CHECK((int)a->kind >= 0 && a->kind < TRACK_ANOM_COUNT);
    CHECK(memchr(a->evidence, '\0', sizeof a->evidence) != NULL);
    track_summary_note(&r->examples, a);
    track_log_anomaly(&r->anomaly_log, a);
}

static void on_segment(void *ctx, const struct track_segment_info *s)
{
    struct run *r = ctx;
    if (r->ladder_on)
        track_ladder_add_segment(&r->ladder, s);
}

/* Knobs from one byte: small tables and thresholds reach eviction,
 * expiry and the aggregate anomalies with few packets. */
static void config_from(uint8_t k, struct track_config *cfg)
{
    track_config_default(cfg);
    cfg->verify_checksums = k & 1;
    if (k & 2)
        cfg->max_conns = 1 + (k >> 5); /* 1..8 */
    if (k & 4) {
        for (int i = 0; i < TRACK_TO_COUNT; i++)
            cfg->timeout[i] = TCP_SEC(1 + i);
        cfg->close_wait_leak = TCP_SEC(2);
        cfg->fin_wait_2_long = TCP_SEC(2);
    }
    if (k & 8) {
        cfg->syn_flood_rate = 1;
        cfg->syn_flood_window_s = 1 + (k >> 6);
        cfg->time_wait_per_host = 2;
        cfg->syn_answer_timeout = TCP_MSEC(10);
    }
}

static const int frame_dlts[] = {DLT_RAW, DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL,
                                 DLT_LOOP, DLT_IPV4, DLT_IPV6, DLT_PPP /* unsupported */};
#define FRAME_DLTS (sizeof frame_dlts / sizeof frame_dlts[0])

/* Frames: [dlt:1][step:1][len:2][bytes]. step < 200: that many ms; else
 * (step - 199) minutes, so that timeouts fire. */
static void feed_frames(struct track *t, const uint8_t *p, size_t n)
{
    tcp_time_t now = TCP_SEC(1700000000);
    uint64_t fed = 0;
    while (n >= 4) {
        int dlt = frame_dlts[p[0] % FRAME_DLTS];
        unsigned step = p[1];
        size_t len = (size_t)p[2] << 8 | p[3];
        p += 4;
        n -= 4;
        if (len > n)
            len = n;
        now += step < 200 ? TCP_MSEC(step) : TCP_SEC(60) * (step - 199);
        /* Sometimes a snapshot length cut: the wire length is larger. */
        size_t wirelen = (p[-4] & 0x80) ? len + 40 : len;
        uint8_t *frame = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        if (!frame)
            return;
        if (len)
            memcpy(frame, p, len);
        track_frame(t, dlt, now, frame, len, wirelen);
        free(frame);
        fed++;
        p += len;
        n -= len;
        if ((fed & 7) == 0)
            track_advance(t, now + TCP_SEC(1));
    }
    CHECK(track_get_stats(t)->frames == fed);
}

static bool is_capture(const uint8_t *d, size_t n)
{
    if (n < 4)
        return false;
    static const uint8_t magics[][4] = {
        {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, {0x4d, 0x3c, 0xb2, 0xa1},
        {0xa1, 0xb2, 0x3c, 0x4d}, {0x0a, 0x0d, 0x0d, 0x0a},
    };
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
        if (memcmp(d, magics[i], 4) == 0)
            return true;
    return false;
}

static void feed_file(struct track *t, const uint8_t *data, size_t size)
{
    FILE *f = fopen(capture_path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    char err[512] = "";
    struct track_capture *c = track_capture_open_file(capture_path, err, sizeof err);
    if (!c) {
        CHECK(err[0] && strchr(err, '\n') == NULL);
        return;
    }
    CHECK(track_link_supported(track_capture_datalink(c)));
    /* In two parts, as the live mode and the bench do. */
    enum track_capture_result rc = track_capture_feed(c, t, 3, err, sizeof err);
    if (rc == TRACK_CAPTURE_MORE)
        rc = track_capture_feed(c, t, 0, err, sizeof err);
    if (rc == TRACK_CAPTURE_ERROR)
        CHECK(err[0] && strchr(err, '\n') == NULL);
    else
        CHECK(rc == TRACK_CAPTURE_EOF);
    track_capture_close(c);
}

static void run_once(const uint8_t *data, size_t size, uint8_t knobs, const char *watch, struct run *r)
{
    struct track_config cfg;
    config_from(knobs, &cfg);
    cfg.watch_uid = watch;
    bool json = knobs & 16;
    memset(r, 0, sizeof *r);
    track_log_init(&r->conn_log, devnull, json ? TRACK_LOG_JSON : TRACK_LOG_TSV, TRACK_LOG_CONN, 0);
    track_log_init(&r->anomaly_log, devnull, json ? TRACK_LOG_JSON : TRACK_LOG_TSV, TRACK_LOG_ANOMALY, 0);
    r->ladder_on = watch != NULL;
    if (r->ladder_on)
        track_ladder_init(&r->ladder, 64);
    struct track_sink sink = {on_conn, on_anomaly, on_segment, r};
    struct track *t = track_new(&cfg, &sink);
    if (!t)
        abort();
    if (is_capture(data, size))
        feed_file(t, data, size);
    else if (size > 1)
        feed_frames(t, data + 1, size - 1);

    const struct track_stats *st = track_get_stats(t);
    CHECK(st->active <= cfg.max_conns);
    CHECK(st->peak_active <= cfg.max_conns);
    if (!watch) {
        struct track_summary_snapshot *snap = track_summary_snapshot(t);
        struct track_summary_opts so = {.json = json, .title = "fuzz"};
        if (snap)
            track_summary_print(devnull, t, snap, &r->examples, &so);
        track_summary_snapshot_free(snap);
    }
    track_flush(t);
    CHECK(st->active == 0);
    uint64_t by_state = 0;
    for (int k = 0; k < TRACK_CS_COUNT; k++)
        by_state += st->conn_states[k];
    CHECK(by_state == r->conns);
    CHECK(st->connections >= r->conns);
    track_log_close(&r->conn_log, 0);
    track_log_close(&r->anomaly_log, 0);
    if (r->ladder_on) {
        track_ladder_render(devnull, &r->ladder, TRACK_LADDER_TEXT);
        track_ladder_render(devnull, &r->ladder, TRACK_LADDER_MERMAID);
        track_ladder_render(devnull, &r->ladder, TRACK_LADDER_SVG);
        track_ladder_free(&r->ladder);
    }
    track_free(t);
}

static void remove_capture(void)
{
    unlink(capture_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(capture_path, sizeof capture_path, "%s/synack-fuzz-track-%d.pcap", dir, (int)getpid());
        if (!devnull)
            abort();
        atexit(remove_capture);
    }
    /* Knobs: the last byte (the first is the capture magic or the stream). */
    uint8_t knobs = size ? data[size - 1] : 0;
    if (!is_capture(data, size) && size)
        knobs = data[0];
    struct run r;
    run_once(data, size, knobs, NULL, &r);
    if (r.first_uid[0] && size < 8192) {
        char uid[TRACK_UID_LEN];
        memcpy(uid, r.first_uid, sizeof uid);
        struct run r2;
        run_once(data, size, knobs, uid, &r2);
    }
    return 0;
}
