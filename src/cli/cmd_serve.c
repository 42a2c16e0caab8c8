/* synack serve: a built-in app (echo, discard, http) on a TUN device,
 * until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/opts.h"
#include "cli/commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: synack serve [--app echo|discard|http] [--listen ADDR:PORT]... [OPTIONS]\n\n"
            "Runs synack's TCP on a TUN device and serves a built-in app until SIGINT/SIGTERM.\n"
            "The device links synack to the kernel: give the kernel's end an address\n"
            "(--kernel-addr 10.77.0.2/24, or ip addr add) and reach synack's --addr from it.\n\n"
            "  --app NAME            echo (port 7), discard (9) or http (80; default)\n"
            "  --listen ADDR:PORT    where to listen, repeatable; PORT alone: on each --addr\n"
            "                        (default: the app's port on each --addr)\n"
            "  --backlog N           listen backlog (default 511; capped by somaxconn)\n"
            "  --accept-delay S      accept nothing for S seconds, or 'never' (a stuck application)\n"
            "  --http-keepalive-timeout S   close idle HTTP connections after S s (default 75; 0: no keep-alive)\n"
            "  --http-keepalive-requests N  requests per HTTP connection (default 1000)\n"
            "  --help-knobs          list the knobs (--sysctl / --config names) and exit\n");
    net_opts_help(out);
    fprintf(out, "\nhttp routes: /  a greeting;  /bytes/N  N bytes;  /reset  an abortive close (RST)\n"
                 "example: synack serve --kernel-addr 10.77.0.2/24 & curl http://10.77.0.1/\n");
}

static void help_knobs(void)
{
    struct tcp_config def;
    tcp_config_default(&def);
    printf("%-26s %-10s %-6s %s\n", "knob", "default", "unit", "meaning");
    for (int i = 0; i < tcp_config_count(); i++)
        printf("%-26s %-10lld %-6s %s\n", tcp_config_name(i), (long long)tcp_config_get(&def, i),
               tcp_config_unit(i), tcp_config_help(i));
}

/* "ADDR:PORT", "[V6]:PORT", or "PORT" / ":PORT": that port on each of
 * synack's addresses (not the wildcards: 0.0.0.0 and [::] would collide,
 * as on Linux without IPV6_V6ONLY, and each family gets its own MSS). */
