/* Model folders and checkpoints: writing them crash-safely and reading a
 * checkpoint back (layout and guarantees in include/tril/checkpoint.h). */
#include "tril/checkpoint.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/gpt2_internal.h"
#include "tril/file.h"
#include "train/fs_atomic.h"
#include "tril/safetensors.h"

#define OPT_FORMAT "tril-adamw-1"
static const char *const tokenizer_files[] = {"vocab.json", "merges.txt", "tokenizer.json"};

/* The shortest decimal that reads back as the same float. */
static void float_repr(char *buf, size_t size, float v)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

static tril_status write_config(const char *path, const tril_gpt2_config *c, const char *tokenizer)
{
    cJSON *root = cJSON_CreateObject();
    char eps[32];
    float_repr(eps, sizeof eps, c->layer_norm_epsilon);
    cJSON_AddStringToObject(root, "model_type", "gpt2");
    cJSON_AddItemToObject(root, "architectures",
                          cJSON_CreateStringArray((const char *const[]){"GPT2LMHeadModel"}, 1));
    cJSON_AddNumberToObject(root, "n_layer", (double)c->n_layer);
    cJSON_AddNumberToObject(root, "n_head", (double)c->n_head);
    cJSON_AddNumberToObject(root, "n_embd", (double)c->n_embd);
    cJSON_AddNumberToObject(root, "n_positions", (double)c->n_positions);
    cJSON_AddNumberToObject(root, "n_ctx", (double)c->n_positions);
    cJSON_AddNumberToObject(root, "vocab_size", (double)c->vocab_size);
    cJSON_AddRawToObject(root, "layer_norm_epsilon", eps);
    cJSON_AddStringToObject(root, "activation_function", "gelu_new");
    cJSON_AddNumberToObject(root, "initializer_range", 0.02);
    cJSON_AddNumberToObject(root, "resid_pdrop", 0.0);
    cJSON_AddNumberToObject(root, "embd_pdrop", 0.0);
    cJSON_AddNumberToObject(root, "attn_pdrop", 0.0);
    /* the options that change the math, so a fine-tuned model keeps them */
    if (c->n_inner > 0) cJSON_AddNumberToObject(root, "n_inner", (double)c->n_inner);
    else cJSON_AddNullToObject(root, "n_inner");
    cJSON_AddBoolToObject(root, "scale_attn_weights", !c->attn_unscaled);
    cJSON_AddBoolToObject(root, "scale_attn_by_inverse_layer_idx", c->attn_inverse_layer);
    cJSON_AddBoolToObject(root, "reorder_and_upcast_attn", c->reorder_and_upcast_attn);
    cJSON_AddBoolToObject(root, "tie_word_embeddings", 1);
    if (strcmp(tokenizer, "gpt2") == 0 && c->vocab_size > 50256) {
        cJSON_AddNumberToObject(root, "bos_token_id", 50256);
        cJSON_AddNumberToObject(root, "eos_token_id", 50256);
    }
    cJSON_AddStringToObject(root, "torch_dtype", "float32");
    cJSON_AddStringToObject(root, "tril_tokenizer", tokenizer);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot encode config.json");
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: the file ends with a newline */
    tril_status st = trfs_write_file(path, text, len + 1);
    free(text);
    return st;
}

static tril_status write_weights(const char *path, const tril_gpt2 *m)
{
    tril_st_write_tensor *t = calloc(m->n_params, sizeof *t);
    if (!t) return TRIL_FAIL(TRIL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_params; i++) {
        const tril_param_info *p = &m->params[i];
        t[i].name = p->name;
        t[i].dtype = TRIL_ST_F32;
        t[i].ndim = p->ndim;
        t[i].shape[0] = p->shape[0];
        t[i].shape[1] = p->shape[1];
        t[i].data = m->param_data[i];
    }
    const char *meta[] = {"format", "pt", NULL};
    tril_status st = tril_safetensors_write(path, t, m->n_params, meta);
    free(t);
    return st;
}

