/* Loading a Hugging Face GPT-2 folder (config.json + model.safetensors) into
 * the parameter table, and the bundled default model's location. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/big_alloc.h"
#include "model/gpt2_internal.h"
#include "tril/file.h"
#include "tril/ops.h"
#include "tril/safetensors.h"

static tril_status alloc_model(const tril_gpt2_config *cfg, tril_gpt2 **out)
{
    tril_gpt2 *m = calloc(1, sizeof *m);
    if (!m) return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate the model");
    m->cfg = *cfg;
    tril_status st = tril_gpt2_param_table(cfg, &m->params, &m->n_params);
    if (st != TRIL_OK) {
        free(m);
        return st;
    }
    m->param_data = calloc(m->n_params, sizeof *m->param_data);
    m->layers = calloc((size_t)cfg->n_layer, sizeof *m->layers);
    if (!m->param_data || !m->layers) {
        tril_gpt2_free(m);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate the model tables");
    }
    *out = m;
    return TRIL_OK;
}

/* zero: the arena reads as zeros (a created model); a loaded one is
 * written whole, and zeroing 6 GB first would cost a second */
static tril_status alloc_arena(tril_gpt2 *m, int zero)
{
    m->arena_numel = tril_gpt2_num_params(&m->cfg);
    m->arena = tril_big_alloc((size_t)m->arena_numel * sizeof(float), zero);
    if (!m->arena)
        return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate %lld parameters (%.1f MB)",
                         (long long)m->arena_numel, m->arena_numel * 4.0 / 1e6);
    for (size_t i = 0; i < m->n_params; i++) m->param_data[i] = m->arena + m->params[i].offset;
    return TRIL_OK;
}

/* Index of a parameter the table always has: by name, so that nothing
 * depends on the table's order. */
static size_t index_of(const tril_gpt2 *m, const char *name)
{
    const int64_t i = tril_gpt2_param_index(m, name);
    return i < 0 ? 0 : (size_t)i; /* never: the table is built from these names */
}

static size_t layer_index(const tril_gpt2 *m, int64_t layer, const char *suffix)
{
    char name[48];
    snprintf(name, sizeof name, "h.%lld.%s", (long long)layer, suffix);
    return index_of(m, name);
}

/* Named views for the forward pass (fp32 values; bf16 / int8 copies if
 * any). */
void tril_gpt2_bind_views(tril_gpt2 *m)
{
    const float **p = m->param_data;
    const tril_lowp *lp = m->param_lowp, none = {NULL, NULL, 0};
    m->wte = p[index_of(m, "wte.weight")];
    m->wte_lowp = lp ? lp[index_of(m, "wte.weight")] : none;
    m->wpe = p[index_of(m, "wpe.weight")];
    for (int64_t l = 0; l < m->cfg.n_layer; l++) {
        tril_gpt2_layer *L = &m->layers[l];
#define VIEW(field, suffix) (L->field = p[layer_index(m, l, suffix)])
#define VIEW_LOWP(field, suffix) (L->field = lp ? lp[layer_index(m, l, suffix)] : none)
        VIEW(ln1_w, "ln_1.weight");
        VIEW(ln1_b, "ln_1.bias");
        VIEW(attn_w, "attn.c_attn.weight");
        VIEW(attn_b, "attn.c_attn.bias");
        VIEW(proj_w, "attn.c_proj.weight");
        VIEW(proj_b, "attn.c_proj.bias");
        VIEW(ln2_w, "ln_2.weight");
        VIEW(ln2_b, "ln_2.bias");
        VIEW(fc_w, "mlp.c_fc.weight");
        VIEW(fc_b, "mlp.c_fc.bias");
        VIEW(fcproj_w, "mlp.c_proj.weight");
        VIEW(fcproj_b, "mlp.c_proj.bias");
        VIEW_LOWP(attn_wt, "attn.c_attn.weight");
        VIEW_LOWP(proj_wt, "attn.c_proj.weight");
        VIEW_LOWP(fc_wt, "mlp.c_fc.weight");
        VIEW_LOWP(fcproj_wt, "mlp.c_proj.weight");
#undef VIEW
#undef VIEW_LOWP
    }
    m->lnf_w = p[index_of(m, "ln_f.weight")];
    m->lnf_b = p[index_of(m, "ln_f.bias")];
}

