/* `updraft inspect FILE...` (work in progress in this commit) */
#include <stdio.h>

#include "cli.h"

int upd_cmd_inspect(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "updraft inspect: not built yet\n");
    return 2;
}
