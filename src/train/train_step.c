/* The training step: a full-sequence forward that keeps what backward needs,
 * and the backward pass through every op, the causal attention included.
 *
 * Activation layout (N = B*T rows, C = n_embd, per layer l):
 *   ln1, ln2 [N, C] (+ mean, rstd [N]), qkv [N, 3C], atty [N, C],
 *   lse [B, H, T], res2 [N, C] (after attention), fch, fcg [N, I]
 *   (before/after GELU; I = the MLP width, n_inner or 4C), res3 [N, C]
 *   (the layer's output).
 * The residual stream entering layer 0 is `x0`; entering layer l > 0 it is
 * res3 of layer l - 1. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "model/gpt2_internal.h"
#include "tril/attention.h"
#include "tril/ops.h"
#include "tril/train.h"

typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *lse, *res2;
    float *ln2, *ln2_mean, *ln2_rstd, *fch, *fcg, *res3;
} layer_acts;

/* Where each of a layer's parameters' gradients sits in the arena-shaped
 * grads (element offsets), found by name. */
typedef struct {
    int64_t ln1_w, ln1_b, attn_w, attn_b, proj_w, proj_b;
    int64_t ln2_w, ln2_b, fc_w, fc_b, fcproj_w, fcproj_b;
} layer_grads;

struct tril_trainer {
    const tril_gpt2 *model;
    int64_t max_B, max_T, B, T;
    int causal;
    float *block;        /* one allocation for every activation below */
    float *x0;           // [N, C] embeddings
    layer_acts *layers;  // [L]
    float *lnf, *lnf_mean, *lnf_rstd; // [N, C], [N], [N]
    float *logits;       // [N, V] logits, then probabilities after the loss
    float *scratch_a;    // [N, W] backward buffers, W = max(I, C, 2)
    float *scratch_b;    // [N, W]
    float *dres;         // [N, C] gradient of the residual stream
    float *dqkv;         // [N, 3C]
    int32_t *inputs, *targets; // [N]
    int64_t g_wte, g_wpe, g_lnf_w, g_lnf_b; /* gradient offsets, by name */
    layer_grads *grads;  // [L]
    int have_forward;
};

/* Hands out the activation block: the one list of buffers and their sizes.
 * Run once with base NULL to add the sizes up (nothing is handed out), then
 * with the block to hand it out, so the size allocated is exactly the size
 * used. Sizes are in floats; 0 on overflow (*total). */
static void carve(tril_trainer *t, float *base, int64_t *total)
{
    const tril_gpt2_config *c = &t->model->cfg;
    const int64_t B = t->max_B, T = t->max_T, N = B * T, C = c->n_embd, H = c->n_head;
    const int64_t V = c->vocab_size, I = tril_gpt2_mlp_width(c);
    /* scratch rows hold d(MLP hidden) [I], d(residual) [C] and a double per row */
    const int64_t W = I > C ? (I > 2 ? I : 2) : (C > 2 ? C : 2);
    int64_t used = 0;
    int overflow = 0;
    /* each buffer starts on a 64-byte line (malloc gives 16 bytes): scratch_a
     * also holds doubles */
#define TAKE(ptr, n)                                                              \
    do {                                                                          \
        const int64_t n_ = ((n) + 15) / 16 * 16;                                  \
        if (base) (ptr) = base + used;                                            \
        if (used > INT64_MAX - n_) overflow = 1;                                  \
        else used += n_;                                                          \
    } while (0)
    TAKE(t->x0, N * C);
    for (int64_t l = 0; l < c->n_layer; l++) {
        layer_acts *a = &t->layers[l];
        TAKE(a->ln1, N * C); TAKE(a->ln1_mean, N); TAKE(a->ln1_rstd, N);
        TAKE(a->qkv, N * 3 * C); TAKE(a->atty, N * C); TAKE(a->lse, B * H * T);
        TAKE(a->res2, N * C); TAKE(a->ln2, N * C); TAKE(a->ln2_mean, N); TAKE(a->ln2_rstd, N);
        TAKE(a->fch, N * I); TAKE(a->fcg, N * I); TAKE(a->res3, N * C);
    }
    TAKE(t->lnf, N * C); TAKE(t->lnf_mean, N); TAKE(t->lnf_rstd, N);
    TAKE(t->logits, N * V);
    TAKE(t->scratch_a, N * W); TAKE(t->scratch_b, N * W);
    TAKE(t->dres, N * C); TAKE(t->dqkv, N * 3 * C);
#undef TAKE
    *total = overflow ? 0 : used;
}