tril_status tril_gpt2_create(const tril_gpt2_config *cfg, tril_gpt2 **out)
{
    tril_gpt2 *m = NULL;
    tril_status st = alloc_model(cfg, &m);
    if (st != TRIL_OK) return st;
    if ((st = alloc_arena(m, 1)) != TRIL_OK) {
        tril_gpt2_free(m);
        return st;
    }
    snprintf(m->stored_dtype, sizeof m->stored_dtype, "F32");
    tril_gpt2_bind_views(m);
    *out = m;
    return TRIL_OK;
}

void tril_gpt2_free(tril_gpt2 *m)
{
    if (!m) return;
    free(m->params);
    free(m->param_data);
    free(m->param_lowp);
    free(m->layers);
    free(m->arena);
    free(m->lowp_arena);
    free(m->scales_arena);
    free(m->f32_small);
    tril_safetensors_close(m->file);
    free(m);
}

/* Element idx of a [.., n, n] mask tensor: of a float dtype d, else
 * (d NULL) read as bytes (BOOL / U8). */
static double mask_at(const tril_st_tensor *t, const tril_dtype *d, int64_t idx)
{
    if (d) return tril_load_f32(t->data, *d, (size_t)idx);
    return ((const uint8_t *)t->data)[idx];
}

/* h.N.attn.bias is the causal mask itself: it must be lower-triangular. */
static tril_status check_mask_buffer(const tril_st_tensor *t, const char *path)
{
    int64_t n = t->ndim >= 2 ? t->shape[t->ndim - 1] : -1;
    if (t->ndim < 2 || t->shape[t->ndim - 2] != n || t->numel != n * n ||
        (tril_st_dtype_size(t->dtype) != 4 && tril_st_dtype_size(t->dtype) != 2 &&
         t->dtype != TRIL_ST_BOOL && t->dtype != TRIL_ST_U8))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: '%s' is not an [n, n] mask buffer", path, t->name);
    tril_dtype fd;
    const tril_dtype *d = NULL; /* resolved once: the loop below runs n * n times */
    if (t->dtype == TRIL_ST_F32 || t->dtype == TRIL_ST_F16 || t->dtype == TRIL_ST_BF16) {
        tril_st_to_dtype(t->dtype, &fd);
        d = &fd;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            if (mask_at(t, d, i * n + j) != (j <= i ? 1.0 : 0.0))
                return TRIL_FAIL(TRIL_ERR_FORMAT,
                                 "%s: '%s' is not the causal mask: element [%lld, %lld] is %g",
                                 path, t->name, (long long)i, (long long)j, mask_at(t, d, i * n + j));
    return TRIL_OK;
}

/* Tensors in the file that are not parameters: the causal-mask buffers, and
 * an lm_head.weight that must equal wte (the head is tied). */
static tril_status check_extra(const tril_gpt2 *m, const tril_st_tensor *t, const char *base,
                               const tril_st_tensor *wte, const char *path)
{
    const char *dot = strrchr(base, '.');
    if (strncmp(base, "h.", 2) == 0 && dot && strcmp(dot, ".bias") == 0 &&
        strlen(base) > 10 && strcmp(dot - 5, ".attn.bias") == 0)
        return check_mask_buffer(t, path);
    if (strncmp(base, "h.", 2) == 0 && dot && strcmp(dot, ".masked_bias") == 0) return TRIL_OK;
    if (strcmp(base, "lm_head.weight") == 0) {
        tril_dtype d, dw;
        if (t->numel != m->cfg.vocab_size * m->cfg.n_embd || tril_st_to_dtype(t->dtype, &d) != TRIL_OK)
            return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: lm_head.weight does not match wte", path);
        tril_st_to_dtype(wte->dtype, &dw);
        for (int64_t i = 0; i < t->numel; i++) {
            const float a = tril_load_f32(t->data, d, (size_t)i);
            const float b = tril_load_f32(wte->data, dw, (size_t)i);
            /* a NaN in both is left to the finiteness check, which names it */
            if (a != b && !(isnan(a) && isnan(b)))
                return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                                 "%s: lm_head.weight differs from wte (untied heads are not "
                                 "supported)",
                                 path);
        }
        return TRIL_OK;
    }
    return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: unexpected tensor '%s' (not a GPT-2 parameter)", path,
                     t->name);
}

