/* Helpers for the track tests: craft segments with the codec, write them
 * as pcap files of any supported link type (pcap_open_dead + pcap_dump),
 * run the tracker over a file and keep what it reported. */
#ifndef SYNACK_TRACK_TEST_UTIL_H
#define SYNACK_TRACK_TEST_UTIL_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "track/track.h"

/* Link framings the generator can write. */
enum tt_link {
    TT_RAW,        /* LINKTYPE_RAW */
    TT_ETHER,      /* Ethernet II */
    TT_VLAN,       /* Ethernet + one 802.1Q tag */
    TT_QINQ,       /* Ethernet + 802.1ad + 802.1Q */
    TT_SLL,        /* Linux cooked v1 */
    TT_SLL2,       /* Linux cooked v2 */
    TT_NULL,       /* BSD loopback, host-order family */
    TT_LOOP,       /* OpenBSD loopback, network-order family */
    TT_IPV4,       /* LINKTYPE_IPV4 */
};

struct tt_gen {
    pcap_t *dead;
    pcap_dumper_t *dumper;
    enum tt_link link;
    int snaplen;      /* frames are cut to this many bytes if > 0 */
    bool corrupt_next_checksum;
};

/* A temporary directory for the test's files, removed by tt_tmp_cleanup. */
const char *tt_tmpdir(void);
void tt_tmp_cleanup(void);
/* tt_path("x.pcap") -> "<tmpdir>/x.pcap" (static buffer rotation of 8). */
const char *tt_path(const char *name);

int tt_open(struct tt_gen *g, const char *path, enum tt_link link);
void tt_close(struct tt_gen *g);
/* Writes a frame holding the IP packet pkt at time t (microseconds). */
void tt_write_ip(struct tt_gen *g, tcp_time_t t, const uint8_t *pkt, size_t len);
/* Writes raw bytes as a frame (for garbage and non-IP frames). */
void tt_write_raw(struct tt_gen *g, tcp_time_t t, const uint8_t *frame, size_t len, size_t wirelen);

/* A conversation between endpoints a and b; seq/ack are absolute. */
struct tt_conv {
    struct tt_gen *g;
    struct wire_endpoint a, b;
    uint8_t wscale_a, wscale_b; /* offered on SYNs when nonzero */
};

void tt_conv_init(struct tt_conv *c, struct tt_gen *g, const char *a, const char *b);
/* Sends a segment; from_a picks the direction. flags in tcpdump letters ("S", "S.", ".", "P.", "F.", "R", "R."). */
void tt_send(struct tt_conv *c, double t_sec, bool from_a, const char *flags, uint32_t seq, uint32_t ack,
             uint32_t len, uint16_t win);

/* What a tracker run reported. */
#define TT_MAX_CONNS 4096
#define TT_MAX_ANOMS 4096
struct tt_result {
    struct track_conn_info conns[TT_MAX_CONNS];
    size_t nconns;
    struct track_anomaly anoms[TT_MAX_ANOMS];
    size_t nanoms;
    struct track_segment_info segs[256];
    size_t nsegs;
    struct track_stats stats;
};

/* Runs the tracker on a file (cfg NULL: defaults); returns 0, or -1 with
 * err set when the file cannot be read. */
int tt_run(const char *path, const struct track_config *cfg, struct tt_result *r, char *err, size_t errlen);
/* The first connection reported whose orig or resp port is port, or NULL. */
const struct track_conn_info *tt_conn_by_port(const struct tt_result *r, uint16_t port);
/* Number of anomalies of a kind reported. */
size_t tt_anomaly_count(const struct tt_result *r, enum track_anomaly_kind k);
const struct track_anomaly *tt_anomaly(const struct tt_result *r, enum track_anomaly_kind k);
bool tt_has_anomaly(const struct track_conn_info *c, enum track_anomaly_kind k);

/* Writes bytes to a file (for corrupted captures). */
void tt_write_file(const char *path, const void *data, size_t len);

#endif
