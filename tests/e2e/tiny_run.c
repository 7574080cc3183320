/* Test helper for the end-to-end and benchmark scripts: writes a tiny generated run directory
 * (tests/common/tiny_data.c) so that a real worker can train on it in seconds.
 * usage: tiny_run RUN_DIR N_TRAIN N_VALID N_TEST SEED */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tiny_data.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: tiny_run RUN_DIR N_TRAIN N_VALID N_TEST SEED\n");
        return 2;
    }
    mkdir(argv[1], 0755);   /* an existing directory is fine; tiny_data_write reports the rest */
    if (tiny_data_write(argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
                        strtoull(argv[5], NULL, 10)) < 0) {
        fprintf(stderr, "tiny_run: cannot write %s/data\n", argv[1]);
        return 1;
    }
    return 0;
}
