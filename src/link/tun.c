/* The TUN device and the few interface settings synack makes itself, with
 * the ioctls `ip` would use (no netlink needed for these). */
#include "link/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUN_CLONE_DEVICE "/dev/net/tun"

/* struct in6_ifreq of <linux/ipv6.h>, which clashes with glibc's
 * <netinet/in.h>; same layout. */
struct tun_in6_ifreq {
    struct in6_addr addr;
    uint32_t prefixlen;
    int ifindex;
};

static int fail(char *err, size_t errlen, const char *what, const char *name)
{
    int e = errno;
    snprintf(err, errlen, "%s %s: %s", what, name && *name ? name : "", strerror(e));
    errno = e;
    return -1;
}

static bool name_ok(const char *name)
{
    return name && strlen(name) < TUN_NAME_MAX;
}

static int open_device(const char *name, int flags, char out_name[TUN_NAME_MAX], char *err, size_t errlen)
{
    if (name && strlen(name) >= TUN_NAME_MAX) {
        snprintf(err, errlen, "interface name '%s' is longer than %d characters", name, TUN_NAME_MAX - 1);
        return -1;
    }
    int fd = open(TUN_CLONE_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, "cannot open", TUN_CLONE_DEVICE);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | flags);
    if (name)
        memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fail(err, errlen, "cannot create TUN device", name);
        close(fd);
        return -1;
    }
    memcpy(out_name, ifr.ifr_name, TUN_NAME_MAX);
    out_name[TUN_NAME_MAX - 1] = '\0';
    return fd;
}

int tun_open(const char *name, char out_name[TUN_NAME_MAX], char *err, size_t errlen)
{
    return open_device(name, 0, out_name, err, errlen);
}