static int add_listen(struct app_server_config *cfg, const struct net_opts *o, const char *text, char *err,
                      size_t errlen)
{
    const char *port_text = text[0] == ':' ? text + 1 : text;
    long long port;
    if (opts_parse_int(port_text, 1, 65535, &port)) {
        for (size_t i = 0; i < o->rt.naddrs; i++) {
            if (cfg->nlisten == APP_MAX_LISTEN) {
                snprintf(err, errlen, "--listen: at most %d", APP_MAX_LISTEN);
                return -1;
            }
            struct wire_endpoint *ep = &cfg->listen[cfg->nlisten++];
            ep->addr = o->rt.addrs[i].addr;
            ep->port = (uint16_t)port;
        }
        return 0;
    }
    if (cfg->nlisten == APP_MAX_LISTEN) {
        snprintf(err, errlen, "--listen: at most %d", APP_MAX_LISTEN);
        return -1;
    }
    struct wire_endpoint *ep = &cfg->listen[cfg->nlisten];
    if (!wire_endpoint_parse(text, ep) || ep->port == 0) {
        snprintf(err, errlen, "--listen: '%s' is not ADDR:PORT, [V6]:PORT or PORT", text);
        return -1;
    }
    cfg->nlisten++;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    struct net_opts o;
    net_opts_init(&o);
    struct app_server_config cfg;
    app_server_config_default(&cfg);
    const char *listen_text[APP_MAX_LISTEN];
    size_t nlisten_text = 0;
    char err[256];
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        }
        if (!strcmp(a, "--help-knobs")) {
            help_knobs();
            return CLI_OK;
        }
        int r = net_opts_parse(&o, argc, argv, &i, err, sizeof err);
        if (r < 0)
            return cli_usage_error("serve", "%s", err);
        if (r > 0)
            continue;
        bool has_value = !strcmp(a, "--app") || !strcmp(a, "--listen") || !strcmp(a, "--backlog") ||
                         !strcmp(a, "--accept-delay") || !strcmp(a, "--http-keepalive-timeout") ||
                         !strcmp(a, "--http-keepalive-requests");
        if (!has_value)
            return cli_usage_error("serve", "unknown option '%s' (see synack serve --help)", a);
        if (!val)
            return cli_usage_error("serve", "%s needs a value", a);
        i++;
        if (!strcmp(a, "--app")) {
            int k = app_kind_parse(val);
            if (k < 0)
                return cli_usage_error("serve", "--app: '%s' is not echo, discard or http", val);
            cfg.kind = (enum app_kind)k;
        } else if (!strcmp(a, "--listen")) {
            if (nlisten_text == APP_MAX_LISTEN)
                return cli_usage_error("serve", "--listen: at most %d", APP_MAX_LISTEN);
            listen_text[nlisten_text++] = val;
        } else if (!strcmp(a, "--backlog")) {
            if (!opts_parse_int(val, 0, 65535, &v))
                return cli_usage_error("serve", "--backlog: '%s' is not a number in 0..65535", val);
            cfg.backlog = (int)v;
        } else if (!strcmp(a, "--accept-delay")) {
            char *end;
            double s = strtod(val, &end);
            if (!strcmp(val, "never"))
                cfg.accept_delay = TCP_TIME_NEVER;
            else if (end == val || *end || !(s >= 0 && s <= 86400))
                return cli_usage_error("serve", "--accept-delay: '%s' is not seconds (0..86400) or 'never'", val);
            else
                cfg.accept_delay = (tcp_time_t)(s * 1e6);
        } else if (!strcmp(a, "--http-keepalive-timeout")) {
            if (!opts_parse_int(val, 0, 86400, &v))
                return cli_usage_error("serve", "--http-keepalive-timeout: '%s' is not seconds (0..86400)", val);
            cfg.http_keepalive_timeout_s = (unsigned)v;
        } else {
            if (!opts_parse_int(val, 1, 1000000000, &v))
                return cli_usage_error("serve", "--http-keepalive-requests: '%s' is not a number >= 1", val);
            cfg.http_keepalive_requests = (unsigned)v;
        }
    }
    if (net_opts_finish(&o, err, sizeof err) < 0) {
        net_opts_free(&o);
        return cli_usage_error("serve", "%s", err);
    }
    cfg.keepalive = o.keepalive;
    for (size_t k = 0; k < nlisten_text; k++) {
        if (add_listen(&cfg, &o, listen_text[k], err, sizeof err) < 0) {
            net_opts_free(&o);
            return cli_usage_error("serve", "%s", err);
        }
    }
    if (nlisten_text == 0) {
        char port[8];
        snprintf(port, sizeof port, "%u", app_kind_port(cfg.kind));
        add_listen(&cfg, &o, port, err, sizeof err);
    }
    o.rt.app_name = app_kind_name(cfg.kind);

    struct rt *rt = rt_new(&o.rt, err, sizeof err);
    if (!rt) {
        net_opts_free(&o);
        return cli_fail("serve", "%s", err);
    }
    struct app_server *srv = app_server_start(rt, &cfg, err, sizeof err);
    if (!srv) {
        rt_free(rt);
        net_opts_free(&o);
        return cli_fail("serve", "%s", err);
    }
    fprintf(stderr, "synack: serving %s on", app_kind_name(cfg.kind));
    for (size_t k = 0; k < cfg.nlisten; k++) {
        char ep[WIRE_ENDPOINT_STRLEN];
        fprintf(stderr, "%s %s", k ? "," : "", wire_endpoint_str(&cfg.listen[k], ep));
    }
    fprintf(stderr, " via %s", rt_tun_name(rt));
    if (o.rt.control_path)
        fprintf(stderr, "; control %s", o.rt.control_path);
    fprintf(stderr, "\n");
    if (o.rt.nkernel_addrs == 0)
        fprintf(stderr, "synack: give the kernel its end of the link, e.g.: ip addr add 10.77.0.2/24 dev %s\n",
                rt_tun_name(rt));

    rt_stop_on_signals(rt);
    int rc = rt_run(rt);
    rt_stop_on_signals(NULL);
    int status = CLI_OK;
    if (rc < 0)
        status = cli_fail("serve", "%s", rt_error(rt));
    app_server_free(srv);
    rt_free(rt);
    net_opts_free(&o);
    return status;
}
