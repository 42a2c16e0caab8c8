/* synack bench as CI runs it: `synack bench --quick` exits 0 and prints
 * every figure (values are printed, never asserted: no wall-clock checks);
 * the JSON lines, the table and the SVG have their documented shape; bad
 * arguments give a one-line error and exit status 2. The path of the
 * binary comes in SYNACK_BIN. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

struct outcome {
    int status;
    char *out, *err;
};

static char *slurp(FILE *f)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    return buf;
}

/* Runs synack with args (NULL-terminated), stdout and stderr to temporary
 * files so that long outputs cannot block. */
static struct outcome synack(const char *arg, ...)
{
    const char *bin = getenv("SYNACK_BIN");
    assert_non_null(bin);
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)bin;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    assert_true(out && err);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        execv(bin, argv);
        _exit(127);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    struct outcome o;
    o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    rewind(out);
    rewind(err);
    o.out = slurp(out);
    o.err = slurp(err);
    fclose(out);
    fclose(err);
    return o;
}

static void outcome_free(struct outcome *o)
{
    free(o->out);
    free(o->err);
}

/* The JSON line of a figure, or NULL. */
static const char *json_line(const char *out, const char *bench, const char *figure, char *line, size_t cap)
{
    char key[160];
    snprintf(key, sizeof key, "{\"bench\":\"%s\",\"figure\":\"%s\",", bench, figure);
    const char *at = strstr(out, key);
    if (!at)
        return NULL;
    size_t len = strcspn(at, "\n");
    assert_true(len < cap);
    memcpy(line, at, len);
    line[len] = '\0';
    return line;
}

static bool has_peer(const char *line, const char *peer)
{
    char key[32];
    snprintf(key, sizeof key, ",\"%s\":", peer);
    const char *at = strstr(line, key);
    if (!at)
        return false;
    at += strlen(key);
    char *end;
    strtod(at, &end);
    return end != at && (*end == ',' || *end == '}');
}

struct expected {
    const char *bench, *figure;
    bool lwip, linux_peer; /* the peer must be there too */
};

static const struct expected quick_figures[] = {
    {"lifecycle", "lifecycles_per_s", true, true},
    {"lifecycle", "ns_per_lifecycle", true, true},
    {"lifecycle", "lifecycles_per_wall_s", true, true},
    {"lifecycle", "segments_per_lifecycle", true, false},
    {"lifecycle", "timewait_held", true, false},
    {"memory", "half_open_B", true, true},
    {"memory", "established_B", true, true},
    {"memory", "descriptor_slot_B", false, false},
    {"memory", "buffers_in_use_B", false, false},
    {"memory", "time_wait_B", true, true},
    {"memory", "sizeof_half_open_B", true, true},
    {"memory", "sizeof_established_B", true, true},
    {"memory", "sizeof_time_wait_B", true, true},
    {"memory", "sizeof_listener_B", true, false},
    {"memory", "held_1M_est_1M_tw_MiB", true, true},
    {"scale", "lifecycles_per_s_est_1k", true, true},
    {"scale", "ack_ns_est_1k", true, false},
    {"scale", "lifecycles_per_s_tw_1k", true, false},
    {"scale", "lifecycles_per_s_est_10k", true, false},
    {"scale", "ack_ns_est_10k", true, false},
    {"scale", "lifecycles_per_s_tw_10k", true, false},
    {"scale", "retained_pct_est", true, false},
    {"scale", "retained_pct_tw", true, false},
};

