/* app/view and app/opts: what `synack ss` / `nstat` print from a control
 * reply, ss's timer text, and the knobs from flags and config files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/control.h"
#include "app/opts.h"
#include "app/view.h"

static void test_timer_text(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(ss_timer_str(200, b, sizeof b), "200ms");
    assert_string_equal(ss_timer_str(1200, b, sizeof b), "1.200sec");
    assert_string_equal(ss_timer_str(9501, b, sizeof b), "9.501sec");
    assert_string_equal(ss_timer_str(42000, b, sizeof b), "42sec");
    assert_string_equal(ss_timer_str(42999, b, sizeof b), "42sec");
    assert_string_equal(ss_timer_str(133000, b, sizeof b), "2min13sec");
    assert_string_equal(ss_timer_str(7140000, b, sizeof b), "119min");
    assert_string_equal(ss_timer_str(0, b, sizeof b), "0ms");
}

static const char REPLY[] =
    "{\"ok\":true,\"now_us\":5,\"sockets\":["
    "{\"state\":\"LISTEN\",\"sd\":0,\"local\":\"10.77.0.1:80\",\"remote\":\"0.0.0.0:0\",\"recv_q\":1,\"send_q\":511,"
    "\"syn_q\":2,\"syn_q_max\":511,\"timer\":\"off\",\"retrans\":0,\"orphan\":false},"
    "{\"state\":\"ESTABLISHED\",\"sd\":3,\"local\":\"10.77.0.1:80\",\"remote\":\"10.77.0.2:41000\",\"recv_q\":0,"
    "\"send_q\":10,\"syn_q\":0,\"syn_q_max\":0,\"timer\":\"on\",\"expires_us\":1200000,\"retrans\":3,\"orphan\":false},"
    "{\"state\":\"TIME-WAIT\",\"sd\":-1,\"local\":\"[fd77::1]:80\",\"remote\":\"[fd77::2]:41001\",\"recv_q\":0,"
    "\"send_q\":0,\"syn_q\":0,\"syn_q_max\":0,\"timer\":\"timewait\",\"expires_us\":42000000,\"retrans\":0,"
    "\"orphan\":false},"
    "{\"state\":\"SYN-RECEIVED\",\"sd\":-1,\"local\":\"10.77.0.1:80\",\"remote\":\"10.77.0.2:41002\",\"recv_q\":0,"
    "\"send_q\":0,\"syn_q\":0,\"syn_q_max\":0,\"timer\":\"on\",\"expires_us\":900000,\"retrans\":1,\"orphan\":false}"
    "]}";

static char *render(void (*fn)(FILE *, const struct ss_row *, size_t, unsigned), unsigned flags)
{
    char err[128];
    struct json *j = json_parse(REPLY, strlen(REPLY), err, sizeof err);
    assert_non_null(j);
    struct ss_row *rows;
    size_t n;
    assert_int_equal(ss_rows_from_reply(j, &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    json_free(j);
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    fn(f, rows, n, flags);
    fclose(f);
    free(rows);
    return text;
}

static void summary(FILE *f, const struct ss_row *rows, size_t n, unsigned flags)
{
    (void)flags;
    ss_print_summary(f, rows, n);
}

static void test_ss_table(void **state)
{
    (void)state;
    char *t = render(ss_print_table, SS_NUMERIC | SS_TIMERS);
    /* Default view: connected sockets only. */
    assert_non_null(strstr(t, "State       Recv-Q  Send-Q  Local Address:Port"));
    assert_non_null(strstr(t, "ESTAB       0       10      10.77.0.1:80       10.77.0.2:41000   timer:(on,1.200sec,3)"));
    assert_null(strstr(t, "LISTEN"));
    assert_null(strstr(t, "TIME-WAIT"));
    assert_null(strstr(t, "SYN-RECV"));
    free(t);
    t = render(ss_print_table, SS_NUMERIC | SS_LISTENING);
    assert_non_null(strstr(t, "LISTEN      1       511     10.77.0.1:80"));
    assert_non_null(strstr(t, "0.0.0.0:*"));
    assert_non_null(strstr(t, "syn-queue:2/511 accept-queue:1/511"));
    assert_null(strstr(t, "ESTAB"));
    free(t);
    t = render(ss_print_table, SS_ALL | SS_TIMERS | SS_NUMERIC);
    assert_non_null(strstr(t, "TIME-WAIT"));
    assert_non_null(strstr(t, "[fd77::2]:41001"));
    assert_non_null(strstr(t, "timer:(timewait,42sec,0)"));
    assert_non_null(strstr(t, "SYN-RECV"));
    free(t);
    t = render(ss_print_json, SS_ALL);
    assert_non_null(strstr(t, "{\"state\":\"TIME-WAIT\",\"recv_q\":0,\"send_q\":0,\"local\":\"[fd77::1]:80\""));
    int lines = 0;
    for (char *p = t; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
    free(t);
    t = render(summary, 0);
    assert_non_null(strstr(t, "TCP:   4 (estab 1, closed 0, orphaned 0, timewait 1)"));
    assert_non_null(strstr(t, "SYN-RECV      1"));
    free(t);
}

