/* Timer wheel: exact firing times and order, against a linear-scan model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "tcp/timer_wheel.h"

/* Fixed-seed PRNG (splitmix64): every run draws the same sequence. */
static uint64_t prng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t prng_below(uint64_t *state, uint64_t bound)
{
    return bound == 0 ? 0 : prng_next(state) % bound;
}

/* ---- The reference: an array scanned linearly ---- */

#define MODEL_TIMERS 512

struct model_timer {
    struct timer_node node;
    bool armed;
    tcp_time_t expires;
};

struct model {
    struct timer_wheel wheel;
    struct model_timer timers[MODEL_TIMERS];
    tcp_time_t now;
    size_t armed;
    uint64_t fired;
};

static struct model_timer *model_timer_of(struct model *m, struct timer_node *n)
{
    struct model_timer *t = (struct model_timer *)((char *)n - offsetof(struct model_timer, node));
    assert_true(t >= m->timers && t < m->timers + MODEL_TIMERS);
    return t;
}

static tcp_time_t model_min(const struct model *m)
{
    tcp_time_t min = TCP_TIME_NEVER;
    for (size_t i = 0; i < MODEL_TIMERS; i++)
        if (m->timers[i].armed && m->timers[i].expires < min)
            min = m->timers[i].expires;
    return min;
}

static void model_arm(struct model *m, struct model_timer *t, tcp_time_t expires)
{
    timer_arm(&m->wheel, &t->node, expires);
    if (!t->armed)
        m->armed++;
    t->armed = true;
    t->expires = expires;
}

static void model_cancel(struct model *m, struct model_timer *t)
{
    timer_cancel(&m->wheel, &t->node);
    if (t->armed)
        m->armed--;
    t->armed = false;
}

static void model_check(const struct model *m)
{
    assert_int_equal(timer_count(&m->wheel), m->armed);
    assert_int_equal(timer_next_deadline(&m->wheel), model_min(m));
    for (size_t i = 0; i < MODEL_TIMERS; i++) {
        assert_int_equal(timer_armed(&m->timers[i].node), m->timers[i].armed);
        if (m->timers[i].armed)
            assert_int_equal(m->timers[i].node.expires, m->timers[i].expires);
    }
}

/* One expiry; checks it against the model. Returns the fired timer or NULL. */
static struct model_timer *model_expire_one(struct model *m)
{
    tcp_time_t min = model_min(m);
    struct timer_node *n = timer_expire_next(&m->wheel, m->now);
    if (n == NULL) {
        /* Nothing may be left behind that is due. */
        assert_true(min > m->now);
        return NULL;
    }
    struct model_timer *t = model_timer_of(m, n);
    assert_true(t->armed);
    assert_false(timer_armed(n));
    assert_int_equal(n->expires, t->expires);
    assert_true(t->expires <= m->now); /* never early */
    assert_int_equal(t->expires, min); /* earliest first */
    t->armed = false;
    m->armed--;
    m->fired++;
    return t;
}

/* A delay drawn from the mix a TCP stack produces, plus the edges. */
static tcp_time_t random_expiry(struct model *m, uint64_t *rng)
{
    uint64_t r = prng_below(rng, 100);
    tcp_time_t now = m->now;
    if (r < 25)
        return now + prng_below(rng, 100); /* inside the current 64 us */
    if (r < 45)
        return now + prng_below(rng, TCP_MSEC(2));
    if (r < 65)
        return now + prng_below(rng, TCP_SEC(2)); /* RTO, delayed ACK */
    if (r < 75)
        return now + prng_below(rng, TCP_SEC(3 * 3600)); /* keepalive */
    if (r < 80)
        return now + prng_below(rng, UINT64_C(1) << 41); /* 25 days */
    if (r < 86)
        return now - prng_below(rng, now < TCP_SEC(1) ? now + 1 : TCP_SEC(1)); /* past */
    if (r < 91)
        return now;
    if (r < 97) { /* tie with another timer */
        struct model_timer *other = &m->timers[prng_below(rng, MODEL_TIMERS)];
        return other->armed ? other->expires : now + 1;
    }
    if (r < 99)
        return now + (UINT64_C(1) << 50) + prng_below(rng, 1000); /* beyond any level < 8 */
    return TCP_TIME_NEVER;
}

static void advance(struct model *m, uint64_t *rng)
{
    uint64_t r = prng_below(rng, 100);
    tcp_time_t step;
    if (r < 40)
        step = 1;
    else if (r < 55)
        step = prng_below(rng, 64);
    else if (r < 75)
        step = prng_below(rng, TCP_MSEC(5));
    else if (r < 92)
        step = prng_below(rng, TCP_SEC(2));
    else
        step = TCP_SEC(3600) * (1 + prng_below(rng, 10)) + prng_below(rng, TCP_SEC(1)); /* hours */
    if (m->now > TCP_TIME_NEVER - 1 - step) /* keep NEVER unreachable */
        step = 0;
    m->now += step;
}

