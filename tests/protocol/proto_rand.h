/* Random records for the protocol tests, driven by the schema descriptors: fills any record
 * with random values within its bounds, and compares two records field by field (floats
 * bitwise). Test-only; header-only so each test executable stays self-contained. */
#ifndef MOS_TEST_PROTO_RAND_H
#define MOS_TEST_PROTO_RAND_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "msg.h"

typedef struct TRng { uint64_t s; } TRng;

static inline uint64_t trng_next(TRng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static inline uint32_t trng_below(TRng *r, uint32_t n) { return (uint32_t)(trng_next(r) % n); }

/* An int64 of random magnitude (the two draws are sequenced: same values in every build). */
static inline int64_t trng_i64(TRng *r)
{
    int64_t v = (int64_t)trng_next(r);
    return v >> trng_below(r, 64);
}

static inline double trng_double(TRng *r)
{
    switch (trng_below(r, 8)) {
    case 0:  return 0.0;
    case 1:  return -1e300;
    case 2:  return (double)(int64_t)trng_next(r);
    case 3:  return NAN;
    default: return ((double)(trng_next(r) >> 11) / 9007199254740992.0 - 0.5) * 1e3;
    }
}

/* Random valid UTF-8 of at most max bytes (ASCII, 2-, 3- and 4-byte characters). */
static inline void trng_utf8(TRng *r, char *out, uint32_t max)
{
    static const char *pieces[] = { "a", "Z", "0", " ", ":", "\"", "\\", "\n", "\xc3\xa9",
                                    "\xe2\x86\x92", "\xf0\x9f\x98\x80", "{", "}" };
    uint32_t want = trng_below(r, 4) == 0 ? max : trng_below(r, max + 1);
    uint32_t len = 0;
    while (len < want) {
        const char *p = pieces[trng_below(r, sizeof pieces / sizeof pieces[0])];
        size_t k = strlen(p);
        if (len + k > max)
            p = "x", k = 1;
        memcpy(out + len, p, k);
        len += (uint32_t)k;
    }
    out[len] = '\0';
}

static inline uint32_t trng_count(TRng *r, uint32_t max, int depth)
{
    uint32_t cap = depth > 0 ? (max < 3 ? max : 3) : max;
    return trng_below(r, 3) == 0 ? cap : trng_below(r, cap + 1);
}

static inline void trng_fill(TRng *r, const RecDesc *d, void *rec, int depth)
{
    memset(rec, 0, d->size);
    for (int i = 0; i < d->nfields; i++) {
        const FieldDesc *f = &d->fields[i];
        char *at = (char *)rec + f->off;
        uint32_t n = f->count_off >= 0 ? trng_count(r, f->max, depth) : 0;
        if (f->has_off >= 0 && !(*(bool *)((char *)rec + f->has_off) = trng_below(r, 2)))
            continue;
        if (f->count_off >= 0)
            *(uint32_t *)((char *)rec + f->count_off) = n;
        switch (f->kind) {
        case FK_I64:  *(int64_t *)at = trng_i64(r); break;
        case FK_F64:  *(double *)at = trng_double(r); break;
        case FK_BOOL: *(bool *)at = trng_below(r, 2); break;
        case FK_STR:  trng_utf8(r, at, f->max); break;
        case FK_F32S:
            for (uint32_t k = 0; k < n; k++)
                ((float *)at)[k] = (float)trng_double(r);
            break;
        case FK_I64S:
            for (uint32_t k = 0; k < n; k++)
                ((int64_t *)at)[k] = trng_i64(r);
            break;
        case FK_REC:  trng_fill(r, f->sub, at, depth + 1); break;
        case FK_RECS:
            for (uint32_t k = 0; k < n; k++)
                trng_fill(r, f->sub, at + (size_t)k * f->sub->size, depth + 1);
            break;
        default: break;
        }
    }
}

/* Field path of the first difference into where (empty when equal). */
static inline bool trec_equal(const RecDesc *d, const void *a, const void *b, char *where,
                              size_t wn)
{
    for (int i = 0; i < d->nfields; i++) {
        const FieldDesc *f = &d->fields[i];
        const char *pa = (const char *)a + f->off, *pb = (const char *)b + f->off;
        bool ha = f->has_off < 0 || *(const bool *)((const char *)a + f->has_off);
        bool hb = f->has_off < 0 || *(const bool *)((const char *)b + f->has_off);
        uint32_t na = f->count_off >= 0 ? *(const uint32_t *)((const char *)a + f->count_off) : 1;
        uint32_t nb = f->count_off >= 0 ? *(const uint32_t *)((const char *)b + f->count_off) : 1;
        bool same = ha == hb && (!ha || na == nb);
        if (same && ha) {
            switch (f->kind) {
            case FK_I64: case FK_F64: same = memcmp(pa, pb, 8) == 0; break;
            case FK_BOOL: same = *(const bool *)pa == *(const bool *)pb; break;
            case FK_STR:  same = strcmp(pa, pb) == 0; break;
            case FK_F32S: same = memcmp(pa, pb, (size_t)na * 4) == 0; break;
            case FK_I64S: same = memcmp(pa, pb, (size_t)na * 8) == 0; break;
            case FK_REC:  same = trec_equal(f->sub, pa, pb, where, wn); break;
            case FK_RECS:
                for (uint32_t k = 0; same && k < na; k++)
                    same = trec_equal(f->sub, pa + (size_t)k * f->sub->size,
                                      pb + (size_t)k * f->sub->size, where, wn);
                break;
            default: same = false;
            }
        }
        if (!same) {
            if (where[0] == '\0')
                snprintf(where, wn, "%s.%s", d->name, f->name);
            return false;
        }
    }
    return true;
}

#endif
