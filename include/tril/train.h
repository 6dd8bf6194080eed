/* tril/train.h - training GPT-2-family models: data, the training step
 * (forward with saved activations, backward through the causal mask),
 * AdamW, the learning-rate schedule, clipping and checkpoints.
 *
 * Gradients and both AdamW moments mirror the parameter arena's layout
 * (tril_gpt2_get_arena; tril_param_info.offset of each tensor), so an
 * optimizer step is one pass over flat arrays. */
#ifndef TRIL_TRAIN_H
#define TRIL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tril/gpt2.h"
#include "tril/rng.h"
#include "tril/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data ---------------------------------------------------------------- */
typedef struct {
    int32_t *tokens;  /* [n] the whole file, tokenized */
    int64_t n;
    int64_t n_train;  /* tokens [0, n_train) train, [n_train, n) validation */
    int64_t vocab;    /* ids are < vocab */
} tril_dataset;

/* Tokenizes a text file once with `tok`, caching the ids next to it as
 * FILE.<tokenizer_name>.tokens (reused while the file's size and mtime are
 * unchanged), and splits off the last `val_fraction` as validation.
 * Errors: unreadable file or not a regular file (IO; a FIFO is refused, never
 * waited on), empty file or too little text for `min_tokens` tokens in each
 * split (FORMAT, naming the counts), a fraction that leaves a split short of
 * `min_tokens` in a text long enough for both (INVALID_ARG, naming the
 * fraction). */
tril_status tril_dataset_load(const char *text_path, tril_tokenizer *tok,
                              const char *tokenizer_name, double val_fraction, int64_t min_tokens,
                              tril_dataset *out);
/* The same, refusing (RANGE) a file larger than max_bytes. */
tril_status tril_dataset_load_capped(const char *text_path, tril_tokenizer *tok,
                                     const char *tokenizer_name, double val_fraction,
                                     int64_t min_tokens, uint64_t max_bytes, tril_dataset *out);
void tril_dataset_free(tril_dataset *d);

/* B random windows of T+1 tokens from the train (split 0) or validation
 * (split 1) part: inputs [B, T] and targets [B, T] (inputs shifted by one). */
void tril_dataset_batch(const tril_dataset *d, int split, int64_t B, int64_t T, tril_rng *rng,
                        int32_t *inputs, int32_t *targets);

/* ---- the training step ---------------------------------------------------- */
typedef struct tril_trainer tril_trainer;

/* Activations for batches of up to B x T tokens. causal = 0 trains with the
 * mask off (the "cheating" experiment: every position sees the whole
 * sequence). The model must have fp32 weights (an arena or mapped; the
 * optimizer needs the arena): the bf16 model is TRIL_ERR_UNSUPPORTED. The
 * trainer reads the model's weights at every call: keep the model alive. */
tril_status tril_trainer_create(const tril_gpt2 *model, int64_t B, int64_t T, int causal,
                                tril_trainer **out);
void tril_trainer_free(tril_trainer *t);

/* Forward over inputs [B, T]; returns the mean cross-entropy against targets
 * [B, T] in *loss. Keeps what backward needs. */
tril_status tril_trainer_forward(tril_trainer *t, const int32_t *inputs, const int32_t *targets,
                                 int64_t B, int64_t T, float *loss);
/* Backward of the last forward: ADDS d(loss * loss_scale)/d(params) into
 * grads [tril_gpt2_num_params] (zero it first; accumulate micro-batches
 * with loss_scale = 1/K). On an error grads hold a partial sum. */
tril_status tril_trainer_backward(tril_trainer *t, float *grads, float loss_scale);

/* Logits [B, T, V] of a full-sequence forward (no cache), with the
 * trainer's mask setting: for evaluation and tril leakcheck. */
tril_status tril_trainer_logits(tril_trainer *t, const int32_t *inputs, int64_t B, int64_t T,
                                float *logits);

/* ---- optimizer ------------------------------------------------------------ */
typedef struct {
    float beta1, beta2, eps; /* 0.9, 0.95, 1e-8 */
    float weight_decay;      /* decoupled; only where tril_param_info.decay */
} tril_adamw_config;

tril_adamw_config tril_adamw_config_default(void);

/* The moments of arena elements [lo, lo + n): the whole arena (lo = 0,
 * n = the arena's length), or one shard of it when the ranks of a
 * distributed run each keep their own (ZeRO-1, tril_shard_range). */
typedef struct {
    float *m;     /* [n] first moment of elements lo .. lo + n - 1 */
    float *v;     /* [n] second moment */
    int64_t n;
    int64_t step; /* steps taken (bias correction uses step + 1) */
    int64_t lo;   /* the first arena element m[0] and v[0] belong to */
} tril_adamw;