/* "[a, b, c]" */
static void format_shape(char *buf, size_t size, const int64_t *shape, int32_t ndim)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int32_t k = 0; k < ndim && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, k ? ", %lld" : "%lld", (long long)shape[k]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

/* Where a parameter's values are: a tensor in the file (any of the three
 * dtypes, at any byte offset) or the model's own fp32 arena. */
typedef struct {
    const void *data;
    tril_dtype dtype;
    const char *name; /* as in the file, for messages */
} param_src;

/* A NaN or inf weight turns every output into NaN while each command still
 * "works": it is refused, saying where it is. */
static tril_status check_finite(const param_src *s, int64_t numel, const char *where)
{
    const size_t k = tril_find_nonfinite(s->data, s->dtype, (size_t)numel);
    if (k == (size_t)numel) return TRIL_OK;
    const float x = tril_load_f32(s->data, s->dtype, k);
    return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: tensor '%s' has a non-finite value (%s) at index %zu",
                     where, s->name, isnan(x) ? "nan" : x > 0 ? "inf" : "-inf", k);
}

/* dst[out, in] = src[in, out] transposed, in bf16 or int8 (src in any dtype
 * and alignment): the copy decoding walks row by row. Each 32 x 32 block
 * goes through an fp32 tile on the stack: source rows widened 32 at a
 * time, then 32 contiguous values per output row (one 64-byte line of
 * bf16; for int8, exactly one block of TRIL_Q8_BLOCK with its scale). */
static tril_status transpose_to_lowp(void *dst, uint16_t *scales, const void *src, tril_dtype d,
                                     tril_dtype to, int64_t in, int64_t out)
{
    enum { B = 32 };
    _Static_assert(B == TRIL_Q8_BLOCK, "a tile row is one int8 block");
    const size_t esize = tril_dtype_size(d);
    const int64_t blocks = TRIL_Q8_BLOCKS(in);
    /* an output row (a stored column) whose int8 scale is beyond fp16; the
     * message is set below, on this thread */
    int64_t bad_row = -1;
#pragma omp parallel for schedule(static) if (in * out > 65536) reduction(max : bad_row)
    for (int64_t o0 = 0; o0 < out; o0 += B) {
        float tile[B][B], col[B];
        const int64_t no = out - o0 < B ? out - o0 : B;
        for (int64_t i0 = 0; i0 < in; i0 += B) {
            const int64_t ni = in - i0 < B ? in - i0 : B;
            for (int64_t i = 0; i < ni; i++)
                tril_convert_to_f32(tile[i],
                                    (const unsigned char *)src + ((size_t)(i0 + i) * (size_t)out +
                                                                  (size_t)o0) * esize,
                                    d, (size_t)no);
            for (int64_t o = 0; o < no; o++) {
                for (int64_t i = 0; i < ni; i++) col[i] = tile[i][o];
                const int64_t at = (o0 + o) * in + i0;
                if (to == TRIL_BF16) tril_convert_from_f32((uint16_t *)dst + at, TRIL_BF16, col, (size_t)ni);
                else if (tril_q8_quantize((int8_t *)dst + at, scales + (o0 + o) * blocks + i0 / B,
                                          col, 1, ni) != TRIL_OK)
                    bad_row = o0 + o;
            }
        }
    }
    return bad_row >= 0 ? TRIL_FAIL(TRIL_ERR_RANGE,
                                     "int8 quantisation: column %lld has a weight beyond what an "
                                     "fp16 block scale holds (magnitude over 127 x 65504)",
                                     (long long)bad_row)
                        : TRIL_OK;
}

/* dst = n values of any dtype as bf16, or (int8) rows of `cols` values
 * quantised row by row, through a stack buffer. With a file, each chunk's
 * mapped pages are released as soon as it is converted: wte is the largest
 * tensor (154 MB in fp32 for GPT-2 124M), and holding all of it mapped
 * while its copy grows would raise the load's peak by that much. */
