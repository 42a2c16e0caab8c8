/* synack soak: the simulator's soaks (issues 6 and 9), see sim/soak.h. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "sim/soak.h"

static void soak_usage(FILE *out)
{
    fprintf(out,
            "usage: synack soak stream|faults [--quick] [--seed N] [--count N] [--only I] [--json]\n\n"
            "Long randomized runs in virtual time; every broken promise is printed with\n"
            "the command that replays it, and the exit status is 1 if there was any.\n\n"
            "  stream   1,000 transfers of 1 MiB (a quarter with data both ways) over links\n"
            "           with 0-20%% loss, duplication and reordering: every byte intact and\n"
            "           in order (checked, checksummed both ends) or a defined errno; no\n"
            "           hang; both hosts empty at the end\n"
            "  faults   100,000 connections through loss, duplication, reordering, delay\n"
            "           spikes, spoofed RSTs (exact, in-window, blind), hosts frozen, cut off\n"
            "           or rebooted, and apps that never read, never close, abort or close\n"
            "           early: a defined end and errno for each, delivered data a prefix of\n"
            "           what was sent, no hang, both hosts empty at the end\n\n"
            "  -q, --quick      a few seconds: 12 transfers / 1,000 connections\n"
            "  -s, --seed N     the run's seed (default 1); each trial's seed derives from it\n"
            "  -n, --count N    transfers (stream) or connections (faults)\n"
            "  -b, --bytes N    stream: bytes per transfer (default 1048576)\n"
            "  -o, --only I     run trial I alone (to replay a failure)\n"
            "  -j, --json       one JSON summary object on stdout instead of the text\n"
            "  -h, --help       this help\n");
}

struct report {
    const char *kind;
    uint64_t seed;
    bool json; /* stdout holds only the summary: failures go to stderr */
};

static void on_failure(void *ctx, uint64_t trial, const char *what)
{
    const struct report *r = ctx;
    FILE *out = r->json ? stderr : stdout;
    fprintf(out, "FAIL trial %llu: %s\n  replay: synack soak %s --seed %llu --only %llu\n", (unsigned long long)trial,
            what, r->kind, (unsigned long long)r->seed, (unsigned long long)trial);
    fflush(out);
}

static void on_note(void *ctx, uint64_t trial, const char *what)
{
    const struct report *r = ctx;
    fprintf(stderr, "soak: trial %llu: %s (synack soak %s --seed %llu --only %llu)\n", (unsigned long long)trial,
            what, r->kind, (unsigned long long)r->seed, (unsigned long long)trial);
}

static void on_progress(void *ctx, const struct soak_summary *s)
{
    (void)ctx;
    fprintf(stderr, "soak %s: %llu trials, %llu connections, %.1f MB delivered, %llu failures, %.0f s\n", s->kind,
            (unsigned long long)s->trials, (unsigned long long)s->conns, (double)s->bytes_delivered / 1e6,
            (unsigned long long)s->failures, s->wall_s);
}

static void print_mix(FILE *out, const char *name, const uint64_t mix[4])
{
    fprintf(out, "  %-8s 0-5%%: %llu  5-10%%: %llu  10-15%%: %llu  15-20%%: %llu\n", name, (unsigned long long)mix[0],
            (unsigned long long)mix[1], (unsigned long long)mix[2], (unsigned long long)mix[3]);
}

static void print_text(FILE *out, const struct soak_summary *s)
{
    fprintf(out, "soak %s, seed %llu: %s\n", s->kind, (unsigned long long)s->seed,
            s->failures ? "FAILED" : "every promise kept");
    fprintf(out, "  trials %llu, connections %llu, completed %llu, failures %llu\n", (unsigned long long)s->trials,
            (unsigned long long)s->conns, (unsigned long long)s->completed, (unsigned long long)s->failures);
    fprintf(out, "  bytes sent %llu, delivered (verified) %llu\n", (unsigned long long)s->bytes_sent,
            (unsigned long long)s->bytes_delivered);
    if (!strcmp(s->kind, "stream")) {
        fprintf(out, "  transfers with data both ways %llu; links by loss / duplication / reordering:\n",
                (unsigned long long)s->bidirectional);
        print_mix(out, "loss", s->loss_mix);
        print_mix(out, "dup", s->dup_mix);
        print_mix(out, "reorder", s->reorder_mix);
    } else {
        fprintf(out, "  server connections reopened by a late ACK through a SYN cookie: %llu\n",
                (unsigned long long)s->revived);
        fprintf(out, "  faults injected:");
        for (int i = 0; i < SOAK_FAULT_COUNT; i++)
            fprintf(out, "%s %s %llu", i ? "," : "", soak_fault_name((enum soak_fault)i),
                    (unsigned long long)s->faults[i]);
        fputc('\n', out);
    }
    fprintf(out, "  ends:");
    for (int i = 0; i < SOAK_END_COUNT; i++)
        fprintf(out, "%s %s %llu", i ? "," : "", soak_end_name((enum soak_end)i), (unsigned long long)s->ends[i]);
    fprintf(out, "\n  errnos:");
    for (int i = 0; i < SOAK_ERR_COUNT; i++)
        fprintf(out, "%s %s %llu", i ? "," : "", soak_errno_name((enum soak_errno)i),
                (unsigned long long)s->errnos[i]);
    fprintf(out, "\n  packets %llu: lost %llu, duplicated %llu, reordered %llu\n", (unsigned long long)s->packets,
            (unsigned long long)s->lost, (unsigned long long)s->duplicated, (unsigned long long)s->reordered);
    fprintf(out, "  retransmissions %llu (timeouts %llu, fast retransmits %llu), challenge ACKs %llu\n",
            (unsigned long long)s->retransmits, (unsigned long long)s->timeouts,
            (unsigned long long)s->fast_retransmits, (unsigned long long)s->challenge_acks);
    fprintf(out, "  simulator events %llu, virtual time %.0f s, wall time %.1f s\n", (unsigned long long)s->events,
            s->virtual_s, s->wall_s);
}

