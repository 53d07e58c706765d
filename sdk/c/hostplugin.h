/* hostplugin.h: write a plugin for the host in C, in one header.
 *
 * The header implements the plugin ABI, version 1 (docs/ABI.md): it keeps
 * the buffer the host writes into, splits each chunk into lines, batches
 * output, turns return codes into failures and reads the settings JSON.
 * Include it in exactly one .c file, write the handlers, and name them in
 * HP_PLUGIN at the end of the file:
 *
 *     #include "hostplugin.h"
 *
 *     static int line(uint8_t *line, size_t len) {
 *         for (size_t i = 0; i < len; i++)
 *             if (line[i] >= 'a' && line[i] <= 'z') line[i] -= 32;
 *         hp_emit_line(line, len);
 *         return 0;
 *     }
 *
 *     HP_META("upper-ascii", "1.0.0", "Upper-cases ASCII letters.")
 *     HP_PLUGIN(.line = line)
 *
 * Build a reactor with Debian's clang, lld and wasi-libc (or wasi-sdk):
 *
 *     clang --target=wasm32-wasi -O2 -mexec-model=reactor -o NAME.wasm NAME.c
 *
 * Every handler returns 0 for success, or the result of hp_fail() (a
 * non-zero status) to fail the file, or the load when it is configure.
 * docs/PLUGINS.md is the guide; this header is the reference.
 */
#ifndef HOSTPLUGIN_H
#define HOSTPLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HP_ABI_VERSION 1

/* ---- The host's imports (docs/ABI.md, "Imports") ---- */

#define HP_IMPORT(name) __attribute__((import_module("host"), import_name(name)))
#define HP_EXPORT(name) __attribute__((export_name(name)))

HP_IMPORT("emit") void hp__host_emit(const void *ptr, uint32_t len);
HP_IMPORT("log") void hp__host_log(int32_t level, const void *ptr, uint32_t len);
HP_IMPORT("fail") void hp__host_fail(const void *ptr, uint32_t len);

/* Log levels: the log/slog numbers the host uses. */
enum { HP_DEBUG = -4, HP_INFO = 0, HP_WARN = 4, HP_ERROR = 8 };

/* ---- What a plugin provides ---- */

typedef struct hp_settings hp_settings;

/* The handlers; any may be left out (NULL).
 *
 * configure: once per instance, before any file, with the settings. Left
 *   out, settings are ignored, as in a Go plugin without sdk.Configure;
 *   call hp_settings_only first to refuse misspelt keys.
 * begin: at the start of each file, with its base name (NUL-terminated).
 *   Reset per-file state here: the previous file may have been abandoned.
 * line: once per line, without its terminator ("\n" or "\r\n"). The bytes
 *   are in the host's buffer and may be changed in place. hp_emit_line
 *   sends a line with this line's terminator.
 * chunk: instead of line, the whole chunk of lines with their terminators,
 *   for plugins that work on many lines at once (hp_emit sends raw bytes).
 * end: after the last line. hp_emit_line sends a line with the file's last
 *   terminator.
 */
typedef struct {
    int (*configure)(const hp_settings *s);
    int (*begin)(const char *name, size_t len);
    int (*line)(uint8_t *line, size_t len);
    int (*chunk)(uint8_t *data, size_t len);
    int (*end)(void);
} hp_plugin;

/* ---- Output, logs and failures ---- */