static tril_status convert_to_lowp(void *dst, uint16_t *scales, const void *src, tril_dtype d,
                                   tril_dtype to, int64_t n, int64_t cols,
                                   const tril_safetensors *file)
{
    enum { CHUNK = 4096 };
    float stack[CHUNK], *buf = stack;
    const size_t esize = tril_dtype_size(d);
    /* int8: whole rows per chunk (a GPT-2 row is at most a few thousand
     * values; a wider one goes alone through a heap buffer) */
    int64_t step = CHUNK;
    if (to == TRIL_INT8 && cols <= CHUNK) {
        step = CHUNK / cols * cols;
    } else if (to == TRIL_INT8) {
        if (!(buf = malloc((size_t)cols * sizeof *buf)))
            return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate a row of %lld values", (long long)cols);
        step = cols;
    }
    tril_status st = TRIL_OK;
    for (int64_t k = 0; k < n && st == TRIL_OK; k += step) {
        const size_t len = (size_t)(n - k < step ? n - k : step);
        const unsigned char *from = (const unsigned char *)src + (size_t)k * esize;
        tril_convert_to_f32(buf, from, d, len);
        if (to == TRIL_BF16) tril_convert_from_f32((uint16_t *)dst + k, TRIL_BF16, buf, len);
        else
            for (int64_t r = 0; r < (int64_t)len / cols && st == TRIL_OK; r++)
                if (tril_q8_quantize((int8_t *)dst + k + r * cols,
                                     scales + TRIL_Q8_SCALES(k / cols + r, cols), buf + r * cols, 1,
                                     cols) != TRIL_OK)
                    st = TRIL_FAIL(TRIL_ERR_RANGE,
                                   "int8 quantisation: row %lld has a weight beyond what an fp16 "
                                   "block scale holds (magnitude over 127 x 65504)",
                                   (long long)(k / cols + r));
        if (file && st == TRIL_OK) st = tril_safetensors_release(file, from, len * esize);
    }
    if (buf != stack) free(buf);
    return st;
}

/* dst[n] = fp32 of src (any dtype), releasing the mapped source as it goes
 * (see convert_to_lowp). */
static tril_status convert_to_arena(float *dst, const void *src, tril_dtype d, int64_t n,
                                    const tril_safetensors *file)
{
    const int64_t step = 1 << 20;
    const size_t esize = tril_dtype_size(d);
    tril_status st = TRIL_OK;
    for (int64_t k = 0; k < n && st == TRIL_OK; k += step) {
        const size_t len = (size_t)(n - k < step ? n - k : step);
        const unsigned char *from = (const unsigned char *)src + (size_t)k * esize;
        tril_convert_to_f32(dst + k, from, d, len);
        if (file) st = tril_safetensors_release(file, from, len * esize);
    }
    return st;
}

/* The tensors a bf16 or int8 model keeps only in that dtype: wte and every
 * layer's four matrices (all the 2-D tensors but wpe). */
static int kept_low(const tril_param_info *p)
{
    return p->ndim == 2 && strcmp(p->name, "wpe.weight") != 0;
}

void tril_gpt2_lowp_shape(const tril_param_info *p, int64_t *rows, int64_t *cols)
{
    const int wte = strcmp(p->name, "wte.weight") == 0; /* [V, C] as stored */
    *rows = wte ? p->shape[0] : p->shape[1];
    *cols = wte ? p->shape[1] : p->shape[0];
}

/* wte of a random model (build_lowp): drawn into `drawn` (len values) and
 * converted into dst / scales a block of whole rows at a time. */
