/* The soaks themselves (src/sim/soak*.c): they catch what they promise to
 * catch (a corrupted stream, a hang), a trial replays exactly from its
 * seed, and `synack soak` answers bad input with one line and status 2.
 * The quick soaks run as their own ctest entries (soak_stream_quick,
 * soak_faults_quick). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sim/soak_internal.h"

static struct soak_world *world_new(struct soak_summary *sum, uint64_t rate)
{
    struct soak_world *w = malloc(sizeof *w);
    assert_non_null(w);
    struct tcp_config tcp[2];
    tcp_config_default(&tcp[0]);
    tcp_config_default(&tcp[1]);
    struct simnet_link_params p = {.delay = TCP_MSEC(10), .rate = rate};
    memset(sum, 0, sizeof *sum);
    assert_int_equal(soak_world_init(w, 42, tcp, false, &p, &p, sum), 0);
    return w;
}

static void flip_key(struct soak_world *w, void *arg)
{
    (void)arg;
    w->conns[0].key[0] ^= 1; /* the sender's bytes from now on differ */
}

/* A byte that is not what was sent is reported, with where. */
static void test_detects_corrupted_stream(void **state)
{
    (void)state;
    struct soak_summary sum;
    struct soak_world *w = world_new(&sum, 1000000); /* 1 MB/s: a second of transfer */
    struct soak_conn *c = soak_conn_add(w, 0);
    c->size[0] = 1u << 20;
    soak_at(w, TCP_MSEC(500), flip_key, NULL);
    simnet_run(w->net, TCP_SEC(3600));
    soak_finish(w);
    assert_non_null(strstr(w->fail, "wrong byte"));
    soak_world_free(w);
    free(w);
}

static void freeze_server(struct soak_world *w, void *arg)
{
    (void)arg;
    soak_host_down(w, 1);
}

/* An application still waiting at the deadline is a hang. */
static void test_detects_hang(void **state)
{
    (void)state;
    struct soak_summary sum;
    struct soak_world *w = world_new(&sum, 0);
    struct soak_conn *c = soak_conn_add(w, 0);
    c->size[0] = 100;
    c->size[1] = 100000;
    soak_at(w, TCP_MSEC(25), freeze_server, NULL);
    soak_run_until(w, TCP_SEC(10));
    soak_finish(w);
    assert_non_null(strstr(w->fail, "hang"));
    soak_world_free(w);
    free(w);
}

/* A clean world keeps every promise and drains to nothing. */
static void test_clean_transfer_completes(void **state)
{
    (void)state;
    struct soak_summary sum;
    struct soak_world *w = world_new(&sum, 0);
    struct soak_conn *c = soak_conn_add(w, 0);
    c->size[0] = 300000;
    c->size[1] = 200000;
    simnet_run(w->net, TCP_SEC(3600));
    assert_int_equal(soak_finish(w), 0);
    assert_string_equal(w->fail, "");
    assert_int_equal(sum.completed, 1);
    assert_int_equal(sum.ends[SOAK_END_OK], 2);
    assert_int_equal(sum.bytes_delivered, 500000);
    soak_world_free(w);
    free(w);
}

/* --seed N --only I replays trial I exactly. */
static void test_trial_replays_exactly(void **state)
{
    (void)state;
    struct soak_options o;
    soak_options_default(&o, true, true);
    o.seed = 7;
    o.only_set = true;
    o.only = 3;
    struct soak_summary a, b;
    assert_int_equal(soak_faults(&o, &a), 0);
    assert_int_equal(soak_faults(&o, &b), 0);
    assert_int_equal(a.trials, 1);
    assert_true(a.events > 0);
    assert_int_equal(a.events, b.events);
    assert_int_equal(a.packets, b.packets);
    assert_int_equal(a.bytes_delivered, b.bytes_delivered);
    assert_memory_equal(a.faults, b.faults, sizeof a.faults);
    assert_memory_equal(a.ends, b.ends, sizeof a.ends);
}

/* ---- the command ---- */
static int run(const char *args, char *out, size_t cap)
{
    const char *bin = getenv("SYNACK_BIN");
    if (!bin)
        skip();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void assert_one_line_error(const char *args)
{
    char out[4096];
    assert_int_equal(run(args, out, sizeof out), 2);
    assert_non_null(strstr(out, "synack: soak: "));
    assert_non_null(strchr(out, '\n'));
    assert_null(strchr(strchr(out, '\n') + 1, '\n'));
}

static void test_cli_bad_input(void **state)
{
    (void)state;
    assert_one_line_error("soak");
    assert_one_line_error("soak bogus");
    assert_one_line_error("soak stream faults");
    assert_one_line_error("soak stream --count 0");
    assert_one_line_error("soak stream --seed x");
    assert_one_line_error("soak faults --bytes 10");
    assert_one_line_error("soak stream --nope");
}

/* --json: one summary object on stdout. */
static void test_cli_json_summary(void **state)
{
    (void)state;
    const char *bin = getenv("SYNACK_BIN");
    if (!bin)
        skip();
    char cmd[512], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' soak faults --count 20 --seed 3 --json 2>/dev/null", bin);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    assert_int_equal(pclose(p), 0);
    assert_true(n > 2 && out[0] == '{' && out[n - 2] == '}' && out[n - 1] == '\n');
    assert_null(strchr(out, '\n') + 1 < out + n ? strchr(strchr(out, '\n') + 1, '\n') : NULL);
    assert_non_null(strstr(out, "\"kind\":\"faults\""));
    assert_non_null(strstr(out, "\"ok\":true"));
    assert_non_null(strstr(out, "\"faults\":{\"delay-spike\":"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detects_corrupted_stream),
        cmocka_unit_test(test_detects_hang),
        cmocka_unit_test(test_clean_transfer_completes),
        cmocka_unit_test(test_trial_replays_exactly),
        cmocka_unit_test(test_cli_bad_input),
        cmocka_unit_test(test_cli_json_summary),
    };
    return cmocka_run_group_tests_name("soak", tests, NULL, NULL);
}
