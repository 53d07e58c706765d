/* trim: the C twin of plugins/trim. It removes leading and trailing
 * whitespace (as defined by Unicode) from every line, or the characters of
 * the "chars" setting. Line terminators are kept. */
#include "../../../sdk/c/hostplugin.h"
#include "../utf8.h"

static uint32_t cutset[256]; /* runes of "chars"; none means whitespace */
static size_t ncut;
static int ascii_set[128]; /* cutset entries below 0x80, for the fast path */
static int all_ascii;

/* is_space is Go's unicode.IsSpace. */
static int is_space(uint32_t r) {
    switch (r) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ': case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return 1;
    }
    return r >= 0x2000 && r <= 0x200A;
}

static int in_cutset(uint32_t r) {
    if (ncut == 0)
        return is_space(r);
    if (all_ascii)
        return r < 128 && ascii_set[r];
    for (size_t i = 0; i < ncut; i++)
        if (cutset[i] == r)
            return 1;
    return 0;
}

/* Go's bytes.Trim with an all-ASCII cutset works on bytes; otherwise both
 * it and bytes.TrimSpace decode runes, an invalid byte reading as U+FFFD. */
static int line(uint8_t *p, size_t n) {
    size_t a = 0, b = n;
    while (a < b) {
        size_t size = 1;
        uint32_t r = p[a] < 0x80 || (ncut > 0 && all_ascii) ? p[a] : utf8_decode(p + a, b - a, &size);
        if (!in_cutset(r))
            break;
        a += size;
    }
    while (b > a) {
        size_t size = 1;
        uint32_t r = p[b - 1] < 0x80 || (ncut > 0 && all_ascii) ? p[b - 1] : utf8_decode_last(p + a, b - a, &size);
        if (!in_cutset(r))
            break;
        b -= size;
    }
    hp_emit_line(p + a, b - a);
    return 0;
}

static int configure(const hp_settings *s) {
    static const char *const keys[] = {"chars", NULL};
    int rc;
    if ((rc = hp_settings_only(s, keys)))
        return rc;
    const char *chars;
    size_t len;
    if ((rc = hp_setting_string(s, "chars", "", &chars, &len)))
        return rc;
    if (hp_setting_has(s, "chars") && len == 0)
        return hp_fail("config key \"chars\": must not be empty (leave it out to trim whitespace)");
    ncut = 0;
    all_ascii = 1;
    memset(ascii_set, 0, sizeof ascii_set);
    for (size_t i = 0; i < len;) {
        size_t size;
        uint32_t r = utf8_decode((const uint8_t *)chars + i, len - i, &size);
        if (ncut == sizeof cutset / sizeof cutset[0])
            return hp_fail("config key \"chars\": more than 256 characters");
        cutset[ncut++] = r;
        if (r < 128) ascii_set[r] = 1;
        else all_ascii = 0;
        i += size;
    }
    return 0;
}

HP_META("trim", "1.0.0", "Removes leading and trailing whitespace, or the given characters, from every line (C build).",
        HP_SETTING("chars", "string", "", "trim these characters instead of Unicode whitespace, e.g. \\\" \\\\t.\\\""))
HP_PLUGIN(.configure = configure, .line = line)
