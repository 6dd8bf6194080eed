/* The streaming-read limit, measured in turns with the work it bounds
 * (tril/cpu.h): one buffer, one read per measurement. */
#include <stdlib.h>

#include "core/big_alloc.h"
#include "core/kernels.h"
#include "tril/cpu.h"

/* 256 MiB: far beyond the caches, so this is DRAM bandwidth */
#define PROBE_FLOATS (64ll << 20)

struct tril_stream_probe {
    float *buf;
};

tril_status tril_stream_probe_create(tril_stream_probe **out)
{
    if (!out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "stream probe: NULL argument");
    *out = NULL;
    tril_stream_probe *p = malloc(sizeof *p);
    /* on huge pages where the kernel gives them, as the model's weights */
    float *buf = p ? tril_big_alloc((size_t)PROBE_FLOATS * sizeof *buf, 0) : NULL;
    if (!buf) {
        free(p);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "stream probe: out of memory for its %lld MiB buffer",
                         (long long)(PROBE_FLOATS * (int64_t)sizeof(float) >> 20));
    }
    for (int64_t i = 0; i < PROBE_FLOATS; i++) buf[i] = (float)(i & 1023);
    p->buf = buf;
    *out = p;
    return TRIL_OK;
}

double tril_stream_probe_run(tril_stream_probe *probe)
{
    if (!probe) return 0.0;
    const tril_core_kernels *k = TRIL_ISA_TABLE(tril_core_kernels);
    double best = 0.0;
    for (int fetch = 0; fetch < TRIL_STREAM_FETCH_KINDS; fetch++) {
        const double t = k->stream_pass(probe->buf, PROBE_FLOATS, fetch);
        if (fetch == 0 || t < best) best = t;
    }
    return (double)PROBE_FLOATS * sizeof(float) / best * 1e-9;
}

void tril_stream_probe_free(tril_stream_probe *probe)
{
    if (!probe) return;
    free(probe->buf);
    free(probe);
}
