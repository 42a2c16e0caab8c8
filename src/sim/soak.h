/* sim/soak — long randomized runs in virtual time (issues 6 and 9).
 *
 *   stream  transfers of 1 MiB (one way, or both) over links with 0-20 %
 *           loss, duplication and reordering: every byte must arrive intact
 *           and in order, or the connection fail with a defined errno
 *   faults  connections through mixtures of link faults, delay spikes,
 *           injected RSTs (exact, in-window, blind), hosts that freeze, are
 *           cut off or reboot, and applications that never read, never
 *           close, abort or close early: every connection must end in a
 *           defined state with a defined errno, what is delivered must be a
 *           prefix of what was sent (all of it when EOF is seen)
 *
 * In both, nothing may hang (a virtual-time limit per trial) and each trial
 * must end with both hosts holding no connection (memory returns). Each
 * trial has its own seed, derived from the run's seed and its index, so
 * `--seed N --only I` replays trial I alone, exactly. */
#ifndef SYNACK_SIM_SOAK_H
#define SYNACK_SIM_SOAK_H

#include <stdbool.h>
#include <stdint.h>

/* What the faults soak injects, by kind (counted when it happens). */
#define SOAK_FAULTS(X)                                                  \
    X(DELAY_SPIKE, "delay-spike")       /* one direction's delay +0.2-4 s for a while */ \
    X(LOSS_BURST, "loss-burst")         /* one direction loses everything for a while */ \
    X(RST_EXACT, "rst-exact")           /* spoofed RST at the target's RCV.NXT */ \
    X(RST_IN_WINDOW, "rst-in-window")   /* spoofed RST inside the window, not at RCV.NXT */ \
    X(RST_BLIND, "rst-blind")           /* spoofed RST with a random sequence number */ \
    X(FREEZE, "freeze")                 /* a host stops (no input, no timers), then resumes */ \
    X(CUT, "cut")                       /* a host's link loses everything, then heals */ \
    X(REBOOT, "reboot")                 /* a host goes down; its stack state is lost */ \
    X(APP_NEVER_READ, "app-never-read") \
    X(APP_NEVER_CLOSE, "app-never-close") \
    X(APP_ABORT, "app-abort")           \
    X(APP_EARLY_CLOSE, "app-early-close")

enum soak_fault {
#define SOAK_FAULT_ENUM(id, name) SOAK_FAULT_##id,
    SOAK_FAULTS(SOAK_FAULT_ENUM)
#undef SOAK_FAULT_ENUM
    SOAK_FAULT_COUNT
};
const char *soak_fault_name(enum soak_fault f);

/* How an application's end of a connection ended. */
#define SOAK_ENDS(X)                                                         \
    X(OK, "ok")                     /* all sent, EOF read, closed */          \
    X(ERROR, "error")               /* a call failed: see the errno counts */ \
    X(KILLED, "killed")             /* its host rebooted under it */          \
    X(EXITED, "exited")             /* a never-read/never-close app exited */ \
    X(ABORTED, "aborted")           /* the app aborted it (RST) */            \
    X(CLOSED_EARLY, "closed-early") /* the app closed before the end */

enum soak_end {
#define SOAK_END_ENUM(id, name) SOAK_END_##id,
    SOAK_ENDS(SOAK_END_ENUM)
#undef SOAK_END_ENUM
    SOAK_END_COUNT
};
const char *soak_end_name(enum soak_end e);

/* The errnos a connection may end with (RFC 9293 §3.10 as Linux reports
 * them); anything else is a failure. */
#define SOAK_ERRNOS(X) X(ECONNRESET) X(ETIMEDOUT) X(ECONNREFUSED) X(EPIPE)
enum soak_errno {
#define SOAK_ERRNO_ENUM(name) SOAK_ERR_##name,
    SOAK_ERRNOS(SOAK_ERRNO_ENUM)
#undef SOAK_ERRNO_ENUM
    SOAK_ERR_OTHER,
    SOAK_ERR_COUNT
};
const char *soak_errno_name(enum soak_errno e);

struct soak_summary {
    const char *kind;        /* "stream" or "faults" */
    uint64_t seed;
    uint64_t trials;         /* worlds run (stream: one transfer each) */
    uint64_t conns;          /* connections opened */
    uint64_t failures;       /* trials that broke a promise */
    uint64_t completed;      /* connections whose data all arrived both ways, EOF seen */
    uint64_t revived;        /* server connections a late ACK reopened through a SYN cookie */
    uint64_t bidirectional;  /* stream: transfers with data both ways */
    uint64_t bytes_sent;     /* accepted by send() */
    uint64_t bytes_delivered; /* returned by recv(), verified */
    uint64_t ends[SOAK_END_COUNT];     /* per application end */
    uint64_t errnos[SOAK_ERR_COUNT];
    uint64_t faults[SOAK_FAULT_COUNT];
    /* stream: transfers per 5 % bucket (0-5, 5-10, 10-15, 15-20 %) */
    uint64_t loss_mix[4], dup_mix[4], reorder_mix[4];
    uint64_t packets, lost, duplicated, reordered; /* the links (simnet_stats) */
    uint64_t retransmits, timeouts, fast_retransmits, challenge_acks; /* both hosts' counters */
    uint64_t events;         /* simulator events */
    double virtual_s;        /* virtual time, summed over trials */
    double wall_s;
};

struct soak_options {
    uint64_t seed;           /* default 1 */
    uint64_t count;          /* stream: transfers (1000); faults: connections (100000) */
    uint32_t bytes;          /* stream: bytes per transfer (1 MiB) */
    bool only_set;
    uint64_t only;           /* run trial `only` alone */
    void *ctx;
    /* About once a second of wall time. Optional. */
    void (*progress)(void *ctx, const struct soak_summary *sofar);
    /* A trial that broke a promise: its index, seed, and what went wrong. */
    void (*failure)(void *ctx, uint64_t trial, const char *what);
    /* A connection that failed with an allowed errno (stream soak). Optional. */
    void (*note)(void *ctx, uint64_t trial, const char *what);
};

void soak_options_default(struct soak_options *o, bool faults, bool quick);
/* Each returns the number of failed trials (0: every promise kept), or -1
 * if a world could not be built (out of memory). */
int soak_stream(const struct soak_options *o, struct soak_summary *out);
int soak_faults(const struct soak_options *o, struct soak_summary *out);

#endif