static tril_status draw_rows_to_lowp(const tril_gpt2 *m, const tril_param_info *info,
                                     uint64_t *state, float *drawn, int64_t len, unsigned char *dst,
                                     uint16_t *scales, tril_dtype to, int64_t rows, int64_t cols)
{
    const int64_t step = len / cols; /* len >= cols */
    const size_t esize = tril_dtype_size(to);
    for (int64_t r = 0; r < rows; r += step) {
        const int64_t count = (rows - r < step ? rows - r : step) * cols;
        gpt2_random_tensor(&m->cfg, info, state, drawn, count);
        unsigned char *to_rows = dst + (size_t)(r * cols) * esize;
        tril_status st = convert_to_lowp(to_rows, scales ? scales + TRIL_Q8_SCALES(r, cols) : NULL,
                                         drawn, TRIL_F32, to, count, cols, NULL);
        if (st != TRIL_OK) return TRIL_FAIL(st, "random model: tensor '%s': %s", info->name, tril_last_error());
        if (to == TRIL_BF16 && tril_find_nonfinite(to_rows, TRIL_BF16, (size_t)count) < (size_t)count)
            return TRIL_FAIL(TRIL_ERR_RANGE, "random model: tensor '%s' overflows bf16", info->name);
    }
    return TRIL_OK;
}

/* Builds the bf16 or int8 model from each parameter's values (src, table
 * order), tensor by tensor: only the result and the one tensor being
 * converted are ever held, never a whole fp32 copy, so loading peaks near
 * the model's own size. With a file, each tensor's mapped pages are
 * released once it is converted. Every value must be finite (and, for
 * bf16, stay finite in bf16). The bf16 model rounds the fp32 rest (wpe,
 * biases, LayerNorm) to bf16 values too; the int8 model keeps it exact.
 * On failure the model is left as it was.
 * With `random` (no src), the values are tril_gpt2_init_random's stream
 * from that seed, drawn a tensor at a time into one scratch tensor (wte a
 * block of rows at a time). */