static void test_bad_replies(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"ok\":false,\"error\":\"boom\"}", "{\"ok\":true}", "{\"ok\":true,\"sockets\":{}}",
        "{\"ok\":true,\"sockets\":[{\"state\":\"NOPE\",\"local\":\"1.2.3.4:1\",\"remote\":\"1.2.3.4:2\"}]}",
        "{\"ok\":true,\"sockets\":[{\"state\":\"LISTEN\",\"local\":\"junk\",\"remote\":\"1.2.3.4:2\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128];
        struct json *j = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        assert_non_null(j);
        struct ss_row *rows;
        size_t n;
        assert_int_equal(ss_rows_from_reply(j, &rows, &n, err, sizeof err), -1);
        json_free(j);
    }
}

static void test_nstat(void **state)
{
    (void)state;
    static const char reply[] = "{\"ok\":true,\"tcp\":{\"ActiveOpens\":2,\"PassiveOpens\":0},\"link\":{\"TunInPackets\":9}}";
    char err[64];
    struct json *j = json_parse(reply, strlen(reply), err, sizeof err);
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(nstat_print(f, j, false, false), 0);
    fclose(f);
    assert_non_null(strstr(text, "ActiveOpens                     2\n"));
    assert_null(strstr(text, "PassiveOpens"));
    assert_non_null(strstr(text, "TunInPackets"));
    free(text);
    f = open_memstream(&text, &len);
    assert_int_equal(nstat_print(f, j, true, true), 0);
    fclose(f);
    assert_string_equal(text, "{\"tcp\":{\"ActiveOpens\":2,\"PassiveOpens\":0},\"link\":{\"TunInPackets\":9}}\n");
    free(text);
    json_free(j);
}

