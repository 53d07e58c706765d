/* grep: the C twin of plugins/grep. It keeps only the lines matching a
 * POSIX extended regular expression (wasi-libc's regcomp, in a UTF-8
 * locale), where the Go build uses RE2 syntax: the two agree on common
 * patterns (literals, ., [], |, (), *, +, ?, {n,m}, ^, $) and differ on
 * Perl classes such as \d, lazy quantifiers, and lines with NUL bytes or
 * invalid UTF-8 (docs/PLUGINS.md). A pattern matches anywhere in the line
 * unless anchored with ^ and $.
 *
 * Settings: pattern (required), invert, ignore_case, as in the Go build. */
#include <locale.h>
#include <regex.h>

#include "../../../sdk/c/hostplugin.h"

static regex_t re;
static int compiled, invert;

static int line(uint8_t *p, size_t n) {
    /* regexec wants a C string: the byte after the line is its terminator,
     * or the room the SDK keeps after the buffer. */
    uint8_t saved = p[n];
    p[n] = 0;
    int match = regexec(&re, (const char *)p, 0, NULL, 0) == 0;
    p[n] = saved;
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
    return 0;
}

HP_META("grep", "1.0.0", "Keeps only the lines that match a POSIX extended regular expression (C build).",
        HP_SETTING("pattern", "string", "", "the regular expression (required)"),
        HP_SETTING("invert", "bool", "false", "drop the matching lines instead, like grep -v"),
        HP_SETTING("ignore_case", "bool", "false", "match without regard to case"))
HP_PLUGIN(.configure = configure, .line = line)
