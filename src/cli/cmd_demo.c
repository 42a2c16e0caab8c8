/* synack demo: the guided tour. For now it replays the three-way handshake
 * in virtual time; the TUN demo (a real kernel as the peer) replaces it. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "sim/catalog.h"
#include "sim/render.h"

int cmd_demo(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: synack demo\n\nA short tour: replays a TCP connection's life in virtual time.\n");
        return CLI_OK;
    }
    if (argc > 1)
        return cli_usage_error("demo", "unexpected argument '%s'", argv[1]);
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