static inline void hp_emit(const void *data, size_t len);
static inline void hp_emit_line(const void *line, size_t len);
static inline const char *hp_line_ending(void);
static inline void hp_log(int32_t level, const char *msg);
static inline void hp_logf(int32_t level, const char *format, ...) __attribute__((format(printf, 2, 3)));
static inline int hp_fail(const char *msg);
static inline int hp_failf(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* hp_fail_join fails with its arguments joined, up to a NULL: like
 * hp_failf without printf, which adds about 30 kB to a plugin. */
static inline int hp_fail_join(const char *first, ...) __attribute__((sentinel));

/* ---- Settings: the [plugins.NAME.config] table as a JSON object ----
 *
 * Each getter returns 0 and stores the value (def when the key is unset),
 * or fails with a message naming the key, so it can be returned directly:
 *
 *     if ((rc = hp_setting_bool(s, "invert", 0, &invert))) return rc;
 */
static inline int hp_settings_only(const hp_settings *s, const char *const *keys); /* NULL-terminated */
static inline int hp_setting_has(const hp_settings *s, const char *key);
static inline int hp_setting_string(const hp_settings *s, const char *key, const char *def,
                             const char **out, size_t *len); /* NUL-terminated, lives until the next configure */
static inline int hp_setting_bool(const hp_settings *s, const char *key, int def, int *out);
static inline int hp_setting_int(const hp_settings *s, const char *key, long long def, long long *out);

/* ---- Metadata (docs/ABI.md, "Metadata") ----
 *
 * HP_META(name, version, description, settings...) declares what the
 * plugin is; each setting is HP_SETTING(name, type, default, description).
 * Arguments are string literals pasted into a JSON document, so they must
 * not hold '"' or '\' unescaped (write \\" and \\\\); the host checks the
 * document when it loads the plugin. Up to 16 settings.
 */
#define HP_SETTING(name, type, def, description) \
    "{\"name\":\"" name "\",\"type\":\"" type "\",\"default\":\"" def "\",\"description\":\"" description "\"}"

#define HP_META(name, version, description, ...)                                         \
    static const char hp__meta[] = "{\"name\":\"" name "\",\"version\":\"" version         \
                                   "\",\"description\":\"" description "\",\"settings\":[" \
                                   HP__JOIN(__VA_ARGS__) "]}";                            \
    HP_EXPORT("plugin_meta") const char *plugin_meta(void) { return hp__meta; }

#define HP__CAT(a, b) HP__CAT_(a, b)
#define HP__CAT_(a, b) a##b
#define HP__COUNT(...) HP__COUNT_(__VA_ARGS__ __VA_OPT__(, ) 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define HP__COUNT_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, n, ...) n
#define HP__JOIN(...) HP__CAT(HP__J, HP__COUNT(__VA_ARGS__))(__VA_ARGS__)
#define HP__J0()
#define HP__J1(a) a
#define HP__J2(a, ...) a "," HP__J1(__VA_ARGS__)
#define HP__J3(a, ...) a "," HP__J2(__VA_ARGS__)
#define HP__J4(a, ...) a "," HP__J3(__VA_ARGS__)
#define HP__J5(a, ...) a "," HP__J4(__VA_ARGS__)
#define HP__J6(a, ...) a "," HP__J5(__VA_ARGS__)
#define HP__J7(a, ...) a "," HP__J6(__VA_ARGS__)
#define HP__J8(a, ...) a "," HP__J7(__VA_ARGS__)
#define HP__J9(a, ...) a "," HP__J8(__VA_ARGS__)
#define HP__J10(a, ...) a "," HP__J9(__VA_ARGS__)
#define HP__J11(a, ...) a "," HP__J10(__VA_ARGS__)
#define HP__J12(a, ...) a "," HP__J11(__VA_ARGS__)
#define HP__J13(a, ...) a "," HP__J12(__VA_ARGS__)
#define HP__J14(a, ...) a "," HP__J13(__VA_ARGS__)
#define HP__J15(a, ...) a "," HP__J14(__VA_ARGS__)
#define HP__J16(a, ...) a "," HP__J15(__VA_ARGS__)

/* HP_PLUGIN(.line = f, ...) defines the ABI's exports around the handlers. */
#define HP_PLUGIN(...)                                                                   \
    static const hp_plugin hp__plugin = {__VA_ARGS__};                                   \
    HP_EXPORT("plugin_abi_version") int32_t plugin_abi_version(void) { return HP_ABI_VERSION; } \
    HP_EXPORT("plugin_buffer") uint8_t *plugin_buffer(uint32_t size) { return hp__buffer(size); } \
    HP_EXPORT("plugin_configure") int32_t plugin_configure(uint32_t len) { return hp__configure(&hp__plugin, len); } \
    HP_EXPORT("plugin_begin") int32_t plugin_begin(uint32_t len) { return hp__begin(&hp__plugin, len); } \
    HP_EXPORT("plugin_chunk") int32_t plugin_chunk(uint32_t len) { return hp__chunk(&hp__plugin, len); } \
    HP_EXPORT("plugin_end") int32_t plugin_end(void) { return hp__end(&hp__plugin); }

/* ======================================================================
 * Implementation. Everything below is static: the header belongs in one
 * translation unit, and unused parts cost nothing in the .wasm.
 * ====================================================================== */

/* The buffer the host writes each call's data into (ABI: plugin_buffer).
 * One byte more than asked keeps room for a NUL after a file name. */
static uint8_t *hp__buf;
static size_t hp__buf_cap;

static inline uint8_t *hp__buffer(uint32_t size) {
    if (hp__buf == NULL || (size_t)size + 1 > hp__buf_cap) {
        free(hp__buf); /* the old contents are not needed */
        hp__buf = malloc((size_t)size + 1);
        hp__buf_cap = hp__buf != NULL ? (size_t)size + 1 : 0;
    }
    return hp__buf; /* NULL fails the host's call */
}

/* Output is batched and handed to the host at the end of each call, or
 * when 64 KiB have gathered, so a line costs no boundary crossing. */
#define HP__FLUSH_AT (64 << 10)
static uint8_t *hp__out;
static size_t hp__out_len, hp__out_cap;
static int hp__oom; /* the batch could not grow: fail the call */

static inline void hp__flush(void) {
    if (hp__out_len > 0) {
        hp__host_emit(hp__out, (uint32_t)hp__out_len);
        hp__out_len = 0;
    }
}

static inline void hp__grow(size_t len) {
    size_t cap = hp__out_cap ? hp__out_cap : HP__FLUSH_AT + 4096;
    while (cap < hp__out_len + len)
        cap *= 2;
    uint8_t *grown = realloc(hp__out, cap);
    if (grown == NULL) {
        hp__oom = 1;
        return;
    }
    hp__out = grown;
    hp__out_cap = cap;
}

static inline void hp__append(const void *data, size_t len) {
    if (hp__out_len + len > hp__out_cap) {
        hp__grow(len);
        if (hp__oom)
            return;
    }
    __builtin_memcpy(hp__out + hp__out_len, data, len);
    hp__out_len += len;
}

static inline void hp_emit(const void *data, size_t len) {
    hp__append(data, len);
    if (hp__out_len >= HP__FLUSH_AT)
        hp__flush();
}

/* Terminators, as in the Go SDK: a line emitted from the line handler gets
 * its input line's terminator; one emitted from end gets the file's last
 * terminator ("\n" if none), after closing an unterminated last line. */
static const char *hp__cur_term = "\n";
static size_t hp__cur_term_len = 1;
static const char *hp__last_term = "\n";
static int hp__in_end;
static int hp__open; /* the output ends in a line sent without terminator */

static inline void hp_emit_line(const void *line, size_t len) {
    if (hp__in_end) {
        if (hp__open)
            hp__append(hp__last_term, strlen(hp__last_term));
        hp__open = 0;
        hp__append(line, len);
        hp__append(hp__last_term, strlen(hp__last_term));
    } else {
        hp__append(line, len);
        hp__append(hp__cur_term, hp__cur_term_len);
        hp__open = hp__cur_term_len == 0;
    }
    if (hp__out_len >= HP__FLUSH_AT)
        hp__flush();
}

static inline const char *hp_line_ending(void) { return hp__in_end ? hp__last_term : hp__cur_term; }

static inline void hp_log(int32_t level, const char *msg) {
    size_t n = strlen(msg);
    if (n > 0)
        hp__host_log(level, msg, (uint32_t)n);
}

/* Formatted messages are cut at 4 KiB, the host's limit for failures. */
static char hp__msg[4096];

static inline void hp_logf(int32_t level, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    vsnprintf(hp__msg, sizeof hp__msg, format, ap);
    va_end(ap);
    hp_log(level, hp__msg);
}

static inline int hp_fail(const char *msg) {
    size_t n = strlen(msg);
    if (n == 0)
        msg = "failed", n = 6;
    hp__host_fail(msg, (uint32_t)n);
    return 1;
}

static inline int hp_fail_join(const char *first, ...) {
    va_list ap;
    size_t used = 0;
    va_start(ap, first);
    for (const char *s = first; s != NULL; s = va_arg(ap, const char *)) {
        size_t n = strlen(s);
        if (n > sizeof hp__msg - 1 - used)
            n = sizeof hp__msg - 1 - used;
        memcpy(hp__msg + used, s, n);
        used += n;
    }
    va_end(ap);
    hp__msg[used] = 0;
    return hp_fail(hp__msg);
}

static inline int hp_failf(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    vsnprintf(hp__msg, sizeof hp__msg, format, ap);
    va_end(ap);
    return hp_fail(hp__msg);
}

/* ---- Settings ---- */

#define HP__MAX_KEYS 64

struct hp_settings {
    size_t n;
    struct {
        const char *key; /* decoded, NUL-terminated */
        const uint8_t *val, *val_end; /* the raw JSON value */
        const char *str;              /* the decoded string, once asked for */
        size_t str_len;
    } e[HP__MAX_KEYS];
};

static hp_settings hp__settings;
static char *hp__strings; /* decoded keys and string values */
static size_t hp__strings_len, hp__strings_cap;

typedef struct {
    const uint8_t *p, *end;
    int depth;
} hp__json;

static inline void hp__ws(hp__json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static inline int hp__hex4(const uint8_t *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    *out = v;
    return 0;
}

static inline char *hp__put_utf8(char *d, uint32_t r) {
    if (r < 0x80) { *d++ = (char)r; }
    else if (r < 0x800) { *d++ = (char)(0xC0 | r >> 6); *d++ = (char)(0x80 | (r & 0x3F)); }
    else if (r < 0x10000) { *d++ = (char)(0xE0 | r >> 12); *d++ = (char)(0x80 | (r >> 6 & 0x3F)); *d++ = (char)(0x80 | (r & 0x3F)); }
    else { *d++ = (char)(0xF0 | r >> 18); *d++ = (char)(0x80 | (r >> 12 & 0x3F)); *d++ = (char)(0x80 | (r >> 6 & 0x3F)); *d++ = (char)(0x80 | (r & 0x3F)); }
    return d;
}

/* hp__string reads a JSON string at j->p. With dst, it decodes into dst
 * (which has room: a decoded string is never longer than its JSON) and
 * stores the decoded length. */
static inline int hp__string(hp__json *j, char *dst, size_t *len) {
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    char *d = dst;
    while (j->p < j->end) {
        uint8_t c = *j->p++;
        if (c == '"') {
            if (dst) { *d = 0; *len = (size_t)(d - dst); }
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (dst) *d++ = (char)c;
            continue;
        }
        if (j->p >= j->end)
            return -1;
        c = *j->p++;
        uint32_t r;
        switch (c) {
        case '"': case '\\': case '/': r = c; break;
        case 'b': r = '\b'; break;
        case 'f': r = '\f'; break;
        case 'n': r = '\n'; break;
        case 'r': r = '\r'; break;
        case 't': r = '\t'; break;
        case 'u':
            if (j->end - j->p < 4 || hp__hex4(j->p, &r))
                return -1;
            j->p += 4;
            if (r >= 0xD800 && r < 0xDC00) { /* a surrogate pair, or U+FFFD */
                uint32_t lo;
                if (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u' && !hp__hex4(j->p + 2, &lo) &&
                    lo >= 0xDC00 && lo < 0xE000) {
                    j->p += 6;
                    r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    r = 0xFFFD;
                }
            } else if (r >= 0xDC00 && r < 0xE000) {
                r = 0xFFFD;
            }
            break;
        default:
            return -1;
        }
        if (dst) d = hp__put_utf8(d, r);
    }
    return -1;
}

static inline int hp__value(hp__json *j);

static inline int hp__container(hp__json *j, uint8_t close) {
    if (++j->depth > 1000)
        return -1;
    j->p++;
    hp__ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (hp__string(j, NULL, NULL))
                return -1;
            hp__ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return -1;
        }
        if (hp__value(j))
            return -1;
        hp__ws(j);
        if (j->p >= j->end)
            return -1;
        uint8_t c = *j->p++;
        if (c == close) {
            j->depth--;
            return 0;
        }
        if (c != ',')
            return -1;
        hp__ws(j);
    }
}

