/* link/tun — a Linux TUN device (IFF_TUN | IFF_NO_PI): each read() is one
 * IP packet (IPv4 or IPv6) the kernel routed into the device, each write()
 * one packet the kernel receives as if it had arrived on that interface.
 * TUN is a layer-3 point-to-point link (IFF_NOARP): no ARP, no neighbour
 * discovery, no link header.
 *
 * How synack shares a TUN device with the kernel (the setup the tests and
 * `synack demo` use, all inside a network namespace they create):
 *
 *     kernel TCP  10.77.0.2/24 on tun0   <-- tun0 -->   synack  10.77.0.1
 *
 * The kernel's end of tun0 gets an ordinary address (tun_add_kernel_addr,
 * or `ip addr add 10.77.0.2/24 dev tun0`), which gives it the connected
 * route 10.77.0.0/24 dev tun0. Packets the kernel sends to 10.77.0.1 follow
 * that route into the device, where synack reads them; 10.77.0.1 exists
 * only inside synack (the kernel never owns it). What synack writes into
 * the device (source 10.77.0.1, destination 10.77.0.2) is delivered to the
 * kernel's local socket. IPv6 works the same way (fd77::2/64 for the
 * kernel, fd77::1 for synack; DAD is switched off on the device so the
 * address is usable at once). */
#ifndef SYNACK_LINK_TUN_H
#define SYNACK_LINK_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire/wire.h"

#define TUN_NAME_MAX 16 /* IFNAMSIZ */
#define TUN_MTU_MIN 1280 /* IPv6's minimum link MTU (RFC 8200 §5) */
#define TUN_MTU_MAX 65535

/* Creates (or attaches to) the TUN device `name` ("" or NULL: the kernel
 * picks tunN) and returns its file descriptor, non-blocking and
 * close-on-exec; the device's real name goes to out_name. The device lives
 * as long as the descriptor (it is not persistent). Returns -1 with a
 * one-line reason in err (e.g. no /dev/net/tun, no CAP_NET_ADMIN). */
int tun_open(const char *name, char out_name[TUN_NAME_MAX], char *err, size_t errlen);

/* ---- Offloads (IFF_VNET_HDR), as virtio-net and vhost use them ----
 * Every read and write then starts with a virtio_net_hdr (TUN_VNET_HDR_LEN
 * bytes). The kernel may hand over TCP segments of up to 64 KiB that it
 * would otherwise cut to the MTU (TSO: one read instead of ~45), with the
 * TCP checksum left partial (tun_vnet_finish completes it); and it takes
 * such segments from us (tun_vnet_gso_hdr), cutting them to gso_size
 * itself, or delivering them whole to its local TCP as GRO would. */
#define TUN_VNET_HDR_LEN 10
struct tun_vnet_hdr {      /* struct virtio_net_hdr, host byte order */
    uint8_t flags;         /* TUN_VNET_NEEDS_CSUM */
    uint8_t gso_type;      /* TUN_VNET_GSO_* */
    uint16_t hdr_len;      /* IP + TCP header bytes */
    uint16_t gso_size;     /* payload bytes per segment once cut */
    uint16_t csum_start;   /* where the checksummed bytes begin (the TCP header) */
    uint16_t csum_offset;  /* the checksum field, from csum_start */
};
enum { TUN_VNET_NEEDS_CSUM = 1 };
enum { TUN_VNET_GSO_NONE = 0, TUN_VNET_GSO_TCPV4 = 1, TUN_VNET_GSO_TCPV6 = 4 };
/* Like tun_open, with IFF_VNET_HDR and the checksum and TSO offloads
 * (TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6). -1 with a reason
 * in err if the kernel refuses them. */
int tun_open_offload(const char *name, char out_name[TUN_NAME_MAX], char *err, size_t errlen);
/* Reads the header at buf (TUN_VNET_HDR_LEN bytes). */
void tun_vnet_read(const uint8_t *buf, struct tun_vnet_hdr *out);
void tun_vnet_write(const struct tun_vnet_hdr *h, uint8_t *buf);
/* Completes the partial checksum of a packet read with NEEDS_CSUM (the
 * field holds the pseudo-header sum; RFC 1071 over csum_start..len makes
 * it whole). False if the header points outside the packet. */
bool tun_vnet_finish(const struct tun_vnet_hdr *h, uint8_t *pkt, size_t len);

/* Interface settings, as `ip link set NAME mtu N` / `up` would do them.
 * Each returns 0, or -1 with a reason in err. */
int tun_set_mtu(const char *name, int mtu, char *err, size_t errlen);
int tun_set_up(const char *name, char *err, size_t errlen);

/* Gives the kernel's end of the device an address (`ip addr add
 * ADDR/PREFIX dev NAME`); for IPv6 without duplicate address detection,
 * so it is usable at once. Returns 0, or -1 with a reason in err. */
int tun_add_kernel_addr(const char *name, const struct wire_addr *addr, int prefix, char *err,
                        size_t errlen);

/* True when this process could create a TUN device: /dev/net/tun opens
 * read-write and the effective user is root (CAP_NET_ADMIN). */
bool tun_available(void);

/* What the IP header says, enough to decide whose a packet is. */
struct tun_ip_info {
    uint8_t version;  /* 4 or 6 */
    uint8_t protocol; /* IPv4 protocol / IPv6 first next header */
    struct wire_addr src, dst;
};
/* Reads the fixed IP header; false if the packet is too short or neither
 * IPv4 nor IPv6. */
bool tun_ip_info(const uint8_t *pkt, size_t len, struct tun_ip_info *out);

#endif
