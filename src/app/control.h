/* app/control — the local control socket of a running synack: a Unix
 * stream socket, mode 0600 (the owner only), speaking JSON lines. Each
 * request is one JSON object on one line, each reply one JSON object on one
 * line:
 *
 *   {"cmd":"ss"}     -> {"ok":true,"now_us":..,"sockets":[{"state":"ESTABLISHED",
 *                        "sd":4,"local":"10.77.0.1:80","remote":"10.77.0.2:41234",
 *                        "recv_q":0,"send_q":0,"syn_q":0,"syn_q_max":0,
 *                        "timer":"keepalive","expires_us":7199000000,"retrans":0,
 *                        "orphan":false},...]}
 *   {"cmd":"nstat"}  -> {"ok":true,"tcp":{"ActiveOpens":0,...},"link":{"TunInPackets":..}}
 *   {"cmd":"info"}   -> {"ok":true,"pid":..,"tun":"tun0","app":"http","addrs":[..],"uptime_us":..}
 *   {"cmd":"ping"}   -> {"ok":true}
 *   anything else    -> {"ok":false,"error":"..."}   (the connection stays usable)
 *
 * The server never blocks the loop: replies are buffered and written as
 * the client reads them; a client that sends a line longer than 64 KiB, or
 * lets replies pile up past a bound, is disconnected. */
#ifndef SYNACK_APP_CONTROL_H
#define SYNACK_APP_CONTROL_H

#include <stddef.h>

#include "app/json.h"

struct rt;
struct ctl_server;

#define CTL_MAX_LINE 65536
#define CTL_MAX_CLIENTS 64

/* Listens on path (a stale socket left by a dead synack is replaced; a
 * live one is an error). NULL with a reason in err. */
struct ctl_server *ctl_server_new(struct rt *rt, const char *path, char *err, size_t errlen);
/* Closes every client and removes the socket file. NULL is fine. */
void ctl_server_free(struct ctl_server *s);

/* The reply to one request line (no newline), appended to out. Exposed for
 * tests: this is what the server sends. */
void ctl_handle_line(struct rt *rt, const char *line, size_t len, struct jbuf *out);

/* The default path for a device name: $XDG_RUNTIME_DIR/synack-TUN.sock, or
 * /tmp/synack-UID-TUN.sock. */
void ctl_default_path(const char *tun_name, char *buf, size_t cap);

/* Client: connects to path, sends request (one line, no newline needed),
 * waits up to timeout_ms for the one-line reply and parses it. Returns the
 * reply (free with json_free) or NULL with a reason in err. A reply with
 * "ok":false is returned as is. */
struct json *ctl_request(const char *path, const char *request, int timeout_ms, char *err, size_t errlen);

#endif
