/* `synack track` as users run it: outputs, exit statuses, one-line errors
 * for bad input, and live capture stopped by SIGINT with a final report
 * (in a private network namespace; root only). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns_util.h"
#include "track_test_util.h"

#ifndef SYNACK_BIN
#error "SYNACK_BIN must name the synack binary"
#endif

#define A true
#define B false

static bool in_netns;

struct cmd_result {
    int status;
    char *out, *err;
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)n + 1);
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

static pid_t spawn(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        execv(SYNACK_BIN, argv);
        _exit(127);
    }
    return pid;
}

static void finish(pid_t pid, struct cmd_result *r, const char *out_path, const char *err_path)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st)); /* never a crash */
    r->status = WEXITSTATUS(st);
    r->out = slurp(out_path);
    r->err = slurp(err_path);
}

/* Runs synack with the given arguments (NULL-terminated). */
static void run(struct cmd_result *r, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)"synack";
    argv[n++] = (char *)"track";
    va_list ap;
    va_start(ap, r);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 31)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    const char *o = tt_path("stdout"), *e = tt_path("stderr");
    finish(spawn(argv, o, e), r, o, e);
}

static void done(struct cmd_result *r)
{
    free(r->out);
    free(r->err);
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char *sample(void)
{
    static char path[320];
    if (path[0])
        return path;
    snprintf(path, sizeof path, "%s", tt_path("cli-sample.pcap"));
    struct tt_gen g;
    assert_int_equal(tt_open(&g, path, TT_ETHER), 0);
    struct tt_conv c;
    tt_conv_init(&c, &g, "10.0.0.1:40000", "10.0.0.2:80");
    tt_send(&c, 1.0, A, "S", 1000, 0, 0, 64240);
    tt_send(&c, 1.1, B, "S.", 5000, 1001, 0, 65160);
    tt_send(&c, 1.2, A, ".", 1001, 5001, 0, 502);
    tt_send(&c, 1.5, A, "F.", 1001, 5001, 0, 501);
    tt_send(&c, 1.6, B, "F.", 5001, 1002, 0, 509);
    tt_send(&c, 1.7, A, ".", 1002, 5002, 0, 501);
    struct tt_conv d;
    tt_conv_init(&d, &g, "10.0.0.3:40001", "10.0.0.2:81");
    tt_send(&d, 2.0, A, "S", 7000, 0, 0, 64240);
    tt_send(&d, 2.001, B, "R.", 0, 7001, 0, 0);
    tt_close(&g);
    return path;
}

static void test_help_and_usage(void **state)
{
    (void)state;
    struct cmd_result r;
    run(&r, "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: synack track FILE..."));
    done(&r);
    run(&r, NULL);
    assert_int_equal(r.status, 2);
    assert_int_equal(lines(r.err), 1);
    done(&r);
    run(&r, "--format", "xml", sample(), NULL);
    assert_int_equal(r.status, 2);
    assert_int_equal(lines(r.err), 1);
    done(&r);
    run(&r, "--nope", NULL);
    assert_int_equal(r.status, 2);
    done(&r);
}

static void test_conn_log_tsv_and_json(void **state)
{
    (void)state;
    struct cmd_result r;
    run(&r, sample(), NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    assert_non_null(strstr(r.out, "#path\tconn\n"));
    assert_non_null(strstr(r.out, "\tSF\t-\t-\t0\tShAFf\t"));
    assert_non_null(strstr(r.out, "\tREJ\t-\t-\t0\tSr\t"));
    assert_non_null(strstr(r.out, "\n#close\t"));
    done(&r);
    run(&r, "--format", "json", sample(), NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(lines(r.out), 2);
    assert_non_null(strstr(r.out, "\"conn_state\":\"REJ\""));
    done(&r);
}

static void test_summary_anomalies_ladder(void **state)
{
    (void)state;
    struct cmd_result r;
    run(&r, "--summary", sample(), NULL);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "#path"));
    assert_non_null(strstr(r.out, "conn_state: SF 1 REJ 1\n"));
    assert_non_null(strstr(r.out, "connection_refused"));
    done(&r);
    run(&r, "--anomalies", "--format", "json", sample(), NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"name\":\"connection_refused\""));
    done(&r);

    /* The ladder of the first connection, by the uid from the log. */
    run(&r, "--format", "json", sample(), NULL);
    char uid[TRACK_UID_LEN] = "";
    const char *u = strstr(r.out, "\"uid\":\"");
    assert_non_null(u);
    memcpy(uid, u + 7, 18);
    done(&r);
    run(&r, sample(), "--ladder", uid, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "SYN-SENT"));
    assert_non_null(strstr(r.out, "final: 10.0.0.1:40000 TIME-WAIT, 10.0.0.2:80 CLOSED\n"));
    done(&r);
    run(&r, sample(), "--ladder", uid, "--format", "mermaid", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "sequenceDiagram\n"));
    done(&r);
    run(&r, sample(), "--ladder", uid, "--format", "svg", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "<svg "));
    done(&r);
    run(&r, sample(), "--ladder", "CnoSuchConnection1", NULL);
    assert_int_equal(r.status, 1);
    assert_int_equal(lines(r.err), 1);
    done(&r);
}

static uint8_t *pcap_header(uint8_t *p, uint32_t snaplen, uint32_t linktype)
{
    uint32_t w[6] = {0xa1b2c3d4, 0x00040002, 0, 0, snaplen, linktype};
    memcpy(p, w, sizeof w);
    return p + 24;
}