static inline int hp__value(hp__json *j) {
    hp__ws(j);
    if (j->p >= j->end)
        return -1;
    switch (*j->p) {
    case '"': return hp__string(j, NULL, NULL);
    case '{': return hp__container(j, '}');
    case '[': return hp__container(j, ']');
    case 't': if (j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) { j->p += 4; return 0; } return -1;
    case 'f': if (j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) { j->p += 5; return 0; } return -1;
    case 'n': if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) { j->p += 4; return 0; } return -1;
    }
    /* A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? */
    const uint8_t *s = j->p;
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0') j->p++;
    else if (j->p < j->end && *j->p >= '1' && *j->p <= '9') while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    else return -1;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return -1;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return -1;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    return j->p > s ? 0 : -1;
}

static inline char *hp__strdup_json(const uint8_t *val, const uint8_t *end, size_t *len) {
    /* Decoded keys and strings share one arena, reset at each configure
     * and sized for all of them: decoding never lengthens a string. */
    size_t need = (size_t)(end - val) + 1;
    if (hp__strings_len + need > hp__strings_cap)
        return NULL;
    hp__json j = {val, end, 0};
    char *dst = hp__strings + hp__strings_len;
    if (hp__string(&j, dst, len))
        return NULL;
    hp__strings_len += *len + 1;
    return dst;
}