static tril_status build_lowp(tril_gpt2 *m, const param_src *src, const char *where,
                              const tril_safetensors *file, tril_dtype to, const uint64_t *random)
{
    const size_t esize = tril_dtype_size(to);
    int64_t total = 0, small = 0, nscales = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        if (!kept_low(&m->params[i])) {
            small += m->params[i].numel;
            continue;
        }
        int64_t rows, cols;
        tril_gpt2_lowp_shape(&m->params[i], &rows, &cols);
        total += m->params[i].numel;
        if (to == TRIL_INT8) nscales += TRIL_Q8_SCALES(rows, cols);
    }
    unsigned char *low = tril_big_alloc((size_t)total * esize, 0);
    uint16_t *scales = nscales ? tril_big_alloc((size_t)nscales * sizeof *scales, 0) : NULL;
    float *rest = malloc((size_t)small * sizeof *rest);
    tril_lowp *dst_low = calloc(m->n_params, sizeof *dst_low);
    float **dst32 = calloc(m->n_params, sizeof *dst32);
    /* random: one scratch tensor, the largest but wte (which is drawn a
     * block of rows at a time: at GPT-2 124M it is 154 MB in fp32, 0.6x
     * the whole bf16 model) */
    int64_t largest = m->cfg.n_embd;
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].numel > largest && strcmp(m->params[i].name, "wte.weight") != 0)
            largest = m->params[i].numel;
    float *drawn = random ? malloc((size_t)largest * sizeof *drawn) : NULL;
    uint64_t state = random ? *random : 0;
    tril_status st = TRIL_OK;
    if (!low || (nscales && !scales) || !rest || !dst_low || !dst32 || (random && !drawn))
        st = TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate %.1f MB of %s weights",
                       (double)total * (double)esize / 1e6, tril_dtype_name(to));
    unsigned char *p = low;
    uint16_t *ps = scales;
    float *q = rest;
    for (size_t i = 0; i < m->n_params && st == TRIL_OK; i++) {
        const int64_t n = m->params[i].numel;
        const int kept = kept_low(&m->params[i]);
        int64_t rows = 0, cols = 0;
        if (kept) tril_gpt2_lowp_shape(&m->params[i], &rows, &cols);
        const int wte = kept && strcmp(m->params[i].name, "wte.weight") == 0; /* [V, C] as stored */
        if (random && wte) {
            if ((st = draw_rows_to_lowp(m, &m->params[i], &state, drawn, largest, p, ps, to, rows, cols)) != TRIL_OK)
                break;
            dst_low[i] = (tril_lowp){p, to == TRIL_INT8 ? ps : NULL, 0};
            p += (size_t)n * esize;
            if (to == TRIL_INT8) ps += TRIL_Q8_SCALES(rows, cols);
            continue;
        }
        param_src one;
        if (random) {
            gpt2_random_tensor(&m->cfg, &m->params[i], &state, drawn, n);
            one = (param_src){drawn, TRIL_F32, m->params[i].name};
        }
        const param_src *s = random ? &one : &src[i];
        if ((st = check_finite(s, n, where)) != TRIL_OK) break;
        /* the check mapped the whole tensor in: let it go (it stays in the
         * page cache) so that the conversion below holds one chunk at a time */
        if (file && (st = tril_safetensors_release(file, s->data, (size_t)n * tril_dtype_size(s->dtype))) != TRIL_OK)
            break;
        size_t bad = (size_t)n; /* index in the source of a value that overflows bf16 */
        if (wte) {
            if ((st = convert_to_lowp(p, ps, s->data, s->dtype, to, n, cols, file)) != TRIL_OK) {
                st = TRIL_FAIL(st, "%s: tensor '%s': %s", where, s->name, tril_last_error());
                break;
            }
            if (to == TRIL_BF16) bad = tril_find_nonfinite(p, TRIL_BF16, (size_t)n);
        } else if (kept) { /* a Conv1D matrix [in, out], kept as [out, in] */
            if ((st = transpose_to_lowp(p, ps, s->data, s->dtype, to, cols, rows)) != TRIL_OK) {
                st = TRIL_FAIL(st, "%s: tensor '%s': %s", where, s->name, tril_last_error());
                break;
            }
            if (to == TRIL_BF16) bad = tril_find_nonfinite(p, TRIL_BF16, (size_t)n);
            if (bad < (size_t)n) bad = bad % (size_t)cols * (size_t)rows + bad / (size_t)cols;
        } else { /* the rest, kept as fp32 */
            tril_convert_to_f32(q, s->data, s->dtype, (size_t)n);
            if (to == TRIL_BF16) {
                for (int64_t k = 0; k < n; k++) q[k] = tril_round_to_dtype(q[k], TRIL_BF16);
                bad = tril_find_nonfinite(q, TRIL_F32, (size_t)n);
            }
        }
        if (bad < (size_t)n) {
            st = TRIL_FAIL(TRIL_ERR_RANGE, "%s: tensor '%s' value %g at index %zu overflows bf16",
                           where, s->name, (double)tril_load_f32(s->data, s->dtype, bad), bad);
            break;
        }
        if (kept) {
            dst_low[i] = (tril_lowp){p, to == TRIL_INT8 ? ps : NULL, 0};
            p += (size_t)n * esize;
            if (to == TRIL_INT8) ps += TRIL_Q8_SCALES(rows, cols);
        } else {
            dst32[i] = q;
            q += n;
        }
        if (file) st = tril_safetensors_release(file, s->data, (size_t)n * tril_dtype_size(s->dtype));
    }
    if (st == TRIL_OK) {
        for (size_t i = 0; i < m->n_params; i++) m->param_data[i] = dst32[i]; /* NULL if kept low */
        m->param_lowp = dst_low; /* .data NULL where fp32 */
        dst_low = NULL;
        free(m->arena);
        m->arena = NULL;
        m->arena_numel = 0;
        m->lowp_arena = low;
        m->scales_arena = scales;
        m->f32_small = rest;
        m->weight_dtype = to;
        tril_gpt2_bind_views(m);
    } else {
        free(low);
        free(scales);
        free(rest);
    }
    free(dst_low);
    free(dst32);
    free(drawn);
    return st;
}

/* Finds and checks the parameters in the file, then makes the model: F32
 * used in place (if aligned and !copy), the bf16 or int8 model (to), or an
 * fp32 arena. Copies are made tensor by tensor and the mapped pages of each are
 * released once copied. */