/* Each bad file: exit 1, exactly one line on stderr naming the file. */
static void expect_bad(const char *path)
{
    struct cmd_result r;
    run(&r, path, NULL);
    assert_int_equal(r.status, 1);
    assert_int_equal(lines(r.err), 1);
    assert_non_null(strstr(r.err, "synack: track: "));
    assert_non_null(strstr(r.err, path));
    done(&r);
}

static void test_bad_input_files(void **state)
{
    (void)state;
    expect_bad(tt_path("missing.pcap"));

    const char *p = tt_path("magic.pcap");
    tt_write_file(p, "GIF89a not a capture file....", 29);
    expect_bad(p);

    uint8_t buf[128], *e = pcap_header(buf, 65535, 1);
    p = tt_path("short.pcap");
    tt_write_file(p, buf, 12);
    expect_bad(p);

    uint32_t rec[4] = {1, 0, 0x7ffffff0u, 0x7ffffff0u};
    memcpy(e, rec, sizeof rec);
    p = tt_path("absurd.pcap");
    tt_write_file(p, buf, (size_t)(e - buf) + sizeof rec);
    expect_bad(p);

    uint32_t rec2[4] = {1, 0, 60, 60};
    memcpy(e, rec2, sizeof rec2);
    memset(e + 16, 0x55, 20);
    p = tt_path("cut.pcap");
    tt_write_file(p, buf, (size_t)(e - buf) + 16 + 20);
    expect_bad(p);

    pcap_header(buf, 65535, 147);
    p = tt_path("user0.pcap");
    tt_write_file(p, buf, 24);
    expect_bad(p);

    expect_bad(tt_tmpdir()); /* a directory */

    /* A good file and a bad one: the good one is still reported. */
    struct cmd_result r;
    run(&r, sample(), tt_path("missing.pcap"), NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "\tSF\t"));
    assert_int_equal(lines(r.err), 1);
    done(&r);
}

static void test_log_files(void **state)
{
    (void)state;
    const char *log = tt_path("conn.log"), *alog = tt_path("anomaly.log");
    struct cmd_result r;
    run(&r, "--summary", "--log", log, "--anomaly-log", alog, sample(), NULL);
    assert_int_equal(r.status, 0);
    char *c = slurp(log), *a = slurp(alog);
    assert_non_null(strstr(c, "#path\tconn\n"));
    assert_non_null(strstr(c, "\tSF\t"));
    assert_non_null(strstr(a, "#path\tanomaly\n"));
    assert_non_null(strstr(a, "connection_refused"));
    free(c);
    free(a);
    done(&r);
    run(&r, "--log", "/nonexistent-dir/conn.log", sample(), NULL);
    assert_int_equal(r.status, 1);
    assert_int_equal(lines(r.err), 1);
    done(&r);
}

static void test_live_bad_interface(void **state)
{
    (void)state;
    struct cmd_result r;
    run(&r, "-i", "nosuchif0", NULL);
    assert_int_equal(r.status, 1);
    assert_int_equal(lines(r.err), 1);
    assert_non_null(strstr(r.err, "nosuchif0"));
    done(&r);
    run(&r, "-i", "lo", "-f", "this is not bpf ((", NULL);
    if (geteuid() == 0) {
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "filter"));
    }
    done(&r);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void test_live_sigint_final_report(void **state)
{
    (void)state;
    if (!in_netns)
        skip();
    const char *o = tt_path("live.out"), *e = tt_path("live.err"), *log = tt_path("live-conn.log");
    char *argv[] = {"synack", "track", "-i", "lo", "-f", "tcp port 9090", "--interval", "3600", "--log",
                    (char *)log, "--format", "json", NULL};
    pid_t pid = spawn(argv, o, e);
    /* Wait until it listens (it says so on stderr). */
    for (int i = 0; i < 200; i++) {
        char *err = slurp(e);
        bool up = strstr(err, "listening") != NULL;
        free(err);
        if (up)
            break;
        sleep_ms(25);
    }
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(9090);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    int s = accept(lfd, NULL, NULL);
    assert_true(s >= 0);
    assert_int_equal(send(c, "hello", 5, 0), 5);
    char buf[16];
    assert_int_equal(recv(s, buf, sizeof buf, 0), 5);
    close(c);
    assert_int_equal(recv(s, buf, sizeof buf, 0), 0);
    close(s);
    close(lfd);
    sleep_ms(500); /* let the capture catch up before asking it to stop */
    kill(pid, SIGINT);
    struct cmd_result r;
    finish(pid, &r, o, e);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "{\"kind\":\"summary\""));
    char *conn = slurp(log);
    assert_non_null(strstr(conn, "\"id.resp_p\":9090"));
    assert_non_null(strstr(conn, "\"conn_state\":\"SF\""));
    assert_non_null(strstr(conn, "\"orig_state\":\"TIME-WAIT\""));
    free(conn);
    done(&r);
}

static int teardown(void **state)
{
    (void)state;
    tt_tmp_cleanup();
    return 0;
}

int main(void)
{
    in_netns = netns_enter_private();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage),         cmocka_unit_test(test_conn_log_tsv_and_json),
        cmocka_unit_test(test_summary_anomalies_ladder), cmocka_unit_test(test_bad_input_files),
        cmocka_unit_test(test_log_files),              cmocka_unit_test(test_live_bad_interface),
        cmocka_unit_test(test_live_sigint_final_report),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