static tril_status join(char *dst, const char *dir, const char *name)
{
    return tril_path_join(dst, PATH_MAX, dir, name);
}

/* What every save checks first: an fp32 model (a bf16 model no longer
 * holds its fp32 matrices) with finite weights. */
static tril_status check_savable(const tril_gpt2 *m)
{
    if (m->weight_dtype != TRIL_F32)
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "only fp32 models can be saved (this one is bf16)");
    for (size_t i = 0; i < m->n_params; i++)
        for (int64_t k = 0; k < m->params[i].numel; k++)
            if (!isfinite(m->param_data[i][k]))
                return TRIL_FAIL(TRIL_ERR_RANGE, "refusing to save a model with a non-finite "
                                                 "weight (%s[%lld])",
                                 m->params[i].name, (long long)k);
    return TRIL_OK;
}

/* The model's files into `dir` (which exists). */
static tril_status save_model_files(const char *dir, const tril_gpt2 *m, const char *tokenizer,
                                    const char *tokenizer_dir)
{
    if (strcmp(tokenizer, "gpt2") != 0 && strcmp(tokenizer, "bytes") != 0)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "tokenizer '%s' is not gpt2 or bytes", tokenizer);
    char path[PATH_MAX], src[PATH_MAX];
    tril_status st;
    int copied = 0;
    if (strcmp(tokenizer, "gpt2") == 0) {
        if (!tokenizer_dir)
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "a gpt2 tokenizer needs its source folder");
        for (size_t i = 0; i < sizeof tokenizer_files / sizeof *tokenizer_files; i++) {
            if ((st = join(src, tokenizer_dir, tokenizer_files[i])) != TRIL_OK) return st;
            if (!tril_is_file(src)) continue;
            if ((st = join(path, dir, tokenizer_files[i])) != TRIL_OK) return st;
            if (strcmp(src, path) != 0 && (st = trfs_copy_file(src, path)) != TRIL_OK) return st;
            copied++;
        }
        if (!copied)
            return TRIL_FAIL(TRIL_ERR_IO, "no tokenizer files (vocab.json + merges.txt or "
                                          "tokenizer.json) in '%s'", tokenizer_dir);
    }
    if ((st = join(path, dir, "model.safetensors")) != TRIL_OK ||
        (st = write_weights(path, m)) != TRIL_OK)
        return st;
    /* config.json last: a folder becomes loadable only once its weights are there */
    if ((st = join(path, dir, "config.json")) != TRIL_OK) return st;
    return write_config(path, &m->cfg, tokenizer);
}

tril_status tril_model_save(const char *dir, const tril_gpt2 *model, const char *tokenizer,
                            const char *tokenizer_dir)
{
    if (!dir || !model || !tokenizer) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "model save: NULL argument");
    tril_status st = check_savable(model);
    if (st == TRIL_OK) st = trfs_mkdirs(dir);
    if (st == TRIL_OK) st = save_model_files(dir, model, tokenizer, tokenizer_dir);
    return st;
}

static tril_status write_optimizer(const char *path, const tril_adamw *opt,
                                   const tril_adamw_config *cfg)
{
    tril_st_write_tensor t[2];
    memset(t, 0, sizeof t);
    const float *data[2] = {opt->m, opt->v};
    for (int i = 0; i < 2; i++) {
        t[i].name = i ? "v" : "m";
        t[i].dtype = TRIL_ST_F32;
        t[i].ndim = 1;
        t[i].shape[0] = opt->n;
        t[i].data = data[i];
    }
    char step[24], n[24], b1[32], b2[32], eps[32], wd[32];
    snprintf(step, sizeof step, "%" PRId64, opt->step);
    snprintf(n, sizeof n, "%" PRId64, opt->n);
    float_repr(b1, sizeof b1, cfg->beta1);
    float_repr(b2, sizeof b2, cfg->beta2);
    float_repr(eps, sizeof eps, cfg->eps);
    float_repr(wd, sizeof wd, cfg->weight_decay);
    const char *meta[] = {"format", OPT_FORMAT, "step", step, "n", n, "beta1", b1,
                          "beta2", b2, "eps", eps, "weight_decay", wd, NULL};
    return tril_safetensors_write(path, t, 2, meta);
}