/* Offset of the gradient of parameter `name` (h.<layer>.<name> for
 * layer >= 0), or -1 with the error set. */
static int64_t grad_offset(const tril_gpt2 *m, int64_t layer, const char *name)
{
    char full[48];
    if (layer >= 0) snprintf(full, sizeof full, "h.%lld.%s", (long long)layer, name);
    else snprintf(full, sizeof full, "%s", name);
    const int64_t i = tril_gpt2_param_index(m, full);
    if (i < 0) {
        TRIL_FAIL(TRIL_ERR_INVALID_ARG, "trainer: the model has no parameter '%s'", full);
        return -1;
    }
    return m->params[i].offset;
}

static tril_status find_grads(tril_trainer *t)
{
    const tril_gpt2 *m = t->model;
    int ok = (t->g_wte = grad_offset(m, -1, "wte.weight")) >= 0 &&
             (t->g_wpe = grad_offset(m, -1, "wpe.weight")) >= 0 &&
             (t->g_lnf_w = grad_offset(m, -1, "ln_f.weight")) >= 0 &&
             (t->g_lnf_b = grad_offset(m, -1, "ln_f.bias")) >= 0;
    for (int64_t l = 0; ok && l < m->cfg.n_layer; l++) {
        layer_grads *g = &t->grads[l];
        ok = (g->ln1_w = grad_offset(m, l, "ln_1.weight")) >= 0 &&
             (g->ln1_b = grad_offset(m, l, "ln_1.bias")) >= 0 &&
             (g->attn_w = grad_offset(m, l, "attn.c_attn.weight")) >= 0 &&
             (g->attn_b = grad_offset(m, l, "attn.c_attn.bias")) >= 0 &&
             (g->proj_w = grad_offset(m, l, "attn.c_proj.weight")) >= 0 &&
             (g->proj_b = grad_offset(m, l, "attn.c_proj.bias")) >= 0 &&
             (g->ln2_w = grad_offset(m, l, "ln_2.weight")) >= 0 &&
             (g->ln2_b = grad_offset(m, l, "ln_2.bias")) >= 0 &&
             (g->fc_w = grad_offset(m, l, "mlp.c_fc.weight")) >= 0 &&
             (g->fc_b = grad_offset(m, l, "mlp.c_fc.bias")) >= 0 &&
             (g->fcproj_w = grad_offset(m, l, "mlp.c_proj.weight")) >= 0 &&
             (g->fcproj_b = grad_offset(m, l, "mlp.c_proj.bias")) >= 0;
    }
    return ok ? TRIL_OK : TRIL_ERR_INVALID_ARG; /* the message is set */
}

