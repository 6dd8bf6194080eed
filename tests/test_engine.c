/* The serving engine (tril/engine.h): a request's tokens do not depend on
 * what else runs beside it, bit for bit, and the queue, the KV block pool,
 * cancellation and refusals behave as documented.
 *
 * Every request is first run alone through tril_gpt2_generate_chunked (what
 * `tril generate` runs); then all of them together through one engine with
 * fewer slots than requests (so some wait), a prefill chunk shorter than
 * some prompts, greedy and seeded sampling mixed; each request's tokens must
 * equal its lone run exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tril/engine.h"
#include "tril/generate.h"
#include "tril/gpt2.h"

#define N_REQ 10
#define MAX_TOK 40
/* prompt tokens per step: 16 and 48. Chunks of up to
 * TRIL_ENGINE_ROWWISE_MAX (32) rows join the decoding rows' GEMVs and
 * longer ones get a GEMM: with 48, the cases' prompts (up to 100) put both
 * kinds, and decoding rows, in the same steps */
static int64_t chunk = 16;
static int use_amx; /* bf16: repack the model for Intel AMX where the CPU has it */
static int kv_bf16; /* the model's KV cache (and so the engine's pool) in bf16 */

typedef struct {
    int32_t prompt[200];
    int64_t n_prompt;
    int64_t max_tokens;
    tril_sampler_config sampling;
    int32_t alone[MAX_TOK];
    int64_t n_alone;
    float alone_lp[MAX_TOK]; /* log p of each token alone: any rounding shows */
    int32_t got[MAX_TOK];
    float got_lp[MAX_TOK];
    int64_t n_got;
    int done;
    tril_finish_reason reason;
} req_case;

static tril_gpt2 *make_model(tril_dtype dtype)
{
    tril_gpt2_config cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(tril_gpt2_config_by_name("gpt2-124m", &cfg), TRIL_OK); /* defaults */
    cfg.n_layer = 2;
    cfg.n_head = 4;
    cfg.n_embd = 64;
    cfg.n_positions = 256;
    cfg.vocab_size = 1000;
    tril_gpt2 *m = NULL;
    assert_int_equal(tril_gpt2_create(&cfg, &m), TRIL_OK);
    assert_int_equal(tril_gpt2_init_random(m, 42), TRIL_OK);
    /* GPT-2's init zeroes the biases and sets LayerNorm to 1: perturb every
     * parameter so no product can hide behind an exact zero or one */
    float *arena = NULL;
    int64_t numel = 0;
    assert_int_equal(tril_gpt2_get_arena(m, &arena, &numel), TRIL_OK);
    test_rng r = {99};
    for (int64_t i = 0; i < numel; i++) arena[i] += 0.05f * test_rng_normal(&r);
    if (dtype != TRIL_F32) assert_int_equal(tril_gpt2_use_dtype(m, dtype), TRIL_OK);
    if (use_amx) assert_int_equal(tril_gpt2_use_amx(m), TRIL_OK);
    if (kv_bf16) assert_int_equal(tril_gpt2_set_kv_dtype(m, TRIL_BF16), TRIL_OK);
    return m;
}

static int collect_alone(int32_t id, void *user)
{
    req_case *c = user;
    if (c->n_alone < MAX_TOK) c->alone[c->n_alone] = id;
    c->n_alone++;
    return 0;
}

static void make_cases(req_case *cases, uint64_t seed)
{
    test_rng r = {seed};
    const int64_t lengths[N_REQ] = {1, 5, 16, 17, 40, 3, 100, 2, 33, 64};
    for (int i = 0; i < N_REQ; i++) {
        req_case *c = &cases[i];
        memset(c, 0, sizeof *c);
        c->n_prompt = lengths[i];
        for (int64_t t = 0; t < c->n_prompt; t++)
            c->prompt[t] = (int32_t)(test_rng_u64(&r) % 1000);
        c->max_tokens = 5 + (int64_t)(test_rng_u64(&r) % (MAX_TOK - 5));
        c->sampling = tril_sampler_config_default();
        c->sampling.seed = 1000 + (uint64_t)i;
        if (i % 3 == 0) c->sampling.temperature = 0.0f;      /* greedy */
        else if (i % 3 == 1) c->sampling.temperature = 1.3f; /* sampled */
        else {
            c->sampling.temperature = 0.8f;
            c->sampling.top_k = 20;
            c->sampling.top_p = 0.9f;
        }
    }
}

