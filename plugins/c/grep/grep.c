/* grep: the C twin of plugins/grep. It keeps only the lines matching a
 * POSIX extended regular expression (wasi-libc's regcomp, in a UTF-8
 * locale), where the Go build uses RE2 syntax: the two agree on common
 * patterns (literals, ., [], |, (), *, +, ?, {n,m}, ^, $) and differ on
 * Perl classes such as \d, lazy quantifiers, and lines with NUL bytes or
 * invalid UTF-8 (docs/PLUGINS.md). A pattern matches anywhere in the line
 * unless anchored with ^ and $.
 *
 * Settings: pattern (required), invert, ignore_case, as in the Go build. */
#define _GNU_SOURCE /* memmem */
#include <locale.h>
#include <regex.h>

#include "../../../sdk/c/hostplugin.h"

static regex_t re;
static int compiled, invert;

/* A pattern without special characters is a substring to find: memmem is
 * many times faster than musl's regexec and finds the same lines. With
 * ignore_case only ASCII letters fold, which is also Unicode's folding
 * except for k and s (U+212A KELVIN SIGN, U+017F LONG S), so a pattern
 * with those goes to regexec. */
static char literal[1024];
static size_t literal_len;
static int use_literal, fold;

static int is_literal(const char *p, size_t n, int ignore_case) {
    if (n >= sizeof literal)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (strchr(".[]()*+?{}|^$\\", c) || c >= 0x80 || c == 0)
            return 0;
        if (ignore_case && (c == 'k' || c == 'K' || c == 's' || c == 'S'))
            return 0;
    }
    return 1;
}

static inline uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

static int find(const uint8_t *p, size_t n) {
    if (!fold)
        return memmem(p, n, literal, literal_len) != NULL;
    if (literal_len == 0)
        return 1;
    for (size_t i = 0; i + literal_len <= n; i++) {
        if (lower(p[i]) != (uint8_t)literal[0])
            continue;
        size_t j = 1;
        while (j < literal_len && lower(p[i + j]) == (uint8_t)literal[j])
            j++;
        if (j == literal_len)
            return 1;
    }
    return 0;
}

static int line(uint8_t *p, size_t n) {
    int match;
    if (use_literal) {
        match = find(p, n);
    } else {
        /* regexec wants a C string: the byte after the line is its
         * terminator, or the room the SDK keeps after the buffer. */
        uint8_t saved = p[n];
        p[n] = 0;
        match = regexec(&re, (const char *)p, 0, NULL, 0) == 0;
        p[n] = saved;
    }
    if (match != invert)
        hp_emit_line(p, n);
    return 0;
}

static int configure(const hp_settings *s) {
    static const char *const keys[] = {"pattern", "invert", "ignore_case", NULL};
    int rc, ignore_case;
    const char *pattern;
    size_t len;
    if ((rc = hp_settings_only(s, keys)) || (rc = hp_setting_string(s, "pattern", "", &pattern, &len)) ||
        (rc = hp_setting_bool(s, "invert", 0, &invert)) || (rc = hp_setting_bool(s, "ignore_case", 0, &ignore_case)))
        return rc;
    if (len == 0)
        return hp_fail("config key \"pattern\" is required: the regular expression lines must match");
    setlocale(LC_CTYPE, "C.UTF-8");
    if (compiled)
        regfree(&re);
    compiled = 0;
    int err = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | (ignore_case ? REG_ICASE : 0));
    if (err) {
        char msg[256];
        regerror(err, &re, msg, sizeof msg);
        return hp_fail_join("config key \"pattern\": error parsing regexp: ", msg, ": `", pattern, "`", (char *)NULL);
    }
    compiled = 1;
    use_literal = is_literal(pattern, len, ignore_case);
    fold = ignore_case;
    if (use_literal) {
        for (size_t i = 0; i < len; i++)
            literal[i] = (char)(fold ? lower((uint8_t)pattern[i]) : pattern[i]);
        literal_len = len;
    }
    return 0;
}

HP_META("grep", "1.0.0", "Keeps only the lines that match a POSIX extended regular expression (C build).",
        HP_SETTING("pattern", "string", "", "the regular expression (required)"),
        HP_SETTING("invert", "bool", "false", "drop the matching lines instead, like grep -v"),
        HP_SETTING("ignore_case", "bool", "false", "match without regard to case"))
HP_PLUGIN(.configure = configure, .line = line)