static void run_differential(uint64_t seed, tcp_time_t start, int operations)
{
    struct model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    uint64_t rng = seed;
    m->now = start;
    timer_wheel_init(&m->wheel, start);
    model_check(m);

    for (int op = 0; op < operations; op++) {
        uint64_t r = prng_below(&rng, 100);
        struct model_timer *t = &m->timers[prng_below(&rng, MODEL_TIMERS)];
        if (r < 35) {
            model_arm(m, t, random_expiry(m, &rng));
        } else if (r < 48) {
            model_cancel(m, t);
        } else if (r < 70) {
            advance(m, &rng);
        } else {
            /* Expire everything due (or only a few), sometimes re-arming the
             * fired timer from the handler as a retransmission would. */
            int limit = r < 90 ? MODEL_TIMERS * 4 : 1 + (int)prng_below(&rng, 3);
            for (int i = 0; i < limit; i++) {
                struct model_timer *fired = model_expire_one(m);
                if (fired == NULL)
                    break;
                uint64_t what = prng_below(&rng, 10);
                if (what < 3)
                    model_arm(m, fired, m->now + 1 + prng_below(&rng, TCP_SEC(1)));
                else if (what == 3)
                    model_arm(m, fired, m->now - prng_below(&rng, m->now < 5 ? m->now + 1 : 5)); /* again, at once */
                else if (what == 4)
                    model_cancel(m, &m->timers[prng_below(&rng, MODEL_TIMERS)]);
                model_check(m);
            }
        }
        model_check(m);
    }
    /* Drain: jump to the end of time (but not NEVER) and fire the rest. */
    m->now = TCP_TIME_NEVER - 1;
    while (model_expire_one(m) != NULL)
        model_check(m);
    model_check(m);
    assert_true(m->fired > (uint64_t)operations / 20);
    free(m);
}

static void test_differential_from_zero(void **state)
{
    (void)state;
    run_differential(1, 0, 100000);
}

static void test_differential_near_digit_boundary(void **state)
{
    (void)state;
    /* Just below a level-6 boundary: many carries across every level. */
    run_differential(2, (UINT64_C(1) << 36) - 3, 100000);
}

static void test_differential_large_start(void **state)
{
    (void)state;
    run_differential(3, (UINT64_C(1) << 52) + 123456789, 100000);
}

/* ---- Targeted cases ---- */

/* RFC 6298 §5.5 doubling from a 1 s initial RTO (§2.1): 1, 3, 7, 15 ... s.
 * The simulator asserts these exact times. */
static void test_rto_backoff_exact_times(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct timer_node rto = {0}, early = {0}, late = {0};
    timer_wheel_init(&w, 0);
    tcp_time_t rto_len = TCP_SEC(1);
    timer_arm(&w, &rto, rto_len);
    timer_arm(&w, &early, TCP_SEC(1) - 1);
    timer_arm(&w, &late, TCP_SEC(1) + 1);
    tcp_time_t expected = TCP_SEC(1);
    const tcp_time_t sequence[] = {TCP_SEC(1), TCP_SEC(3), TCP_SEC(7), TCP_SEC(15), TCP_SEC(31), TCP_SEC(63), TCP_SEC(127)};
    size_t fired_rto = 0;
    while (fired_rto < sizeof sequence / sizeof sequence[0]) {
        tcp_time_t deadline = timer_next_deadline(&w);
        struct timer_node *n;
        if (deadline > 0)
            assert_null(timer_expire_next(&w, deadline - 1));
        n = timer_expire_next(&w, deadline);
        assert_non_null(n);
        assert_int_equal(n->expires, deadline);
        if (n == &rto) {
            assert_int_equal(deadline, sequence[fired_rto]);
            assert_int_equal(deadline, expected);
            fired_rto++;
            rto_len *= 2;
            expected = deadline + rto_len;
            timer_arm(&w, &rto, expected);
        } else {
            assert_true(n == &early || n == &late);
        }
    }
    assert_int_equal(timer_next_deadline(&w), TCP_SEC(255));
}

/* Polling at an odd period: a timer never fires before its time and fires
 * at the first poll at or after it. */
