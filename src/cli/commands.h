/* cli/ — the `synack` binary: one file per subcommand (cmd_NAME.c defines
 * cmd_NAME), listed once here; main.c dispatches on this table. */
#ifndef SYNACK_CLI_COMMANDS_H
#define SYNACK_CLI_COMMANDS_H

/* Exit statuses: 0 ok, 1 the command failed, 2 bad usage. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

int cmd_sim(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_ss(int argc, char **argv);
int cmd_nstat(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_soak(int argc, char **argv);
#ifdef SYNACK_HAVE_CMD_TRACK
int cmd_track(int argc, char **argv);
#define SYNACK_COMMAND_TRACK(X) X(track, "follow TCP connections in a capture or on an interface")
#else
#define SYNACK_COMMAND_TRACK(X)
#endif

/* X(name, one-line help), in the order `synack --help` lists them. */
#define SYNACK_COMMANDS(X)                                                  \
    X(sim, "run a TCP scenario in virtual time and draw it")              \
    X(serve, "serve echo, discard or http on a TUN device")              \
    X(connect, "connect to HOST:PORT over a TUN device, like nc")        \
    X(ss, "the connection table of a running synack, like ss")          \
    X(nstat, "the counters of a running synack, like nstat")            \
    SYNACK_COMMAND_TRACK(X)                                                \
    X(bench, "measure synack beside lwIP and the Linux kernel")            \
    X(soak, "long randomized runs in virtual time: stream, faults")        \
    X(demo, "a short guided tour")                                         \
    X(version, "print the version")

/* "synack: CMD: message" on stderr; returns CLI_USAGE (for bad arguments). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a failure at run time; returns CLI_FAILED. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
