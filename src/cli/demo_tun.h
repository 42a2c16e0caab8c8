/* The tour on a real wire: synack's HTTP server on a TUN device in a
 * network namespace of its own, fetched by curl over the kernel's TCP. */
#ifndef SYNACK_CLI_DEMO_TUN_H
#define SYNACK_CLI_DEMO_TUN_H

/* demo_tun_run's answer when the tour cannot run here (not root, no
 * /dev/net/tun, no network namespaces, or --simulated): it has said why,
 * and the caller shows the simulated tour instead. */
#define DEMO_TUN_FALLBACK (-1)

/* `synack demo [--pcap FILE] [--format F] [--simulated]`: creates an
 * anonymous network namespace and a TUN device, serves HTTP with synack,
 * fetches it with curl, lets both close, prints the ladder diagram with
 * both hosts' states, leaves the pcap behind and removes everything else.
 * Returns an exit status (CLI_OK, CLI_FAILED, CLI_USAGE) or
 * DEMO_TUN_FALLBACK. */
int demo_tun_run(int argc, char **argv);

#endif