/* hp__parse_settings reads the top-level object; keys are decoded at once. */
static inline int hp__parse_settings(const uint8_t *data, size_t len) {
    hp__settings.n = 0;
    hp__strings_len = 0;
    if (2 * len + 16 > hp__strings_cap) { /* room for every key and string */
        char *grown = realloc(hp__strings, 2 * len + 16);
        if (grown == NULL)
            return hp_fail("config: out of memory");
        hp__strings = grown;
        hp__strings_cap = 2 * len + 16;
    }
    if (len == 0)
        return 0; /* the Go SDK's rule: no settings at all is {} */
    hp__json j = {data, data + len, 0};
    hp__ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return hp_fail("config is not a JSON object");
    j.p++;
    hp__ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            hp__ws(&j);
            const uint8_t *k = j.p;
            if (hp__string(&j, NULL, NULL))
                return hp_fail("config is not a JSON object: bad key");
            const uint8_t *kend = j.p;
            hp__ws(&j);
            if (j.p >= j.end || *j.p++ != ':')
                return hp_fail("config is not a JSON object: missing ':'");
            hp__ws(&j);
            const uint8_t *v = j.p;
            if (hp__value(&j))
                return hp_fail("config is not a JSON object: bad value");
            if (hp__settings.n == HP__MAX_KEYS)
                return hp_fail("config: more than 64 keys");
            size_t klen;
            const char *key = hp__strdup_json(k, kend, &klen);
            if (key == NULL)
                return hp_fail("config: bad key");
            hp__settings.e[hp__settings.n].key = key;
            hp__settings.e[hp__settings.n].val = v;
            hp__settings.e[hp__settings.n].val_end = j.p;
            hp__settings.e[hp__settings.n].str = NULL;
            hp__settings.n++;
            hp__ws(&j);
            if (j.p >= j.end)
                return hp_fail("config is not a JSON object: unexpected end");
            uint8_t c = *j.p++;
            if (c == '}')
                break;
            if (c != ',')
                return hp_fail("config is not a JSON object: missing ','");
        }
    }
    hp__ws(&j);
    if (j.p != j.end)
        return hp_fail("config is not a JSON object: data after the object");
    return 0;
}

