/* libpcap in, frames to the tracker out. libpcap reads both pcap and
 * pcapng; timestamps are asked for in microseconds (nanosecond files are
 * converted by libpcap).
 *
 * Classic pcap files (version 2.4, either byte order, micro- or
 * nanosecond stamps) are opened and checked by libpcap, then their records
 * are read here: large read(2)s into one buffer and frames handed to the
 * tracker where they lie. libpcap copies each record with two freads,
 * which was a fifth of the tracker's time on a large file. The records
 * are judged exactly as libpcap's sf-pcap.c judges them (same limits, same
 * truncation to the snapshot length, same messages). */
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "track/track_capture.h"

#define CAPTURE_FILE_BUFFER (1u << 20)
#define PCAP_RECORD_HEADER 16
/* libpcap's MAXIMUM_SNAPLEN: the largest caplen it accepts for the link
 * types we decode (max_snaplen_for_dlt). */
#define PCAP_MAX_CAPLEN 262144u

struct pcap_reader {
    int fd;
    bool swapped, nanos;
    uint32_t snapshot;
    uint8_t *buf;     /* cap bytes: up to CAPTURE_FILE_BUFFER, less for small files */
    size_t cap;
    size_t pos, end;  /* unread bytes are buf[pos..end) */
    bool eof;
};

struct track_capture {
    pcap_t *pcap;
    int dlt;
    int fd; /* live: pollable descriptor, or -1 */
    bool live;
    char *file_buf; /* stdio buffer of the file libpcap reads, or NULL */
    struct pcap_reader *reader; /* classic pcap read here, or NULL */
    volatile sig_atomic_t stop;
    char name[256];
};

static inline uint32_t load32(const uint8_t *p, bool swapped)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

/* A classic pcap header (pcap-savefile(5)) that libpcap reads as we do:
 * version 2.4, no Kuznetzov/Navtel variants. */
static bool classic_pcap(const uint8_t h[24], bool *swapped, bool *nanos)
{
    uint32_t magic;
    memcpy(&magic, h, 4);
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
        *swapped = false;
    } else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
        *swapped = true;
        magic = __builtin_bswap32(magic);
    } else {
        return false;
    }
    *nanos = magic == 0xa1b23c4du;
    uint16_t major, minor;
    memcpy(&major, h + 4, 2);
    memcpy(&minor, h + 6, 2);
    if (*swapped) {
        major = __builtin_bswap16(major);
        minor = __builtin_bswap16(minor);
    }
    return major == 2 && minor == 4;
}

/* Makes at least `need` unread bytes available, unless the file ends
 * first; returns how many there are, or -1 on a read error (errno). */
static long reader_fill(struct pcap_reader *r, size_t need)
{
    if (r->end - r->pos >= need || r->eof)
        return (long)(r->end - r->pos);
    memmove(r->buf, r->buf + r->pos, r->end - r->pos);
    r->end -= r->pos;
    r->pos = 0;
    if (need > r->cap) { /* the file grew since it was opened */
        size_t cap = need > CAPTURE_FILE_BUFFER / 2 ? CAPTURE_FILE_BUFFER : 2 * need;
        uint8_t *b = realloc(r->buf, cap);
        if (!b) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = b;
        r->cap = cap;
    }
    while (r->end < need) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            r->eof = true;
            break;
        }
        r->end += (size_t)n;
    }
    return (long)(r->end - r->pos);
}

static void reader_free(struct pcap_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

/* A read buffer for the file: CAPTURE_FILE_BUFFER, or the whole file when
 * it is smaller (no record can be larger than the file). */
static size_t buffer_size(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 && st.st_size < CAPTURE_FILE_BUFFER)
        return st.st_size < 64 ? 64 : (size_t)st.st_size;
    return CAPTURE_FILE_BUFFER;
}

/* After libpcap accepted the header: our reader, positioned on the first
 * record, or NULL to let libpcap read (not classic pcap, not seekable, no
 * memory). */