static int collect(const tril_engine_event *ev, void *ctx)
{
    (void)ctx;
    req_case *c = ev->user;
    if (ev->kind == TRIL_ENGINE_TOKEN) {
        if (c->n_got < MAX_TOK) {
            c->got[c->n_got] = ev->token;
            c->got_lp[c->n_got] = ev->logprob;
        }
        c->n_got++;
        assert_int_equal(ev->completion_tokens, c->n_got);
        assert_true(ev->logprob <= 0.0f);
        assert_true(ev->n_top >= 1 && ev->top_logprobs[0] >= ev->logprob);
    } else {
        assert_false(c->done);
        c->done = 1;
        c->reason = ev->reason;
        if (ev->reason == TRIL_FINISH_ERROR) fail_msg("request failed: %s", tril_last_error());
    }
    return 0;
}

/* Submits case c (its prompt, length, sampling; no end-of-text token)
 * with `logprobs` top log-probabilities per token; c collects from 0. */
static void submit_case(tril_engine *e, req_case *c, int logprobs)
{
    tril_engine_request q;
    memset(&q, 0, sizeof q);
    q.prompt = c->prompt;
    q.n_prompt = c->n_prompt;
    q.max_tokens = c->max_tokens;
    q.sampling = c->sampling;
    q.eot = -1;
    q.logprobs = logprobs;
    q.user = c;
    c->n_got = 0;
    uint64_t id;
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_OK);
}

static void run_together(tril_gpt2 *m, req_case *cases, int64_t slots, int64_t kv_mb)
{
    tril_engine_config cfg = tril_engine_config_default();
    cfg.slots = slots;
    cfg.prefill_chunk = chunk;
    cfg.kv_memory_bytes = kv_mb << 20;
    tril_engine *e = NULL;
    assert_int_equal(tril_engine_create(m, &cfg, &e), TRIL_OK);
    for (int i = 0; i < N_REQ; i++) {
        cases[i].done = 0;
        submit_case(e, &cases[i], 1 + i % 4); /* every token's log p, compared below */
    }
    int64_t steps = 0, most_rows = 0;
    while (tril_engine_busy(e)) {
        assert_int_equal(tril_engine_step(e, collect, NULL), TRIL_OK);
        tril_engine_stats st;
        tril_engine_get_stats(e, &st);
        assert_true(st.active <= slots);
        assert_true(st.kv_blocks_used <= st.kv_blocks_total);
        most_rows = st.last_step_rows > most_rows ? st.last_step_rows : most_rows;
        assert_true(++steps < 100000);
    }
    tril_engine_stats st;
    tril_engine_get_stats(e, &st);
    assert_int_equal(st.kv_blocks_used, 0); /* every block back */
    assert_int_equal(st.active, 0);
    assert_true(most_rows > 1); /* sequences really shared steps */
    for (int i = 0; i < N_REQ; i++) {
        req_case *c = &cases[i];
        assert_true(c->done);
        if (c->n_got != c->n_alone || memcmp(c->got, c->alone, (size_t)c->n_got * 4) != 0)
            fail_msg("request %d (prompt %lld, %s, slots %lld): %lld tokens beside others, %lld "
                     "alone, first difference at %lld", i, (long long)c->n_prompt,
                     c->sampling.temperature == 0.0f ? "greedy" : "sampled", (long long)slots,
                     (long long)c->n_got, (long long)c->n_alone,
                     (long long)(c->n_got > 0 && c->n_alone > 0 && c->got[0] != c->alone[0] ? 0 : 1));
        if (memcmp(c->got_lp, c->alone_lp, (size_t)c->n_got * 4) != 0)
            fail_msg("request %d (slots %lld): same tokens, but the log-probabilities differ "
                     "from its run alone (the logits were rounded differently)", i,
                     (long long)slots);
        assert_int_equal(c->reason, TRIL_FINISH_LENGTH);
    }
    tril_engine_free(e);
}

