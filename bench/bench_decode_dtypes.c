/* Decode speed of one model in several weight dtypes, measured in the same
 * minute: the model is loaded once per dtype and the dtypes take turns, one
 * token each, so the ratios (bf16 / fp32, int8 / bf16) do not move with the
 * machine's drifting memory bandwidth the way separate runs do. Each token
 * is a decoding step at positions P..P+31 (the cache is refilled with a
 * P-token prompt when it reaches P+32, untimed; P = --position, default
 * 16); medians over the repeats.
 *
 *   bench_decode_dtypes --model DIR [--dtypes fp32,bf16,int8] [--repeats N] [--position P]
 *
 * bf16 is the bf16 model as the tril commands load it (on Intel AMX where the
 * CPU has it: printed as bf16-amx); bf16-avx512 is the same model kept off
 * AMX, to compare the two in the same minute. A "+kvbf16" suffix gives the
 * contender a bf16 KV cache (bf16+kvbf16, int8+kvbf16, ...).
 *
 * Run it as `tril` runs (GOMP_SPINCOUNT=1000, OPENBLAS_CORETYPE as `tril
 * info` advises) for figures comparable to `tril bench decode`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tril/gpt2.h"
#include "tril/timing.h"

enum { MAX_DTYPES = 4, SPAN = 32 };
static int64_t prompt = 16; /* --position */

typedef struct {
    tril_dtype dtype;
    int no_amx; /* "bf16-avx512": the bf16 model left off Intel AMX */
    int kv_bf16; /* "+kvbf16": a bf16 KV cache */
    char name[32];
    tril_gpt2 *model;
    tril_gpt2_state *state;
    double *times;
} contender;

static int parse_dtypes(const char *list, contender *c, int *n)
{
    char buf[64];
    if (strlen(list) >= sizeof buf) return -1;
    strcpy(buf, list);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == MAX_DTYPES) return -1;
        char *plus = strstr(tok, "+kvbf16");
        c[*n].kv_bf16 = plus != NULL;
        if (plus) {
            if (plus[strlen("+kvbf16")] != '\0') return -1;
            *plus = '\0';
        }
        c[*n].no_amx = strcmp(tok, "bf16-avx512") == 0;
        if (c[*n].no_amx) c[*n].dtype = TRIL_BF16;
        else if (tril_dtype_parse(tok, &c[*n].dtype) != TRIL_OK || c[*n].dtype == TRIL_F16)
            return -1;
        (*n)++;
    }
    return *n > 0 ? 0 : -1;
}

static int step(contender *c, const int32_t *ids, float *logits, double *seconds)
{
    if (tril_gpt2_state_position(c->state) == 0 || tril_gpt2_state_position(c->state) >= prompt + SPAN) {
        tril_gpt2_state_reset(c->state);
        if (tril_gpt2_forward(c->model, c->state, ids, prompt, logits, NULL) != TRIL_OK) return -1;
    }
    const int64_t pos = tril_gpt2_state_position(c->state);
    const double t0 = tril_now();
    if (tril_gpt2_forward(c->model, c->state, ids + pos, 1, logits, NULL) != TRIL_OK) return -1;
    *seconds = tril_now() - t0;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *dtypes = "fp32,bf16,int8";
    int repeats = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--dtypes")) dtypes = argv[i + 1];
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--position")) prompt = atoll(argv[i + 1]);
        else {
            fprintf(stderr, "bench_decode_dtypes: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    contender c[MAX_DTYPES] = {0};
    int n = 0;
    if (!dir || repeats < 1 || prompt < 1 || prompt > 1 << 20 || parse_dtypes(dtypes, c, &n) != 0) {
        fprintf(stderr, "usage: bench_decode_dtypes --model DIR [--dtypes fp32,bf16,bf16-avx512,int8"
                        "[+kvbf16]] [--repeats N] [--position P]\n");
        return 2;
    }
    int64_t vocab = 0;
    for (int k = 0; k < n; k++) {
        tril_gpt2_load_opts opts = {.weight_dtype = c[k].dtype, .amx = !c[k].no_amx};
        if (tril_gpt2_load(dir, &opts, &c[k].model) != TRIL_OK ||
            tril_gpt2_set_kv_dtype(c[k].model, c[k].kv_bf16 ? TRIL_BF16 : TRIL_F32) != TRIL_OK ||
            tril_gpt2_state_create(c[k].model, prompt + SPAN, prompt, &c[k].state) != TRIL_OK) {
            fprintf(stderr, "bench_decode_dtypes: %s\n", tril_last_error());
            return 1;
        }
        vocab = tril_gpt2_get_config(c[k].model)->vocab_size;
        if (!(c[k].times = malloc((size_t)repeats * sizeof *c[k].times))) return 1;
    }
    int32_t *ids = malloc((size_t)(prompt + SPAN) * sizeof *ids);
    if (!ids) return 1;
    for (int64_t i = 0; i < prompt + SPAN; i++) ids[i] = (int32_t)((i * 7919) % vocab);
    float *logits = malloc((size_t)vocab * sizeof *logits);
    if (!logits) return 1;
    for (int r = -4; r < repeats; r++) /* r < 0: warm-up */
        for (int k = 0; k < n; k++) {
            double s;
            if (step(&c[k], ids, logits, &s) != 0) {
                fprintf(stderr, "bench_decode_dtypes: %s\n", tril_last_error());
                return 1;
            }
            if (r >= 0) c[k].times[r] = s;
        }
    double ms[MAX_DTYPES];
    printf("bench=decode_dtypes model=%s repeats=%d positions=%lld-%lld", dir, repeats,
           (long long)prompt, (long long)(prompt + SPAN - 1));
    const char *names[MAX_DTYPES];
    for (int k = 0; k < n; k++) {
        snprintf(c[k].name, sizeof c[k].name, "%s%s",
                 c[k].no_amx ? "bf16-avx512"
                 : c[k].dtype == TRIL_BF16 && tril_gpt2_uses_amx(c[k].model) ? "bf16-amx"
                                                                            : tril_dtype_name(c[k].dtype),
                 c[k].kv_bf16 ? "+kvbf16" : "");
        names[k] = c[k].name;
        ms[k] = tril_median(c[k].times, repeats) * 1e3;
        printf(" %s_ms=%.2f", names[k], ms[k]);
    }
    for (int k = 1; k < n; k++) printf(" %s_over_%s=%.3f", names[k], names[k - 1], ms[k] / ms[k - 1]);
    printf("\n");
    for (int k = 0; k < n; k++) {
        tril_gpt2_state_free(c[k].state);
        tril_gpt2_free(c[k].model);
        free(c[k].times);
    }
    free(logits);
    free(ids);
    return ferror(stdout) || fflush(stdout) != 0 ? 1 : 0;
}
