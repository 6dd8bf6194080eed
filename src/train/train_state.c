/* trainer_state.json: the arguments, step, data-order RNG and loss log of a
 * run, and the loss log's growth. Doubles round-trip exactly (cJSON prints
 * 17 significant digits where 15 do not suffice); 64-bit integers that may
 * exceed 2^53 (seed, RNG words) are decimal strings. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tril/checkpoint.h"

#define STATE_FORMAT "tril-trainer-state-1"

tril_status tril_train_log_append(tril_train_log *log, const tril_train_log_row *row)
{
    if (log->count == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 256;
        tril_train_log_row *rows = realloc(log->rows, cap * sizeof *rows);
        if (!rows) return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot grow the loss log");
        log->rows = rows;
        log->cap = cap;
    }
    log->rows[log->count++] = *row;
    return TRIL_OK;
}

void tril_train_log_free(tril_train_log *log)
{
    if (!log) return;
    free(log->rows);
    memset(log, 0, sizeof *log);
}

/* cJSON prints 15 digits when they read back within an epsilon; a resumed
 * run needs the exact double, so numbers are printed here. */
static cJSON *exact(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

static cJSON *num_or_null(double v) { return isfinite(v) ? exact(v) : cJSON_CreateNull(); }

static void add_u64_string(cJSON *obj, const char *key, uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, v);
    cJSON_AddStringToObject(obj, key, s);
}

tril_status tril_train_state_to_json(const tril_train_state *s, char **json)
{
    const tril_train_args *a = &s->args;
    cJSON *root = cJSON_CreateObject(), *args = cJSON_CreateObject(), *rng = cJSON_CreateArray(),
          *log = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "format", STATE_FORMAT);
    cJSON_AddNumberToObject(root, "step", (double)s->step);
    cJSON_AddNumberToObject(root, "total_steps", (double)a->steps);
    cJSON_AddItemToObject(root, "args", args);
    cJSON_AddStringToObject(args, "data", a->data_path);
    cJSON_AddStringToObject(args, "init", a->init_dir);
    cJSON_AddStringToObject(args, "tokenizer", a->tokenizer);
    cJSON_AddNumberToObject(args, "steps", (double)a->steps);
    cJSON_AddNumberToObject(args, "batch", (double)a->batch);
    cJSON_AddNumberToObject(args, "seq", (double)a->seq);
    cJSON_AddNumberToObject(args, "accum", (double)a->accum);
    cJSON_AddItemToObject(args, "lr", exact(a->lr));
    cJSON_AddItemToObject(args, "min_lr", exact(a->min_lr));
    cJSON_AddNumberToObject(args, "warmup", (double)a->warmup);
    cJSON_AddItemToObject(args, "weight_decay", exact(a->weight_decay));
    cJSON_AddItemToObject(args, "clip", exact(a->clip));
    cJSON_AddNumberToObject(args, "eval_every", (double)a->eval_every);
    cJSON_AddNumberToObject(args, "eval_batches", (double)a->eval_batches);
    cJSON_AddNumberToObject(args, "save_every", (double)a->save_every);
    cJSON_AddItemToObject(args, "val_fraction", exact(a->val_fraction));
    add_u64_string(args, "seed", a->seed);
    cJSON_AddBoolToObject(args, "causal", a->causal != 0);
    cJSON_AddNumberToObject(args, "data_tokens", (double)a->data_tokens);
    cJSON_AddNumberToObject(args, "n_layer", (double)a->model.n_layer);
    cJSON_AddNumberToObject(args, "n_head", (double)a->model.n_head);
    cJSON_AddNumberToObject(args, "n_embd", (double)a->model.n_embd);
    cJSON_AddNumberToObject(args, "n_positions", (double)a->model.n_positions);
    cJSON_AddNumberToObject(args, "vocab_size", (double)a->model.vocab_size);
    cJSON_AddItemToObject(root, "rng", rng);
    for (int i = 0; i < 4; i++) {
        char w[24];
        snprintf(w, sizeof w, "%" PRIu64, s->rng.s[i]);
        cJSON_AddItemToArray(rng, cJSON_CreateString(w));
    }
    cJSON_AddItemToObject(root, "log_columns",
                          cJSON_CreateStringArray((const char *const[]){"step", "train_loss",
                                                                        "val_loss", "lr",
                                                                        "tokens_per_s"},
                                                  5));
    cJSON_AddItemToObject(root, "log", log);
    for (size_t i = 0; i < s->log.count; i++) {
        const tril_train_log_row *r = &s->log.rows[i];
        cJSON *row = cJSON_CreateArray();
        cJSON_AddItemToArray(row, cJSON_CreateNumber((double)r->step));
        cJSON_AddItemToArray(row, num_or_null(r->train_loss));
        cJSON_AddItemToArray(row, num_or_null(r->val_loss));
        cJSON_AddItemToArray(row, num_or_null(r->lr));
        cJSON_AddItemToArray(row, num_or_null(r->tokens_per_s));
        cJSON_AddItemToArray(log, row);
    }
    *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!*json) return TRIL_FAIL(TRIL_ERR_NOMEM, "cannot encode the trainer state");
    return TRIL_OK;
}