tril_status tril_checkpoint_save(const char *dir, const tril_gpt2 *model, const tril_adamw *opt,
                                 const tril_adamw_config *opt_cfg, const tril_train_state *state,
                                 const char *tokenizer_dir)
{
    if (!dir || !model || !opt || !opt_cfg || !state)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "checkpoint save: NULL argument");
    if (opt->lo != 0 || opt->n != model->arena_numel || opt->step != state->step)
        return TRIL_FAIL(TRIL_ERR_SHAPE, "checkpoint save: optimizer (%lld values, step %lld) does "
                                         "not match the model (%lld) and state (step %lld)",
                         (long long)opt->n, (long long)opt->step, (long long)model->arena_numel,
                         (long long)state->step);
    tril_status st = check_savable(model);
    if (st != TRIL_OK) return st;
    char tmp[PATH_MAX], path[PATH_MAX];
    if ((st = trfs_make_temp_dir(dir, tmp, sizeof tmp)) != TRIL_OK) return st;
    char *json = NULL;
    if ((st = save_model_files(tmp, model, state->args.tokenizer, tokenizer_dir)) == TRIL_OK &&
        (st = join(path, tmp, "optimizer.safetensors")) == TRIL_OK &&
        (st = write_optimizer(path, opt, opt_cfg)) == TRIL_OK &&
        (st = tril_train_state_to_json(state, &json)) == TRIL_OK &&
        (st = join(path, tmp, "trainer_state.json")) == TRIL_OK)
        st = trfs_write_file(path, json, strlen(json));
    free(json);
    if (st == TRIL_OK) st = trfs_commit_dir(tmp, dir);
    if (st != TRIL_OK) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", tril_last_error());
        trfs_remove_flat_dir(tmp);
        return TRIL_FAIL(st, "cannot save checkpoint '%s': %s", dir, keep);
    }
    return TRIL_OK;
}

/* The moments of arena elements [lo, hi) (the whole arena: 0, arena_numel):
 * only that slice of the mapped file is read. */
static tril_status load_optimizer(const char *dir, const tril_gpt2 *m, int64_t step, int64_t lo,
                                  int64_t hi, tril_adamw *opt)
{
    char path[PATH_MAX];
    tril_status st = join(path, dir, "optimizer.safetensors");
    if (st != TRIL_OK) return st;
    if (!tril_is_file(path)) return TRIL_FAIL(TRIL_ERR_IO, "missing '%s'", path);
    tril_safetensors *f;
    if ((st = tril_safetensors_open(path, &f)) != TRIL_OK) return st;
    const tril_st_tensor *t[2] = {tril_safetensors_find(f, "m"), tril_safetensors_find(f, "v")};
    const char *fmt = tril_safetensors_metadata(f, "format"), *s = tril_safetensors_metadata(f, "step");
    char *end = NULL;
    long long saved_step = s ? strtoll(s, &end, 10) : -1;
    if (!fmt || strcmp(fmt, OPT_FORMAT) != 0) {
        st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: not a tril optimizer file (format %s)", path,
                       fmt ? fmt : "missing");
    } else if (!s || !end || *end || saved_step != step) {
        st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: step %s does not match trainer_state.json's %lld",
                       path, s ? s : "missing", (long long)step);
    }
    for (int i = 0; i < 2 && st == TRIL_OK; i++) {
        const char *name = i ? "v" : "m";
        if (!t[i] || t[i]->dtype != TRIL_ST_F32 || t[i]->ndim != 1)
            st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: needs a flat F32 tensor '%s'", path, name);
        else if (t[i]->numel != m->arena_numel)
            st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: '%s' has %lld values but the model has %lld "
                                            "parameters", path, name, (long long)t[i]->numel,
                           (long long)m->arena_numel);
    }
    if (st == TRIL_OK && (st = tril_adamw_create_shard(lo, hi - lo, opt)) == TRIL_OK) {
        memcpy(opt->m, (const char *)t[0]->data + lo * 4, (size_t)(hi - lo) * sizeof(float));
        memcpy(opt->v, (const char *)t[1]->data + lo * 4, (size_t)(hi - lo) * sizeof(float));
        opt->step = step;
    }
    tril_safetensors_close(f);
    return st;
}

