/* `mos keygen`: a CURVE keypair for a worker or a client: NAME.key (public + secret, mode 0600)
 * and NAME.pub (the public key, to list in a worker's authorized_keys). Never overwrites. */
#include <stdio.h>

#include "commands.h"
#include "wire.h"

static int run_keygen(const Args *a)
{
    const char *name = a->npos == 1 ? a->pos[0] : NULL;
    if (!name) {
        fprintf(stderr, "mos keygen: give the key name, e.g. mos keygen ~/.mos/laptop\n");
        return 2;
    }
    char secret[4200], public[4200];
    snprintf(secret, sizeof secret, "%s.key", name);
    snprintf(public, sizeof public, "%s.pub", name);
    ProtoErr pe;
    if (wire_curve_keygen(secret, public, &pe) < 0) {
        fprintf(stderr, "mos keygen: %s\n", pe.msg);
        return 1;
    }
    printf("wrote %s (keep it private) and %s (add it to a worker's authorized_keys)\n", secret,
           public);
    return 0;
}

const Command cmd_keygen = {
    .name = "keygen",
    .args = "NAME",
    .summary = "make a CURVE keypair NAME.key / NAME.pub for remote workers and clients",
    .opts = (const OptSpec[]){ { 0 } },
    .run = run_keygen,
};