/* ---- decoding: every field checked, errors name the file and key ---------- */

typedef struct {
    const char *path;
    tril_status st;
} ctx;

static const cJSON *need(ctx *c, const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item && c->st == TRIL_OK)
        c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: missing key \"%s\"", c->path, key);
    return item;
}

static int64_t get_i64(ctx *c, const cJSON *obj, const char *key, int64_t min)
{
    const cJSON *item = need(c, obj, key);
    if (!item) return 0;
    double v = item->valuedouble;
    if (!cJSON_IsNumber(item) || v != floor(v) || v < (double)min || v > 9007199254740992.0) {
        if (c->st == TRIL_OK)
            c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: \"%s\" must be an integer >= %lld", c->path,
                              key, (long long)min);
        return 0;
    }
    return (int64_t)v;
}

static double get_f64(ctx *c, const cJSON *obj, const char *key)
{
    const cJSON *item = need(c, obj, key);
    if (!item) return 0.0;
    if (!cJSON_IsNumber(item)) {
        if (c->st == TRIL_OK)
            c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: \"%s\" must be a number", c->path, key);
        return 0.0;
    }
    return item->valuedouble;
}

static void get_str(ctx *c, const cJSON *obj, const char *key, char *dst, size_t size)
{
    const cJSON *item = need(c, obj, key);
    if (!item) return;
    const char *v = cJSON_GetStringValue(item);
    if ((!v || strlen(v) >= size) && c->st == TRIL_OK)
        c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: \"%s\" must be a string (< %zu bytes)", c->path,
                          key, size);
    else if (v)
        snprintf(dst, size, "%s", v);
}

static uint64_t parse_u64(ctx *c, const cJSON *item, const char *what)
{
    const char *v = cJSON_GetStringValue(item);
    char *end = NULL;
    unsigned long long x = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    if ((!end || *end) && c->st == TRIL_OK)
        c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: %s must be a decimal string", c->path, what);
    return (uint64_t)x;
}

static double row_value(const cJSON *row, int i)
{
    const cJSON *item = cJSON_GetArrayItem(row, i);
    return cJSON_IsNumber(item) ? item->valuedouble : NAN;
}