static int same_shape(const tril_gpt2_config *a, const tril_gpt2_config *b)
{
    return a->n_layer == b->n_layer && a->n_head == b->n_head && a->n_embd == b->n_embd &&
           a->n_positions == b->n_positions && a->vocab_size == b->vocab_size;
}

tril_status tril_checkpoint_load(const char *dir, tril_gpt2 **model, tril_adamw *opt,
                                 tril_train_state *state)
{
    return tril_checkpoint_load_shard(dir, 0, 1, model, opt, state);
}

tril_status tril_checkpoint_load_shard(const char *dir, int rank, int world, tril_gpt2 **model,
                                       tril_adamw *opt, tril_train_state *state)
{
    if (!dir || !model || !opt || !state)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "checkpoint load: NULL argument");
    *model = NULL;
    memset(opt, 0, sizeof *opt);
    memset(state, 0, sizeof *state);
    if (world < 1 || rank < 0 || rank >= world)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "checkpoint load: rank %d of %d", rank, world);
    if (!tril_is_dir(dir)) return TRIL_FAIL(TRIL_ERR_IO, "checkpoint '%s' does not exist", dir);
    char path[PATH_MAX];
    char *json = NULL;
    tril_status st = join(path, dir, "trainer_state.json");
    if (st != TRIL_OK) return st;
    if (!tril_is_file(path))
        return TRIL_FAIL(TRIL_ERR_IO, "missing '%s' (not a checkpoint folder?)", path);
    if ((st = tril_read_file(path, (size_t)1 << 30, &json, NULL)) != TRIL_OK) return st;
    st = tril_train_state_from_json(json, path, state);
    free(json);
    if (st != TRIL_OK) return st;
    tril_gpt2_load_opts lo = {.copy_to_arena = 1, .weight_dtype = TRIL_F32};
    if ((st = tril_gpt2_load(dir, &lo, model)) != TRIL_OK) goto fail;
    if (!same_shape(&(*model)->cfg, &state->args.model)) {
        const tril_gpt2_config *c = &(*model)->cfg, *s = &state->args.model;
        st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: the model is %lld layers x %lld heads x %lld embd, "
                                        "context %lld, vocab %lld, but trainer_state.json says "
                                        "%lld x %lld x %lld, %lld, %lld",
                       dir, (long long)c->n_layer, (long long)c->n_head, (long long)c->n_embd,
                       (long long)c->n_positions, (long long)c->vocab_size, (long long)s->n_layer,
                       (long long)s->n_head, (long long)s->n_embd, (long long)s->n_positions,
                       (long long)s->vocab_size);
        goto fail;
    }
    /* config.json has what trainer_state.json does not: eps and the options */
    state->args.model = (*model)->cfg;
    int64_t first, end;
    tril_shard_range((*model)->arena_numel, rank, world, &first, &end);
    if ((st = load_optimizer(dir, *model, state->step, first, end, opt)) != TRIL_OK) goto fail;
    return TRIL_OK;
fail:
    tril_gpt2_free(*model);
    *model = NULL;
    tril_train_log_free(&state->log);
    return st;
}
