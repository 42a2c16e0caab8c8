/* synack sim: runs a named scenario in virtual time (DESIGN.md §3). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "link/pcap_writer.h"
#include "sim/catalog.h"
#include "sim/render.h"

static void sim_usage(FILE *out)
{
    fprintf(out,
            "usage: synack sim --list\n"
            "       synack sim NAME [--seed N] [--loss P] [--format text|json|mermaid|svg]\n"
            "                       [--sysctl NAME=VALUE]... [--pcap FILE] [-o FILE]\n\n"
            "Runs a TCP scenario between simulated hosts in virtual time and draws it.\n\n"
            "  -l, --list          list the scenarios\n"
            "  -s, --seed N        seed for random loss and ISNs (default 1); same seed, same run\n"
            "  -L, --loss P        also lose each segment with probability P (0..1), both ways\n"
            "  -k, --sysctl K=V    set a knob on every host, over the scenario's own choice\n"
            "                      (repeatable; e.g. tcp_syncookies=0, net.ipv4.tcp_abort_on_overflow=1)\n"
            "  -f, --format F      text (ladder diagram, default), json (JSON lines), mermaid, svg\n"
            "  -p, --pcap FILE     record every segment put on the wire (virtual timestamps)\n"
            "  -o, --output FILE   write the diagram to FILE instead of stdout\n"
            "  -h, --help          this help\n\n"
            "Knobs (Linux sysctl names; default, unit):\n");
    for (int i = 0; i < tcp_config_count(); i++) {
        struct tcp_config def;
        tcp_config_default(&def);
        fprintf(out, "  %-24s %8lld %-6s %s\n", tcp_config_name(i), (long long)tcp_config_get(&def, i),
                tcp_config_unit(i), tcp_config_help(i));
    }
}

/* The knob's index in tcp_types.h's table, or -1 if the name is unknown. */
static int knob_index(const char *name)
{
    struct tcp_config probe;
    memset(&probe, 0, sizeof probe);
    if (tcp_config_set(&probe, name, 1) < 0)
        return -1;
    for (int i = 0; i < tcp_config_count(); i++)
        if (tcp_config_get(&probe, i) == 1)
            return i;
    return -1;
}

/* NAME=VALUE with VALUE in the range the knob's unit allows: 0/1 for a
 * bool, 0..2 for the three-way modes, else 0..INT32_MAX. */
static int parse_sysctl(const char *arg, struct sim_options *opt)
{
    const char *eq = strchr(arg, '=');
    char name[64];
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof name)
        return cli_usage_error("sim", "bad --sysctl '%s' (NAME=VALUE, e.g. tcp_syncookies=0)", arg);
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    int index = knob_index(name);
    if (index < 0)
        return cli_usage_error("sim", "unknown sysctl '%s' (see synack sim --help)", name);
    const char *unit = tcp_config_unit(index);
    long long max = !strcmp(unit, "bool") ? 1 : !strcmp(unit, "0/1/2") ? 2 : INT32_MAX;
    char *end;
    errno = 0;
    long long v = strtoll(eq + 1, &end, 10);
    if (errno || end == eq + 1 || *end || v < 0 || v > max)
        return cli_usage_error("sim", "bad value '%s' for %s (an integer from 0 to %lld, %s)", eq + 1,
                               tcp_config_name(index), max, unit);
    if (sim_options_add_sysctl(opt, name, v) < 0)
        return cli_usage_error("sim", "too many --sysctl (at most %d)", SIM_MAX_SYSCTLS);
    return CLI_OK;
}

static void list_scenarios(void)
{
    for (size_t i = 0; i < sim_scenario_count(); i++) {
        const struct sim_scenario *sc = sim_scenario_at(i);
        printf("%-24s %s\n", sc->name, sc->description);
    }
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_probability(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = v;
    return true;
}

int cmd_sim(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"list", no_argument, NULL, 'l'},         {"seed", required_argument, NULL, 's'},
        {"loss", required_argument, NULL, 'L'},   {"format", required_argument, NULL, 'f'},
        {"pcap", required_argument, NULL, 'p'},   {"output", required_argument, NULL, 'o'},
        {"sysctl", required_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sim_options opt;
    sim_options_default(&opt);
    enum sim_format format = SIM_FORMAT_TEXT;
    const char *pcap_path = NULL, *out_path = NULL;
    bool list = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":ls:L:f:p:o:k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            list = true;
            break;
        case 's':
            if (!parse_u64(optarg, &opt.seed))
                return cli_usage_error("sim", "bad --seed '%s' (a number)", optarg);
            break;
        case 'L':
            if (!parse_probability(optarg, &opt.loss))
                return cli_usage_error("sim", "bad --loss '%s' (a probability from 0 to 1)", optarg);
            break;
        case 'f': {
            int f = sim_format_parse(optarg);
            if (f < 0)
                return cli_usage_error("sim", "unknown format '%s' (text, json, mermaid or svg)", optarg);
            format = (enum sim_format)f;
            break;
        }
        case 'k': {
            int rc = parse_sysctl(optarg, &opt);
            if (rc != CLI_OK)
                return rc;
            break;
        }
        case 'p':
            pcap_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            sim_usage(stdout);
            return CLI_OK;
        case ':':
            return cli_usage_error("sim", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("sim", "unknown option '%s' (see synack sim --help)", argv[optind - 1]);
        }
    }
    if (list) {
        if (optind < argc)
            return cli_usage_error("sim", "--list takes no scenario name");
        list_scenarios();
        return CLI_OK;
    }
    if (optind >= argc)
        return cli_usage_error("sim", "which scenario? (see synack sim --list)");
    if (optind + 1 < argc)
        return cli_usage_error("sim", "one scenario at a time ('%s' is extra)", argv[optind + 1]);
    const char *name = argv[optind];
    const struct sim_scenario *sc = sim_scenario_find(name);
    if (!sc)
        return cli_usage_error("sim", "unknown scenario '%s' (see synack sim --list)", name);

    char err[256];
    if (pcap_path) {
        opt.pcap = pcap_writer_open(pcap_path, err, sizeof err);
        if (!opt.pcap)
            return cli_fail("sim", "cannot write %s: %s", pcap_path, err);
    }
    FILE *out = stdout;
    if (out_path) {
        out = fopen(out_path, "w");
        if (!out) {
            pcap_writer_close(opt.pcap);
            return cli_fail("sim", "cannot write %s: %s", out_path, strerror(errno));
        }
    }

    struct sim_result res;
    int status = CLI_OK;
    if (sim_run_scenario(sc, &opt, &res) < 0)
        status = cli_fail("sim", "%s: %s", name, res.error);
    if (sim_render(&res.log, format, out) < 0)
        status = cli_fail("sim", "cannot write the output: %s", strerror(errno));
    for (int i = 0; i < res.nhosts; i++)
        if (res.has_stack[i] && !res.frozen[i] && res.conns_left[i])
            fprintf(stderr, "synack: sim: warning: %s still holds %zu connection(s) after the run\n",
                    sim_log_host_name(&res.log, i), res.conns_left[i]);
    sim_result_free(&res);
    if (out != stdout && fclose(out) != 0)
        status = cli_fail("sim", "cannot write %s: %s", out_path, strerror(errno));
    if (opt.pcap && pcap_writer_flush(opt.pcap) < 0)
        status = cli_fail("sim", "cannot write %s", pcap_path);
    pcap_writer_close(opt.pcap);
    return status;
}