tril_status tril_trainer_create(const tril_gpt2 *m, int64_t B, int64_t T, int causal,
                                tril_trainer **out)
{
    if (!m || !out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "trainer: NULL argument");
    /* The bf16 and int8 models have no fp32 wte or matrices to train (or to
     * run the full-sequence forward with). */
    if (m->weight_dtype != TRIL_F32 || !m->wte)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                         "trainer: the model has %s weights; training needs the fp32 model "
                         "(load it with weight_dtype = TRIL_F32)",
                         tril_dtype_name(m->weight_dtype) ? tril_dtype_name(m->weight_dtype)
                                                          : "non-fp32");
    const tril_gpt2_config *c = &m->cfg;
    if (B < 1 || T < 1 || T > c->n_positions || B > INT64_MAX / T)
        return TRIL_FAIL(TRIL_ERR_RANGE, "trainer: batch %lld x %lld (context is %lld)",
                         (long long)B, (long long)T, (long long)c->n_positions);
    const int64_t N = B * T, L = c->n_layer, I = tril_gpt2_mlp_width(c);
    /* every buffer is N rows of at most this many floats: the products fit */
    int64_t widest = c->vocab_size > 3 * c->n_embd ? c->vocab_size : 3 * c->n_embd;
    widest = widest > I ? widest : I;
    widest = widest > c->n_head ? widest : c->n_head;
    if (N > (INT64_MAX - 16) / widest)
        return TRIL_FAIL(TRIL_ERR_RANGE, "trainer: activations for %lld x %lld tokens overflow",
                         (long long)B, (long long)T);
    tril_trainer *t = calloc(1, sizeof *t);
    if (!t) return TRIL_FAIL(TRIL_ERR_NOMEM, "trainer: out of memory");
    t->model = m;
    t->max_B = B;
    t->max_T = T;
    t->causal = causal;
    t->layers = calloc((size_t)L, sizeof *t->layers);
    t->grads = calloc((size_t)L, sizeof *t->grads);
    if (!t->layers || !t->grads) {
        tril_trainer_free(t);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "trainer: out of memory");
    }
    tril_status st = find_grads(t);
    if (st != TRIL_OK) {
        tril_trainer_free(t);
        return st;
    }
    int64_t total;
    carve(t, NULL, &total);
    if (total <= 0 || (uint64_t)total > SIZE_MAX / sizeof(float)) {
        tril_trainer_free(t);
        return TRIL_FAIL(TRIL_ERR_RANGE, "trainer: activations for %lld x %lld tokens overflow",
                         (long long)B, (long long)T);
    }
    t->block = aligned_alloc(64, (size_t)total * sizeof(float)); /* total: a multiple of 16 */
    t->inputs = malloc((size_t)N * sizeof *t->inputs);
    t->targets = malloc((size_t)N * sizeof *t->targets);
    if (!t->block || !t->inputs || !t->targets) {
        tril_trainer_free(t);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "trainer: cannot allocate %.1f MB of activations",
                         total * 4.0 / 1e6);
    }
    carve(t, t->block, &total);
    *out = t;
    return TRIL_OK;
}

void tril_trainer_free(tril_trainer *t)
{
    if (!t) return;
    free(t->block);
    free(t->layers);
    free(t->grads);
    free(t->inputs);
    free(t->targets);
    free(t);
}

/* Attention arguments for layer l's activations a over a B x T batch; the
 * backward gets the same ones, so its d(scores) carries the same scale. */
static tril_attention_args attn_args(const tril_trainer *t, const layer_acts *a, int64_t l)
{
    const tril_gpt2_config *c = &t->model->cfg;
    const int64_t C = c->n_embd;
    tril_attention_args args = tril_attention_args_init();
    args.batch = t->B;
    args.heads = c->n_head;
    args.head_dim = C / c->n_head;
    args.q_len = args.kv_len = t->T;
    args.q = a->qkv;
    args.k = a->qkv + C;
    args.v = a->qkv + 2 * C;
    args.q_row_stride = args.kv_row_stride = 3 * C;
    args.out = a->atty;
    args.lse = a->lse;
    args.mask = t->causal ? TRIL_MASK_STRUCTURAL : TRIL_MASK_NONE;
    args.scale = tril_gpt2_attn_scale(c, l);
    return args;
}

static tril_status check_batch(const tril_trainer *t, const int32_t *ids, int64_t B, int64_t T)
{
    if (!t || !ids) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "trainer: NULL argument");
    if (B < 1 || T < 1 || B > t->max_B || T > t->max_T)
        return TRIL_FAIL(TRIL_ERR_RANGE, "trainer: batch %lld x %lld exceeds %lld x %lld",
                         (long long)B, (long long)T, (long long)t->max_B, (long long)t->max_T);
    const int64_t V = t->model->cfg.vocab_size;
    for (int64_t i = 0; i < B * T; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return TRIL_FAIL(TRIL_ERR_RANGE, "trainer: token id %d at %lld outside [0, %lld)", ids[i],
                             (long long)i, (long long)V);
    return TRIL_OK;
}

