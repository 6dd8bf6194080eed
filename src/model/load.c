/* Loading a Hugging Face GPT-2 folder (config.json + model.safetensors) into
 * the parameter table, and the bundled default model's location. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file_util.h"
#include "tril/gpt2.h"
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

static tril_status alloc_arena(tril_gpt2 *m)
{
    m->arena_numel = tril_gpt2_num_params(&m->cfg);
    m->arena = calloc((size_t)m->arena_numel, sizeof(float));
    if (!m->arena)
        return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate %lld parameters (%.1f MB)",
                         (long long)m->arena_numel, m->arena_numel * 4.0 / 1e6);
    for (size_t i = 0; i < m->n_params; i++) m->param_data[i] = m->arena + m->params[i].offset;
    return TRIL_OK;
}

/* Named views for the forward pass, in table order. */
static void bind_views(tril_gpt2 *m)
{
    const float **p = m->param_data;
    m->wte = p[0];
    m->wpe = p[1];
    for (int64_t l = 0; l < m->cfg.n_layer; l++) {
        const float **q = p + 2 + 12 * l;
        tril_gpt2_layer *L = &m->layers[l];
        L->ln1_w = q[0];
        L->ln1_b = q[1];
        L->attn_w = q[2];
        L->attn_b = q[3];
        L->proj_w = q[4];
        L->proj_b = q[5];
        L->ln2_w = q[6];
        L->ln2_b = q[7];
        L->fc_w = q[8];
        L->fc_b = q[9];
        L->fcproj_w = q[10];
        L->fcproj_b = q[11];
    }
    m->lnf_w = p[m->n_params - 2];
    m->lnf_b = p[m->n_params - 1];
}

tril_status tril_gpt2_create(const tril_gpt2_config *cfg, tril_gpt2 **out)
{
    tril_gpt2 *m = NULL;
    tril_status st = alloc_model(cfg, &m);
    if (st != TRIL_OK) return st;
    if ((st = alloc_arena(m)) != TRIL_OK) {
        tril_gpt2_free(m);
        return st;
    }
    snprintf(m->stored_dtype, sizeof m->stored_dtype, "F32");
    bind_views(m);
    *out = m;
    return TRIL_OK;
}

void tril_gpt2_free(tril_gpt2 *m)
{
    if (!m) return;
    free(m->params);
    free(m->param_data);
    free(m->layers);
    free(m->arena);
    free(m->bf16_arena);
    free(m->f32_small);
    tril_safetensors_close(m->file);
    free(m);
}

/* Value (i, j) of a [.., n, n] mask tensor, whatever its element type. */
static double mask_at(const tril_st_tensor *t, int64_t idx)
{
    tril_dtype d;
    if (tril_st_to_dtype(t->dtype, &d) == 0) return tril_load_f32(t->data, d, (size_t)idx);
    return ((const uint8_t *)t->data)[idx]; /* BOOL / U8 */
}

/* h.N.attn.bias is the causal mask itself: it must be lower-triangular. */
static tril_status check_mask_buffer(const tril_st_tensor *t, const char *path)
{
    int64_t n = t->ndim >= 2 ? t->shape[t->ndim - 1] : -1;
    if (t->ndim < 2 || t->shape[t->ndim - 2] != n || t->numel != n * n ||
        (tril_st_dtype_size(t->dtype) != 4 && tril_st_dtype_size(t->dtype) != 2 &&
         t->dtype != TRIL_ST_BOOL && t->dtype != TRIL_ST_U8))
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: '%s' is not an [n, n] mask buffer", path, t->name);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            if (mask_at(t, i * n + j) != (j <= i ? 1.0 : 0.0))
                return TRIL_FAIL(TRIL_ERR_FORMAT,
                                 "%s: '%s' is not the causal mask: element [%lld, %lld] is %g",
                                 path, t->name, (long long)i, (long long)j, mask_at(t, i * n + j));
    return TRIL_OK;
}

/* Tensors in the file that are not parameters: the causal-mask buffers, and
 * an lm_head.weight that must equal wte (the head is tied). */