static tril_status load_tensors(tril_gpt2 *m, tril_safetensors *st, const char *path, int copy,
                                tril_dtype to)
{
    const char *prefix = tril_safetensors_find(st, "wte.weight")                 ? ""
                         : tril_safetensors_find(st, "transformer.wte.weight") ? "transformer."
                                                                                 : NULL;
    if (!prefix) return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: no tensor 'wte.weight' (not a GPT-2 model?)", path);
    const size_t plen = strlen(prefix);
    const tril_st_tensor **found = calloc(m->n_params, sizeof *found);
    param_src *src = calloc(m->n_params, sizeof *src);
    if (!found || !src) {
        free(found);
        free(src);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory");
    }
    tril_status status = TRIL_OK;
    int all_f32 = 1;
    char name[64];
    for (size_t i = 0; i < m->n_params && status == TRIL_OK; i++) {
        const tril_param_info *p = &m->params[i];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        const tril_st_tensor *t = tril_safetensors_find(st, name);
        tril_dtype d;
        if (!t) {
            status = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: missing tensor '%s'", path, name);
        } else if (tril_st_to_dtype(t->dtype, &d) != TRIL_OK) {
            status = TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (need F32, F16 or BF16)",
                               path, name, tril_st_dtype_name(t->dtype));
        } else if (t->ndim != p->ndim || t->shape[0] != p->shape[0] ||
                   (p->ndim == 2 && t->shape[1] != p->shape[1])) {
            char got[96], want[64];
            format_shape(got, sizeof got, t->shape, t->ndim);
            format_shape(want, sizeof want, p->shape, p->ndim);
            status = TRIL_FAIL(TRIL_ERR_FORMAT,
                               "%s: tensor '%s' has shape %s but config.json implies %s", path,
                               name, got, want);
        } else {
            found[i] = t;
            src[i] = (param_src){t->data, d, t->name};
            /* In place only if aligned: a file may place an F32 tensor at an
             * odd offset, and a misaligned float* is undefined behaviour. */
            if (d != TRIL_F32 || (uintptr_t)t->data % sizeof(float) != 0) all_f32 = 0;
        }
    }
    /* Everything else in the file must be one of the tolerated extras. */
    for (size_t i = 0; i < tril_safetensors_count(st) && status == TRIL_OK; i++) {
        const tril_st_tensor *t = tril_safetensors_at(st, i);
        int known = 0;
        for (size_t k = 0; k < m->n_params && !known; k++) known = found[k] == t;
        if (known) continue;
        const char *base = strncmp(t->name, prefix, plen) == 0 ? t->name + plen : t->name;
        if ((status = check_extra(m, t, base, found[0], path)) == TRIL_OK && (copy || to != TRIL_F32))
            status = tril_safetensors_release(st, t->data, (size_t)t->nbytes);
    }
    /* Untied (tie_word_embeddings: false), HF computes the head from
     * lm_head.weight, a random one if the file has none: not wte. */
    snprintf(name, sizeof name, "%slm_head.weight", prefix);
    if (status == TRIL_OK && m->cfg.head_untied && !tril_safetensors_find(st, "lm_head.weight") &&
        !tril_safetensors_find(st, name))
        status = TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                           "%s: config.json says \"tie_word_embeddings\": false but the file has "
                           "no lm_head.weight (only a tied head, lm_head = wte, is supported)",
                           path);
    if (status == TRIL_OK) {
        snprintf(m->stored_dtype, sizeof m->stored_dtype, "%s", tril_st_dtype_name(found[0]->dtype));
        if (to != TRIL_F32) {
            status = build_lowp(m, src, path, st, to, NULL);
        } else if (all_f32 && !copy) {
            for (size_t i = 0; i < m->n_params && status == TRIL_OK; i++) {
                status = check_finite(&src[i], m->params[i].numel, path);
                m->param_data[i] = found[i]->data;
            }
        } else if ((status = alloc_arena(m, 0)) == TRIL_OK) {
            for (size_t i = 0; i < m->n_params && status == TRIL_OK; i++) {
                const size_t n = (size_t)m->params[i].numel;
                if ((status = check_finite(&src[i], m->params[i].numel, path)) != TRIL_OK) break;
                if ((status = tril_safetensors_release(st, src[i].data, n * tril_dtype_size(src[i].dtype))) != TRIL_OK)
                    break;
                status = convert_to_arena(m->arena + m->params[i].offset, src[i].data, src[i].dtype,
                                          (int64_t)n, st);
            }
        }
        if (status == TRIL_OK && to == TRIL_F32) tril_gpt2_bind_views(m);
    }
    free(found);
    free(src);
    return status;
}