/* Everything up to the logits [N, V]. */
static tril_status forward_logits(tril_trainer *t, const int32_t *inputs, int64_t B, int64_t T)
{
    const tril_gpt2 *m = t->model;
    const int64_t C = m->cfg.n_embd, N = B * T, V = m->cfg.vocab_size;
    const int64_t I = tril_gpt2_mlp_width(&m->cfg);
    const float eps = m->cfg.layer_norm_epsilon;
    t->B = B;
    t->T = T;
    for (int64_t b = 0; b < B; b++) tril_embed(t->x0 + b * T * C, inputs + b * T, T, 0, m->wte, m->wpe, C);
    const float *x = t->x0;
    tril_status st = TRIL_OK;
    for (int64_t l = 0; l < m->cfg.n_layer && st == TRIL_OK; l++) {
        const tril_gpt2_layer *W = &m->layers[l];
        layer_acts *a = &t->layers[l];
        tril_layernorm_train(a->ln1, a->ln1_mean, a->ln1_rstd, x, W->ln1_w, W->ln1_b, N, C, eps);
        if ((st = tril_matmul(a->qkv, a->ln1, W->attn_w, W->attn_b, N, C, 3 * C)) != TRIL_OK) break;
        tril_attention_args args = attn_args(t, a, l);
        if ((st = tril_attention_forward(&args, TRIL_ATTN_AUTO)) != TRIL_OK) break;
        if ((st = tril_matmul(a->res2, a->atty, W->proj_w, W->proj_b, N, C, C)) != TRIL_OK) break;
        tril_add_inplace(a->res2, x, N * C);
        tril_layernorm_train(a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, W->ln2_w, W->ln2_b, N, C, eps);
        if ((st = tril_matmul(a->fch, a->ln2, W->fc_w, W->fc_b, N, C, I)) != TRIL_OK) break;
        tril_gelu(a->fcg, a->fch, N * I);
        if ((st = tril_matmul(a->res3, a->fcg, W->fcproj_w, W->fcproj_b, N, I, C)) != TRIL_OK) break;
        tril_add_inplace(a->res3, a->res2, N * C);
        x = a->res3;
    }
    if (st != TRIL_OK) return st;
    tril_layernorm_train(t->lnf, t->lnf_mean, t->lnf_rstd, x, m->lnf_w, m->lnf_b, N, C, eps);
    return tril_lm_head(t->logits, t->lnf, m->wte, N, C, V);
}

tril_status tril_trainer_logits(tril_trainer *t, const int32_t *inputs, int64_t B, int64_t T,
                                float *logits)
{
    tril_status st = check_batch(t, inputs, B, T);
    if (st == TRIL_OK) st = forward_logits(t, inputs, B, T);
    if (st == TRIL_OK) st = tril_gpt2_check_logits(t->logits, B * T, t->model->cfg.vocab_size, 0, T);
    if (st == TRIL_OK && logits)
        memcpy(logits, t->logits, (size_t)(B * T * t->model->cfg.vocab_size) * sizeof(float));
    t->have_forward = 0; /* logits are not probabilities: no backward from here */
    return st;
}

tril_status tril_trainer_forward(tril_trainer *t, const int32_t *inputs, const int32_t *targets,
                                 int64_t B, int64_t T, float *loss)
{
    tril_status st = check_batch(t, inputs, B, T);
    if (st == TRIL_OK) st = check_batch(t, targets, B, T);
    if (st == TRIL_OK) st = forward_logits(t, inputs, B, T);
    if (st != TRIL_OK) return st;
    const int64_t N = B * T, V = t->model->cfg.vocab_size;
    memcpy(t->inputs, inputs, (size_t)N * sizeof *inputs);
    memcpy(t->targets, targets, (size_t)N * sizeof *targets);
    double total = 0.0;
    /* Softmax in place: backward needs the probabilities. Row losses are
     * summed in row order afterwards, so the loss does not depend on the
     * thread count (resumed runs must reproduce it to the bit). */
    double *row_loss = (double *)t->scratch_a; /* [N] doubles fit in [N, W >= 2] floats */
#pragma omp parallel for schedule(static) num_threads(tril_threads_for(16.0 * (double)(N * V)))
    for (int64_t i = 0; i < N; i++) row_loss[i] = tril_softmax_xent(t->logits + i * V, V, targets[i]);
    for (int64_t i = 0; i < N; i++) total += row_loss[i];
    t->have_forward = 1;
    if (loss) *loss = (float)(total / (double)N);
    return TRIL_OK;
}

