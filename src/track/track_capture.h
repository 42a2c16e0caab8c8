/* track/capture — frames from pcap/pcapng files and live interfaces through
 * libpcap, fed to a tracker. Every failure is a one-line message in err. */
#ifndef SYNACK_TRACK_CAPTURE_H
#define SYNACK_TRACK_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "track/track.h"

struct track_capture;

/* Opens a pcap or pcapng file ("-" is stdin). NULL and a reason in err on
 * failure: missing file, wrong magic, corrupted header, unsupported link
 * type. */
struct track_capture *track_capture_open_file(const char *path, char *err, size_t errlen);

/* Opens a live interface with an optional BPF filter (NULL: all traffic).
 * snaplen bounds the bytes kept per frame (headers are enough to track).
 * Reads never block: feed until TRACK_CAPTURE_MORE, then
 * track_capture_wait. timeout_ms is libpcap's buffer timeout. Needs
 * CAP_NET_RAW. */
struct track_capture *track_capture_open_live(const char *iface, const char *bpf, int snaplen, bool promisc,
                                              int timeout_ms, char *err, size_t errlen);

enum track_capture_result {
    TRACK_CAPTURE_ERROR = -1, /* err says why */
    TRACK_CAPTURE_MORE = 0,   /* live: read timed out, max reached, or broken off */
    TRACK_CAPTURE_EOF = 1,    /* file: no more records */
};

/* Feeds frames to t: up to max of them (all if max <= 0). Errors in the
 * middle of a file (a record with an absurd length, a truncated record)
 * stop the feed with TRACK_CAPTURE_ERROR; what was read stays tracked. */
enum track_capture_result track_capture_feed(struct track_capture *c, struct track *t, long max, char *err,
                                             size_t errlen);

/* Live: waits up to timeout_ms for frames to read; true if there are some
 * (or a signal interrupted the wait). Files: returns true at once. */
bool track_capture_wait(struct track_capture *c, int timeout_ms);

/* Makes a running track_capture_feed return soon; async-signal-safe. */
void track_capture_break(struct track_capture *c);

int track_capture_datalink(const struct track_capture *c);
const char *track_capture_name(const struct track_capture *c);
/* Live: frames received and dropped by the kernel; false if unknown. */
bool track_capture_drops(struct track_capture *c, uint64_t *received, uint64_t *dropped);

void track_capture_close(struct track_capture *c);

#endif
