/* The per-ISA kernel tables (src/core/isa.h) and the TRIL_ISA setting.
 *
 * usage: test_isa [EXPECT]   EXPECT = generic | avx2 | avx512 | invalid
 * (ctest runs it once per TRIL_ISA value: the ISA the process then picks
 * must be the lower of EXPECT and the best this CPU has, and "invalid"
 * must make every entry point that runs kernels refuse with a message). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention/kernels.h"
#include "core/big_alloc.h"
#include "core/kernels.h"
#include "model/kernels.h"
#include "train/kernels.h"
#include "tril/attention.h"
#include "tril/cpu.h"
#include "tril/gpt2.h"

static const char *expect;

static tril_isa isa_named(const char *name)
{
    for (int i = TRIL_ISA_GENERIC; i <= TRIL_ISA_AVX512; i++)
        if (strcmp(name, tril_isa_name((tril_isa)i)) == 0) return (tril_isa)i;
    fail_msg("unknown ISA name '%s'", name);
    return TRIL_ISA_GENERIC;
}

/* Every table of every ISA this CPU runs is complete, and each ISA's is its
 * own (a table shared by two builds would test one build twice). */
static void test_tables_complete(void **state)
{
    (void)state;
    for (int i = TRIL_ISA_GENERIC; i <= TRIL_ISA_AVX512; i++) {
        if (!tril_cpu_supports((tril_isa)i)) continue;
        const tril_core_kernels *c = TRIL_ISA_TABLE_FOR(tril_core_kernels, (tril_isa)i);
        const tril_attention_kernels *a = TRIL_ISA_TABLE_FOR(tril_attention_kernels, (tril_isa)i);
        const tril_model_kernels *m = TRIL_ISA_TABLE_FOR(tril_model_kernels, (tril_isa)i);
        const tril_train_kernels *t = TRIL_ISA_TABLE_FOR(tril_train_kernels, (tril_isa)i);
        assert_non_null(c->peak_gflops);
        assert_non_null(c->stream_pass);
        assert_non_null(a->forward_direct);
        assert_non_null(a->forward_transposed);
        assert_non_null(a->forward_rowmajor);
        assert_non_null(a->backward);
        assert_non_null(a->release_thread_buffers);
        assert_non_null(m->gemv_xw);
        assert_non_null(m->gemv_wx);
        assert_non_null(m->gemv_wx_bf16);
        assert_non_null(m->widen_bf16);
        assert_non_null(m->gemv_xw_rows);
        assert_non_null(m->gemv_wx_rows);
        assert_non_null(m->gemv_wx_bf16_rows);
        assert_non_null(m->gelu);
        assert_non_null(m->gelu_backward);
        assert_non_null(m->softmax_xent_row);
        assert_non_null(m->sample_weights);
        assert_non_null(t->adamw_update);
        for (int j = TRIL_ISA_GENERIC; j < i; j++) {
            if (!tril_cpu_supports((tril_isa)j)) continue;
            assert_ptr_not_equal(m, TRIL_ISA_TABLE_FOR(tril_model_kernels, (tril_isa)j));
            assert_ptr_not_equal(a->forward_direct,
                                 TRIL_ISA_TABLE_FOR(tril_attention_kernels, (tril_isa)j)->forward_direct);
        }
    }
}

/* The machine-limit probes of every ISA: a positive, finite rate, and the
 * streaming probe reads the whole buffer (its sum is checked through the
 * rate only, so give it a buffer whose sum is exact). */
static void test_probes(void **state)
{
    (void)state;
    const int64_t n = 1 << 20;
    float *buf = malloc((size_t)n * sizeof *buf);
    assert_non_null(buf);
    for (int64_t i = 0; i < n; i++) buf[i] = 1.0f;
    for (int i = TRIL_ISA_GENERIC; i <= TRIL_ISA_AVX512; i++) {
        if (!tril_cpu_supports((tril_isa)i)) continue;
        const tril_core_kernels *c = TRIL_ISA_TABLE_FOR(tril_core_kernels, (tril_isa)i);
        const double gf = c->peak_gflops(0.01);
        if (!(gf > 0.0 && isfinite(gf)))
            fail_msg("%s FMA probe: %g GFLOP/s", tril_isa_name((tril_isa)i), gf);
        for (int fetch = 0; fetch < TRIL_STREAM_FETCH_KINDS; fetch++) {
            const double dt = c->stream_pass(buf, n, fetch);
            if (!(dt > 0.0 && isfinite(dt)))
                fail_msg("%s read (fetch kind %d) in %g s", tril_isa_name((tril_isa)i), fetch, dt);
        }
    }
    free(buf);
}