static void json_counts(FILE *out, const char *name, const uint64_t *v, int n, const char *(*label)(int))
{
    fprintf(out, ",\"%s\":{", name);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s\"%s\":%llu", i ? "," : "", label(i), (unsigned long long)v[i]);
    fputc('}', out);
}

static const char *fault_label(int i) { return soak_fault_name((enum soak_fault)i); }
static const char *end_label(int i) { return soak_end_name((enum soak_end)i); }
static const char *errno_label(int i) { return soak_errno_name((enum soak_errno)i); }
static const char *mix_label(int i)
{
    static const char *const names[] = {"0-5", "5-10", "10-15", "15-20"};
    return names[i];
}

static void print_json(FILE *out, const struct soak_summary *s)
{
    fprintf(out,
            "{\"kind\":\"%s\",\"seed\":%llu,\"ok\":%s,\"trials\":%llu,\"connections\":%llu,\"completed\":%llu,"
            "\"failures\":%llu,\"bytes_sent\":%llu,\"bytes_delivered\":%llu,\"bidirectional\":%llu,\"revived\":%llu",
            s->kind, (unsigned long long)s->seed, s->failures ? "false" : "true", (unsigned long long)s->trials,
            (unsigned long long)s->conns, (unsigned long long)s->completed, (unsigned long long)s->failures,
            (unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_delivered,
            (unsigned long long)s->bidirectional, (unsigned long long)s->revived);
    json_counts(out, "faults", s->faults, SOAK_FAULT_COUNT, fault_label);
    json_counts(out, "ends", s->ends, SOAK_END_COUNT, end_label);
    json_counts(out, "errnos", s->errnos, SOAK_ERR_COUNT, errno_label);
    json_counts(out, "loss_mix", s->loss_mix, 4, mix_label);
    json_counts(out, "dup_mix", s->dup_mix, 4, mix_label);
    json_counts(out, "reorder_mix", s->reorder_mix, 4, mix_label);
    fprintf(out,
            ",\"packets\":%llu,\"lost\":%llu,\"duplicated\":%llu,\"reordered\":%llu,\"retransmits\":%llu,"
            "\"timeouts\":%llu,\"fast_retransmits\":%llu,\"challenge_acks\":%llu,\"events\":%llu,"
            "\"virtual_s\":%.3f,\"wall_s\":%.3f}\n",
            (unsigned long long)s->packets, (unsigned long long)s->lost, (unsigned long long)s->duplicated,
            (unsigned long long)s->reordered, (unsigned long long)s->retransmits, (unsigned long long)s->timeouts,
            (unsigned long long)s->fast_retransmits, (unsigned long long)s->challenge_acks,
            (unsigned long long)s->events, s->virtual_s, s->wall_s);
}

static int parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max)
        return cli_usage_error("soak", "bad %s '%s' (an integer from %llu to %llu)", opt, arg,
                               (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return CLI_OK;
}

int cmd_soak(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, 'q'},      {"seed", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'}, {"bytes", required_argument, NULL, 'b'},
        {"only", required_argument, NULL, 'o'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    bool quick = false, json = false, have_count = false, have_bytes = false;
    uint64_t seed = 1, count = 0, bytes = 0, only = 0;
    bool only_set = false;
    int c;
    optind = 1;
    opterr = 0; /* one line of our own for a bad option */
    while ((c = getopt_long(argc, argv, "qs:n:b:o:jh", longopts, NULL)) != -1) {
        int rc = CLI_OK;
        switch (c) {
        case 'q': quick = true; break;
        case 'j': json = true; break;
        case 's': rc = parse_u64("--seed", optarg, 0, UINT64_MAX, &seed); break;
        case 'n': rc = parse_u64("--count", optarg, 1, UINT64_C(1) << 40, &count); have_count = true; break;
        case 'b': rc = parse_u64("--bytes", optarg, 1, UINT32_MAX, &bytes); have_bytes = true; break;
        case 'o': rc = parse_u64("--only", optarg, 0, UINT64_MAX, &only); only_set = true; break;
        case 'h': soak_usage(stdout); return CLI_OK;
        default: return cli_usage_error("soak", "bad option '%s' (see synack soak --help)", argv[optind - 1]);
        }
        if (rc != CLI_OK)
            return rc;
    }
    if (optind != argc - 1)
        return cli_usage_error("soak", optind >= argc ? "which soak? stream or faults (see --help)"
                                                      : "one soak at a time: stream or faults");
    const char *kind = argv[optind];
    bool faults = !strcmp(kind, "faults");
    if (!faults && strcmp(kind, "stream"))
        return cli_usage_error("soak", "unknown soak '%s' (stream or faults)", kind);
    if (have_bytes && faults)
        return cli_usage_error("soak", "--bytes is for the stream soak");
    struct soak_options o;
    soak_options_default(&o, faults, quick);
    o.seed = seed;
    if (have_count)
        o.count = count;
    if (have_bytes)
        o.bytes = (uint32_t)bytes;
    o.only_set = only_set;
    o.only = only;
    struct report r = {faults ? "faults" : "stream", seed, json};
    o.ctx = &r;
    o.failure = on_failure;
    o.note = on_note;
    o.progress = on_progress;
    struct soak_summary s;
    int rc = faults ? soak_faults(&o, &s) : soak_stream(&o, &s);
    if (rc < 0)
        return cli_fail("soak", "out of memory");
    if (json)
        print_json(stdout, &s);
    else
        print_text(stdout, &s);
    return s.failures ? CLI_FAILED : CLI_OK;
}
