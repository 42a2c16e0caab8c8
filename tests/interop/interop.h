/* Interop tests: synack against the Linux kernel's TCP over a TUN device.
 *
 * Setup (see src/link/tun.h for the addressing): each test executable moves
 * itself into a fresh anonymous network namespace (unshare(CLONE_NEWNET))
 * with its loopback up. Each test then starts `synack serve` or `synack
 * connect` as a child process, which creates its TUN device (io<N>) in that
 * namespace and gives the kernel's end 10.77.<N>.2/24 (fd77:<N>::2/64 for
 * IPv6) while synack answers for 10.77.<N>.1. The test process itself is
 * the kernel-side peer, with ordinary sockets. Only addresses inside that
 * namespace are used.
 *
 * Cleanup: the namespace is anonymous, so it and everything in it (devices,
 * addresses, kernel sockets) vanish when the test process and its children
 * exit, however they exit. Children get PR_SET_PDEATHSIG(SIGKILL) and are
 * also killed by the teardown and by an atexit handler, so no process
 * outlives a failing test. Device names, subnets and control socket paths
 * are unique per test (and per process id).
 *
 * Without root, /dev/net/tun or namespaces the tests skip with the reason.
 * Time bounds are generous ("within N seconds"): nothing asserts speed. */
#ifndef SYNACK_TESTS_INTEROP_H
#define SYNACK_TESTS_INTEROP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "app/json.h"

/* Enters the namespace (once per process). NULL when ready, else why the
 * tests must skip. */
const char *io_prepare(void);
/* In each test: skips it (with the reason printed) if io_prepare failed. */
#define IO_REQUIRE()                                                         \
    do {                                                                     \
        const char *io_why_ = io_prepare();                                  \
        if (io_why_) {                                                       \
            print_message("SKIP: %s (CI runs the interop tests as root)\n", io_why_); \
            skip();                                                          \
        }                                                                    \
    } while (0)

/* Light mode, for a synack 20-50x slower than native (scripts/valgrind.sh
 * sets SYNACK_VALGRIND=1): the tests move less data and every "within N
 * ms" bound of this harness (io_dial, io_accept, io_recv_*, io_wait*,
 * io_run, the control socket...) is stretched IO_SLOW_FACTOR times. Without
 * it, sizes and bounds are the normal ones. */
bool io_light(void);
#define IO_SLOW_FACTOR 10
/* ms, times IO_SLOW_FACTOR in light mode. */
int io_ms(int ms);
/* normal, or light in light mode (sizes, counts). */
#define IO_LIGHT(normal, light) (io_light() ? (light) : (normal))

/* A synack child process. */
struct io_synack {
    int n;              /* this test's index: device io<n>, subnet 10.77.<n>.0/24 */
    pid_t pid;
    int in_fd;          /* its stdin (write end), or -1 */
    int out_fd;         /* its stdout (read end), or -1 */
    int err_fd;         /* its stderr (read end) */
    bool exited;
    int status;
    char control[108];
    char events[128];
    char tun[16];
    char synack4[32], kernel4[32], synack6[64], kernel6[64]; /* addresses */
};

/* Starts `synack serve --app APP` with a new device, its addresses (IPv4,
 * plus IPv6 when ipv6), control socket and events file, then the extra
 * arguments (NULL-terminated); returns once the control socket answers.
 * The process is stopped by the test's teardown at the latest. */
/* (ipv6 is an int: the parameter before "..." must not be promoted.) */
struct io_synack *io_serve(const char *app, int ipv6, ...);
/* Starts `synack connect` to the kernel's end of a new device, port port
 * (over IPv6 when ipv6), stdin and stdout piped, then the extra arguments.
 * It connects at once: the kernel listener (on the wildcard address) must
 * already exist. */
struct io_synack *io_connect(int port, int ipv6, ...);
/* cmocka teardown: stops every synack the test started, removes its files
 * and those named by io_remove_later. */
int io_teardown(void **state);
/* A file the test creates, removed by the teardown even if the test fails. */
void io_remove_later(const char *path);
/* Waits for the child to exit; returns its wait status, or -1 if it did not
 * within timeout_ms. */
int io_wait(struct io_synack *s, int timeout_ms);
/* SIGTERM, then SIGKILL after 5 s; returns the wait status. */
int io_stop(struct io_synack *s);
/* Reads the child's stderr so far (non-blocking) into buf. */
size_t io_stderr(struct io_synack *s, char *buf, size_t cap);
/* Closes the child's stdin (EOF for `synack connect`). */
void io_close_stdin(struct io_synack *s);

/* ---- synack's view, through its control socket ---- */
struct json *io_ctl(const struct io_synack *s, const char *cmd);
uint64_t io_counter(const struct io_synack *s, const char *name);
/* Entries in synack's table in this state (RFC name), with this remote
 * port (0: any). */
int io_synack_count(const struct io_synack *s, const char *state, int remote_port);
/* Entries in any state but LISTEN. */
int io_synack_conns(const struct io_synack *s);
/* Waits until io_synack_count(...) == want; true if it happened in time. */
bool io_wait_synack_count(const struct io_synack *s, const char *state, int remote_port, int want, int timeout_ms);
/* Does the events file hold a line with every one of these substrings? */
bool io_events_have(const struct io_synack *s, const char *a, const char *b);
bool io_wait_events(const struct io_synack *s, const char *a, const char *b, int timeout_ms);

/* ---- the kernel's side ---- */
/* A connected kernel socket to addr:port (family from the text), or -1 with
 * errno; connect waits at most timeout_ms. */
int io_dial(const char *addr, int port, int timeout_ms);
/* A kernel listener on addr:port ("0.0.0.0" / "::"). */
int io_listen(const char *addr, int port, int backlog);
/* accept() with a timeout; -1 if none came. */
int io_accept(int lfd, int timeout_ms);
bool io_send_all(int fd, const void *buf, size_t len);
/* Reads (a socket or a pipe) until EOF, an error or cap bytes, within timeout_ms. Returns the
 * byte count; *err gets 0 at EOF, the errno of an error, or ETIMEDOUT. */
size_t io_recv_all(int fd, char *buf, size_t cap, int timeout_ms, int *err);
/* Reads until buf holds needle (or cap, EOF, error, timeout). */
size_t io_recv_until(int fd, char *buf, size_t cap, const char *needle, int timeout_ms);
/* One HTTP/1.1 response (head + Content-Length body) off fd: the body
 * length, or -1. status gets the status code. */
long io_http_response(int fd, char *buf, size_t cap, int *status, int timeout_ms);
/* The kernel's state of the socket with this local port, from `ss -tan`
 * ("ESTAB", "TIME-WAIT"...; "" when ss lists none). */
void io_kernel_state(int local_port, char *state, size_t cap);
bool io_wait_kernel_state(int local_port, const char *state, int timeout_ms);
uint16_t io_local_port(int fd);
/* Runs a command (argv[0] looked up in PATH), output captured. Returns the
 * wait status, or -1. */
int io_run(const char *const argv[], char *out, size_t cap, int timeout_ms);
bool io_have(const char *program);

long long io_now_ms(void);
void io_sleep_ms(int ms);

#endif