static void test_polling_never_early(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct timer_node rto = {0};
    timer_wheel_init(&w, 0);
    timer_arm(&w, &rto, TCP_SEC(1));
    const tcp_time_t period = 997;
    tcp_time_t rto_len = TCP_SEC(1);
    int fired = 0;
    for (tcp_time_t now = 0; now < TCP_SEC(64); now += period) {
        struct timer_node *n = timer_expire_next(&w, now);
        if (n == NULL)
            continue;
        assert_ptr_equal(n, &rto);
        assert_true(now >= n->expires);
        assert_true(now - n->expires < period);
        assert_null(timer_expire_next(&w, now));
        rto_len *= 2;
        timer_arm(&w, &rto, n->expires + rto_len);
        fired++;
    }
    assert_int_equal(fired, 6); /* 1, 3, 7, 15, 31, 63 s */
}

static void test_rearm_armed_node(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct timer_node n = {0};
    timer_wheel_init(&w, TCP_SEC(10));
    timer_arm(&w, &n, TCP_SEC(15));
    timer_arm(&w, &n, TCP_SEC(12)); /* earlier */
    assert_int_equal(timer_count(&w), 1);
    assert_int_equal(timer_next_deadline(&w), TCP_SEC(12));
    assert_null(timer_expire_next(&w, TCP_SEC(12) - 1));
    assert_ptr_equal(timer_expire_next(&w, TCP_SEC(12)), &n);
    assert_null(timer_expire_next(&w, TCP_SEC(20)));
    assert_int_equal(timer_count(&w), 0);

    timer_arm(&w, &n, TCP_SEC(21));
    timer_arm(&w, &n, TCP_SEC(7200) + TCP_SEC(20)); /* later: keepalive */
    assert_int_equal(timer_count(&w), 1);
    assert_null(timer_expire_next(&w, TCP_SEC(7200)));
    assert_int_equal(timer_next_deadline(&w), TCP_SEC(7220));
    /* Re-arm while on the due list (armed in the past). */
    timer_arm(&w, &n, TCP_SEC(1));
    assert_int_equal(timer_next_deadline(&w), TCP_SEC(1));
    timer_arm(&w, &n, TCP_SEC(7300));
    assert_null(timer_expire_next(&w, TCP_SEC(7299)));
    assert_ptr_equal(timer_expire_next(&w, TCP_SEC(7300)), &n);
    assert_false(timer_armed(&n));
}

static void test_cancel_unarmed_is_noop(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct timer_node idle = {0}, n = {0};
    timer_wheel_init(&w, 0);
    timer_cancel(&w, &idle);
    assert_false(timer_armed(&idle));
    assert_int_equal(timer_count(&w), 0);
    assert_int_equal(timer_next_deadline(&w), TCP_TIME_NEVER);

    timer_arm(&w, &n, TCP_MSEC(40));
    timer_cancel(&w, &idle);
    assert_int_equal(timer_count(&w), 1);
    timer_cancel(&w, &n);
    timer_cancel(&w, &n);
    assert_false(timer_armed(&n));
    assert_int_equal(timer_count(&w), 0);
    assert_int_equal(timer_next_deadline(&w), TCP_TIME_NEVER);
    assert_null(timer_expire_next(&w, TCP_SEC(100)));

    /* Cancel from the due list. */
    timer_arm(&w, &n, TCP_SEC(50));
    timer_cancel(&w, &n);
    assert_null(timer_expire_next(&w, TCP_SEC(100)));
    assert_int_equal(timer_count(&w), 0);
}

/* Same millisecond, different microseconds, some already past. */
static void test_exact_order_within_a_tick(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct timer_node n[8] = {{0}};
    const tcp_time_t now = TCP_SEC(10);
    const tcp_time_t at[8] = {now + 999, now + 1, now, now - 3, now + 500, now - TCP_SEC(5), now + 1, now + 64};
    timer_wheel_init(&w, now);
    for (int i = 0; i < 8; i++)
        timer_arm(&w, &n[i], at[i]);
    assert_int_equal(timer_next_deadline(&w), now - TCP_SEC(5));

    const tcp_time_t order[] = {now - TCP_SEC(5), now - 3, now};
    for (int i = 0; i < 3; i++) {
        struct timer_node *x = timer_expire_next(&w, now);
        assert_non_null(x);
        assert_int_equal(x->expires, order[i]);
    }
    assert_null(timer_expire_next(&w, now));
    assert_int_equal(timer_next_deadline(&w), now + 1);
    const tcp_time_t rest[] = {now + 1, now + 1, now + 64, now + 500, now + 999};
    for (int i = 0; i < 5; i++) {
        if (i == 0 || rest[i] != rest[i - 1])
            assert_null(timer_expire_next(&w, rest[i] - 1));
        struct timer_node *x = timer_expire_next(&w, rest[i]);
        assert_non_null(x);
        assert_int_equal(x->expires, rest[i]);
    }
    assert_null(timer_expire_next(&w, TCP_SEC(11)));
}