static struct pcap_reader *reader_open(FILE *f, pcap_t *p, const uint8_t h[24])
{
    bool swapped, nanos;
    if (!classic_pcap(h, &swapped, &nanos))
        return NULL;
    int fd = fileno(f);
    off_t at = ftello(f); /* libpcap has consumed the 24-byte header */
    if (fd < 0 || at != 24 || lseek(fd, at, SEEK_SET) != at)
        return NULL;
    struct pcap_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cap = buffer_size(fd);
    r->buf = malloc(r->cap);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    r->fd = fd;
    r->swapped = swapped;
    r->nanos = nanos;
    int snap = pcap_snapshot(p); /* libpcap's, after its own sanity fixes */
    r->snapshot = snap > 0 ? (uint32_t)snap : PCAP_MAX_CAPLEN;
    return r;
}

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
    char *file_buf = NULL;
    struct pcap_reader *reader = NULL;
    pcap_t *p;
    if (strcmp(path, "-") == 0) {
        p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    } else {
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return NULL;
        }
        /* Classic pcap is read by our reader once libpcap has checked the
         * header; anything else (pcapng, pipes) by libpcap, through a large
         * stdio buffer (glibc ignores the size without a buffer) so that
         * its two freads per record are not a read(2) every few packets. */
        uint8_t h[24];
        bool classic = pread(fileno(f), h, sizeof h, 0) == (ssize_t)sizeof h && classic_pcap(h, &(bool){0}, &(bool){0});
        if (!classic) {
            size_t size = buffer_size(fileno(f));
            file_buf = malloc(size);
            if (file_buf)
                setvbuf(f, file_buf, _IOFBF, size);
        }
        p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
        if (!p) {
            fclose(f); /* libpcap leaves it open when it fails */
            free(file_buf);
        } else if (classic) {
            reader = reader_open(f, p, h);
        }
    }
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
        free(file_buf);
        reader_free(reader);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    c->file_buf = file_buf;
    c->reader = reader;
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

/* libpcap's pcap_next_ex() for classic pcap, without its copies. */
static enum track_capture_result reader_feed(struct track_capture *c, struct track *t, long max, char *err,
                                             size_t errlen)
{
    struct pcap_reader *r = c->reader;
    for (long n = 0; max <= 0 || n < max; n++) {
        if (c->stop) {
            c->stop = 0;
            return TRACK_CAPTURE_EOF; /* as PCAP_ERROR_BREAK on a file */
        }
        long have = reader_fill(r, PCAP_RECORD_HEADER);
        if (have < 0)
            goto read_error;
        if (have == 0)
            return TRACK_CAPTURE_EOF;
        if (have < PCAP_RECORD_HEADER) {
            snprintf(err, errlen, "%s: truncated dump file; tried to read %d header bytes, only got %ld", c->name,
                     PCAP_RECORD_HEADER, have);
            return TRACK_CAPTURE_ERROR;
        }
        const uint8_t *h = r->buf + r->pos;
        /* struct pcap_timeval holds signed 32-bit fields. */
        long sec = (int32_t)load32(h, r->swapped);
        long usec = (int32_t)load32(h + 4, r->swapped);
        uint32_t caplen = load32(h + 8, r->swapped), len = load32(h + 12, r->swapped);
        if (r->nanos)
            usec /= 1000;
        if (caplen > PCAP_MAX_CAPLEN) {
            if (caplen > r->snapshot)
                snprintf(err, errlen, "%s: invalid packet capture length %u, bigger than snaplen of %u", c->name,
                         caplen, r->snapshot);
            else
                snprintf(err, errlen, "%s: invalid packet capture length %u, bigger than maximum of %u", c->name,
                         caplen, PCAP_MAX_CAPLEN);
            return TRACK_CAPTURE_ERROR;
        }
        /* Bigger than the file's snapshot length: libpcap keeps the first
         * snapshot bytes and discards the rest. */
        uint32_t keep = caplen > r->snapshot ? r->snapshot : caplen;
        have = reader_fill(r, PCAP_RECORD_HEADER + (size_t)caplen);
        if (have < 0)
            goto read_error;
        if ((size_t)have < PCAP_RECORD_HEADER + (size_t)caplen) {
            long got = have - PCAP_RECORD_HEADER;
            snprintf(err, errlen, "%s: truncated dump file; tried to read %u captured bytes, only got %ld", c->name,
                     got < (long)keep ? keep : caplen, got);
            return TRACK_CAPTURE_ERROR;
        }
        const uint8_t *data = r->buf + r->pos + PCAP_RECORD_HEADER;
        r->pos += PCAP_RECORD_HEADER + (size_t)caplen;
        tcp_time_t now = 0;
        if (sec > 0 || (sec == 0 && usec > 0))
            now = (tcp_time_t)sec * 1000000u + (tcp_time_t)(usec % 1000000);
        track_frame(t, c->dlt, now, data, keep, len);
    }
    return TRACK_CAPTURE_MORE;
read_error:
    snprintf(err, errlen, "%s: error reading dump file: %s", c->name, strerror(errno));
    return TRACK_CAPTURE_ERROR;
}

enum track_capture_result track_capture_feed(struct track_capture *c, struct track *t, long max, char *err,
                                             size_t errlen)
{
    if (c->reader)
        return reader_feed(c, t, max, err, errlen);
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
    c->stop = 1;
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
    pcap_close(c->pcap); /* closes the FILE before its buffer goes */
    free(c->file_buf);
    reader_free(c->reader);
    free(c);
}
