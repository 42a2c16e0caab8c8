/* Differential tests against Linux (diff.h): the comparator's rules, then
 * random scripts run against synack and against the kernel.
 *
 * SYNACK_DIFF_SEED=S SYNACK_DIFF_SCRIPTS=N picks the seeds S..S+N-1 (default
 * 1..8; CI runs 1..5 and 6..10 as two ctest entries; under valgrind only
 * the first seed of each entry); every seed is printed with its verdict, and a
 * disagreement prints the script and both traces. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "interop.h"

#define DEFAULT_SCRIPTS 8
#define LIGHT_SCRIPTS 1 /* per entry under valgrind (light mode, interop.h) */

static void test_script_is_reproducible(void **state)
{
    (void)state;
    struct diff_script a, b, c;
    diff_script_make(42, &a);
    diff_script_make(42, &b);
    diff_script_make(43, &c);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.nops >= 5 && a.nops <= DIFF_MAX_OPS);
    assert_int_equal(a.ops[0].kind, DIFF_CONNECT);
    assert_int_equal(a.ops[1].kind, DIFF_ACCEPT);
    assert_true(memcmp(&a, &c, sizeof a) != 0);
}

/* No call after a side closed; every script closes nothing twice. */
static void test_script_never_uses_a_closed_socket(void **state)
{
    (void)state;
    for (uint32_t seed = 1; seed < 500; seed++) {
        struct diff_script sc;
        diff_script_make(seed, &sc);
        bool closed[2] = {false, false};
        for (int i = 0; i < sc.nops; i++) {
            assert_false(closed[sc.ops[i].side]);
            if (sc.ops[i].kind == DIFF_CLOSE || sc.ops[i].kind == DIFF_ABORT)
                closed[sc.ops[i].side] = true;
        }
    }
}

static void two_steps(struct diff_script *sc, struct diff_trace *a, struct diff_trace *b)
{
    diff_script_make(7, sc);
    sc->nops = 2;
    memset(a, 0, sizeof *a);
    a->nsteps = 2;
    snprintf(a->steps[0].result, sizeof a->steps[0].result, "EINPROGRESS");
    snprintf(a->steps[1].result, sizeof a->steps[1].result, "OK");
    a->steps[0].subject = a->steps[1].subject = TCP_STATE_ESTABLISHED;
    a->steps[0].peer = a->steps[1].peer = TCP_STATE_ESTABLISHED;
    *b = *a;
}

static void test_compare_agrees_on_equal_traces(void **state)
{
    (void)state;
    struct diff_script sc;
    struct diff_trace a, b;
    two_steps(&sc, &a, &b);
    char why[128];
    assert_int_equal(diff_compare(&sc, &a, &b, why, sizeof why), -1);
}

static void test_compare_finds_a_different_errno(void **state)
{
    (void)state;
    struct diff_script sc;
    struct diff_trace a, b;
    two_steps(&sc, &a, &b);
    snprintf(b.steps[1].result, sizeof b.steps[1].result, "EAGAIN");
    char why[128];
    assert_int_equal(diff_compare(&sc, &a, &b, why, sizeof why), 1);
    assert_non_null(strstr(why, "EAGAIN"));
}

static void test_compare_finds_a_different_state(void **state)
{
    (void)state;
    struct diff_script sc;
    struct diff_trace a, b;
    two_steps(&sc, &a, &b);
    b.steps[0].peer = TCP_STATE_SYN_RECEIVED;
    char why[128];
    assert_int_equal(diff_compare(&sc, &a, &b, why, sizeof why), 0);
}

/* The kernel is sampled: a state it skipped is fine, one synack never
 * reported is not. */
static void test_compare_state_sequences(void **state)
{
    (void)state;
    struct diff_script sc;
    struct diff_trace a, b;
    two_steps(&sc, &a, &b);
    enum tcp_state events[] = {TCP_STATE_SYN_SENT, TCP_STATE_ESTABLISHED, TCP_STATE_FIN_WAIT_1,
                               TCP_STATE_FIN_WAIT_2, TCP_STATE_TIME_WAIT};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        diff_trace_seen(&a, events[i]);
    diff_trace_seen(&b, TCP_STATE_CLOSED); /* before connect(): ignored */
    diff_trace_seen(&b, TCP_STATE_ESTABLISHED);
    diff_trace_seen(&b, TCP_STATE_ESTABLISHED);
    diff_trace_seen(&b, TCP_STATE_TIME_WAIT);
    assert_int_equal(b.nseen, 2);
    char why[128];
    assert_int_equal(diff_compare(&sc, &a, &b, why, sizeof why), -1);
    diff_trace_seen(&b, TCP_STATE_CLOSING);
    assert_int_equal(diff_compare(&sc, &a, &b, why, sizeof why), 2);
}

static unsigned env_number(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

static void test_scripts_against_the_kernel(void **state)
{
    (void)state;
    char why[256];
    struct diff_env *e = diff_env_new(why, sizeof why);
    if (!e) {
        print_message("SKIP: %s (CI runs the differential tests as root)\n", why);
        skip();
    }
    unsigned first = env_number("SYNACK_DIFF_SEED", 1), count = env_number("SYNACK_DIFF_SCRIPTS", DEFAULT_SCRIPTS);
    if (io_light() && count > LIGHT_SCRIPTS) {
        print_message("light mode (valgrind): %u of the %u scripts\n", LIGHT_SCRIPTS, count);
        count = LIGHT_SCRIPTS;
    }
    static struct diff_trace with_synack, with_kernel;
    unsigned disagreements = 0, steps = 0, drops = 0;
    for (unsigned k = 0; k < count; k++) {
        struct diff_script sc;
        diff_script_make(first + k, &sc);
        diff_run(e, true, &sc, (int)k, &with_synack);
        diff_run(e, false, &sc, (int)k, &with_kernel);
        steps += (unsigned)sc.nops;
        for (int i = 0; i < sc.nops; i++)
            drops += sc.ops[i].drop_to_peer || sc.ops[i].drop_to_subject;
        int at = diff_compare(&sc, &with_synack, &with_kernel, why, sizeof why);
        printf("diff: seed %u: %d steps: %s%s\n", sc.seed, sc.nops, at < 0 ? "agree" : "DISAGREE: ", at < 0 ? "" : why);
        if (at >= 0 || getenv("SYNACK_DIFF_VERBOSE")) {
            diff_print(&sc, &with_synack, &with_kernel);
            disagreements += at >= 0;
        }
        fflush(stdout);
    }
    printf("diff: %u scripts (seeds %u..%u), %u steps, %u with drops: %u disagreements\n", count, first,
           first + count - 1, steps, drops, disagreements);
    diff_env_free(e);
    assert_int_equal(disagreements, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_is_reproducible),
        cmocka_unit_test(test_script_never_uses_a_closed_socket),
        cmocka_unit_test(test_compare_agrees_on_equal_traces),
        cmocka_unit_test(test_compare_finds_a_different_errno),
        cmocka_unit_test(test_compare_finds_a_different_state),
        cmocka_unit_test(test_compare_state_sequences),
        cmocka_unit_test(test_scripts_against_the_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
