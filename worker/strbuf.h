/* Bounded string copy into a char array field: truncates, always terminates, and does not trip
 * -Wformat-truncation the way snprintf("%s") into a smaller field does. */
#ifndef MOS_STRBUF_H
#define MOS_STRBUF_H

#include <string.h>

static inline void str_copy(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

#define STR_SET(field, src) str_copy((field), sizeof(field), (src))

#endif