static void test_knobs(void **state)
{
    (void)state;
    struct tcp_config c;
    tcp_config_default(&c);
    char err[256];
    assert_int_equal(opts_sysctl_apply(&c, "tcp_fin_timeout=30", err, sizeof err), 0);
    assert_int_equal(c.tcp_fin_timeout, 30);
    assert_int_equal(opts_sysctl_apply(&c, "net.ipv4.tcp_syn_retries=2", err, sizeof err), 0);
    assert_int_equal(c.tcp_syn_retries, 2);
    assert_int_equal(opts_sysctl_apply(&c, "tcp_fin_timeout", err, sizeof err), -1);
    assert_int_equal(opts_sysctl_apply(&c, "tcp_fin_timeout=-3", err, sizeof err), -1);
    assert_int_equal(opts_sysctl_apply(&c, "tcp_fin_timeout=3x", err, sizeof err), -1);
    assert_int_equal(opts_sysctl_apply(&c, "tcp_rfc1337=2", err, sizeof err), -1);
    assert_non_null(strstr(err, "outside 0..1"));
    assert_int_equal(opts_sysctl_apply(&c, "tcp_mss=10", err, sizeof err), -1);
    assert_int_equal(opts_sysctl_apply(&c, "tcp_syncookies=2", err, sizeof err), 0);
    assert_int_equal(c.tcp_syncookies, 2);
    assert_int_equal(opts_sysctl_apply(&c, "no_such_knob=1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown knob"));

    char path[64];
    snprintf(path, sizeof path, "/tmp/synack-app-test-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    fprintf(f, "# lab settings\n  net.ipv4.tcp_timewait_len = 5  ; short\n\ntcp_keepalive_time=10\n");
    fclose(f);
    assert_int_equal(opts_config_load(&c, path, err, sizeof err), 0);
    assert_int_equal(c.tcp_timewait_len, 5);
    assert_int_equal(c.tcp_keepalive_time, 10);
    f = fopen(path, "w");
    fprintf(f, "tcp_timewait_len = 5\njust words\n");
    fclose(f);
    assert_int_equal(opts_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: expected name = value"));
    unlink(path);

    /* The shared flags: --sysctl takes several, the MSS follows the MTU. */
    struct net_opts o;
    net_opts_init(&o);
    char *argv[] = {"serve", "--sysctl", "tcp_fin_timeout=7", "tcp_syn_retries=3", "--mtu", "1400", "--tun", "t9",
                    "--no-control", "--other"};
    int argc = (int)(sizeof argv / sizeof argv[0]);
    int i = 1;
    assert_int_equal(net_opts_parse(&o, argc, argv, &i, err, sizeof err), 1);
    assert_int_equal(i, 3);
    i = 4;
    assert_int_equal(net_opts_parse(&o, argc, argv, &i, err, sizeof err), 1);
    i = 6;
    assert_int_equal(net_opts_parse(&o, argc, argv, &i, err, sizeof err), 1);
    i = 8;
    assert_int_equal(net_opts_parse(&o, argc, argv, &i, err, sizeof err), 1);
    i = 9;
    assert_int_equal(net_opts_parse(&o, argc, argv, &i, err, sizeof err), 0);
    assert_int_equal(net_opts_finish(&o, err, sizeof err), 0);
    assert_int_equal(o.rt.stack.tcp.tcp_fin_timeout, 7);
    assert_int_equal(o.rt.stack.tcp.tcp_syn_retries, 3);
    assert_int_equal(o.rt.stack.tcp.tcp_mss, 1360);
    assert_string_equal(o.rt.tun_name, "t9");
    assert_int_equal(o.rt.naddrs, 1);
    assert_null(o.rt.control_path);
    net_opts_free(&o);

    struct rt_addr a;
    assert_true(rt_addr_parse("10.77.0.1/24", &a) && a.prefix == 24);
    assert_true(rt_addr_parse("fd77::1", &a) && a.prefix == 128);
    assert_false(rt_addr_parse("10.77.0.1/33", &a));
    assert_false(rt_addr_parse("0.0.0.0/0", &a));
    assert_false(rt_addr_parse("10.77.0.1/", &a));
    assert_false(rt_addr_parse("fd77::1/129", &a));
}

/* Garbage handed to the control socket's handler gets an error reply. */
static void test_control_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "x", "{}", "[]", "{\"cmd\":1}", "{\"cmd\":\"ss\"", "{\"cmd\":\"rm -rf\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jbuf out;
        jbuf_init(&out);
        ctl_handle_line(NULL, bad[i], strlen(bad[i]), &out); /* errors never touch the runtime */
        char err[64];
        struct json *j = json_parse(out.data, out.len, err, sizeof err);
        assert_non_null(j);
        assert_false(json_get_bool(j, "ok", true));
        assert_non_null(json_get_str(j, "error", NULL));
        json_free(j);
        jbuf_free(&out);
    }
    char path[108];
    unsetenv("XDG_RUNTIME_DIR");
    ctl_default_path("tun7", path, sizeof path);
    char want[108];
    snprintf(want, sizeof want, "/tmp/synack-%u-tun7.sock", (unsigned)getuid());
    assert_string_equal(path, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_text), cmocka_unit_test(test_ss_table),  cmocka_unit_test(test_bad_replies),
        cmocka_unit_test(test_nstat),      cmocka_unit_test(test_knobs),     cmocka_unit_test(test_control_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
