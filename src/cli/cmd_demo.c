/* synack demo: the guided tour. As root with /dev/net/tun it runs on a real
 * wire against the kernel's TCP (demo_tun.c); otherwise it replays the
 * three-way handshake in virtual time. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/demo_tun.h"
#include "sim/catalog.h"
#include "sim/render.h"

int cmd_demo(int argc, char **argv)
{
    /* demo_tun_run handles --help and the arguments; it falls back here
     * when it cannot run (not root, no TUN) or with --simulated. */
    int tun_status = demo_tun_run(argc, argv);
    if (tun_status != DEMO_TUN_FALLBACK)
        return tun_status;
    printf("synack is a user-space TCP built around the RFC 9293 state machine.\n"
           "Here two simulated hosts open a connection, exchange a few bytes and close it,\n"
           "in virtual time (link delay 10 ms each way). Each row is a segment on the wire\n"
           "or a state change; times are virtual seconds.\n\n");
    struct sim_options opt;
    sim_options_default(&opt);
    struct sim_result res;
    int status = CLI_OK;
    if (sim_run_scenario(sim_scenario_find("handshake"), &opt, &res) < 0)
        status = cli_fail("demo", "%s", res.error);
    sim_render_text(&res.log, stdout);
    sim_result_free(&res);
    printf("\nMore: synack sim --list, then synack sim NAME [--format json|mermaid|svg].\n");
    return status;
}