/* hp__find returns the last entry for key, as a JSON decoder would. */
static inline int hp__find(const hp_settings *s, const char *key) {
    for (size_t i = s->n; i-- > 0;)
        if (strcmp(s->e[i].key, key) == 0)
            return (int)i;
    return -1;
}

static inline int hp_setting_has(const hp_settings *s, const char *key) { return hp__find(s, key) >= 0; }

/* hp__type_error says what the key holds in the words of the Go SDK's
 * messages: a string's text, other values as JSON, then the Go type. */
static inline int hp_setting_string(const hp_settings *s, const char *key, const char *def, const char **out, size_t *len);
static inline int hp__type_error(const hp_settings *s, int i, const char *want) {
    const uint8_t *v = s->e[i].val;
    const char *type = *v == '"' ? "string" : *v == 't' || *v == 'f' ? "bool" : *v == 'n' ? "<nil>"
                     : *v == '[' ? "[]interface {}" : *v == '{' ? "map[string]interface {}" : "float64";
    char got[201];
    const char *text = got;
    size_t n = (size_t)(s->e[i].val_end - v);
    if (*v == '"') {
        if (hp_setting_string(s, s->e[i].key, "", &text, &n))
            return 1;
    } else if (*v == 'n') {
        text = "<nil>";
    } else {
        if (n > 200)
            n = 200;
        memcpy(got, v, n);
        got[n] = 0;
    }
    return hp_fail_join("config key \"", s->e[i].key, "\": want ", want, ", got ", text, " (", type, ")", (const char *)NULL);
}