/* Zeroed moments for the whole arena of n values (lo = 0). */
tril_status tril_adamw_create(int64_t n, tril_adamw *opt);
/* Zeroed moments for arena elements [lo, lo + n) only; n may be 0 (a rank
 * whose shard is empty). */
tril_status tril_adamw_create_shard(int64_t lo, int64_t n, tril_adamw *opt);
void tril_adamw_free(tril_adamw *opt);
/* One AdamW step at learning rate lr over the elements the optimizer
 * covers: params is the whole arena (params[lo .. lo + n) change), grads
 * is indexed like the moments (grads[i] is the gradient of element lo + i).
 * For the whole arena that is one step over everything. */
void tril_adamw_step(tril_adamw *opt, const tril_adamw_config *cfg, float *params,
                     const float *grads, const tril_param_info *table, size_t n_params, float lr);
/* The same step on grads * grad_scale (each product rounded to float, as if
 * the gradients had been scaled in place first): clipping fused into the
 * update, one pass over the gradients fewer. The update is element-wise,
 * so a shard's elements come out exactly as in a step over the whole arena. */
void tril_adamw_step_scaled(tril_adamw *opt, const tril_adamw_config *cfg, float *params,
                            const float *grads, float grad_scale, const tril_param_info *table,
                            size_t n_params, float lr);

/* The training step's update: the global gradient norm over the optimizer's
 * n values, clipping to max_norm (if > 0) fused into the AdamW pass (grads
 * are not modified). Returns the norm before clipping; a non-finite norm
 * updates nothing. */
double tril_adamw_step_clipped(tril_adamw *opt, const tril_adamw_config *cfg, float *params,
                               const float *grads, const tril_param_info *table, size_t n_params,
                               float lr, float max_norm);

/* Global L2 norm of grads [n]; bit-identical whatever the thread count:
 * the squares are summed per chunk of TRIL_GRAD_CHUNK values
 * (tril_grad_chunk_sumsq) and the chunks' sums added in chunk order
 * (tril_grad_norm_of_chunks), which a distributed run does too, each rank
 * over the chunks of its shard. */
double tril_grad_norm(const float *grads, int64_t n);
#define TRIL_GRAD_CHUNK ((int64_t)1 << 16)
/* Chunks of TRIL_GRAD_CHUNK values (the last may be shorter) in n values. */
int64_t tril_grad_chunks(int64_t n);
/* The sum of squares (in double) of each chunk of grads [n] into
 * sums[tril_grad_chunks(n)]. grads must start on a chunk boundary of the
 * whole gradient for its sums to be the whole gradient's. */
void tril_grad_chunk_sumsq(const float *grads, int64_t n, double *sums);
/* sqrt of the chunks' sums added in order: the norm of the whole gradient. */
double tril_grad_norm_of_chunks(const double *sums, int64_t chunks);
/* torch.nn.utils.clip_grad_norm_'s factor for a norm: max_norm / (norm +
 * 1e-6) when that is below 1, else 1 (also for max_norm <= 0: no clipping,
 * and for a non-finite norm). */
float tril_clip_coef(double norm, float max_norm);
/* Scales grads so their global L2 norm is at most max_norm (if > 0).
 * Returns the norm before clipping. */
double tril_clip_grad_norm(float *grads, int64_t n, float max_norm);

/* ---- data-parallel pieces (any transport: src/cli/train_dist.c is MPI's) ---
 * A distributed run splits the arena into one contiguous shard per rank,
 * whole TRIL_GRAD_CHUNK chunks each, so that every chunk of the norm lies
 * in one shard. The split depends only on n and the number of ranks. */

/* Shard `rank` of `world` over n values: [*lo, *hi). Ranks past the last
 * chunk get an empty shard (*lo == *hi). */
void tril_shard_range(int64_t n, int rank, int world, int64_t *lo, int64_t *hi);
/* The one order in which micro-batch gradients are added up, whether one
 * process or many compute them: total = g (first) or total += g, element by
 * element, so the sum over micro-batches 0, 1, 2, ... is
 * ((g0 + g1) + g2) + ... in float. */
void tril_grad_fold(float *total, const float *grads, int64_t n, int first);

/* Linear warm-up over `warmup` steps to max_lr, then cosine decay to
 * min_lr at step `total`. step counts from 0. */
float tril_lr_at(int64_t step, int64_t warmup, int64_t total, float max_lr, float min_lr);

#ifdef __cplusplus
}
#endif
#endif
