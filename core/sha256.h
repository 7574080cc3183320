/* SHA-256 (FIPS 180-4) for the corpus manifest: .deb and catalog checksums, hashes of the
 * prepared files and the input fingerprint that makes a repeated `mos prepare` a no-op.
 * Streaming interface plus a file helper; not constant-time, not for secrets. */
#ifndef MOS_SHA256_H
#define MOS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct Sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;            /* bytes in block */
    uint64_t total;         /* bytes hashed so far */
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t len);
/* Writes the digest as 64 lowercase hex digits and a NUL; s must be re-initialised to reuse. */
void sha256_hex(Sha256 *s, char hex[65]);

/* Hashes a whole file. Errors: "PATH: cannot open: REASON", "PATH: read error". */
int sha256_file(const char *path, char hex[65], MosErr *e);

#endif