tril_status tril_trainer_backward(tril_trainer *t, float *grads, float loss_scale)
{
    if (!t || !grads) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "trainer: NULL argument");
    if (!t->have_forward) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "trainer: backward needs a forward with targets");
    const tril_gpt2 *m = t->model;
    const int64_t B = t->B, T = t->T, N = B * T, C = m->cfg.n_embd, V = m->cfg.vocab_size;
    const int64_t L = m->cfg.n_layer, I = tril_gpt2_mlp_width(&m->cfg);
    /* d loss / d logits = (p - onehot) / N, scaled; in place over p. */
    const float g = loss_scale / (float)N;
#pragma omp parallel for schedule(static) num_threads(tril_threads_for(2.0 * (double)(N * V)))
    for (int64_t i = 0; i < N; i++) {
        float *row = t->logits + i * V;
        row[t->targets[i]] -= 1.0f;
        for (int64_t v = 0; v < V; v++) row[v] *= g;
    }
    t->have_forward = 0;
    float *dwte = grads + t->g_wte, *dwpe = grads + t->g_wpe;
    float *dx = t->scratch_a, *dy = t->scratch_b; /* [N, W] each */
    /* The tied head: dlnf = dlogits wte, dwte += dlogits^T lnf. */
    tril_status st = tril_lm_head_backward(dx, dwte, t->logits, t->lnf, m->wte, N, C, V);
    if (st != TRIL_OK) return st;
    const float *x_last = L > 0 ? t->layers[L - 1].res3 : t->x0;
    memset(t->dres, 0, (size_t)(N * C) * sizeof(float));
    tril_layernorm_backward(t->dres, grads + t->g_lnf_w, grads + t->g_lnf_b, dx, x_last, m->lnf_w,
                            t->lnf_mean, t->lnf_rstd, N, C);
    for (int64_t l = L - 1; l >= 0; l--) {
        const tril_gpt2_layer *W = &m->layers[l];
        const layer_acts *a = &t->layers[l];
        const layer_grads *G = &t->grads[l];
        const float *x_in = l > 0 ? t->layers[l - 1].res3 : t->x0;
        /* dres holds d res3. MLP: res3 = res2 + fcg Wp + bp. */
        st = tril_matmul_backward(dy, grads + G->fcproj_w, grads + G->fcproj_b, t->dres, a->fcg,
                                  W->fcproj_w, N, I, C);
        if (st != TRIL_OK) return st;
        tril_gelu_backward(dy, dy, a->fch, N * I);
        st = tril_matmul_backward(dx, grads + G->fc_w, grads + G->fc_b, dy, a->ln2, W->fc_w, N, C, I);
        if (st != TRIL_OK) return st;
        /* d res2 = d res3 (residual) + LayerNorm backward of d ln2. */
        tril_layernorm_backward(t->dres, grads + G->ln2_w, grads + G->ln2_b, dx, a->res2, W->ln2_w,
                                a->ln2_mean, a->ln2_rstd, N, C);
        /* Attention: res2 = x_in + atty Wproj + bproj. */
        st = tril_matmul_backward(dx, grads + G->proj_w, grads + G->proj_b, t->dres, a->atty,
                                  W->proj_w, N, C, C);
        if (st != TRIL_OK) return st;
        tril_attention_args args = attn_args(t, a, l);
        st = tril_attention_backward(&args, dx, t->dqkv, t->dqkv + C, t->dqkv + 2 * C,
                                     TRIL_ATTN_AUTO);
        if (st != TRIL_OK) return st;
        st = tril_matmul_backward(dy, grads + G->attn_w, grads + G->attn_b, t->dqkv, a->ln1,
                                  W->attn_w, N, C, 3 * C);
        if (st != TRIL_OK) return st;
        /* d x_in = d res2 (residual) + LayerNorm backward of d ln1. */
        tril_layernorm_backward(t->dres, grads + G->ln1_w, grads + G->ln1_b, dy, x_in, W->ln1_w,
                                a->ln1_mean, a->ln1_rstd, N, C);
    }
    /* Embeddings: x0 = wte[ids] + wpe[t]. */
    for (int64_t b = 0; b < B; b++)
        for (int64_t tt = 0; tt < T; tt++) {
            const float *grow = t->dres + (b * T + tt) * C;
            float *we = dwte + (int64_t)t->inputs[b * T + tt] * C, *pe = dwpe + tt * C;
            for (int64_t c = 0; c < C; c++) {
                we[c] += grow[c];
                pe[c] += grow[c];
            }
        }
    return TRIL_OK;
}
