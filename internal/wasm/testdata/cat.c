/* cat.c: a pass-through plugin with the C SDK, for BenchmarkChunkCallLang. */
#include "../../../sdk/c/hostplugin.h"

static int line(uint8_t *p, size_t n) {
    hp_emit_line(p, n);
    return 0;
}

HP_PLUGIN(.line = line)
