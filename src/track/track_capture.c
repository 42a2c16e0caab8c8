/* libpcap in, frames to the tracker out. libpcap reads both pcap and
 * pcapng; timestamps are asked for in microseconds (nanosecond files are
 * converted by libpcap). */
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_capture.h"

struct track_capture {
    pcap_t *pcap;
    int dlt;
    int fd; /* live: pollable descriptor, or -1 */
    bool live;
    char name[256];
};

static struct track_capture *capture_new(pcap_t *p, const char *name, bool live)
{
    struct track_capture *c = calloc(1, sizeof *c);
    if (!c) {
        pcap_close(p);
        return NULL;
    }
    c->pcap = p;
    c->dlt = pcap_datalink(p);
    c->live = live;
    c->fd = -1;
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

static bool check_link(struct track_capture *c, char *err, size_t errlen)
{
    if (track_link_supported(c->dlt))
        return true;
    const char *n = pcap_datalink_val_to_name(c->dlt);
    snprintf(err, errlen, "%s: link type %s (%d) is not supported (Ethernet, Linux cooked, raw IP, loopback are)",
             c->name, n ? n : "unknown", c->dlt);
    return false;
}

struct track_capture *track_capture_open_file(const char *path, char *err, size_t errlen)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (!p) {
        /* libpcap's reasons already name the problem ("unknown file
         * format", "truncated dump file..."); prefix the file unless it
         * already is. */
        if (strncmp(errbuf, path, strlen(path)) == 0)
            snprintf(err, errlen, "%s", errbuf);
        else
            snprintf(err, errlen, "%s: %s", path, errbuf[0] ? errbuf : "cannot open");
        return NULL;
    }
    struct track_capture *c = capture_new(p, path, false);
    if (!c) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (!check_link(c, err, errlen)) {
        track_capture_close(c);
        return NULL;
    }
    return c;
}

struct track_capture *track_capture_open_live(const char *iface, const char *bpf, int snaplen, bool promisc,
                                              int timeout_ms, char *err, size_t errlen)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(iface, errbuf);
    if (!p) {
        snprintf(err, errlen, "%s: %s", iface, errbuf);
        return NULL;
    }
    pcap_set_snaplen(p, snaplen > 0 ? snaplen : 256);
    pcap_set_promisc(p, promisc ? 1 : 0);
    pcap_set_timeout(p, timeout_ms > 0 ? timeout_ms : 200);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
    /* Frames as they come (no TPACKET_V3 block delay), and reads that
     * never block: on Linux the read timeout does not fire without
     * traffic, so waiting is track_capture_wait's poll(). */
    pcap_set_immediate_mode(p, 1);
    int rc = pcap_activate(p);
    if (rc < 0) {
        const char *why = pcap_geterr(p);
        if (why && why[0])
            snprintf(err, errlen, "%s: %s (%s)", iface, pcap_statustostr(rc), why);
        else
            snprintf(err, errlen, "%s: %s", iface, pcap_statustostr(rc));
        pcap_close(p);
        return NULL;
    }
    if (pcap_setnonblock(p, 1, errbuf) < 0) {
        snprintf(err, errlen, "%s: %s", iface, errbuf);
        pcap_close(p);
        return NULL;
    }
    struct track_capture *c = capture_new(p, iface, true);
    if (!c) {
        snprintf(err, errlen, "%s: out of memory", iface);
        return NULL;
    }
    c->fd = pcap_get_selectable_fd(p);
    if (!check_link(c, err, errlen)) {
        track_capture_close(c);
        return NULL;
    }
    if (bpf && bpf[0]) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            snprintf(err, errlen, "filter \"%s\": %s", bpf, pcap_geterr(p));
            track_capture_close(c);
            return NULL;
        }
        rc = pcap_setfilter(p, &prog);
        pcap_freecode(&prog);
        if (rc < 0) {
            snprintf(err, errlen, "filter \"%s\": %s", bpf, pcap_geterr(p));
            track_capture_close(c);
            return NULL;
        }
    }
    return c;
}

enum track_capture_result track_capture_feed(struct track_capture *c, struct track *t, long max, char *err,
                                             size_t errlen)
{
    for (long n = 0; max <= 0 || n < max; n++) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(c->pcap, &h, &data);
        if (rc == 1) {
            tcp_time_t now = 0;
            if (h->ts.tv_sec > 0 || (h->ts.tv_sec == 0 && h->ts.tv_usec > 0))
                now = (tcp_time_t)h->ts.tv_sec * 1000000u + (tcp_time_t)(h->ts.tv_usec % 1000000);
            track_frame(t, c->dlt, now, data, h->caplen, h->len);
            continue;
        }
        if (rc == 0)
            return TRACK_CAPTURE_MORE; /* live: nothing to read now */
        if (rc == PCAP_ERROR_BREAK)
            return c->live ? TRACK_CAPTURE_MORE : TRACK_CAPTURE_EOF;
        snprintf(err, errlen, "%s: %s", c->name, pcap_geterr(c->pcap));
        return TRACK_CAPTURE_ERROR;
    }
    return TRACK_CAPTURE_MORE;
}

bool track_capture_wait(struct track_capture *c, int timeout_ms)
{
    if (!c->live || c->fd < 0)
        return true;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    return poll(&pfd, 1, timeout_ms) > 0;
}

void track_capture_break(struct track_capture *c)
{
    pcap_breakloop(c->pcap);
}

int track_capture_datalink(const struct track_capture *c)
{
    return c->dlt;
}

const char *track_capture_name(const struct track_capture *c)
{
    return c->name;
}

bool track_capture_drops(struct track_capture *c, uint64_t *received, uint64_t *dropped)
{
    struct pcap_stat st;
    if (!c->live || pcap_stats(c->pcap, &st) < 0)
        return false;
    *received = st.ps_recv;
    *dropped = (uint64_t)st.ps_drop + st.ps_ifdrop;
    return true;
}

void track_capture_close(struct track_capture *c)
{
    if (!c)
        return;
    pcap_close(c->pcap);
    free(c);
}
