/* synack bench: synack beside lwIP and the Linux kernel, in one run
 * (DESIGN.md §6). Figures are printed, never asserted. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "cli/commands.h"
#include "track/bench_track.h"

static void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: synack bench [NAME...] [--quick] [--json] [--plot FILE.svg] [--no-lwip] [--no-linux]\n"
            "                    [--lifecycles N] [--tw-held N] [--entries N] [--no-pin]\n\n"
            "Measures synack's core beside lwIP (raw API, in memory) and the Linux kernel\n"
            "(blocking sockets over 127.0.0.1), on one CPU, and prints a table with ratios.\n\n"
            "benchmarks (default: all):\n"
            "  lifecycle    full connection lifecycles per second: handshake, request and\n"
            "               response, FIN/ACK both ways, TIME-WAIT entry\n"
            "  memory       bytes per half-open, established and TIME-WAIT connection\n"
            "  scale        lifecycle rate and per-segment cost with 1k..1M connections held\n"
            "  synflood     a listener under a SYN flood: %% of real clients served in the\n"
            "               simulator (cookies on, off), cookie SYN-ACKs per CPU-second,\n"
            "               bytes per half-open entry\n"
            "  stream       one connection's bulk throughput: synack over TUN against the\n"
            "               kernel each way beside kernel-to-kernel over veth, and synack\n"
            "               to synack in memory beside the kernel over loopback\n"
            "  track        synack track on a 10M-packet capture beside tshark and tcptrace,\n"
            "               memory as the capture grows (run alone: synack bench track --help)\n\n"
            "  -q, --quick          a few seconds per benchmark (CI); default is the full run\n"
            "  -j, --json           JSON lines, one object per figure, instead of the table\n"
            "  -p, --plot FILE      also write the scaling curves as SVG (runs scale)\n"
            "      --no-synack, --no-lwip, --no-linux   leave a peer out\n"
            "  -n, --lifecycles N   lifecycles per implementation in bench lifecycle\n"
            "      --tw-held N      TIME-WAIT entries held in steady state (default 1000)\n"
            "      --entries N      entries of each kind in bench memory (default 100000,\n"
            "                       20000 with --quick; lwIP at most 10000)\n"
            "      --no-pin         do not pin to one CPU\n"
            "  -h, --help           this help\n\n"
            "Progress goes to stderr. See bench/README.md for what each figure means.\n");
}

static bool parse_count(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0)
        return false;
    *out = v;
    return true;
}

enum { OPT_NO_SYNACK = 256, OPT_NO_LWIP, OPT_NO_LINUX, OPT_TW_HELD, OPT_ENTRIES, OPT_NO_PIN };

int cmd_bench(int argc, char **argv)
{
    /* bench track has its own peers (tshark, tcptrace) and options. */
    if (argc > 1 && !strcmp(argv[1], "track"))
        return track_bench_run(argc - 1, argv + 1);
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, 'j'},
        {"plot", required_argument, NULL, 'p'},
        {"lifecycles", required_argument, NULL, 'n'},
        {"no-synack", no_argument, NULL, OPT_NO_SYNACK},
        {"no-lwip", no_argument, NULL, OPT_NO_LWIP},
        {"no-linux", no_argument, NULL, OPT_NO_LINUX},
        {"tw-held", required_argument, NULL, OPT_TW_HELD},
        {"entries", required_argument, NULL, OPT_ENTRIES},
        {"no-pin", no_argument, NULL, OPT_NO_PIN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct bench_opts o;
    bench_opts_default(&o);
    bool json = false;
    const char *plot = NULL;
    uint64_t v;
    optind = 1;
    opterr = 0; /* our own one-line errors */
    int c;
    while ((c = getopt_long(argc, argv, "qjp:n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            o.quick = true;
            break;
        case 'j':
            json = true;
            break;
        case 'p':
            plot = optarg;
            break;
        case 'n':
            if (!parse_count(optarg, &o.lifecycles))
                return cli_usage_error("bench", "--lifecycles wants a positive count, not '%s'", optarg);
            break;
        case OPT_TW_HELD:
            if (!parse_count(optarg, &v) || v > 1000000)
                return cli_usage_error("bench", "--tw-held wants a count from 1 to 1000000, not '%s'", optarg);
            o.tw_held = (uint32_t)v;
            break;
        case OPT_ENTRIES:
            if (!parse_count(optarg, &v) || v > 10000000)
                return cli_usage_error("bench", "--entries wants a count from 1 to 10000000, not '%s'", optarg);
            o.entries = v;
            break;
        case OPT_NO_SYNACK:
            o.peer[BENCH_SYNACK] = false;
            break;
        case OPT_NO_LWIP:
            o.peer[BENCH_LWIP] = false;
            break;
        case OPT_NO_LINUX:
            o.peer[BENCH_LINUX] = false;
            break;
        case OPT_NO_PIN:
            o.pin = false;
            break;
        case 'h':
            bench_usage(stdout);
            return CLI_OK;
        default:
            if (optopt && optopt < 256)
                return cli_usage_error("bench", "bad or incomplete option -%c (see synack bench --help)", optopt);
            return cli_usage_error("bench", "bad or incomplete option '%s' (see synack bench --help)",
                                   argv[optind - 1]);
        }
    }
    const char *names[8];
    int nnames = 0;
    bool want_scale = false;
    for (int i = optind; i < argc; i++) {
        bool known = false;
        for (int k = 0; bench_names[k]; k++)
            known |= !strcmp(argv[i], bench_names[k]);
        if (!known)
            return cli_usage_error("bench", "unknown benchmark '%s' (lifecycle, memory, scale, synflood, stream)", argv[i]);
        bool dup = false;
        for (int k = 0; k < nnames; k++)
            dup |= !strcmp(names[k], argv[i]);
        if (!dup && nnames < 8)
            names[nnames++] = argv[i];
        want_scale |= !strcmp(argv[i], "scale");
    }
    if (!nnames) {
        for (int k = 0; bench_names[k]; k++)
            names[nnames++] = bench_names[k];
        want_scale = true;
    }
    if (plot && !want_scale)
        names[nnames++] = "scale";

    FILE *svg = NULL;
    if (plot && !(svg = fopen(plot, "w")))
        return cli_fail("bench", "cannot write %s: %s", plot, strerror(errno));
    if (o.pin && bench_pin_self() < 0)
        fprintf(stderr, "synack: bench: cannot pin to one CPU; figures may use more than one core\n");

    char machine[256];
    bench_machine_describe(machine, sizeof machine);
    struct bench_results r;
    bench_results_init(&r);
    int rc = CLI_OK;
    for (int i = 0; i < nnames; i++) {
        int err = bench_run(names[i], &o, &r);
        if (err < 0) {
            fprintf(stderr, "synack: bench: %s: synack did not complete the benchmark\n", names[i]);
            rc = CLI_FAILED;
        }
    }
    if (json) {
        bench_print_json(stdout, &r);
    } else {
        time_t now = time(NULL);
        char date[32];
        strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
        printf("synack bench (%s run), %s, %s\n\n", o.quick ? "quick" : "full", date, machine);
        bench_print_table(stdout, &r);
    }
    if (svg) {
        if (bench_write_svg(svg, &r) < 0)
            rc = cli_fail("bench", "cannot write %s", plot);
        if (fclose(svg) != 0 && rc == CLI_OK)
            rc = cli_fail("bench", "cannot write %s: %s", plot, strerror(errno));
    }
    bench_results_free(&r);
    return rc;
}
