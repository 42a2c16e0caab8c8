/* `synack demo`, the README's first command: as root it runs on a real
 * wire (its own namespace and TUN device), prints the ladder with both
 * hosts' states, leaves a pcap that decodes cleanly (every checksum right;
 * tshark, when installed, finds nothing to warn about) and removes the rest.
 * As an ordinary user it says what it needs and shows the simulated tour. */
#include "interop.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire/wire.h"

static void test_demo_real_wire(void **state)
{
    (void)state;
    IO_REQUIRE();
    char pcap_path[128], out[32768];
    snprintf(pcap_path, sizeof pcap_path, "/tmp/synack-io-%d-demo.pcap", (int)getpid());
    io_remove_later(pcap_path);
    const char *argv[] = {SYNACK_BIN, "demo", "--pcap", pcap_path, NULL};
    int status = io_run(argv, out, sizeof out, 30000);
    if (status != 0)
        fail_msg("synack demo failed (%d): %s", status, out);
    assert_non_null(strstr(out, "on a real wire"));
    assert_non_null(strstr(out, "SYN-SENT"));
    assert_non_null(strstr(out, "SYN-RECEIVED"));
    assert_non_null(strstr(out, "ESTABLISHED"));
    assert_non_null(strstr(out, "TIME-WAIT"));
    assert_non_null(strstr(out, "LAST-ACK"));
    assert_non_null(strstr(out, "[S.]"));
    assert_non_null(strstr(out, "hello from synack"));

    /* The capture: every packet a TCP segment whose checksums verify. */
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(pcap_path, perr);
    assert_non_null(p);
    assert_int_equal(pcap_datalink(p), DLT_RAW);
    struct pcap_pkthdr *h;
    const u_char *data;
    int packets = 0, syn = 0, fin = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        struct wire_seg seg;
        assert_int_equal(h->caplen, h->len);
        assert_int_equal(wire_parse(data, h->caplen, 0, &seg), WIRE_ERR_OK);
        packets++;
        syn += !!(seg.flags & WIRE_SYN);
        fin += !!(seg.flags & WIRE_FIN);
    }
    pcap_close(p);
    assert_true(packets >= 9);
    assert_int_equal(syn, 2);
    assert_int_equal(fin, 2);
    if (io_have("tshark")) {
        const char *ts[] = {"tshark", "-r", pcap_path, "-o", "tcp.check_checksum:TRUE", "-o",
                            "ip.check_checksum:TRUE", "-q", "-z", "expert", NULL};
        assert_int_equal(io_run(ts, out, sizeof out, 60000), 0);
        if (strstr(out, "Warnings (") || strstr(out, "Errors ("))
            fail_msg("tshark's expert info: %s", out);
    } else {
        print_message("note: tshark is not installed; the capture was checked with synack's own codec\n");
    }
}

/* As an ordinary user: the explanation, then the simulated tour. */
static void test_demo_unprivileged(void **state)
{
    (void)state;
    IO_REQUIRE();
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        /* Under valgrind: a log file of its own (scripts/valgrind-run.sh). */
        setenv("SYNACK_VALGRIND_LOG_TAG", ".nobody", 1);
        if (chdir("/tmp") != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(99);
        execl(SYNACK_BIN, "synack", "demo", (char *)NULL);
        _exit(126); /* the build tree is not open to other users */
    }
    close(pipefd[1]);
    char out[32768];
    int err;
    size_t n = io_recv_all(pipefd[0], out, sizeof out - 1, 30000, &err);
    out[n] = '\0';
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 99) {
        print_message("SKIP: user nobody cannot run %s\n", SYNACK_BIN);
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(out, "needs root"));
    assert_non_null(strstr(out, "virtual time"));
    assert_non_null(strstr(out, "ESTABLISHED"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_demo_real_wire, io_teardown),
        cmocka_unit_test_teardown(test_demo_unprivileged, io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