static inline int hp_setting_string(const hp_settings *s, const char *key, const char *def, const char **out, size_t *len) {
    int i = hp__find(s, key);
    if (i < 0) {
        *out = def;
        if (len) *len = strlen(def);
        return 0;
    }
    if (*s->e[i].val != '"')
        return hp__type_error(s, i, "a string");
    hp_settings *m = (hp_settings *)s; /* the one hp__settings */
    if (m->e[i].str == NULL) {
        m->e[i].str = hp__strdup_json(s->e[i].val, s->e[i].val_end, &m->e[i].str_len);
        if (m->e[i].str == NULL)
            return hp_fail("config: out of memory");
    }
    *out = m->e[i].str;
    if (len) *len = m->e[i].str_len;
    return 0;
}

static inline int hp_setting_bool(const hp_settings *s, const char *key, int def, int *out) {
    int i = hp__find(s, key);
    if (i < 0) {
        *out = def;
        return 0;
    }
    size_t n = (size_t)(s->e[i].val_end - s->e[i].val);
    if (n == 4 && !memcmp(s->e[i].val, "true", 4)) *out = 1;
    else if (n == 5 && !memcmp(s->e[i].val, "false", 5)) *out = 0;
    else return hp__type_error(s, i, "true or false");
    return 0;
}

static inline int hp_setting_int(const hp_settings *s, const char *key, long long def, long long *out) {
    int i = hp__find(s, key);
    if (i < 0) {
        *out = def;
        return 0;
    }
    /* Integers only, as the Go SDK's Config.Int: no fraction or exponent,
     * or one that leaves a whole number (3.0, 1e3). */
    char tmp[32];
    size_t n = (size_t)(s->e[i].val_end - s->e[i].val);
    if (n >= sizeof tmp)
        return hp__type_error(s, i, "an integer");
    memcpy(tmp, s->e[i].val, n);
    tmp[n] = 0;
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + n || d != (double)(long long)d || d > 9.2e18 || d < -9.2e18)
        return hp__type_error(s, i, "an integer");
    *out = (long long)d;
    return 0;
}

