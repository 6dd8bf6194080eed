/* tril generate --prompts-file: every prompt of a file through one engine
 * (offline batch inference), each result the same as a `tril generate` of
 * that prompt alone with the same parameters.
 *
 * The file: one prompt per line, or a JSON object per line with the
 * prompt and its own parameters ({"prompt": "...", "max_tokens": N,
 * "temperature": T, "top_k": K, "top_p": P, "seed": S}); blank lines are
 * skipped. The output: one JSON object per prompt, in the file's order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "tril/engine.h"

typedef struct {
    int64_t line;
    int32_t *ids; /* the prompt */
    size_t n_ids;
    tril_sampler_config sampling;
    int64_t max_tokens;
    int32_t *out; /* generated ids */
    int64_t n_out, cap_out;
    const char *finish;
    char *error;  /* set if this prompt failed */
} batch_item;

static char *dup_error(const char *what, const char *detail)
{
    const size_t n = strlen(what) + strlen(detail) + 3;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s: %s", what, detail);
    return s;
}

/* A JSON line's parameters over the command's defaults. */
static const char *json_params(const cJSON *obj, batch_item *it, const char **prompt)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "prompt");
    if (!cJSON_IsString(p)) return "\"prompt\" must be a string";
    *prompt = p->valuestring;
    struct { const char *name; double lo, hi; } nums[] = {
        {"max_tokens", 1, 2147483647.0}, {"tokens", 1, 2147483647.0}, {"temperature", 0, 3.4e38},
        {"top_k", 0, 2147483647.0},      {"top_p", 0, 1},             {"seed", 0, 9.007e15}};
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, nums[k].name);
        if (!v) continue;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < nums[k].lo ||
            v->valuedouble > nums[k].hi || (k == 4 && v->valuedouble <= 0))
            return "a parameter is not a number in its range (max_tokens >= 1, temperature >= 0, "
                   "top_k >= 0, top_p in (0, 1], seed >= 0)";
        const double x = v->valuedouble;
        if ((k < 2 || k == 3 || k == 5) && x != floor(x)) return "max_tokens, top_k and seed are integers";
        switch (k) {
        case 0:
        case 1: it->max_tokens = (int64_t)x; break;
        case 2: it->sampling.temperature = (float)x; break;
        case 3: it->sampling.top_k = (int64_t)x; break;
        case 4: it->sampling.top_p = (float)x; break;
        case 5: it->sampling.seed = (uint64_t)x; break;
        }
    }
    return NULL;
}

static int on_event(const tril_engine_event *ev, void *ctx)
{
    (void)ctx;
    batch_item *it = ev->user;
    if (ev->kind == TRIL_ENGINE_TOKEN) {
        if (it->n_out == it->cap_out) {
            const int64_t cap = it->cap_out ? 2 * it->cap_out : 64;
            int32_t *grown = realloc(it->out, (size_t)cap * sizeof *grown);
            if (!grown) {
                it->error = dup_error("out of memory", "");
                return 1;
            }
            it->out = grown;
            it->cap_out = cap;
        }
        it->out[it->n_out++] = ev->token;
        return 0;
    }
    if (ev->reason == TRIL_FINISH_ERROR && !it->error)
        it->error = dup_error("generation failed", tril_last_error());
    it->finish = ev->reason == TRIL_FINISH_STOP ? "stop" : "length";
    return 0;
}

/* The text of generated ids, invalid UTF-8 bytes as U+FFFD. */
static char *ids_text(const tril_tokenizer *tok, const int32_t *ids, int64_t n)
{
    sbuf raw = {0}, text = {0};
    for (int64_t k = 0; k < n; k++) {
        const char *bytes;
        size_t len;
        if (tril_tokenizer_token_bytes(tok, ids[k], &bytes, &len) == TRIL_OK) sbuf_add(&raw, bytes, len);
    }
    serve_utf8_take(raw.p ? raw.p : "", raw.n, 1, &text);
    free(raw.p);
    sbuf_add(&text, "", 1); /* NUL */
    if (text.failed) {
        free(text.p);
        return NULL;
    }
    return text.p;
}

static int print_item(const tril_tokenizer *tok, const batch_item *it, int64_t index)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddNumberToObject(o, "index", (double)index);
    cJSON_AddNumberToObject(o, "line", (double)it->line);
    if (it->error) {
        cJSON_AddStringToObject(o, "error", it->error);
    } else {
        char *text = ids_text(tok, it->out, it->n_out);
        cJSON *ids = cJSON_CreateIntArray(it->out, (int)it->n_out);
        if (!text || !ids) {
            free(text);
            cJSON_Delete(ids);
            cJSON_Delete(o);
            return -1;
        }
        cJSON_AddStringToObject(o, "text", text);
        free(text);
        cJSON_AddItemToObject(o, "ids", ids);
        cJSON_AddStringToObject(o, "finish_reason", it->finish ? it->finish : "length");
        cJSON_AddNumberToObject(o, "prompt_tokens", (double)it->n_ids);
        cJSON_AddNumberToObject(o, "completion_tokens", (double)it->n_out);
    }
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line) return -1;
    printf("%s\n", line);
    free(line);
    return 0;
}

