/* tcp/tcp_check — the invariant checker (issue 9): reads a host and every
 * entry it holds and says what is wrong, if anything: sequence variables
 * (RFC 9293 §3.3.1), buffers and the out-of-order queue within their
 * bounds, the retransmission timer armed whenever something is
 * outstanding (RFC 6298 §5.1), state-specific facts (no data sent in
 * SYN-SENT, a valid FIN sequence number once a FIN went out...), and the
 * host's accounting (conns/reqs/tws, timers, listener queues) against
 * what the table holds.
 *
 * Read-only and sans-I/O: it never prints and never changes anything.
 * stack.c calls it after every event when built with
 * -DSYNACK_INVARIANTS=ON (and aborts with the description). */
#ifndef SYNACK_TCP_CHECK_H
#define SYNACK_TCP_CHECK_H

#include <stddef.h>

struct tcp_host;
struct tcp_conn;

/* NULL if every invariant holds; else buf, filled with a one-line
 * description of the first violation found ("conn 10.0.0.1:40000 ->
 * 10.0.0.2:80 ESTABLISHED: SND.UNA 1000 > SND.NXT 900"). */
const char *tcp_check_host(const struct tcp_host *h, char *buf, size_t cap);
/* The same for one control block (in the table or owned by a descriptor). */
const char *tcp_check_conn(const struct tcp_conn *c, char *buf, size_t cap);

#endif
