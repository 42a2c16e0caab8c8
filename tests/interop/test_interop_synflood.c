/* Interop: a real SYN flood on the wire (issue 5). hping3 --flood -S with
 * spoofed sources (--rand-source) hits `synack serve --app http` (backlog
 * 16, tcp_syncookies=1) over its TUN device for a few seconds, while the
 * kernel's curl fetches from it one request after another: every fetch must
 * succeed, and synack's counters must show the SYN queue overflowing into
 * SYN cookies (SyncookiesSent) and the real clients coming back with them
 * (SyncookiesRecv).
 *
 * For comparison, the same run against the kernel's own listener (python3,
 * backlog 16, the namespace's tcp_syncookies=1) is printed beside it; only
 * synack's figures are asserted.
 *
 * Everything stays inside the test's own network namespace (interop.h): it
 * holds only lo, synack's TUN and a "sink" TUN device nobody reads, which
 * carries the default route. The replies to spoofed sources (synack's
 * SYN-ACKs come back to the kernel through the TUN and are not forwarded,
 * ip_forward=0; the kernel's own SYN-ACKs take the default route into the
 * sink) go nowhere. hping3, curl and python3 are children that die with
 * the test (PR_SET_PDEATHSIG) and are killed by the teardown; the
 * namespace and its devices vanish when the test exits.
 *
 * Under valgrind (light mode, interop.h) synack cannot take a flood at
 * native speed: hping3 sends about 1,000 SYNs/s instead (still far more
 * than backlog 16 holds), curl fetches 8 times, and the kernel's run (only
 * printed) is left out. */
#include "interop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define BACKLOG "16"
#define FETCHES IO_LIGHT(20, 8)
#define FLOOD_WARMUP_MS 500   /* flood before the first fetch: the SYN queue fills */
#define FETCH_GAP_MS 100      /* so the fetches spread over the flood (~3 s) */
#define FETCHES_WITHIN_MS 30000 /* bounds the flood; later fetches count as failed. A SYN lost to a full TUN queue costs 1+2+4 s of backoff, more in a sanitizer build: curl gets 15 s */

#define SINK_DEV "sfsink"
#define KERNEL_ADDR "10.78.0.1" /* the kernel listener, on the sink device */

/* ---- child processes other than synack ---- */
static pid_t kids[8];
static int nkids;

static void kill_kids(void)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i] > 0 && kill(kids[i], SIGKILL) == 0)
            waitpid(kids[i], NULL, 0);
    nkids = 0;
}

/* Starts argv (looked up in PATH) with stdout and stderr into a pipe whose
 * non-blocking read end goes to *out_fd (or /dev/null when out_fd is NULL). */
static pid_t start_kid(const char *const argv[], int *out_fd)
{
    int p[2] = {-1, -1};
    if (out_fd)
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_true(nkids < (int)(sizeof kids / sizeof kids[0]));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(out_fd ? p[1] : null, 1);
        dup2(out_fd ? p[1] : null, 2);
        if (chdir("/") != 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    kids[nkids++] = pid;
    if (out_fd) {
        close(p[1]);
        fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
        *out_fd = p[0];
    }
    return pid;
}

static bool kid_running(pid_t pid)
{
    return waitpid(pid, NULL, WNOHANG) == 0;
}

/* Sends sig, waits up to 3 s, then SIGKILL. */
static void stop_kid(pid_t pid, int sig)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i] == pid)
            kids[i] = -1;
    if (kill(pid, sig) != 0)
        return;
    long long deadline = io_now_ms() + 3000;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (io_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return;
        }
        io_sleep_ms(10);
    }
}