int tun_open_offload(const char *name, char out_name[TUN_NAME_MAX], char *err, size_t errlen)
{
    int fd = open_device(name, IFF_VNET_HDR, out_name, err, errlen);
    if (fd < 0)
        return -1;
    int hdr = TUN_VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) < 0) {
        fail(err, errlen, "cannot set the offloads of", out_name);
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

void tun_vnet_read(const uint8_t *buf, struct tun_vnet_hdr *out)
{
    out->flags = buf[0];
    out->gso_type = buf[1];
    out->hdr_len = get16(buf + 2);
    out->gso_size = get16(buf + 4);
    out->csum_start = get16(buf + 6);
    out->csum_offset = get16(buf + 8);
}

void tun_vnet_write(const struct tun_vnet_hdr *h, uint8_t *buf)
{
    buf[0] = h->flags;
    buf[1] = h->gso_type;
    put16(buf + 2, h->hdr_len);
    put16(buf + 4, h->gso_size);
    put16(buf + 6, h->csum_start);
    put16(buf + 8, h->csum_offset);
}

bool tun_vnet_finish(const struct tun_vnet_hdr *h, uint8_t *pkt, size_t len)
{
    if (!(h->flags & TUN_VNET_NEEDS_CSUM))
        return true;
    size_t at = (size_t)h->csum_start + h->csum_offset;
    if (h->csum_start >= len || at + 2 > len)
        return false;
    uint16_t sum = wire_csum_fold(wire_csum_add(0, pkt + h->csum_start, len - h->csum_start));
    pkt[at] = (uint8_t)(sum >> 8);
    pkt[at + 1] = (uint8_t)sum;
    return true;
}

static int ifreq_ioctl(int family, unsigned long req, struct ifreq *ifr)
{
    int sock = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -1;
    int rc = ioctl(sock, req, ifr);
    int e = errno;
    close(sock);
    errno = e;
    return rc;
}

int tun_set_mtu(const char *name, int mtu, char *err, size_t errlen)
{
    if (!name_ok(name) || mtu < 68 || mtu > TUN_MTU_MAX) {
        snprintf(err, errlen, "bad interface name or MTU %d", mtu);
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    ifr.ifr_mtu = mtu;
    if (ifreq_ioctl(AF_INET, SIOCSIFMTU, &ifr) < 0)
        return fail(err, errlen, "cannot set the MTU of", name);
    return 0;
}

int tun_set_up(const char *name, char *err, size_t errlen)
{
    if (!name_ok(name)) {
        snprintf(err, errlen, "bad interface name");
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ifreq_ioctl(AF_INET, SIOCGIFFLAGS, &ifr) < 0)
        return fail(err, errlen, "cannot read the flags of", name);
    ifr.ifr_flags |= IFF_UP;
    if (ifreq_ioctl(AF_INET, SIOCSIFFLAGS, &ifr) < 0)
        return fail(err, errlen, "cannot bring up", name);
    return 0;
}

/* /proc/sys/net/ipv6/conf/NAME/KEY = value; errors are the caller's to judge. */
static int ipv6_conf_write(const char *name, const char *key, const char *value)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/%s", name, key);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, value, strlen(value));
    close(fd);
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int add_addr_v4(const char *name, const struct wire_addr *addr, int prefix, char *err, size_t errlen)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(wire_addr_v4_host(addr));
    if (ifreq_ioctl(AF_INET, SIOCSIFADDR, &ifr) < 0)
        return fail(err, errlen, "cannot add an IPv4 address to", name);
    memset(&ifr.ifr_netmask, 0, sizeof ifr.ifr_netmask);
    sin = (struct sockaddr_in *)&ifr.ifr_netmask;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = prefix == 0 ? 0 : htonl(0xffffffffu << (32 - prefix));
    if (ifreq_ioctl(AF_INET, SIOCSIFNETMASK, &ifr) < 0)
        return fail(err, errlen, "cannot set the netmask of", name);
    return 0;
}

static int add_addr_v6(const char *name, const struct wire_addr *addr, int prefix, char *err, size_t errlen)
{
    unsigned ifindex = if_nametoindex(name);
    if (!ifindex)
        return fail(err, errlen, "no interface", name);
    /* Usable at once: no duplicate address detection on a private link. */
    ipv6_conf_write(name, "disable_ipv6", "0");
    ipv6_conf_write(name, "accept_dad", "0");
    /* As large as a struct ifreq and zeroed: tools that take SIOCSIFADDR
     * for a struct ifreq (valgrind) then read no uninitialised bytes. */
    union {
        struct tun_in6_ifreq in6;
        struct ifreq ifr;
    } u;
    memset(&u, 0, sizeof u);
    struct tun_in6_ifreq *req = &u.in6;
    memcpy(&req->addr, addr->b, 16);
    req->prefixlen = (uint32_t)prefix;
    req->ifindex = (int)ifindex;
    int sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return fail(err, errlen, "no IPv6 socket for", name);
    int rc = ioctl(sock, SIOCSIFADDR, req);
    int e = errno;
    close(sock);
    errno = e;
    if (rc < 0)
        return fail(err, errlen, "cannot add an IPv6 address to", name);
    return 0;
}

int tun_add_kernel_addr(const char *name, const struct wire_addr *addr, int prefix, char *err, size_t errlen)
{
    bool v4 = wire_addr_is_v4(addr);
    if (!name_ok(name) || prefix < 0 || prefix > (v4 ? 32 : 128)) {
        snprintf(err, errlen, "bad interface name or prefix length %d", prefix);
        return -1;
    }
    return v4 ? add_addr_v4(name, addr, prefix, err, errlen) : add_addr_v6(name, addr, prefix, err, errlen);
}

bool tun_available(void)
{
    if (geteuid() != 0)
        return false;
    int fd = open(TUN_CLONE_DEVICE, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

bool tun_ip_info(const uint8_t *pkt, size_t len, struct tun_ip_info *out)
{
    if (len < 1)
        return false;
    memset(out, 0, sizeof *out);
    out->version = pkt[0] >> 4;
    if (out->version == 4) {
        if (len < 20)
            return false;
        out->protocol = pkt[9];
        out->src = wire_addr_v4((uint32_t)pkt[12] << 24 | (uint32_t)pkt[13] << 16 | (uint32_t)pkt[14] << 8 | pkt[15]);
        out->dst = wire_addr_v4((uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 | (uint32_t)pkt[18] << 8 | pkt[19]);
        return true;
    }
    if (out->version == 6) {
        if (len < 40)
            return false;
        out->protocol = pkt[6];
        out->src = wire_addr_v6(pkt + 8);
        out->dst = wire_addr_v6(pkt + 24);
        return true;
    }
    return false;
}