static tril_status check_extra(const tril_gpt2 *m, const tril_st_tensor *t, const char *base,
                               const char *path)
{
    const char *dot = strrchr(base, '.');
    if (strncmp(base, "h.", 2) == 0 && dot && strcmp(dot, ".bias") == 0 &&
        strlen(base) > 10 && strcmp(dot - 5, ".attn.bias") == 0)
        return check_mask_buffer(t, path);
    if (strncmp(base, "h.", 2) == 0 && dot && strcmp(dot, ".masked_bias") == 0) return TRIL_OK;
    if (strcmp(base, "lm_head.weight") == 0) {
        tril_dtype d;
        if (t->numel != m->cfg.vocab_size * m->cfg.n_embd || tril_st_to_dtype(t->dtype, &d) != 0)
            return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: lm_head.weight does not match wte", path);
        for (int64_t i = 0; i < t->numel; i++)
            if (tril_load_f32(t->data, d, (size_t)i) != m->wte[i])
                return TRIL_FAIL(TRIL_ERR_UNSUPPORTED,
                                 "%s: lm_head.weight differs from wte (untied heads are not "
                                 "supported)",
                                 path);
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

static tril_status load_tensors(tril_gpt2 *m, tril_safetensors *st, const char *path, int copy)
{
    const char *prefix = tril_safetensors_find(st, "wte.weight")                 ? ""
                         : tril_safetensors_find(st, "transformer.wte.weight") ? "transformer."
                                                                                 : NULL;
    if (!prefix) return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: no tensor 'wte.weight' (not a GPT-2 model?)", path);
    const size_t plen = strlen(prefix);
    const tril_st_tensor **found = calloc(m->n_params, sizeof *found);
    if (!found) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory");
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
        } else if (tril_st_to_dtype(t->dtype, &d) != 0) {
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
            /* In place only if aligned: a file may place an F32 tensor at an
             * odd offset, and a misaligned float* is undefined behaviour. */
            if (d != TRIL_F32 || (uintptr_t)t->data % sizeof(float) != 0) all_f32 = 0;
        }
    }
    if (status == TRIL_OK) {
        snprintf(m->stored_dtype, sizeof m->stored_dtype, "%s", tril_st_dtype_name(found[0]->dtype));
        if (all_f32 && !copy) {
            for (size_t i = 0; i < m->n_params; i++) m->param_data[i] = found[i]->data;
        } else if ((status = alloc_arena(m)) == TRIL_OK) {
            for (size_t i = 0; i < m->n_params; i++) {
                tril_dtype d;
                tril_st_to_dtype(found[i]->dtype, &d);
                tril_convert_to_f32(m->arena + m->params[i].offset, found[i]->data, d,
                                    (size_t)m->params[i].numel);
            }
        }
    }
    if (status == TRIL_OK) {
        bind_views(m);
        /* Everything else in the file must be one of the tolerated extras. */
        for (size_t i = 0; i < tril_safetensors_count(st) && status == TRIL_OK; i++) {
            const tril_st_tensor *t = tril_safetensors_at(st, i);
            int known = 0;
            for (size_t k = 0; k < m->n_params && !known; k++) known = found[k] == t;
            if (!known) {
                const char *base = strncmp(t->name, prefix, plen) == 0 ? t->name + plen : t->name;
                status = check_extra(m, t, base, path);
            }
        }
    }
    free(found);
    return status;
}

/* dst[out, in] = bf16 of src[in, out]: the transposed copy decoding walks
 * row by row (each output's weights contiguous). */
static void transpose_to_bf16(uint16_t *dst, const float *src, int64_t in, int64_t out)
{
    const int64_t B = 32; /* blocks keep both sides' cache lines in use */
#pragma omp parallel for schedule(static) if (in * out > 65536)
    for (int64_t o0 = 0; o0 < out; o0 += B)
        for (int64_t i0 = 0; i0 < in; i0 += B)
            for (int64_t o = o0; o < o0 + B && o < out; o++)
                for (int64_t i = i0; i < i0 + B && i < in; i++)
                    dst[o * in + i] = tril_f32_to_bf16(src[i * out + o]);
}

/* The tensors a bf16 model keeps only as bf16: wte and the four matrices
 * of every layer (table order: wte, wpe, then 12 per layer). */
static int kept_as_bf16(size_t index)
{
    if (index == 0) return 1;
    if (index < 2) return 0;
    const size_t k = (index - 2) % 12;
    return k == 2 || k == 4 || k == 8 || k == 10;
}

tril_status tril_gpt2_use_bf16(tril_gpt2 *m)
{
    if (!m) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "bf16: NULL model");
    if (m->weight_dtype == TRIL_BF16) return TRIL_OK;
    if (!m->arena) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "bf16: the model needs an owned arena");
    const int64_t C = m->cfg.n_embd, L = m->cfg.n_layer;
    const int64_t per_layer = C * 3 * C + C * C + C * 4 * C + 4 * C * C;
    const int64_t total16 = m->cfg.vocab_size * C + L * per_layer;
    int64_t small = 0;
    for (size_t i = 0; i < m->n_params; i++)
        if (!kept_as_bf16(i)) small += m->params[i].numel;
    uint16_t *w16 = malloc((size_t)total16 * sizeof *w16);
    float *rest = malloc((size_t)small * sizeof *rest);
    if (!w16 || !rest) {
        free(w16);
        free(rest);
        return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot allocate %.1f MB of bf16 weights",
                         total16 * 2.0 / 1e6);
    }
    uint16_t *p = w16;
    tril_convert_from_f32(p, TRIL_BF16, m->wte, (size_t)(m->cfg.vocab_size * C));
    m->wte16 = p;
    p += m->cfg.vocab_size * C;