static inline int hp_settings_only(const hp_settings *s, const char *const *keys) {
    /* Name the first unknown key in sorted order, as the Go SDK does. */
    const char *first = NULL;
    for (size_t i = 0; i < s->n; i++) {
        int known = 0;
        for (const char *const *k = keys; k && *k; k++)
            if (strcmp(*k, s->e[i].key) == 0) known = 1;
        if (!known && (first == NULL || strcmp(s->e[i].key, first) < 0))
            first = s->e[i].key;
    }
    if (first == NULL)
        return 0;
    char list[512] = "none";
    if (keys && *keys) {
        size_t used = 0;
        for (const char *const *k = keys; *k; k++) {
            size_t n = strlen(*k);
            if (used + n + 3 > sizeof list)
                break;
            if (k != keys)
                memcpy(list + used, ", ", 2), used += 2;
            memcpy(list + used, *k, n);
            used += n;
        }
        list[used] = 0;
    }
    return hp_fail_join("unknown config key \"", first, "\" (settings of this plugin: ", list, ")", (const char *)NULL);
}

/* ---- The ABI's calls ---- */

static inline int hp__configure(const hp_plugin *pl, uint32_t len) {
    int rc = hp__parse_settings(hp__buf, len);
    if (rc)
        return rc;
    return pl->configure ? pl->configure(&hp__settings) : 0;
}

static inline int hp__status(int rc) {
    if (rc == 0 && hp__oom)
        rc = hp_fail("out of memory for output");
    hp__oom = 0;
    if (rc == 0)
        hp__flush();
    else
        hp__out_len = 0; /* the host discards a failed call's output anyway */
    return rc;
}

static inline int hp__begin(const hp_plugin *pl, uint32_t len) {
    hp__out_len = 0;
    hp__cur_term = hp__last_term = "\n";
    hp__cur_term_len = 1;
    hp__open = hp__in_end = 0;
    hp__buf[len] = 0; /* plugin_buffer keeps a byte for this */
    return hp__status(pl->begin ? pl->begin((const char *)hp__buf, len) : 0);
}

static inline int hp__chunk(const hp_plugin *pl, uint32_t len) {
    uint8_t *p = hp__buf, *end = hp__buf + len;
    if (pl->chunk) {
        if (len > 0) {
            uint8_t *last = end[-1] == '\n' ? end - 1 : NULL;
            if (last) hp__last_term = (last > p && last[-1] == '\r') ? "\r\n" : "\n";
            /* Found from the end: the last terminated line's terminator. */
            if (!last) {
                uint8_t *q = end;
                while (q > p && q[-1] != '\n') q--;
                if (q > p) hp__last_term = (q - 1 > p && q[-2] == '\r') ? "\r\n" : "\n";
            }
        }
        return hp__status(pl->chunk(p, len));
    }
    while (p < end) {
        uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n;
        if (nl == NULL) {
            n = (size_t)(end - p);
            hp__cur_term = "", hp__cur_term_len = 0;
        } else {
            n = (size_t)(nl - p);
            if (n > 0 && p[n - 1] == '\r') {
                n--;
                hp__cur_term = "\r\n", hp__cur_term_len = 2;
            } else {
                hp__cur_term = "\n", hp__cur_term_len = 1;
            }
            hp__last_term = hp__cur_term;
        }
        if (pl->line) {
            int rc = pl->line(p, n);
            if (rc)
                return hp__status(rc);
        }
        p = nl ? nl + 1 : end;
    }
    return hp__status(0);
}

static inline int hp__end(const hp_plugin *pl) {
    hp__in_end = 1;
    int rc = pl->end ? pl->end() : 0;
    hp__in_end = 0;
    return hp__status(rc);
}

#endif /* HOSTPLUGIN_H */
