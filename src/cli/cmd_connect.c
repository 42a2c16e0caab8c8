/* synack connect HOST:PORT: like nc over synack's TCP on a TUN device.
 * stdin goes to the connection, the connection to stdout; at the end of
 * stdin our side is shut down for writing (half-close) and the peer may go
 * on sending until it closes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/opts.h"
#include "cli/commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: synack connect HOST:PORT [--close-on-eof] [--linger S] [--keep-timewait] [OPTIONS]\n\n"
            "Connects over synack's TCP on a TUN device, like nc: stdin to the connection, the\n"
            "connection to stdout; at the end of stdin, shutdown(SHUT_WR) (a half-close): the\n"
            "peer may go on sending until it closes. Exits 0 after a clean close, 1 with the\n"
            "error (ECONNREFUSED, ECONNRESET, ETIMEDOUT...) otherwise.\n\n"
            "  HOST:PORT             10.77.0.2:8080 or [fd77::2]:8080\n"
            "  --close-on-eof        close() instead of shutdown(SHUT_WR) at the end of stdin\n"
            "  --linger S            SO_LINGER S seconds (0 with --close-on-eof: abortive close, RST)\n"
            "  --keep-timewait       stay until our TIME-WAIT entry expires (tcp_timewait_len)\n");
    net_opts_help(out);
    fprintf(out, "\nexample: synack connect 10.77.0.2:8080 --kernel-addr 10.77.0.2/24 < request.txt\n");
}

/* Non-blocking stdin/stdout for the loop, put back as they were at exit. */
static int saved_flags[2] = {-1, -1};

static void restore_flags(void)
{
    for (int fd = 0; fd < 2; fd++)
        if (saved_flags[fd] >= 0)
            fcntl(fd, F_SETFL, saved_flags[fd]);
}

static void make_nonblocking(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
        return;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || (flags & O_NONBLOCK))
        return;
    if (saved_flags[0] < 0 && saved_flags[1] < 0)
        atexit(restore_flags);
    saved_flags[fd] = flags;
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int cmd_connect(int argc, char **argv)
{
    struct net_opts o;
    net_opts_init(&o);
    struct app_pipe_config cfg;
    app_pipe_config_default(&cfg);
    const char *target = NULL;
    char err[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        }
        int r = net_opts_parse(&o, argc, argv, &i, err, sizeof err);
        if (r < 0)
            return cli_usage_error("connect", "%s", err);
        if (r > 0)
            continue;
        if (!strcmp(a, "--close-on-eof")) {
            cfg.close_on_eof = true;
        } else if (!strcmp(a, "--keep-timewait")) {
            cfg.keep_timewait = true;
        } else if (!strcmp(a, "--linger")) {
            long long v;
            if (i + 1 >= argc || !opts_parse_int(argv[i + 1], 0, 3600, &v))
                return cli_usage_error("connect", "--linger needs seconds (0..3600)");
            cfg.linger = (int)v;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("connect", "unknown option '%s' (see synack connect --help)", a);
        } else if (target) {
            return cli_usage_error("connect", "unexpected argument '%s'", a);
        } else {
            target = a;
        }
    }
    if (!target)
        return cli_usage_error("connect", "HOST:PORT is missing (see synack connect --help)");
    if (!wire_endpoint_parse(target, &cfg.remote) || cfg.remote.port == 0 ||
        wire_addr_is_unspecified(&cfg.remote.addr))
        return cli_usage_error("connect", "'%s' is not HOST:PORT (10.77.0.2:8080 or [fd77::2]:8080)", target);
    if (net_opts_finish(&o, err, sizeof err) < 0) {
        net_opts_free(&o);
        return cli_usage_error("connect", "%s", err);
    }
    cfg.keepalive = o.keepalive;
    o.rt.app_name = "connect";

    struct rt *rt = rt_new(&o.rt, err, sizeof err);
    if (!rt) {
        net_opts_free(&o);
        return cli_fail("connect", "%s", err);
    }
    make_nonblocking(0);
    make_nonblocking(1);
    struct app_pipe *p = app_pipe_start(rt, &cfg, err, sizeof err);
    int status = CLI_OK;
    if (!p) {
        status = cli_fail("connect", "%s", err);
    } else {
        rt_stop_on_signals(rt);
        int rc = rt_run(rt);
        rt_stop_on_signals(NULL);
        const char *msg;
        if (rc < 0)
            status = cli_fail("connect", "%s", rt_error(rt));
        else if (app_pipe_result(p, &msg))
            status = cli_fail("connect", "%s", msg);
    }
    app_pipe_free(p);
    rt_free(rt);
    net_opts_free(&o);
    restore_flags();
    return status;
}
