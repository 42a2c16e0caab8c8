/* synack version */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

#ifndef SYNACK_VERSION
#define SYNACK_VERSION "0.0.0"
#endif

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: synack version\n\nPrints the version of synack.\n");
        return CLI_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("synack %s\n", SYNACK_VERSION);
    return CLI_OK;
}