/* 2^40 us ahead, hours-long jumps in one call, and TCP_TIME_NEVER. */
static void test_far_horizon_and_big_jumps(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct timer_node keepalive = {0}, days = {0}, horizon = {0}, never = {0};
    const tcp_time_t start = TCP_SEC(123);
    timer_wheel_init(&w, start);
    timer_arm(&w, &keepalive, start + TCP_SEC(7200));
    timer_arm(&w, &days, start + TCP_SEC(12 * 86400));
    timer_arm(&w, &horizon, start + (UINT64_C(1) << 40));
    timer_arm(&w, &never, TCP_TIME_NEVER);
    assert_int_equal(timer_next_deadline(&w), start + TCP_SEC(7200));

    assert_null(timer_expire_next(&w, start + TCP_SEC(7200) - 1));
    assert_ptr_equal(timer_expire_next(&w, start + TCP_SEC(7200)), &keepalive);
    assert_int_equal(timer_next_deadline(&w), start + TCP_SEC(12 * 86400));
    /* One jump past two of them: earliest first. */
    tcp_time_t far = start + (UINT64_C(1) << 41);
    assert_ptr_equal(timer_expire_next(&w, far), &days);
    assert_ptr_equal(timer_expire_next(&w, far), &horizon);
    assert_null(timer_expire_next(&w, far));
    assert_int_equal(timer_next_deadline(&w), TCP_TIME_NEVER);
    assert_int_equal(timer_count(&w), 1);
    assert_null(timer_expire_next(&w, TCP_TIME_NEVER - 1));
    /* Arming after a jump is relative to the new time. */
    struct timer_node soon = {0};
    timer_arm(&w, &soon, TCP_TIME_NEVER - 2);
    assert_int_equal(timer_next_deadline(&w), TCP_TIME_NEVER - 2);
    assert_ptr_equal(timer_expire_next(&w, TCP_TIME_NEVER - 1), &soon);
    assert_ptr_equal(timer_expire_next(&w, TCP_TIME_NEVER), &never);
    assert_int_equal(timer_count(&w), 0);
}

/* Many timers in one slot of a high level: the deadline stays exact as its
 * minimum is cancelled, and ties all fire. */
static void test_crowded_slot(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct timer_wheel w;
    struct timer_node *n = calloc(N, sizeof *n);
    assert_non_null(n);
    timer_wheel_init(&w, 0);
    for (int i = 0; i < N; i++) /* distinct, all in one level-3 slot (262 ms) */
        timer_arm(&w, &n[i], TCP_SEC(1) + (tcp_time_t)((i * 7919) % N) * 5);
    for (int k = 0; k < N / 2; k++) { /* cancel in increasing expiry order */
        assert_int_equal(timer_next_deadline(&w), TCP_SEC(1) + (tcp_time_t)k * 5);
        int i;
        for (i = 0; (tcp_time_t)((i * 7919) % N) != (tcp_time_t)k; i++)
            ;
        timer_cancel(&w, &n[i]);
    }
    assert_int_equal(timer_next_deadline(&w), TCP_SEC(1) + (N / 2) * 5);
    assert_null(timer_expire_next(&w, TCP_SEC(1)));
    tcp_time_t last = 0;
    int fired = 0;
    for (struct timer_node *x; (x = timer_expire_next(&w, TCP_SEC(2))) != NULL; fired++) {
        assert_true(x->expires >= last);
        last = x->expires;
    }
    assert_int_equal(fired, N - N / 2);

    for (int i = 0; i < N; i++) /* ties */
        timer_arm(&w, &n[i], TCP_SEC(3));
    timer_cancel(&w, &n[0]);
    assert_int_equal(timer_next_deadline(&w), TCP_SEC(3));
    assert_null(timer_expire_next(&w, TCP_SEC(3) - 1));
    for (fired = 0; timer_expire_next(&w, TCP_SEC(3)) != NULL; fired++)
        ;
    assert_int_equal(fired, N - 1);
    assert_int_equal(timer_next_deadline(&w), TCP_TIME_NEVER);
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rto_backoff_exact_times),
        cmocka_unit_test(test_polling_never_early),
        cmocka_unit_test(test_rearm_armed_node),
        cmocka_unit_test(test_cancel_unarmed_is_noop),
        cmocka_unit_test(test_exact_order_within_a_tick),
        cmocka_unit_test(test_far_horizon_and_big_jumps),
        cmocka_unit_test(test_crowded_slot),
        cmocka_unit_test(test_differential_from_zero),
        cmocka_unit_test(test_differential_near_digit_boundary),
        cmocka_unit_test(test_differential_large_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
