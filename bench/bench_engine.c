/* The serving engine without HTTP: N streams decoding together on GPT-2
 * 124M with random weights, against one stream alone, in the same run.
 *
 *   bench_engine [--dtype fp32|bf16|int8] [--kv-dtype fp32|bf16] [--streams 1,4,8,16]
 *                [--prompt P] [--tokens T] [--logprobs N]
 *
 * Each stream has a P-token prompt (default 16) and generates T tokens
 * (default 64). Prints, per stream count: the first step's ms (every
 * prompt read at once, the first tokens sampled), aggregate generated
 * tokens/s over the decode steps after it, ms per step, and the speed-up
 * over one stream. The weights are read once per step for all streams, so a
 * step of N rows should cost far less than N steps of one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/engine.h"
#include "tril/gpt2.h"
#include "tril/cpu.h"
#include "tril/rng.h"
#include "tril/timing.h"

static int quiet(const tril_engine_event *ev, void *ctx)
{
    (void)ev;
    (void)ctx;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dtype = "fp32", *kv_name = "fp32", *streams_arg = "1,4,8,16";
    int64_t prompt_len = 16, tokens = 64;
    int logprobs = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dtype")) dtype = argv[i + 1];
        else if (!strcmp(argv[i], "--kv-dtype")) kv_name = argv[i + 1];
        else if (!strcmp(argv[i], "--streams")) streams_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--prompt")) prompt_len = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--tokens")) tokens = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--logprobs")) logprobs = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_engine: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    tril_gpt2_config cfg;
    tril_gpt2 *m = NULL;
    tril_dtype weights, kv;
    if (tril_dtype_parse(dtype, &weights) != TRIL_OK || weights == TRIL_F16 ||
        tril_dtype_parse(kv_name, &kv) != TRIL_OK || (kv != TRIL_F32 && kv != TRIL_BF16)) {
        fprintf(stderr, "bench_engine: --dtype fp32, bf16 or int8; --kv-dtype fp32 or bf16\n");
        return 2;
    }
    if (tril_gpt2_config_by_name("gpt2-124m", &cfg) != TRIL_OK ||
        tril_gpt2_create_random(&cfg, 1, weights, &m) != TRIL_OK || tril_gpt2_use_amx(m) != TRIL_OK ||
        tril_gpt2_set_kv_dtype(m, kv) != TRIL_OK) {
        fprintf(stderr, "bench_engine: %s\n", tril_last_error());
        return 1;
    }
    printf("# bench_engine gpt2-124m dtype=%s kv_dtype=%s prompt=%lld tokens=%lld threads=%d isa=%s "
           "amx=%d\n",
           dtype, tril_dtype_name(kv), (long long)prompt_len, (long long)tokens, tril_get_num_threads(),
           tril_isa_name(tril_cpu_best_isa()), tril_gpt2_uses_amx(m));
    printf("%-8s %12s %12s %12s %10s\n", "streams", "prefill_ms", "tokens_per_s", "ms_per_step",
           "speedup");
    double one = 0.0;
    char list[256];
    snprintf(list, sizeof list, "%s", streams_arg);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        const int64_t n = atoll(tok);
        if (n < 1) continue;
        tril_engine_config ec = tril_engine_config_default();
        ec.slots = n;
        tril_engine *e = NULL;
        if (tril_engine_create(m, &ec, &e) != TRIL_OK) {
            fprintf(stderr, "bench_engine: %s\n", tril_last_error());
            return 1;
        }
        tril_rng rng;
        tril_rng_seed(&rng, 7);
        int32_t *prompt = malloc((size_t)prompt_len * sizeof *prompt);
        for (int64_t s = 0; s < n; s++) {
            for (int64_t t = 0; t < prompt_len; t++)
                prompt[t] = (int32_t)(tril_rng_next(&rng) % (uint64_t)cfg.vocab_size);
            tril_engine_request q;
            memset(&q, 0, sizeof q);
            q.prompt = prompt;
            q.n_prompt = prompt_len;
            q.max_tokens = tokens;
            q.sampling = tril_sampler_config_default();
            q.sampling.temperature = 0.0f;
            q.logprobs = logprobs; /* each token's log p and the N most likely */
            q.eot = -1;
            uint64_t id;
            if (tril_engine_submit(e, &q, &id) != TRIL_OK) {
                fprintf(stderr, "bench_engine: %s\n", tril_last_error());
                return 1;
            }
        }
        free(prompt);
        const double tp = tril_now();
        tril_engine_step(e, quiet, NULL); /* the prefill step, timed apart */
        const double prefill = tril_now() - tp;
        int64_t steps = 0;
        const double t0 = tril_now();
        while (tril_engine_busy(e)) {
            tril_engine_step(e, quiet, NULL);
            steps++;
        }
        const double dt = tril_now() - t0;
        const double tps = (double)(n * (tokens - 1)) / dt;
        if (n == 1) one = tps;
        printf("%-8lld %12.1f %12.1f %12.2f %10.2f\n", (long long)n, 1e3 * prefill, tps,
               1e3 * dt / (double)steps,
               one > 0 ? tps / one : 0.0);
        fflush(stdout);
        tril_engine_free(e);
    }
    tril_gpt2_free(m);
    return 0;
}