tril_status tril_gpt2_use_dtype(tril_gpt2 *m, tril_dtype dtype)
{
    if (!m) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "weights: NULL model");
    if (m->weight_dtype == dtype) return TRIL_OK;
    if (dtype != TRIL_BF16 && dtype != TRIL_INT8)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "weights can be turned into bf16 or int8, not %s",
                         tril_dtype_name(dtype) ? tril_dtype_name(dtype) : "?");
    if (!m->arena)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: the model needs an owned fp32 arena",
                         tril_dtype_name(dtype));
    param_src *src = malloc(m->n_params * sizeof *src);
    if (!src) return TRIL_FAIL(TRIL_ERR_NOMEM, "%s: out of memory", tril_dtype_name(dtype));
    for (size_t i = 0; i < m->n_params; i++)
        src[i] = (param_src){m->param_data[i], TRIL_F32, m->params[i].name};
    tril_status st = build_lowp(m, src, tril_dtype_name(dtype), NULL, dtype, NULL);
    free(src);
    return st;
}

tril_status tril_gpt2_use_bf16(tril_gpt2 *m) { return tril_gpt2_use_dtype(m, TRIL_BF16); }

tril_status tril_gpt2_create_random(const tril_gpt2_config *cfg, uint64_t seed, tril_dtype dtype,
                                    tril_gpt2 **out)
{
    if (!cfg || !out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "random model: NULL argument");
    if (dtype != TRIL_F32 && dtype != TRIL_BF16 && dtype != TRIL_INT8)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "weights can be fp32, bf16 or int8");
    tril_gpt2 *m = NULL;
    tril_status st = dtype == TRIL_F32 ? tril_gpt2_create(cfg, &m) : alloc_model(cfg, &m);
    if (st != TRIL_OK) return st;
    snprintf(m->stored_dtype, sizeof m->stored_dtype, "F32");
    st = dtype == TRIL_F32 ? tril_gpt2_init_random(m, seed)
                           : build_lowp(m, NULL, "random model", NULL, dtype, &seed);
    if (st != TRIL_OK) {
        tril_gpt2_free(m);
        return st;
    }
    *out = m;
    return TRIL_OK;
}

tril_status tril_gpt2_load(const char *dir, const tril_gpt2_load_opts *opts, tril_gpt2 **out)
{
    if (!dir || !out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "model folder must not be NULL");
    tril_status st = tril_check_dir(dir, "model folder"); /* says what is wrong */
    if (st != TRIL_OK) return st;
    char path[PATH_MAX];
    tril_gpt2_config cfg;
    if ((st = tril_path_join(path, sizeof path, dir, "config.json")) != TRIL_OK) return st;
    if ((st = tril_check_file(path)) != TRIL_OK) return st;
    if ((st = tril_gpt2_config_load(path, &cfg)) != TRIL_OK) return st;
    if ((st = tril_path_join(path, sizeof path, dir, "model.safetensors")) != TRIL_OK) return st;
    if ((st = tril_check_file(path)) != TRIL_OK) return st;
    tril_gpt2 *m = NULL;
    if ((st = alloc_model(&cfg, &m)) != TRIL_OK) return st;
    tril_safetensors *file;
    if ((st = tril_safetensors_open(path, &file)) != TRIL_OK) {
        tril_gpt2_free(m);
        return st;
    }
    m->file = file;
    const tril_dtype to = opts ? opts->weight_dtype : TRIL_F32;
    if (to != TRIL_F32 && to != TRIL_BF16 && to != TRIL_INT8) {
        tril_gpt2_free(m);
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "weights can be fp32, bf16 or int8");
    }
    if ((st = load_tensors(m, file, path, opts && opts->copy_to_arena, to)) != TRIL_OK) {
        tril_gpt2_free(m);
        return st;
    }
    if (m->arena || m->weight_dtype != TRIL_F32) { /* nothing points into the mapping any more */
        tril_safetensors_close(file);
        m->file = NULL;
    }
    if (opts && opts->amx && to == TRIL_BF16 && (st = tril_gpt2_use_amx(m)) != TRIL_OK) {
        tril_gpt2_free(m);
        return st;
    }
    *out = m;
    return TRIL_OK;
}