#define TRANSPOSE16(dst, src, in, out) \
    (transpose_to_bf16(p, (src), (in), (out)), (dst) = p, p += (in) * (out))
    for (int64_t l = 0; l < L; l++) {
        tril_gpt2_layer *W = &m->layers[l];
        TRANSPOSE16(W->attn_wt16, W->attn_w, C, 3 * C);
        TRANSPOSE16(W->proj_wt16, W->proj_w, C, C);
        TRANSPOSE16(W->fc_wt16, W->fc_w, C, 4 * C);
        TRANSPOSE16(W->fcproj_wt16, W->fcproj_w, 4 * C, C);
    }
#undef TRANSPOSE16
    /* the rest: rounded to bf16 values too (the model is the bf16 model
     * everywhere), kept as fp32 */
    float *q = rest;
    for (size_t i = 0; i < m->n_params; i++) {
        if (kept_as_bf16(i)) {
            m->param_data[i] = NULL;
            continue;
        }
        for (int64_t k = 0; k < m->params[i].numel; k++)
            q[k] = tril_round_to_dtype(m->param_data[i][k], TRIL_BF16);
        m->param_data[i] = q;
        q += m->params[i].numel;
    }
    free(m->arena);
    m->arena = NULL;
    m->arena_numel = 0;
    m->bf16_arena = w16;
    m->f32_small = rest;
    m->weight_dtype = TRIL_BF16;
    bind_views(m);
    return TRIL_OK;
}

tril_status tril_gpt2_load(const char *dir, const tril_gpt2_load_opts *opts, tril_gpt2 **out)
{
    if (!dir || !out) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "model folder must not be NULL");
    if (!tril_is_dir(dir)) return TRIL_FAIL(TRIL_ERR_IO, "model folder '%s' does not exist", dir);
    char path[PATH_MAX];
    tril_gpt2_config cfg;
    tril_status st;
    if ((st = tril_path_join(path, sizeof path, dir, "config.json")) != TRIL_OK) return st;
    if (!tril_is_file(path)) return TRIL_FAIL(TRIL_ERR_IO, "missing '%s'", path);
    if ((st = tril_gpt2_config_load(path, &cfg)) != TRIL_OK) return st;
    if ((st = tril_path_join(path, sizeof path, dir, "model.safetensors")) != TRIL_OK) return st;
    if (!tril_is_file(path)) return TRIL_FAIL(TRIL_ERR_IO, "missing '%s'", path);
    tril_gpt2 *m = NULL;
    if ((st = alloc_model(&cfg, &m)) != TRIL_OK) return st;
    tril_safetensors *file;
    if ((st = tril_safetensors_open(path, &file)) != TRIL_OK) {
        tril_gpt2_free(m);
        return st;
    }
    m->file = file;
    const int bf16 = opts && opts->weight_dtype == TRIL_BF16;
    if (opts && opts->weight_dtype != TRIL_F32 && !bf16) {
        tril_gpt2_free(m);
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "weights can be fp32 or bf16");
    }
    if ((st = load_tensors(m, file, path, (opts && opts->copy_to_arena) || bf16)) != TRIL_OK ||
        (bf16 && (st = tril_gpt2_use_bf16(m)) != TRIL_OK)) {
        tril_gpt2_free(m);
        return st;
    }
    if (m->arena || m->weight_dtype == TRIL_BF16) { /* nothing points into the mapping any more */
        tril_safetensors_close(file);
        m->file = NULL;
    }
    *out = m;
    return TRIL_OK;
}

tril_status tril_gpt2_resolve_dir(const char *arg, char *buf, size_t size)
{
    if (arg) {
        if ((size_t)snprintf(buf, size, "%s", arg) >= size)
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "model path too long");
        return TRIL_OK;
    }
    const char *roots[3] = {getenv("TRIL_DATA_DIR"), TRIL_SOURCE_DATA_DIR, TRIL_INSTALL_DATA_DIR};
    for (int i = 0; i < 3; i++) {
        if (!roots[i] || !roots[i][0]) continue;
        if (tril_path_join(buf, size, roots[i], "models/default") != TRIL_OK) continue;
        if (tril_is_dir(buf)) return TRIL_OK;
    }
    return TRIL_FAIL(TRIL_ERR_IO,
                     "no --model given and no bundled default model found (looked in "
                     "$TRIL_DATA_DIR, %s and %s under models/default)",
                     TRIL_SOURCE_DATA_DIR, TRIL_INSTALL_DATA_DIR);
}
