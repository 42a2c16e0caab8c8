/* The synack binary's sim command, run as a user would (the path comes in
 * SYNACK_BIN): listing, every output format, --pcap, and one-line errors
 * with exit status 2 for bad arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/catalog.h"

struct outcome {
    int status;
    char *out, *err;
};

static char *slurp(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* Runs synack with args (NULL-terminated); stdout and stderr go to
 * temporary files so that big outputs cannot block. */
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

    char out_path[] = "/tmp/synack-cli-out-XXXXXX", err_path[] = "/tmp/synack-cli-err-XXXXXX";
    int out = mkstemp(out_path), err = mkstemp(err_path);
    assert_true(out >= 0 && err >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out, 1);
        dup2(err, 2);
        execv(bin, argv);
        _exit(127);
    }
    int wstatus;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    struct outcome o;
    o.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    lseek(out, 0, SEEK_SET);
    lseek(err, 0, SEEK_SET);
    o.out = slurp(out);
    o.err = slurp(err);
    close(out);
    close(err);
    unlink(out_path);
    unlink(err_path);
    return o;
}

static void outcome_free(struct outcome *o)
{
    free(o->out);
    free(o->err);
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Exit 2 and exactly one line on stderr, starting with "synack: ". */
static void expect_usage_error(struct outcome o, const char *want)
{
    assert_int_equal(o.status, 2);
    assert_int_equal(lines(o.err), 1);
    assert_int_equal(strncmp(o.err, "synack: ", 8), 0);
    if (want)
        assert_string_equal(o.err, want);
    assert_string_equal(o.out, "");
    outcome_free(&o);
}

static void test_list(void **state)
{
    (void)state;
    static const char *const required[] = {
        "handshake", "data-on-third-ack", "syn-lost", "syn-timeout", "synack-lost", "ack-lost",
        "synack-timeout", "stale-syn", "simultaneous-open", "close-merged-finack", "half-close",
        "simultaneous-close", "last-ack-lost", "fin-wait-2-timeout", "orphan-fin-retries", "rst-refused",
        "rst-in-syn-received", "rst-abort", "keepalive-dead-peer", "process-exit", "accept-queue-full",
    };
    struct outcome o = synack("sim", "--list", NULL);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.err, "");
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\n%s ", required[i]);
        if (!strstr(o.out, want) && strncmp(o.out, want + 1, strlen(want + 1)) != 0)
            fail_msg("synack sim --list does not list %s", required[i]);
    }
    assert_int_equal(lines(o.out), sim_scenario_count());
    outcome_free(&o);
}

static void test_json(void **state)
{
    (void)state;
    struct outcome o = synack("sim", "handshake", "--format", "json", NULL);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.err, "");
    assert_true(lines(o.out) > 10);
    char *copy = strdup(o.out);
    for (char *save, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_int_equal(strncmp(line, "{\"kind\":\"", 9), 0);
        assert_int_equal(line[strlen(line) - 1], '}');
    }
    free(copy);
    assert_non_null(strstr(o.out, "\"from\":\"SYN-SENT\",\"to\":\"ESTABLISHED\""));
    outcome_free(&o);
}

static void test_formats_and_files(void **state)
{
    (void)state;
    struct outcome o = synack("sim", "handshake", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "SYN-SENT"));
    assert_non_null(strstr(o.out, "TIME-WAIT"));
    outcome_free(&o);
    o = synack("sim", "syn-lost", "--format", "mermaid", NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(strncmp(o.out, "sequenceDiagram\n", 16), 0);
    outcome_free(&o);

    char svg[] = "/tmp/synack-cli-svg-XXXXXX", pcap[] = "/tmp/synack-cli-pcap-XXXXXX";
    close(mkstemp(svg));
    close(mkstemp(pcap));
    o = synack("sim", "rst-refused", "--format", "svg", "-o", svg, "--pcap", pcap, "--seed", "3", NULL);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, "");
    outcome_free(&o);
    int fd = open(svg, O_RDONLY);
    assert_true(fd >= 0);
    char *text = slurp(fd);
    close(fd);
    assert_int_equal(strncmp(text, "<svg ", 5), 0);
    assert_non_null(strstr(text, "</svg>"));
    free(text);
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(pcap, perr);
    assert_non_null(p);
    struct pcap_pkthdr *h;
    const u_char *data;
    int packets = 0;
    while (pcap_next_ex(p, &h, &data) == 1)
        packets++;
    assert_int_equal(packets, 2); /* SYN and RST */
    pcap_close(p);
    unlink(svg);
    unlink(pcap);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    expect_usage_error(synack("sim", "nope", NULL), "synack: sim: unknown scenario 'nope' (see synack sim --list)\n");
    expect_usage_error(synack("sim", NULL), NULL);
    expect_usage_error(synack("sim", "handshake", "--format", "png", NULL), NULL);
    expect_usage_error(synack("sim", "handshake", "--loss", "2", NULL), NULL);
    expect_usage_error(synack("sim", "handshake", "--seed", "x", NULL), NULL);
    expect_usage_error(synack("sim", "handshake", "--bogus", NULL), NULL);
    expect_usage_error(synack("sim", "handshake", "--seed", NULL), NULL);
    expect_usage_error(synack("sim", "handshake", "extra", NULL), NULL);
    expect_usage_error(synack("frobnicate", NULL), "synack: unknown command 'frobnicate' (see synack --help)\n");
    expect_usage_error(synack("version", "x", NULL), NULL);
}

static void test_help(void **state)
{
    (void)state;
    struct outcome o = synack("--help", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "  sim "));
    assert_non_null(strstr(o.out, "  demo "));
    outcome_free(&o);
    static const char *const cmds[] = {"sim", "demo", "version"};
    for (size_t i = 0; i < 3; i++) {
        o = synack(cmds[i], "--help", NULL);
        assert_int_equal(o.status, 0);
        assert_int_equal(strncmp(o.out, "usage: synack ", 14), 0);
        outcome_free(&o);
    }
    o = synack("version", NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(strncmp(o.out, "synack ", 7), 0);
    outcome_free(&o);
    o = synack("demo", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "ESTABLISHED"));
    outcome_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_formats_and_files),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