static void drain(int fd, char *buf, size_t cap, size_t *len)
{
    for (;;) {
        if (*len + 1 >= cap)
            break;
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    buf[*len] = '\0';
}

static int teardown(void **state)
{
    kill_kids();
    return io_teardown(state);
}

/* ---- the namespace's plumbing ---- */
static void sh(const char *const argv[])
{
    char out[1024];
    int st = io_run(argv, out, sizeof out, 20000);
    if (st != 0)
        fail_msg("%s %s %s failed: %s", argv[0], argv[1], argv[2], out);
}

static void write_proc(const char *path, const char *value)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(value, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s to %s: %s", value, path, strerror(errno));
}

/* The sink device (a TUN no one reads: what is routed into it is dropped)
 * with the kernel listener's address and the default route; no forwarding,
 * no reverse-path filter (the spoofed sources must reach the listener). */
static void plumb_namespace(void)
{
    sh((const char *const[]){"ip", "tuntap", "add", "dev", SINK_DEV, "mode", "tun", NULL});
    sh((const char *const[]){"ip", "link", "set", SINK_DEV, "up", NULL});
    sh((const char *const[]){"ip", "addr", "add", KERNEL_ADDR "/24", "dev", SINK_DEV, NULL});
    sh((const char *const[]){"ip", "route", "add", "default", "dev", SINK_DEV, NULL});
    write_proc("/proc/sys/net/ipv4/ip_forward", "0");
    write_proc("/proc/sys/net/ipv4/conf/all/rp_filter", "0");
    write_proc("/proc/sys/net/ipv4/conf/default/rp_filter", "0");
    write_proc("/proc/sys/net/ipv4/conf/lo/rp_filter", "0");
    write_proc("/proc/sys/net/ipv4/conf/" SINK_DEV "/rp_filter", "0");
    write_proc("/proc/sys/net/ipv4/tcp_syncookies", "1");
}

/* A TcpExt counter of this namespace's kernel (/proc/net/netstat), or -1. */
static long long kernel_counter(const char *name)
{
    FILE *f = fopen("/proc/net/netstat", "r");
    if (!f)
        return -1;
    static char head[8192], vals[8192];
    long long v = -1;
    while (v < 0 && fgets(head, sizeof head, f) && fgets(vals, sizeof vals, f)) {
        if (strncmp(head, "TcpExt:", 7) != 0)
            continue;
        char *hs, *vs;
        char *h = strtok_r(head, " \n", &hs), *x = strtok_r(vals, " \n", &vs);
        while ((h = strtok_r(NULL, " \n", &hs)) && (x = strtok_r(NULL, " \n", &vs)))
            if (!strcmp(h, name)) {
                v = atoll(x);
                break;
            }
    }
    fclose(f);
    return v;
}

/* ---- one run: flood + fetches ---- */
struct flood_run {
    int fetches_ok;
    int fetches;
    unsigned long long syns_sent; /* by hping3, from its statistics; 0 if unknown */
    char failures[512];           /* the curl outcomes that were not 200 */
};

static bool fetch(const char *url, char *why, size_t cap)
{
    const char *argv[] = {"curl", "-s", "-m", IO_LIGHT("15", "60"), "-o", "/dev/null", "-w", "%{http_code}", url, NULL};
    char out[256];
    int st = io_run(argv, out, sizeof out, 20000);
    bool ok = st == 0 && !strcmp(out, "200");
    if (!ok)
        snprintf(why, cap, "curl exit %d code '%.16s'", st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
    return ok;
}

static void flood_and_fetch(const char *addr, struct flood_run *r)
{
    memset(r, 0, sizeof *r);
    char url[64];
    snprintf(url, sizeof url, "http://%s/", addr);
    const char *flood[] = {"hping3", "--flood", "-S", "--rand-source", "-p", "80", addr, NULL};
    const char *light[] = {"hping3", "-q", "-i", "u1000", "-S", "--rand-source", "-p", "80", addr, NULL};
    const char *const *hping = io_light() ? light : flood;
    int hout;
    pid_t hp = start_kid(hping, &hout);
    char hbuf[4096];
    size_t hlen = 0;
    io_sleep_ms(FLOOD_WARMUP_MS);
    drain(hout, hbuf, sizeof hbuf, &hlen);
    if (!kid_running(hp))
        fail_msg("hping3 stopped before the fetches: %s", hbuf);
    long long deadline = io_now_ms() + IO_LIGHT(FETCHES_WITHIN_MS, 60000);
    for (int i = 0; i < FETCHES && io_now_ms() < deadline; i++) {
        char why[96];
        if (fetch(url, why, sizeof why))
            r->fetches_ok++;
        else {
            size_t fl = strlen(r->failures);
            snprintf(r->failures + fl, sizeof r->failures - fl, "#%d: %s; ", i + 1, why);
        }
        io_sleep_ms(FETCH_GAP_MS);
    }
    bool flooding = kid_running(hp);
    stop_kid(hp, SIGINT); /* hping3 prints its statistics on SIGINT */
    drain(hout, hbuf, sizeof hbuf, &hlen);
    close(hout);
    if (!flooding)
        fail_msg("hping3 stopped during the fetches: %s", hbuf);
    const char *stats = strstr(hbuf, "hping statistic ---");
    if (stats)
        sscanf(stats + strlen("hping statistic ---"), " %llu packets transmitted", &r->syns_sent);
    r->fetches = FETCHES; /* those not made in time count as failed */
}

/* The kernel's listener on KERNEL_ADDR:80, backlog 16. Returns its pid, or
 * -1 (with why) when python3 is not there or does not come up. */
static pid_t start_kernel_server(char *why, size_t cap)
{
    static const char script[] =
        "import http.server as h, socketserver as s\n"
        "class R(h.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        b = b'hello from the kernel\\n'\n"
        "        self.send_response(200)\n"
        "        self.send_header('Content-Length', str(len(b)))\n"
        "        self.end_headers()\n"
        "        self.wfile.write(b)\n"
        "    def log_message(self, *a): pass\n"
        "class S(s.ThreadingTCPServer):\n"
        "    request_queue_size = " BACKLOG "\n"
        "    allow_reuse_address = True\n"
        "    daemon_threads = True\n"
        "S(('" KERNEL_ADDR "', 80), R).serve_forever()\n";
    /* Debian's own python3 first: a PATH shim (pyenv) can be slow to start. */
    const char *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                         : io_have("python3")                 ? "python3"
                                                              : NULL;
    if (!python) {
        snprintf(why, cap, "no python3");
        return -1;
    }
    const char *argv[] = {python, "-I", "-c", script, NULL};
    pid_t pid = start_kid(argv, NULL);
    long long deadline = io_now_ms() + 10000;
    while (io_now_ms() < deadline && kid_running(pid)) {
        int fd = io_dial(KERNEL_ADDR, 80, 1000);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        io_sleep_ms(50);
    }
    stop_kid(pid, SIGKILL);
    snprintf(why, cap, "the python3 listener did not come up");
    return -1;
}

static void test_syn_flood_on_the_wire(void **state)
{
    (void)state;
    IO_REQUIRE();
    if (!io_have("hping3"))
        fail_msg("hping3 is not installed (apt-get install hping3; scripts/deps.sh installs it in CI)");
    if (!io_have("curl"))
        fail_msg("curl is not installed (scripts/deps.sh installs it)");
    plumb_namespace();

    /* synack: backlog 16, default tcp_syncookies=1. */
    struct io_synack *s = io_serve("http", false, "--backlog", BACKLOG, NULL);
    char url[64], why[128];
    snprintf(url, sizeof url, "http://%s/", s->synack4);
    if (!fetch(url, why, sizeof why)) /* before the flood: the set-up works */
        fail_msg("a fetch from synack before the flood failed: %s", why);
    struct flood_run ours;
    flood_and_fetch(s->synack4, &ours);
    unsigned long long sent = io_counter(s, "SyncookiesSent"), recv = io_counter(s, "SyncookiesRecv"),
                       failed = io_counter(s, "SyncookiesFailed"), drops = io_counter(s, "ListenDrops");
    bool alive = io_wait(s, 0) == -1;

    /* The kernel's own listener, same flood, same fetches (printed only). */
    struct flood_run theirs = {0};
    long long k_sent0 = kernel_counter("SyncookiesSent"), k_recv0 = kernel_counter("SyncookiesRecv");
    char kwhy[128] = "";
    pid_t ks = -1;
    if (io_light())
        snprintf(kwhy, sizeof kwhy, "left out under valgrind");
    else
        ks = start_kernel_server(kwhy, sizeof kwhy);
    if (ks > 0) {
        flood_and_fetch(KERNEL_ADDR, &theirs);
        stop_kid(ks, SIGKILL);
    }
    long long k_sent = kernel_counter("SyncookiesSent") - k_sent0, k_recv = kernel_counter("SyncookiesRecv") - k_recv0;

    print_message("SYN flood (hping3 %s -S --rand-source), backlog %s, tcp_syncookies=1, %d fetches by curl:\n",
                  IO_LIGHT("--flood", "-i u1000"), BACKLOG, FETCHES);
    print_message("  synack: %2d/%d fetches ok; hping3 sent %llu SYNs; SyncookiesSent %llu, SyncookiesRecv %llu, "
                  "SyncookiesFailed %llu, ListenDrops %llu\n",
                  ours.fetches_ok, ours.fetches, ours.syns_sent, sent, recv, failed, drops);
    if (ks > 0)
        print_message("  kernel: %2d/%d fetches ok; hping3 sent %llu SYNs; SyncookiesSent %lld, SyncookiesRecv %lld\n",
                      theirs.fetches_ok, theirs.fetches, theirs.syns_sent, k_sent, k_recv);
    else
        print_message("  kernel: not measured (%s)\n", kwhy);
    if (ours.failures[0])
        print_message("  synack's failed fetches: %s\n", ours.failures);
    if (theirs.failures[0])
        print_message("  kernel's failed fetches: %s\n", theirs.failures);

    assert_true(alive);
    assert_int_equal(ours.fetches_ok, FETCHES);
    assert_true(sent > 0); /* the flood did fill the SYN queue */
    assert_true(recv > 0); /* and real clients came back with cookies */
    assert_int_equal(io_stop(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_syn_flood_on_the_wire, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kill_kids();
    return rc;
}