/* The public streaming probe: measurements one at a time from one buffer,
 * and the best-of form built on it. */
static void test_stream_probe(void **state)
{
    (void)state;
    assert_int_equal(tril_stream_probe_create(NULL), TRIL_ERR_INVALID_ARG);
    tril_stream_probe *p = NULL;
    assert_int_equal(tril_stream_probe_create(&p), TRIL_OK);
    assert_non_null(p);
    for (int r = 0; r < 2; r++) {
        const double gbps = tril_stream_probe_run(p);
        if (!(gbps > 0.0 && isfinite(gbps))) fail_msg("stream probe run %d: %g GB/s", r, gbps);
    }
    tril_stream_probe_free(p);
    tril_stream_probe_free(NULL);
    assert_true(tril_stream_probe_run(NULL) == 0.0);
    const double best = tril_cpu_stream_gbps(0.01);
    if (!(best > 0.0 && isfinite(best))) fail_msg("tril_cpu_stream_gbps: %g GB/s", best);
}

/* Buffers the kernels load rows from start on a cache line, are zeroed on
 * request, and refuse sizes that overflow. */
static void test_line_alloc(void **state)
{
    (void)state;
    const size_t counts[] = {1, 3, 17, 100000, 1u << 20};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        unsigned char *p = tril_line_alloc(counts[i], sizeof(float), 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 64, 0);
        for (size_t b = 0; b < counts[i] * sizeof(float); b++) assert_int_equal(p[b], 0);
        p[counts[i] * sizeof(float) - 1] = 1; /* the whole size is writable */
        free(p);
    }
    assert_null(tril_line_alloc(0, 4, 1));
    assert_null(tril_line_alloc(SIZE_MAX / 2, 4, 0));
}

/* KV caches start on a 2 MB page and, from 1 MB, fill whole 2 MB pages
 * (all of the rounded size is the caller's); zeroed on request; sizes that
 * overflow are refused. */
static void test_big_alloc_array(void **state)
{
    (void)state;
    const size_t huge = 2u << 20;
    const size_t counts[] = {1, 1000, (1u << 20) / 2 - 1, (1u << 20) / 2, (3u << 20) / 2 + 1};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        const size_t bytes = counts[i] * 2;
        unsigned char *p = tril_big_alloc_array(counts[i], 2, 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % huge, 0);
        for (size_t b = 0; b < bytes; b++) assert_int_equal(p[b], 0);
        const size_t usable = bytes >= huge / 2 ? (bytes + huge - 1) / huge * huge : bytes;
        p[usable - 1] = 1; /* the rounded size is writable (ASan would catch it) */
        free(p);
    }
    assert_null(tril_big_alloc_array(0, 2, 0));
    assert_null(tril_big_alloc_array(SIZE_MAX / 2, 4, 0));
}

static void test_env_choice(void **state)
{
    (void)state;
    if (strcmp(expect, "invalid") == 0) {
        assert_int_equal(tril_cpu_check_isa_env(), TRIL_ERR_INVALID_ARG);
        assert_non_null(strstr(tril_last_error(), "TRIL_ISA="));
        assert_non_null(strstr(tril_last_error(), "generic, avx2 or avx512"));
        /* attention refuses, whichever kernel is asked for */
        float q[4] = {1, 2, 3, 4}, out[4];
        tril_attention_args a = tril_attention_args_init();
        a.batch = a.heads = a.q_len = a.kv_len = 1;
        a.head_dim = 4;
        a.q = a.k = a.v = q;
        a.out = out;
        assert_int_equal(tril_attention_forward(&a, TRIL_ATTN_AUTO), TRIL_ERR_INVALID_ARG);
        assert_int_equal(tril_attention_forward(&a, TRIL_ATTN_REFERENCE), TRIL_ERR_INVALID_ARG);
        return;
    }
    assert_int_equal(tril_cpu_check_isa_env(), TRIL_OK);
    tril_isa want = isa_named(expect);
    while (want > TRIL_ISA_GENERIC && !tril_cpu_supports(want)) want = (tril_isa)(want - 1);
    assert_string_equal(tril_isa_name(tril_cpu_best_isa()), tril_isa_name(want));
    assert_ptr_equal(TRIL_ISA_TABLE(tril_model_kernels), TRIL_ISA_TABLE_FOR(tril_model_kernels, want));
}

int main(int argc, char **argv)
{
    expect = argc > 1 ? argv[1] : "avx512";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_complete),
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_stream_probe),
        cmocka_unit_test(test_line_alloc),
        cmocka_unit_test(test_big_alloc_array),
        cmocka_unit_test(test_env_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
