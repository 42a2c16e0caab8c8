/* Link layers: finding the IP header inside a captured frame. Ethernet
 * (with 802.1Q / 802.1ad / QinQ tags and PPPoE sessions), Linux cooked
 * captures (SLL, SLL2), raw IP and BSD loopback. */
#include <pcap/dlt.h>

#include "track/track_internal.h"

enum {
    ETHERTYPE_IPV4 = 0x0800,
    ETHERTYPE_IPV6 = 0x86dd,
    ETHERTYPE_VLAN = 0x8100,  /* IEEE 802.1Q */
    ETHERTYPE_QINQ = 0x88a8,  /* IEEE 802.1ad */
    ETHERTYPE_QINQ_OLD = 0x9100,
    ETHERTYPE_PPPOE = 0x8864, /* RFC 2516 session stage */
    PPP_IPV4 = 0x0021,
    PPP_IPV6 = 0x0057,
    LINKTYPE_RAW = 101,       /* as written in files; libpcap maps it to DLT_RAW */
    MAX_TAGS = 8,
};

enum { WHY_NOT_IP = 0, WHY_TRUNCATED = 1, WHY_UNSUPPORTED = 2 };

static inline uint16_t load16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

bool track_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case LINKTYPE_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
        return true;
    default:
        return false;
    }
}

/* Follows an ethertype (and any VLAN or PPPoE headers after it) from off. */
static long by_ethertype(const uint8_t *f, size_t caplen, size_t type_off, size_t off, int *why)
{
    uint16_t type = load16(f + type_off);
    for (int tags = 0;; tags++) {
        switch (type) {
        case ETHERTYPE_IPV4:
        case ETHERTYPE_IPV6:
            return (long)off;
        case ETHERTYPE_VLAN:
        case ETHERTYPE_QINQ:
        case ETHERTYPE_QINQ_OLD:
            if (tags >= MAX_TAGS) {
                *why = WHY_NOT_IP;
                return -1;
            }
            if (caplen < off + 4) {
                *why = WHY_TRUNCATED;
                return -1;
            }
            type = load16(f + off + 2); /* after the TCI */
            off += 4;
            break;
        case ETHERTYPE_PPPOE:
            if (caplen < off + 8) {
                *why = WHY_TRUNCATED;
                return -1;
            }
            switch (load16(f + off + 6)) {
            case PPP_IPV4:
            case PPP_IPV6:
                return (long)(off + 8);
            default:
                *why = WHY_NOT_IP;
                return -1;
            }
        default:
            *why = WHY_NOT_IP;
            return -1;
        }
    }
}

long track_link_ip_offset(int dlt, const uint8_t *f, size_t caplen, int *why)
{
    switch (dlt) {
    case DLT_EN10MB:
        if (caplen < 14) {
            *why = WHY_TRUNCATED;
            return -1;
        }
        return by_ethertype(f, caplen, 12, 14, why);
    case DLT_LINUX_SLL: /* 16 bytes, protocol last */
        if (caplen < 16) {
            *why = WHY_TRUNCATED;
            return -1;
        }
        return by_ethertype(f, caplen, 14, 16, why);
    case DLT_LINUX_SLL2: /* 20 bytes, protocol first */
        if (caplen < 20) {
            *why = WHY_TRUNCATED;
            return -1;
        }
        return by_ethertype(f, caplen, 0, 20, why);
    case DLT_RAW:
    case LINKTYPE_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        return 0;
    case DLT_NULL:
    case DLT_LOOP: {
        /* A 4-byte address family: host order of the writer for NULL,
         * network order for LOOP; we accept either. */
        if (caplen < 4) {
            *why = WHY_TRUNCATED;
            return -1;
        }
        uint32_t fam = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
        if (fam > 0xffff)
            fam = __builtin_bswap32(fam);
        switch (fam) {
        case 2:                               /* AF_INET everywhere */
        case 10: case 24: case 28: case 30:   /* AF_INET6: Linux, Net/OpenBSD, FreeBSD, Darwin */
            return 4;
        default:
            *why = WHY_NOT_IP;
            return -1;
        }
    }
    default:
        *why = WHY_UNSUPPORTED;
        return -1;
    }
}
