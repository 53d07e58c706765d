/* upper: the C twin of plugins/upper. It upper-cases every line, letters
 * mapped by Unicode's simple case mapping (case.h, generated from Go's
 * tables: wasi-libc's towupper follows an older Unicode); bytes that are
 * not valid UTF-8 pass through unchanged. It has no settings.
 *
 * Upper-casing never touches "\r" or "\n", so it works on whole chunks:
 * ASCII in place, eight bytes at a time, and a rune whose upper case has
 * another length by emitting around it. */
#include "../../../sdk/c/hostplugin.h"
#include "../utf8.h"
#include "case.h"

/* to_upper is Go's unicode.ToUpper for r >= 0x80: a binary search of the
 * ranges. */
static uint32_t to_upper(uint32_t r) {
    size_t lo = 0, hi = sizeof upper_ranges / sizeof upper_ranges[0];
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (r < upper_ranges[m].lo) {
            hi = m;
        } else if (r > upper_ranges[m].hi) {
            lo = m + 1;
        } else if (upper_ranges[m].alt) {
            return upper_ranges[m].lo + ((r - upper_ranges[m].lo) & ~1u);
        } else {
            return (uint32_t)((int32_t)r + upper_ranges[m].delta);
        }
    }
    return r;
}

#define ONES 0x0101010101010101ull
#define HI 0x8080808080808080ull

/* upper_ascii upper-cases eight ASCII bytes (see plugins/upper/main.go). */
static inline uint64_t upper_ascii(uint64_t w) {
    uint64_t ge_a = w + (0x80 - 'a') * ONES;
    uint64_t gt_z = w + (0x80 - 'z' - 1) * ONES;
    return w ^ (ge_a & ~gt_z & HI) >> 2;
}

static int chunk(uint8_t *p, size_t n) {
    size_t i = 0, from = 0; /* p[from:i] is converted and not yet emitted */
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & HI) == 0) {
                w = upper_ascii(w);
                memcpy(p + i, &w, 8);
                i += 8;
                continue;
            }
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c >= 'a' && c <= 'z')
                p[i] = c - ('a' - 'A');
            i++;
            continue;
        }
        size_t size;
        uint32_t r = utf8_decode(p + i, n - i, &size);
        if (r == RUNE_ERROR && size == 1) { /* not UTF-8: keep the byte */
            i++;
            continue;
        }
        uint32_t u = to_upper(r);
        uint8_t enc[4];
        size_t m = utf8_encode(enc, u);
        if (m == size) {
            memcpy(p + i, enc, m);
        } else {
            hp_emit(p + from, i - from);
            hp_emit(enc, m);
            from = i + size;
        }
        i += size;
    }
    hp_emit(p + from, n - from);
    return 0;
}

HP_META("upper", "1.0.0", "Upper-cases every line by Unicode's simple case mapping (C build).")
HP_PLUGIN(.chunk = chunk)