/* Against an independent path: tril_gpt2_forward one token at a time
 * (prompt, then the tokens the engine chose), the log p of each chosen
 * token from its logits. The engine's prompt chunks (the several-row
 * GEMVs, or a GEMM over a longer chunk) and its paged cache must give what
 * the one-row kernels and the contiguous cache give, to rounding: a chunk
 * written at the wrong rows or positions, or logits from the wrong row,
 * moves these by far more. */
static void check_against_forward(tril_gpt2 *m, const req_case *c)
{
    const int64_t V = tril_gpt2_get_config(m)->vocab_size;
    const int64_t total = c->n_prompt + c->n_alone;
    tril_gpt2_state *st;
    assert_int_equal(tril_gpt2_state_create(m, total, 1, &st), TRIL_OK);
    float *logits = malloc((size_t)V * sizeof *logits);
    for (int64_t t = 0; t < c->n_prompt - 1; t++)
        assert_int_equal(tril_gpt2_forward(m, st, c->prompt + t, 1, logits, NULL), TRIL_OK);
    int32_t last = c->prompt[c->n_prompt - 1];
    for (int64_t k = 0; k < c->n_alone; k++) {
        assert_int_equal(tril_gpt2_forward(m, st, &last, 1, logits, NULL), TRIL_OK);
        double mx = logits[0], sum = 0.0;
        for (int64_t v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
        for (int64_t v = 0; v < V; v++) sum += exp((double)logits[v] - mx);
        const double lp = (double)logits[c->alone[k]] - mx - log(sum);
        if (fabs(lp - (double)c->alone_lp[k]) > 2e-3)
            fail_msg("prompt %lld, token %lld: log p %.6f in the engine, %.6f one token at a "
                     "time", (long long)c->n_prompt, (long long)k, (double)c->alone_lp[k], lp);
        last = c->alone[k];
    }
    free(logits);
    tril_gpt2_state_free(st);
}

static void check_batch_independence(tril_dtype dtype)
{
    tril_gpt2 *m = make_model(dtype);
    req_case *cases = calloc(N_REQ, sizeof *cases);
    make_cases(cases, 7 + (uint64_t)dtype);
    for (int i = 0; i < N_REQ; i++) {
        int64_t gen = 0;
        tril_stop_reason why;
        assert_int_equal(tril_gpt2_generate_chunked(m, cases[i].prompt, cases[i].n_prompt,
                                                    cases[i].max_tokens, &cases[i].sampling, -1,
                                                    chunk, collect_alone, &cases[i], &gen, &why),
                         TRIL_OK);
        assert_int_equal(gen, cases[i].max_tokens);
        assert_int_equal(cases[i].n_alone, gen);
    }
    /* alone through an engine of one slot: the same tokens as generate,
     * and the log-probabilities to compare bit for bit */
    req_case *one = calloc(N_REQ, sizeof *one);
    memcpy(one, cases, N_REQ * sizeof *one);
    for (int i = 0; i < N_REQ; i++) {
        tril_engine_config cfg = tril_engine_config_default();
        cfg.slots = 1;
        cfg.prefill_chunk = chunk;
        tril_engine *e = NULL;
        assert_int_equal(tril_engine_create(m, &cfg, &e), TRIL_OK);
        submit_case(e, &one[i], 1);
        while (tril_engine_busy(e)) assert_int_equal(tril_engine_step(e, collect, NULL), TRIL_OK);
        tril_engine_free(e);
        assert_int_equal(one[i].n_got, cases[i].n_alone);
        assert_memory_equal(one[i].got, cases[i].alone, (size_t)one[i].n_got * 4);
        memcpy(cases[i].alone_lp, one[i].got_lp, sizeof cases[i].alone_lp);
        if (chunk == 16) check_against_forward(m, &cases[i]);
    }
    free(one);
    run_together(m, cases, 4, 0);      /* some wait for a slot */
    run_together(m, cases, N_REQ, 0);  /* all at once */
    run_together(m, cases, N_REQ, 1);  /* 1 MB of KV: some wait for blocks */
    free(cases);
    tril_gpt2_free(m);
}

static void test_batch_independent_fp32(void **state)
{
    (void)state;
    for (chunk = 16; chunk <= 48; chunk += 32) check_batch_independence(TRIL_F32);
    chunk = 16;
}

static void test_batch_independent_bf16(void **state)
{
    (void)state;
    for (chunk = 16; chunk <= 48; chunk += 32) check_batch_independence(TRIL_BF16);
    chunk = 16;
}

/* The bf16 model on AMX: every row of a step through the tile unit,
 * chunks of any length included (the vocabulary of 1000 leaves 8 outputs
 * past the tiles). Where the CPU has no AMX this is the test above again. */
static void test_batch_independent_bf16_amx(void **state)
{
    (void)state;
    use_amx = 1;
    tril_gpt2 *probe = make_model(TRIL_BF16);
    printf("  AMX %s\n", tril_gpt2_uses_amx(probe) ? "in use" : "not available: the AVX-512 path");
    tril_gpt2_free(probe);
    for (chunk = 16; chunk <= 48; chunk += 32) check_batch_independence(TRIL_BF16);
    chunk = 16;
    use_amx = 0;
}

static void test_batch_independent_int8(void **state)
{
    (void)state;
    for (chunk = 16; chunk <= 48; chunk += 32) check_batch_independence(TRIL_INT8);
    chunk = 16;
}

/* A bf16 KV cache (the pool paged in bf16): a request's tokens are the
 * same alone and in any batch, generate's, and within rounding of one token
 * at a time through a state with the same cache; fp32 and bf16 (AMX)
 * weights. */
static void test_batch_independent_bf16_kv(void **state)
{
    (void)state;
    kv_bf16 = 1;
    for (chunk = 16; chunk <= 48; chunk += 32) check_batch_independence(TRIL_F32);
    use_amx = 1;
    for (chunk = 16; chunk <= 48; chunk += 32) check_batch_independence(TRIL_BF16);
    chunk = 16;
    use_amx = 0;
    kv_bf16 = 0;
}

static int cancel_after_two(const tril_engine_event *ev, void *ctx)
{
    int *tokens = ctx;
    if (ev->kind == TRIL_ENGINE_TOKEN) return ++*tokens >= 2;
    return 0;
}

static void test_refusals_and_cancel(void **state)
{
    (void)state;
    tril_gpt2 *m = make_model(TRIL_F32);
    tril_engine_config cfg = tril_engine_config_default();
    cfg.slots = 2;
    cfg.max_queue = 2;
    tril_engine *e = NULL;
    cfg.slots = 0;
    assert_int_equal(tril_engine_create(m, &cfg, &e), TRIL_ERR_RANGE);
    cfg.slots = 2;
    cfg.kv_memory_bytes = 10; /* below one block */
    assert_int_equal(tril_engine_create(m, &cfg, &e), TRIL_ERR_RANGE);
    cfg.kv_memory_bytes = 0;
    assert_int_equal(tril_engine_create(m, &cfg, &e), TRIL_OK);
    int32_t prompt[300] = {0};
    tril_engine_request q;
    memset(&q, 0, sizeof q);
    q.prompt = prompt;
    q.n_prompt = 3;
    q.max_tokens = 50;
    q.sampling = tril_sampler_config_default();
    q.eot = -1;
    uint64_t id, id2;
    q.n_prompt = 0;
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_ERR_INVALID_ARG);
    q.n_prompt = 257; /* context 256 */
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_ERR_RANGE);
    assert_non_null(strstr(tril_last_error(), "context is 256"));
    q.n_prompt = 3;
    q.max_tokens = 0;
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_ERR_INVALID_ARG);
    q.max_tokens = 50;
    q.logprobs = TRIL_ENGINE_MAX_LOGPROBS + 1;
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_ERR_INVALID_ARG);
    q.logprobs = 0;
    prompt[1] = 1000; /* outside the vocabulary */
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_ERR_RANGE);
    prompt[1] = 0;
    /* the queue holds two; a third is refused as busy */
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_OK);
    assert_int_equal(tril_engine_submit(e, &q, &id2), TRIL_OK);
    assert_int_equal(tril_engine_submit(e, &q, &id2), TRIL_ERR_BUSY);
    /* the callback cancels after two tokens of each: both end, blocks back */
    int tokens = 0;
    for (int i = 0; i < 100 && tril_engine_busy(e); i++)
        assert_int_equal(tril_engine_step(e, cancel_after_two, &tokens), TRIL_OK);
    assert_false(tril_engine_busy(e));
    tril_engine_stats st;
    tril_engine_get_stats(e, &st);
    assert_int_equal(st.kv_blocks_used, 0);
    /* cancel by id, queued and running */
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_OK);
    assert_int_equal(tril_engine_step(e, NULL, NULL), TRIL_OK); /* running now */
    assert_int_equal(tril_engine_cancel(e, id), TRIL_OK);
    assert_int_equal(tril_engine_step(e, NULL, NULL), TRIL_OK);
    assert_false(tril_engine_busy(e));
    assert_int_equal(tril_engine_cancel(e, id), TRIL_ERR_RANGE);
    tril_engine_get_stats(e, &st);
    assert_int_equal(st.kv_blocks_used, 0);
    tril_engine_free(e);
    /* a request that could never fit the pool is refused at once */
    cfg.kv_memory_bytes = 2 * 2 * 16 * 64 * 4; /* one block */
    assert_int_equal(tril_engine_create(m, &cfg, &e), TRIL_OK);
    q.max_tokens = 40;
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_ERR_RANGE);
    tril_engine_free(e);
    tril_gpt2_free(m);
}

