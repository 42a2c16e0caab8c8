/* libpcap does the file format: pcap_open_dead gives a handle that only
 * knows the link type and snap length, pcap_dump_open writes the header. */
#include "link/pcap_writer.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

#define PCAP_WRITER_SNAPLEN 65535

struct pcap_writer {
    pcap_t *dead;
    pcap_dumper_t *dumper;
    size_t count;
};

struct pcap_writer *pcap_writer_open(const char *path, char *err, size_t errlen)
{
    struct pcap_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->dead = pcap_open_dead(DLT_RAW, PCAP_WRITER_SNAPLEN);
    if (!w->dead) {
        snprintf(err, errlen, "pcap_open_dead failed");
        free(w);
        return NULL;
    }
    w->dumper = pcap_dump_open(w->dead, path);
    if (!w->dumper) {
        snprintf(err, errlen, "%s", pcap_geterr(w->dead));
        pcap_close(w->dead);
        free(w);
        return NULL;
    }
    return w;
}

int pcap_writer_write(struct pcap_writer *w, tcp_time_t t, const uint8_t *pkt, size_t len)
{
    if (!w || !pkt || len == 0)
        return -1;
    struct pcap_pkthdr hdr = {0};
    hdr.ts.tv_sec = (time_t)(t / 1000000u);
    hdr.ts.tv_usec = (suseconds_t)(t % 1000000u);
    hdr.len = (bpf_u_int32)len;
    hdr.caplen = (bpf_u_int32)(len < PCAP_WRITER_SNAPLEN ? len : PCAP_WRITER_SNAPLEN);
    pcap_dump((u_char *)w->dumper, &hdr, pkt);
    w->count++;
    return 0;
}

int pcap_writer_flush(struct pcap_writer *w)
{
    return w && pcap_dump_flush(w->dumper) == 0 ? 0 : -1;
}

size_t pcap_writer_count(const struct pcap_writer *w)
{
    return w ? w->count : 0;
}

void pcap_writer_close(struct pcap_writer *w)
{
    if (!w)
        return;
    pcap_dump_close(w->dumper);
    pcap_close(w->dead);
    free(w);
}