int cli_generate_batch(const char *cmd, const tril_gpt2 *model, tril_tokenizer *tok,
                       const char *text, size_t len, const cli_batch_opts *opts)
{
    /* split into lines; each non-blank line is one prompt */
    int64_t count = 0;
    for (size_t i = 0; i < len; i++) count += text[i] == '\n';
    count += 1;
    batch_item *items = calloc((size_t)count, sizeof *items);
    if (!items) {
        fprintf(stderr, "tril %s: out of memory\n", cmd);
        return CLI_FAIL;
    }
    int64_t n = 0, line = 0;
    int rc = CLI_OK;
    for (size_t start = 0; start <= len && rc == CLI_OK;) {
        size_t end = start;
        while (end < len && text[end] != '\n') end++;
        line++;
        size_t stop = end;
        if (stop > start && text[stop - 1] == '\r') stop--;
        size_t lead = start;
        while (lead < stop && (text[lead] == ' ' || text[lead] == '\t')) lead++;
        if (lead < stop) {
            batch_item *it = &items[n++];
            it->line = line;
            it->sampling = opts->sampling;
            it->max_tokens = opts->tokens;
            char *prompt_line = malloc(stop - start + 1);
            if (!prompt_line) {
                rc = CLI_FAIL;
                break;
            }
            memcpy(prompt_line, text + start, stop - start);
            prompt_line[stop - start] = '\0';
            const char *prompt = prompt_line;
            size_t prompt_len = stop - start;
            cJSON *obj = NULL;
            if (text[lead] == '{') {
                obj = cJSON_Parse(prompt_line);
                const char *bad = !obj ? "not valid JSON" : !cJSON_IsObject(obj) ? "not a JSON object"
                                                                                 : json_params(obj, it, &prompt);
                if (bad) {
                    fprintf(stderr, "tril %s: line %lld of the prompts file: %s\n", cmd,
                            (long long)line, bad);
                    rc = CLI_USAGE;
                }
                if (!bad) prompt_len = strlen(prompt);
            }
            if (rc == CLI_OK &&
                tril_tokenizer_encode(tok, prompt, prompt_len, &it->ids, &it->n_ids) != TRIL_OK)
                it->error = dup_error("cannot tokenize the prompt", tril_last_error());
            if (rc == CLI_OK && !it->error && it->n_ids == 0) { /* as generate: start of text */
                free(it->ids);
                it->ids = malloc(sizeof *it->ids);
                const int32_t eot = tril_tokenizer_eot(tok);
                if (it->ids) it->ids[0] = eot >= 0 ? eot : '\n';
                it->n_ids = it->ids ? 1 : 0;
            }
            cJSON_Delete(obj);
            free(prompt_line);
        }
        start = end + 1;
    }
    tril_engine *engine = NULL;
    tril_engine_config cfg = tril_engine_config_default();
    cfg.slots = opts->slots;
    cfg.max_queue = n > 0 ? n : 1;
    if (opts->prefill_chunk > 0) cfg.prefill_chunk = opts->prefill_chunk;
    if (rc == CLI_OK && n > 0 && tril_engine_create(model, &cfg, &engine) != TRIL_OK)
        rc = cli_lib_error(cmd, "cannot start the engine");
    for (int64_t i = 0; rc == CLI_OK && i < n; i++) {
        batch_item *it = &items[i];
        if (it->error) continue;
        tril_engine_request q;
        memset(&q, 0, sizeof q);
        q.prompt = it->ids;
        q.n_prompt = (int64_t)it->n_ids;
        q.max_tokens = it->max_tokens;
        q.sampling = it->sampling;
        q.eot = tril_tokenizer_eot(tok);
        q.user = it;
        uint64_t id;
        if (tril_engine_submit(engine, &q, &id) != TRIL_OK)
            it->error = dup_error("refused", tril_last_error());
    }
    while (rc == CLI_OK && engine && tril_engine_busy(engine))
        if (tril_engine_step(engine, on_event, NULL) != TRIL_OK) rc = cli_lib_error(cmd, "the engine failed");
    int failed = 0;
    for (int64_t i = 0; rc == CLI_OK && i < n; i++) {
        failed |= items[i].error != NULL;
        if (print_item(tok, &items[i], i) != 0) {
            fprintf(stderr, "tril %s: out of memory\n", cmd);
            rc = CLI_FAIL;
        }
    }
    if (rc == CLI_OK && failed) {
        fprintf(stderr, "tril %s: some prompts failed (their lines carry \"error\")\n", cmd);
        rc = CLI_FAIL;
    }
    tril_engine_free(engine);
    for (int64_t i = 0; i < n; i++) {
        free(items[i].ids);
        free(items[i].out);
        free(items[i].error);
    }
    free(items);
    return rc;
}