typedef struct {
    int checked;
} lp_ctx;

static int check_logprobs(const tril_engine_event *ev, void *ctx)
{
    lp_ctx *c = ctx;
    if (ev->kind != TRIL_ENGINE_TOKEN) return 0;
    assert_int_equal(ev->n_top, 5);
    for (int k = 1; k < 5; k++) assert_true(ev->top_logprobs[k - 1] >= ev->top_logprobs[k]);
    /* greedy: the token is the most likely one */
    assert_int_equal(ev->token, ev->top_ids[0]);
    assert_true(ev->logprob == ev->top_logprobs[0]);
    double mass = 0.0;
    for (int k = 0; k < 5; k++) mass += exp(ev->top_logprobs[k]);
    assert_true(mass <= 1.0 + 1e-5);
    c->checked++;
    return 0;
}

static void test_logprobs(void **state)
{
    (void)state;
    tril_gpt2 *m = make_model(TRIL_F32);
    tril_engine *e = NULL;
    assert_int_equal(tril_engine_create(m, NULL, &e), TRIL_OK);
    int32_t prompt[4] = {1, 2, 3, 4};
    tril_engine_request q;
    memset(&q, 0, sizeof q);
    q.prompt = prompt;
    q.n_prompt = 4;
    q.max_tokens = 6;
    q.sampling = tril_sampler_config_default();
    q.sampling.temperature = 0.0f;
    q.eot = -1;
    q.logprobs = 5;
    uint64_t id;
    assert_int_equal(tril_engine_submit(e, &q, &id), TRIL_OK);
    lp_ctx c = {0};
    while (tril_engine_busy(e)) assert_int_equal(tril_engine_step(e, check_logprobs, &c), TRIL_OK);
    assert_int_equal(c.checked, 6);
    tril_engine_free(e);
    tril_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_independent_fp32),
        cmocka_unit_test(test_batch_independent_bf16),
        cmocka_unit_test(test_batch_independent_bf16_amx),
        cmocka_unit_test(test_batch_independent_int8),
        cmocka_unit_test(test_batch_independent_bf16_kv),
        cmocka_unit_test(test_refusals_and_cancel),
        cmocka_unit_test(test_logprobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
