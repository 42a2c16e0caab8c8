/* What the scenario tests share: running a scenario with the checks that
 * hold for all of them, and looking events up (failing the test, with the
 * ladder on stderr, when one is missing). */
#ifndef SYNACK_TESTS_SIM_CHECK_H
#define SYNACK_TESTS_SIM_CHECK_H

#include <stddef.h>

#include "sim/runner.h"

#define MS(x) TCP_MSEC(x)
#define S(x) TCP_SEC(x)
#define DELAY SIM_DEFAULT_DELAY

void dump_events(const struct sim_result *res);
/* Runs a scenario (default options, or opt) and checks what holds for all:
 * the run succeeds, no host that did not vanish holds a connection, SYNs
 * carry no data, SYN-ACKs ack ISN + 1, every renderer draws the log. */
void run(const char *name, struct sim_result *res);
void run_with(const char *name, const struct sim_options *opt, struct sim_result *res);
/* The first two of those checks on a run made otherwise: rc == 0 and no
 * connection left. */
void check_ended(const char *name, int rc, const struct sim_result *res);

int host(const struct sim_result *res, const char *name);
const struct tcp_counters *counters(const struct sim_result *res, const char *name);
/* The host's state path (sim_log_path) must be want. */
void check_path(const struct sim_result *res, const char *h, int remote_port, const char *want);
/* The nth segment from h with exactly these flags (NULL: any). */
const struct sim_event *seg(const struct sim_result *res, const char *h, const char *flags, unsigned n);
size_t seg_count(const struct sim_result *res, const char *h, const char *flags);
/* The first segment from h sent after event `after` (NULL: the start)
 * matching flags (NULL: any). */
const struct sim_event *seg_after(const struct sim_result *res, const struct sim_event *after, const char *h,
                                  const char *flags);
const struct sim_event *state_ev(const struct sim_result *res, const char *h, enum tcp_state from,
                                 enum tcp_state to, unsigned n);
/* The nth app event of h for call (exact name). */
const struct sim_event *app(const struct sim_result *res, const char *h, const char *call, unsigned n);
void check_app(const struct sim_result *res, const char *h, const char *call, unsigned n, const char *want);
size_t app_count(const struct sim_result *res, const char *h, const char *call, const char *result);
/* Bytes h read in all ("N bytes" results of recv). */
size_t bytes_read(const struct sim_result *res, const char *h);
/* The first note containing text, or NULL. */
const struct sim_event *find_note(const struct sim_result *res, const char *text);

/* main() of a scenario test: runs every test, or the one named by argv[1]
 * (as ctest calls them). */
struct CMUnitTest;
int run_tests_named(const struct CMUnitTest *tests, size_t n, int argc, char **argv);

/* Needs a struct sim_result named res in scope (dumped on failure). */
#define assert_time(got, want)                                                                       \
    do {                                                                                             \
        tcp_time_t got_ = (got), want_ = (want);                                                     \
        if (got_ != want_) {                                                                         \
            dump_events(&res);                                                                       \
            fail_msg("%s: t=%.6f s, want %.6f s", #got, (double)got_ / 1e6, (double)want_ / 1e6);    \
        }                                                                                            \
    } while (0)

#endif