/* The CI run: every benchmark, quick, JSON and the SVG plot. */
static void test_quick_run(void **state)
{
    (void)state;
    char svg_path[] = "/tmp/synack-bench-XXXXXX";
    int fd = mkstemp(svg_path);
    assert_true(fd >= 0);
    close(fd);
    struct outcome o = synack("bench", "--quick", "--json", "--plot", svg_path, NULL);
    if (o.status != 0)
        fail_msg("synack bench --quick exited %d:\n%s", o.status, o.err);
    /* Show the figures in the test log: printed, never asserted. */
    printf("%s", o.out);
    char line[1024];
    for (size_t i = 0; i < sizeof quick_figures / sizeof quick_figures[0]; i++) {
        const struct expected *e = &quick_figures[i];
        if (!json_line(o.out, e->bench, e->figure, line, sizeof line))
            fail_msg("no figure %s/%s in:\n%s", e->bench, e->figure, o.out);
        if (!has_peer(line, "synack"))
            fail_msg("figure %s/%s has no synack value: %s", e->bench, e->figure, line);
#ifdef BENCH_EXPECT_LWIP
        if (e->lwip && !has_peer(line, "lwip"))
            fail_msg("figure %s/%s has no lwip value: %s\n%s", e->bench, e->figure, line, o.err);
#endif
        if (e->linux_peer && !has_peer(line, "linux"))
            fail_msg("figure %s/%s has no linux value: %s\n%s", e->bench, e->figure, line, o.err);
    }
    /* Scale points carry their series and x. */
    assert_non_null(json_line(o.out, "scale", "lifecycles_per_s_est_10k", line, sizeof line));
    assert_non_null(strstr(line, "\"series\":\"est\",\"held\":10000"));
    /* Progress went to stderr, never to the JSON. */
    assert_null(strstr(o.out, "bench: "));
    assert_non_null(strstr(o.err, "bench: "));

    FILE *f = fopen(svg_path, "r");
    assert_non_null(f);
    char *svg = slurp(f);
    fclose(f);
    unlink(svg_path);
    assert_int_equal(strncmp(svg, "<svg ", 5), 0);
    assert_non_null(strstr(svg, "<polyline"));
    assert_non_null(strstr(svg, "synack, established held"));
    assert_non_null(strstr(svg, "</svg>\n"));
    free(svg);
    outcome_free(&o);
}

/* The table: a header, the machine, one row per figure with both ratios. */
static void test_table(void **state)
{
    (void)state;
    struct outcome o = synack("bench", "lifecycle", "--quick", "--no-lwip", "--no-linux", "--lifecycles", "2000", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "synack bench (quick run), "));
    assert_non_null(strstr(o.out, "synack/lwip"));
    assert_non_null(strstr(o.out, "synack/linux"));
    const char *row = strstr(o.out, "\nlifecycle  lifecycles_per_s ");
    assert_non_null(row);
    assert_null(strstr(o.out, "memory "));
    outcome_free(&o);
}

static void expect_usage_error(struct outcome o)
{
    assert_int_equal(o.status, 2);
    assert_int_equal(strncmp(o.err, "synack: bench: ", 15), 0);
    assert_int_equal(strchr(o.err, '\n') - o.err + 1, (long)strlen(o.err));
    assert_string_equal(o.out, "");
    outcome_free(&o);
}

static void test_bad_usage(void **state)
{
    (void)state;
    expect_usage_error(synack("bench", "nosuch", NULL));
    expect_usage_error(synack("bench", "--tw-held", "0", NULL));
    expect_usage_error(synack("bench", "--lifecycles", "-3", NULL));
    expect_usage_error(synack("bench", "--frobnicate", NULL));
    struct outcome o = synack("bench", "--quick", "--plot", "/nonexistent-dir/x.svg", NULL);
    assert_int_equal(o.status, 1);
    assert_non_null(strstr(o.err, "cannot write /nonexistent-dir/x.svg"));
    outcome_free(&o);
    o = synack("bench", "--help", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "usage: synack bench"));
    outcome_free(&o);
}

/* Output functions on made-up figures: absent peers are omitted from the
 * JSON and shown as "-" in the table; the ratio is synack / peer. */
static void test_formats(void **state)
{
    (void)state;
    struct bench_results r;
    bench_results_init(&r);
    struct bench_figure *f = bench_figure_get(&r, "lifecycle", "lifecycles_per_s", "1/s", false);
    assert_non_null(f);
    bench_figure_set(f, BENCH_SYNACK, 1000000);
    bench_figure_set(f, BENCH_LINUX, 20000);
    assert_ptr_equal(bench_figure_get(&r, "lifecycle", "lifecycles_per_s", "1/s", false), f);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    bench_print_json(m, &r);
    fclose(m);
    assert_string_equal(buf, "{\"bench\":\"lifecycle\",\"figure\":\"lifecycles_per_s\",\"unit\":\"1/s\","
                             "\"synack\":1000000,\"linux\":20000,\"better\":\"higher\"}\n");
    free(buf);
    m = open_memstream(&buf, &len);
    bench_print_table(m, &r);
    fclose(m);
    assert_non_null(strstr(buf, "1,000,000"));
    assert_non_null(strstr(buf, "50.0x"));
    assert_non_null(strstr(buf, "       -  "));
    free(buf);
    m = open_memstream(&buf, &len);
    assert_int_equal(bench_write_svg(m, &r), 0);
    fclose(m);
    assert_non_null(strstr(buf, "no data (run bench scale)"));
    free(buf);
    bench_results_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_quick_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