static void decode(ctx *c, const cJSON *root, tril_train_state *s)
{
    tril_train_args *a = &s->args;
    char format[32] = "";
    get_str(c, root, "format", format, sizeof format);
    if (c->st == TRIL_OK && strcmp(format, STATE_FORMAT) != 0)
        c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: format \"%s\" is not %s", c->path, format,
                          STATE_FORMAT);
    s->step = get_i64(c, root, "step", 0);
    const cJSON *args = need(c, root, "args");
    if (c->st != TRIL_OK) return;
    get_str(c, args, "data", a->data_path, sizeof a->data_path);
    get_str(c, args, "init", a->init_dir, sizeof a->init_dir);
    get_str(c, args, "tokenizer", a->tokenizer, sizeof a->tokenizer);
    a->steps = get_i64(c, args, "steps", 1);
    a->batch = get_i64(c, args, "batch", 1);
    a->seq = get_i64(c, args, "seq", 1);
    a->accum = get_i64(c, args, "accum", 1);
    a->lr = get_f64(c, args, "lr");
    a->min_lr = get_f64(c, args, "min_lr");
    a->warmup = get_i64(c, args, "warmup", 0);
    a->weight_decay = get_f64(c, args, "weight_decay");
    a->clip = get_f64(c, args, "clip");
    a->eval_every = get_i64(c, args, "eval_every", 0);
    a->eval_batches = get_i64(c, args, "eval_batches", 1);
    a->save_every = get_i64(c, args, "save_every", 0);
    a->val_fraction = get_f64(c, args, "val_fraction");
    const cJSON *seed = need(c, args, "seed");
    if (seed) a->seed = parse_u64(c, seed, "\"seed\"");
    const cJSON *causal = need(c, args, "causal");
    if (causal && !cJSON_IsBool(causal) && c->st == TRIL_OK)
        c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: \"causal\" must be true or false", c->path);
    a->causal = cJSON_IsTrue(causal);
    a->data_tokens = get_i64(c, args, "data_tokens", 0);
    a->model.n_layer = get_i64(c, args, "n_layer", 1);
    a->model.n_head = get_i64(c, args, "n_head", 1);
    a->model.n_embd = get_i64(c, args, "n_embd", 1);
    a->model.n_positions = get_i64(c, args, "n_positions", 1);
    a->model.vocab_size = get_i64(c, args, "vocab_size", 1);
    a->model.layer_norm_epsilon = 1e-5f;
    const cJSON *rng = need(c, root, "rng");
    if (c->st != TRIL_OK) return;
    if (!cJSON_IsArray(rng) || cJSON_GetArraySize(rng) != 4) {
        c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: \"rng\" must be 4 decimal strings", c->path);
        return;
    }
    for (int i = 0; i < 4; i++) s->rng.s[i] = parse_u64(c, cJSON_GetArrayItem(rng, i), "\"rng\"");
    if (c->st == TRIL_OK && !(s->rng.s[0] | s->rng.s[1] | s->rng.s[2] | s->rng.s[3]))
        c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: the rng state is all zero", c->path);
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(root, "log"), *row;
    cJSON_ArrayForEach(row, log)
    {
        if (c->st != TRIL_OK) return;
        const cJSON *step = cJSON_GetArrayItem(row, 0);
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != 5 || !cJSON_IsNumber(step)) {
            c->st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: a \"log\" row is not [step, train_loss, "
                                               "val_loss, lr, tokens_per_s]", c->path);
            return;
        }
        tril_train_log_row r = {(int64_t)step->valuedouble, row_value(row, 1), row_value(row, 2),
                                row_value(row, 3), row_value(row, 4)};
        c->st = tril_train_log_append(&s->log, &r);
    }
}

tril_status tril_train_state_from_json(const char *json, const char *path, tril_train_state *s)
{
    memset(s, 0, sizeof *s);
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return TRIL_FAIL(TRIL_ERR_FORMAT, "%s: not a JSON object", path);
    }
    ctx c = {path, TRIL_OK};
    decode(&c, root, s);
    cJSON_Delete(root);
    if (c.st == TRIL_OK && s->step > s->args.steps)
        c.st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: step %lld is past the run's %lld steps", path,
                         (long long)s->step, (long long)s->args.steps);
    if (c.st == TRIL_OK && strcmp(s->args.tokenizer, "gpt2") && strcmp(s->args.tokenizer, "bytes"))
        c.st = TRIL_FAIL(TRIL_ERR_FORMAT, "%s: tokenizer \"%s\" is not gpt2 or bytes", path,
                         s->args.tokenizer);
    if (c.st != TRIL_OK) tril_train_log_free(&s->log);
    return c.st;
}
