/* synack nstat: the counters of a running synack by their table names
 * (tcp_types.h TCP_COUNTERS, then the link's), like nstat. */
#include <stdio.h>
#include <string.h>

#include "app/control.h"
#include "app/opts.h"
#include "app/view.h"
#include "cli/commands.h"

#define NSTAT_TIMEOUT_MS 5000

static void usage(FILE *out)
{
    fprintf(out, "usage: synack nstat [-z] [--json] [--control PATH | --tun NAME]\n\n"
                 "The counters of a running synack, by the names netstat -s / nstat use\n"
                 "(ActiveOpens, PassiveOpens, ListenOverflows...), then the TUN link's.\n"
                 "Non-zero ones unless -z.\n\n"
                 "  -z, --zeros   print counters that are zero too\n"
                 "  --json        every counter, as one JSON line: {\"tcp\":{..},\"link\":{..}}\n"
                 "  --control PATH  the synack to ask (default: the one on --tun, else " OPTS_DEFAULT_TUN ")\n"
                 "  --tun NAME    the synack running on this device (its default control socket)\n");
}

int cmd_nstat(int argc, char **argv)
{
    bool zeros = false, json = false;
    const char *control = NULL, *tun = OPTS_DEFAULT_TUN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        }
        if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "-z") || !strcmp(a, "--zeros")) {
            zeros = true;
        } else if (!strcmp(a, "--control") || !strcmp(a, "--tun")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return cli_usage_error("nstat", "%s needs a value", a);
            if (!strcmp(a, "--control"))
                control = argv[++i];
            else
                tun = argv[++i];
        } else {
            return cli_usage_error("nstat", "unexpected argument '%s' (see synack nstat --help)", a);
        }
    }
    char path[108], err[256];
    if (control)
        snprintf(path, sizeof path, "%s", control);
    else
        ctl_default_path(tun, path, sizeof path);
    struct json *reply = ctl_request(path, "{\"cmd\":\"nstat\"}", NSTAT_TIMEOUT_MS, err, sizeof err);
    if (!reply)
        return cli_fail("nstat", "%s", err);
    int rc = nstat_print(stdout, reply, zeros, json);
    if (rc < 0)
        snprintf(err, sizeof err, "bad reply: %s", json_get_str(reply, "error", "no counters"));
    json_free(reply);
    return rc < 0 ? cli_fail("nstat", "%s", err) : CLI_OK;
}
