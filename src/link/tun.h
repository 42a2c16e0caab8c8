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
