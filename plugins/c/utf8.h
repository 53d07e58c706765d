/* utf8.h: UTF-8 decoding with the rules of Go's unicode/utf8, which the C
 * twins of the Go plugins share so that they treat bad bytes alike: a byte
 * that does not start a valid, shortest-form encoding of a code point
 * outside the surrogates decodes as U+FFFD of size 1. */
#ifndef PLUGINS_UTF8_H
#define PLUGINS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define RUNE_ERROR 0xFFFD

/* utf8_decode decodes the rune at p (n > 0 bytes) and stores its size. */
static inline uint32_t utf8_decode(const uint8_t *p, size_t n, size_t *size) {
    uint8_t c = p[0];
    *size = 1;
    if (c < 0x80)
        return c;
    uint8_t lo = 0x80, hi = 0xBF;
    size_t need;
    uint32_t r;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2, r = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3, r = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4, r = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return RUNE_ERROR;
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return RUNE_ERROR;
    r = r << 6 | (p[1] & 0x3F);
    for (size_t i = 2; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return RUNE_ERROR;
        r = r << 6 | (p[i] & 0x3F);
    }
    *size = need;
    return r;
}

/* utf8_decode_last decodes the rune that ends at p+n, as Go's
 * utf8.DecodeLastRune does. */
static inline uint32_t utf8_decode_last(const uint8_t *p, size_t n, size_t *size) {
    *size = 1;
    if (p[n - 1] < 0x80)
        return p[n - 1];
    size_t lim = n >= 4 ? n - 4 : 0, start = n - 1;
    while (start > lim && (p[start] & 0xC0) == 0x80)
        start--;
    size_t got;
    uint32_t r = utf8_decode(p + start, n - start, &got);
    if (start + got != n)
        return RUNE_ERROR;
    *size = got;
    return r;
}

/* utf8_encode writes r (a valid code point) and returns its size. */
static inline size_t utf8_encode(uint8_t *d, uint32_t r) {
    if (r < 0x80) { d[0] = (uint8_t)r; return 1; }
    if (r < 0x800) { d[0] = (uint8_t)(0xC0 | r >> 6); d[1] = (uint8_t)(0x80 | (r & 0x3F)); return 2; }
    if (r < 0x10000) {
        d[0] = (uint8_t)(0xE0 | r >> 12); d[1] = (uint8_t)(0x80 | (r >> 6 & 0x3F)); d[2] = (uint8_t)(0x80 | (r & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | r >> 18); d[1] = (uint8_t)(0x80 | (r >> 12 & 0x3F));
    d[2] = (uint8_t)(0x80 | (r >> 6 & 0x3F)); d[3] = (uint8_t)(0x80 | (r & 0x3F));
    return 4;
}

#endif
