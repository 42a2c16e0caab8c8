/* synack ss: the connection table of a running synack, read through its
 * control socket and printed like iproute2's ss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/control.h"
#include "app/opts.h"
#include "app/view.h"
#include "cli/commands.h"

#define SS_TIMEOUT_MS 5000

static void usage(FILE *out)
{
    fprintf(out, "usage: synack ss [-t] [-l] [-a] [-s] [-n] [-o] [--json] [--control PATH | --tun NAME]\n\n"
                 "The connection table of a running synack (serve or connect), like ss.\n"
                 "By default the connected sockets (not LISTEN, SYN-RECV or TIME-WAIT).\n\n"
                 "  -t            TCP sockets (synack has no others; accepted for habit)\n"
                 "  -l            listening sockets, with SYN-queue and accept-queue fill\n"
                 "  -a            every socket, half-open and TIME-WAIT entries included\n"
                 "  -s            summary: counts per state\n"
                 "  -n            numeric ports (no service names)\n"
                 "  -o            timers: timer:(on,1.200sec,3) timer:(timewait,42sec,0)...\n"
                 "  --json        one JSON object per socket, one a line\n"
                 "  --control PATH  the synack to ask (default: the one on --tun, else " OPTS_DEFAULT_TUN ")\n"
                 "  --tun NAME    the synack running on this device (its default control socket)\n");
}

int cmd_ss(int argc, char **argv)
{
    unsigned flags = 0;
    bool summary = false, json = false;
    const char *control = NULL, *tun = OPTS_DEFAULT_TUN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        }
        if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--control") || !strcmp(a, "--tun")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_error("ss", "%s needs a value", a);
            if (!strcmp(a, "--control"))
                control = argv[++i];
            else
                tun = argv[++i];
        } else if (a[0] == '-' && a[1] && a[1] != '-') {
            for (const char *c = a + 1; *c; c++) {
                switch (*c) {
                case 't': break;
                case 'l': flags |= SS_LISTENING; break;
                case 'a': flags |= SS_ALL; break;
                case 'n': flags |= SS_NUMERIC; break;
                case 'o': flags |= SS_TIMERS; break;
                case 's': summary = true; break;
                default: return cli_usage_error("ss", "unknown option '-%c' (see synack ss --help)", *c);
                }
            }
        } else {
            return cli_usage_error("ss", "unexpected argument '%s' (see synack ss --help)", a);
        }
    }
    char path[108], err[256];
    if (control)
        snprintf(path, sizeof path, "%s", control);
    else
        ctl_default_path(tun, path, sizeof path);
    struct json *reply = ctl_request(path, "{\"cmd\":\"ss\"}", SS_TIMEOUT_MS, err, sizeof err);
    if (!reply)
        return cli_fail("ss", "%s", err);
    struct ss_row *rows;
    size_t n;
    int rc = ss_rows_from_reply(reply, &rows, &n, err, sizeof err);
    json_free(reply);
    if (rc < 0)
        return cli_fail("ss", "%s", err);
    if (summary)
        ss_print_summary(stdout, rows, n);
    else if (json)
        ss_print_json(stdout, rows, n, flags);
    else
        ss_print_table(stdout, rows, n, flags);
    free(rows);
    return CLI_OK;
}
