/* tril serve: the JSON of the API - OpenAI's completions request checked
 * field by field, and the responses, written by hand so that any bytes of
 * text (NUL included) come out as valid JSON. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli/serve.h"

/* ---- writing JSON ----------------------------------------------------------- */

/* A JSON string of n bytes of valid UTF-8. */
static void json_str(sbuf *o, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sbuf_add(o, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sbuf_add(o, p + start, i - start);
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t k = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        }
        sbuf_add(o, esc, k);
        start = i + 1;
    }
    sbuf_add(o, p + start, n - start);
    sbuf_add(o, "\"", 1);
}

static void json_cstr(sbuf *o, const char *s)
{
    if (s) json_str(o, s, strlen(s));
    else sbuf_addstr(o, "null");
}

static void json_num(sbuf *o, double v)
{
    if (isfinite(v)) sbuf_printf(o, "%.9g", v);
    else sbuf_addstr(o, "null"); /* -inf (probability 0) has no JSON form */
}

/* A token as text: its bytes when they are valid UTF-8, else OpenAI's
 * "bytes:\xNN..." spelling. */
static void token_str(const srv *s, sbuf *o, int32_t id)
{
    const char *b = "";
    size_t n = 0;
    if (tril_tokenizer_token_bytes(s->tok, id, &b, &n) != TRIL_OK) n = 0;
    if (serve_utf8_valid(b, n)) {
        json_str(o, b, n);
        return;
    }
    sbuf t = {0};
    sbuf_addstr(&t, "bytes:");
    for (size_t i = 0; i < n; i++) sbuf_printf(&t, "\\x%02x", (unsigned char)b[i]);
    json_str(o, t.p, t.n);
    sbuf_free(&t);
}

int serve_error_json(const serve_error *e, sbuf *o)
{
    sbuf_addstr(o, "{\"error\":{\"message\":");
    json_cstr(o, e->message);
    sbuf_addstr(o, ",\"type\":");
    json_cstr(o, e->type ? e->type : "invalid_request_error");
    sbuf_addstr(o, ",\"param\":");
    json_cstr(o, e->param);
    sbuf_addstr(o, ",\"code\":");
    json_cstr(o, e->code);
    sbuf_addstr(o, "}}\n");
    return o->failed ? -1 : 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int fail(serve_error *e, int status, const char *param, const char *code, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->type = status >= 500 ? "server_error" : "invalid_request_error";
    e->param = param;
    e->code = code;
    return status;
}

/* ---- reading the request ------------------------------------------------------- */

static int is_null(const cJSON *v) { return !v || cJSON_IsNull(v); }

/* An integer-valued JSON number within [lo, hi]. */
static int get_int(const cJSON *v, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    const double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > hi) return -1;
    *out = (int64_t)d;
    return 0;
}

static int get_bool(const cJSON *obj, const char *name, int *out, serve_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (is_null(v)) return 0;
    if (!cJSON_IsBool(v)) return fail(e, 400, name, NULL, "'%s' must be a boolean", name);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_double(const cJSON *obj, const char *name, double lo, double hi, int lo_open,
                      float *out, serve_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (is_null(v)) return 0;
    if (!cJSON_IsNumber(v)) return fail(e, 400, name, NULL, "'%s' must be a number", name);
    const double d = v->valuedouble;
    if (!isfinite(d) || d > hi || (lo_open ? d <= lo : d < lo))
        return fail(e, 400, name, NULL, "'%s' must be in %s%g, %g]: got %g", name,
                    lo_open ? "(" : "[", lo, hi, d);
    *out = (float)d;
    return 0;
}

/* The ids of a JSON array of token ids. */
static int ids_of(const srv *s, const cJSON *arr, const char *param, int32_t **ids, int64_t *n,
                  serve_error *e)
{
    const int count = cJSON_GetArraySize(arr);
    *ids = malloc(sizeof **ids * (size_t)(count > 0 ? count : 1));
    if (!*ids) return fail(e, 500, NULL, NULL, "out of memory");
    int64_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        int64_t id;
        if (get_int(v, 0, (double)(s->vocab - 1), &id)) {
            free(*ids);
            *ids = NULL;
            if (!cJSON_IsNumber(v))
                return fail(e, 400, param, NULL, "'%s' must hold integer token ids", param);
            return fail(e, 400, param, NULL, "token id %g at position %lld is outside [0, %lld)",
                        v->valuedouble, (long long)i, (long long)s->vocab);
        }
        (*ids)[i++] = (int32_t)id;
    }
    *n = i;
    return 0;
}

static int all_numbers(const cJSON *arr)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) if (!cJSON_IsNumber(v)) return 0;
    return 1;
}

static int encode(srv *s, const char *text, size_t len, int32_t **ids, int64_t *n, serve_error *e)
{
    size_t count = 0;
    pthread_mutex_lock(&s->tok_lock);
    const tril_status st = tril_tokenizer_encode(s->tok, text, len, ids, &count);
    pthread_mutex_unlock(&s->tok_lock);
    if (st != TRIL_OK) return fail(e, 500, NULL, NULL, "cannot tokenize: %s", tril_last_error());
    *n = (int64_t)count;
    return 0;
}

void serve_params_free(serve_params *p)
{
    free(p->prompt);
    for (int i = 0; i < p->n_stop; i++) free(p->stop[i]);
    memset(p, 0, sizeof *p);
}

static int parse_prompt(srv *s, const cJSON *j, serve_params *p, serve_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "prompt");
    if (is_null(v)) return fail(e, 400, "prompt", NULL, "you must provide a prompt");
    int rc = 0;
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1 &&
        (cJSON_IsString(v->child) || cJSON_IsArray(v->child)))
        v = v->child; /* a batch of one: ["text"] or [[ids]] */
    if (cJSON_IsString(v)) {
        rc = encode(s, v->valuestring, strlen(v->valuestring), &p->prompt, &p->n_prompt, e);
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0 && all_numbers(v)) {
        rc = ids_of(s, v, "prompt", &p->prompt, &p->n_prompt, e);
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0) {
        return fail(e, 400, "prompt", NULL, "the prompt is empty");
    } else if (cJSON_IsArray(v) && (cJSON_IsString(v->child) || cJSON_IsArray(v->child))) {
        return fail(e, 400, "prompt", NULL, "only one prompt per request is supported");
    } else {
        return fail(e, 400, "prompt", NULL,
                    "'prompt' must be a string or an array of token ids");
    }
    if (rc) return rc;
    if (p->n_prompt == 0) { /* nothing to condition on: as tril generate does */
        free(p->prompt);
        p->prompt = malloc(sizeof *p->prompt);
        if (!p->prompt) return fail(e, 500, NULL, NULL, "out of memory");
        p->prompt[0] = s->eot >= 0 ? s->eot : '\n';
        p->n_prompt = 1;
    }
    if (p->n_prompt >= s->n_ctx)
        return fail(e, 400, "prompt", "context_length_exceeded",
                    "This model's maximum context length is %lld tokens, however you requested "
                    "%lld tokens in your prompt (at least one must be left to generate)",
                    (long long)s->n_ctx, (long long)p->n_prompt);
    return 0;
}

static int parse_stop(const cJSON *j, serve_params *p, serve_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "stop");
    if (is_null(v)) return 0;
    const cJSON *one[1] = {v};
    const cJSON *const *list = one;
    int n = 1;
    const cJSON *items[SERVE_MAX_STOP];
    if (cJSON_IsArray(v)) {
        n = cJSON_GetArraySize(v);
        if (n > SERVE_MAX_STOP)
            return fail(e, 400, "stop", NULL, "'stop' may hold at most %d strings", SERVE_MAX_STOP);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, v) items[i++] = it;
        list = items;
    }
    for (int i = 0; i < n; i++) {
        if (!cJSON_IsString(list[i]))
            return fail(e, 400, "stop", NULL, "'stop' must be a string or an array of strings");
        const size_t len = strlen(list[i]->valuestring);
        if (len == 0) continue; /* matches nothing */
        char *copy = malloc(len + 1);
        if (!copy) return fail(e, 500, NULL, NULL, "out of memory");
        memcpy(copy, list[i]->valuestring, len + 1);
        p->stop[p->n_stop] = copy;
        p->stop_len[p->n_stop++] = len;
    }
    return 0;
}

static uint64_t random_seed(srv *s)
{
    pthread_mutex_lock(&s->lock);
    const uint64_t k = ++s->seq;
    pthread_mutex_unlock(&s->lock);
    return serve_unique_u64(k);
}

static int parse_fields(srv *s, const cJSON *j, serve_params *p, serve_error *e)
{
    int rc;
    const cJSON *v;
    /* Only one model is served: its name is not checked, its type is. */
    v = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (!is_null(v) && !cJSON_IsString(v)) return fail(e, 400, "model", NULL, "'model' must be a string");
    if ((rc = parse_prompt(s, j, p, e))) return rc;

    p->max_tokens = 16; /* OpenAI's default */
    v = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
    if (v && cJSON_IsNull(v)) {
        p->max_tokens = s->n_ctx; /* as much as the context holds */
    } else if (v) {
        int64_t m;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble))
            return fail(e, 400, "max_tokens", NULL, "'max_tokens' must be an integer");
        if (v->valuedouble < 1)
            return fail(e, 400, "max_tokens", NULL, "'max_tokens' must be at least 1, got %g",
                        v->valuedouble);
        /* Beyond the context it ends with finish_reason "length" anyway. */
        m = v->valuedouble > 1e15 ? (int64_t)1e15 : (int64_t)v->valuedouble;
        p->max_tokens = m;
    }

    p->sampling = tril_sampler_config_default(); /* temperature 1, top_k 0, top_p 1 */
    if ((rc = get_double(j, "temperature", 0, 2, 0, &p->sampling.temperature, e))) return rc;
    if ((rc = get_double(j, "top_p", 0, 1, 1, &p->sampling.top_p, e))) return rc;
    v = cJSON_GetObjectItemCaseSensitive(j, "top_k");
    if (!is_null(v)) {
        int64_t k;
        if (get_int(v, -1, 2147483647.0, &k))
            return fail(e, 400, "top_k", NULL, "'top_k' must be an integer >= 0 (or -1: off)");
        p->sampling.top_k = k < 0 ? 0 : k;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (!is_null(v)) {
        int64_t seed;
        if (get_int(v, -9223372036854775808.0, 9223372036854774784.0, &seed))
            return fail(e, 400, "seed", NULL, "'seed' must be an integer");
        p->sampling.seed = (uint64_t)seed;
    } else {
        p->sampling.seed = random_seed(s);
    }
    if ((rc = parse_stop(j, p, e))) return rc;
    if ((rc = get_bool(j, "stream", &p->stream, e))) return rc;
    if ((rc = get_bool(j, "echo", &p->echo, e))) return rc;
    if ((rc = get_bool(j, "return_token_ids", &p->return_token_ids, e))) return rc;
    v = cJSON_GetObjectItemCaseSensitive(j, "stream_options");
    if (!is_null(v)) {
        if (!cJSON_IsObject(v)) return fail(e, 400, "stream_options", NULL, "'stream_options' must be an object");
        if ((rc = get_bool(v, "include_usage", &p->include_usage, e))) return rc;
    }
    p->logprobs = -1;
    v = cJSON_GetObjectItemCaseSensitive(j, "logprobs");
    if (!is_null(v)) {
        int64_t n;
        if (get_int(v, 0, TRIL_ENGINE_MAX_LOGPROBS, &n))
            return fail(e, 400, "logprobs", NULL, "'logprobs' must be an integer in [0, %d]",
                        TRIL_ENGINE_MAX_LOGPROBS);
        p->logprobs = (int)n;
    }
    static const char *const one_only[] = {"n", "best_of"};
    for (int i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(j, one_only[i]);
        int64_t n;
        if (!is_null(v) && (get_int(v, 1, 1, &n)))
            return fail(e, 400, one_only[i], NULL, "only '%s': 1 is supported", one_only[i]);
    }
    /* Known fields that would change the output: refused rather than ignored. */
    static const char *const penalties[] = {"presence_penalty", "frequency_penalty"};
    for (int i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(j, penalties[i]);
        if (is_null(v)) continue;
        if (!cJSON_IsNumber(v)) return fail(e, 400, penalties[i], NULL, "'%s' must be a number", penalties[i]);
        if (v->valuedouble != 0)
            return fail(e, 400, penalties[i], "unsupported", "'%s' is not supported (only 0)", penalties[i]);
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "logit_bias");
    if (!is_null(v)) {
        if (!cJSON_IsObject(v)) return fail(e, 400, "logit_bias", NULL, "'logit_bias' must be an object");
        if (v->child) return fail(e, 400, "logit_bias", "unsupported", "'logit_bias' is not supported");
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "suffix");
    if (!is_null(v)) {
        if (!cJSON_IsString(v)) return fail(e, 400, "suffix", NULL, "'suffix' must be a string");
        if (v->valuestring[0]) return fail(e, 400, "suffix", "unsupported", "'suffix' is not supported");
    }
    return 0;
}

static cJSON *parse_object(const char *body, size_t len, serve_error *e, int *rc);

int serve_parse_completion(srv *s, const char *body, size_t len, serve_params *out, serve_error *e)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    cJSON *j = parse_object(body, len, e, &rc);
    if (!j) return rc;
    rc = parse_fields(s, j, out, e);
    cJSON_Delete(j);
    if (rc) serve_params_free(out);
    return rc;
}

/* ---- writing responses ---------------------------------------------------------- */

/* The logprobs object for prompt tokens (echo: no log-probabilities) and
 * the generated tokens [t0, t1). Caller holds s->lock. */
static void logprobs_json(srv *s, const serve_req *r, int with_prompt, size_t t0, size_t t1,
                          size_t text_base, sbuf *o)
{
    const int32_t *ids = r->p.prompt;
    const int64_t np = with_prompt ? r->p.n_prompt : 0;
    sbuf_addstr(o, "{\"tokens\":[");
    for (int64_t i = 0; i < np; i++) {
        if (i) sbuf_addstr(o, ",");
        token_str(s, o, ids[i]);
    }
    for (size_t t = t0; t < t1; t++) {
        if (np || t > t0) sbuf_addstr(o, ",");
        token_str(s, o, r->toks[t].id);
    }
    sbuf_addstr(o, "],\"token_logprobs\":[");
    for (int64_t i = 0; i < np; i++) sbuf_addstr(o, i ? ",null" : "null");
    for (size_t t = t0; t < t1; t++) {
        if (np || t > t0) sbuf_addstr(o, ",");
        json_num(o, r->toks[t].logprob);
    }
    sbuf_addstr(o, "],\"top_logprobs\":[");
    for (int64_t i = 0; i < np; i++) sbuf_addstr(o, i ? ",null" : "null");
    const int n_top = r->p.logprobs > 0 ? r->p.logprobs : 0;
    for (size_t t = t0; t < t1; t++) {
        if (np || t > t0) sbuf_addstr(o, ",");
        sbuf_addstr(o, "{");
        for (int k = 0; k < n_top; k++) {
            if (k) sbuf_addstr(o, ",");
            token_str(s, o, r->top_ids[r->toks[t].top + (size_t)k]);
            sbuf_addstr(o, ":");
            json_num(o, r->top_lps[r->toks[t].top + (size_t)k]);
        }
        sbuf_addstr(o, "}");
    }
    sbuf_addstr(o, "],\"text_offset\":[");
    size_t off = 0;
    for (int64_t i = 0; i < np; i++) {
        sbuf_printf(o, i ? ",%zu" : "%zu", off);
        const char *b;
        size_t n;
        if (tril_tokenizer_token_bytes(s->tok, ids[i], &b, &n) == TRIL_OK) off += n;
    }
    for (size_t t = t0; t < t1; t++)
        sbuf_printf(o, (np || t > t0) ? ",%zu" : "%zu", text_base + r->toks[t].text_offset);
    sbuf_addstr(o, "]}");
}

static void head_json(srv *s, const serve_req *r, sbuf *o)
{
    sbuf_addstr(o, "{\"id\":");
    json_cstr(o, r->id);
    sbuf_printf(o, ",\"object\":\"text_completion\",\"created\":%lld,\"model\":", (long long)r->created);
    json_cstr(o, s->model_name);
}

static void usage_json(const serve_req *r, sbuf *o)
{
    sbuf_printf(o, "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld}",
                (long long)r->p.n_prompt, (long long)r->completion_tokens,
                (long long)(r->p.n_prompt + r->completion_tokens));
}

static void ids_json(const int32_t *ids, size_t n, sbuf *o)
{
    sbuf_addstr(o, "[");
    for (size_t i = 0; i < n; i++) sbuf_printf(o, i ? ",%d" : "%d", ids[i]);
    sbuf_addstr(o, "]");
}

static void token_ids_json(const serve_req *r, sbuf *o, int with_prompt, size_t t0, size_t t1)
{
    if (with_prompt) {
        sbuf_addstr(o, ",\"prompt_token_ids\":");
        ids_json(r->p.prompt, (size_t)r->p.n_prompt, o);
    }
    sbuf_addstr(o, ",\"token_ids\":[");
    for (size_t t = t0; t < t1; t++) sbuf_printf(o, t > t0 ? ",%d" : "%d", r->toks[t].id);
    sbuf_addstr(o, "]");
}

static const char *finish_name(serve_finish f) { return f == FIN_STOP ? "stop" : "length"; }

int serve_completion_json(srv *s, serve_req *r, sbuf *o)
{
    head_json(s, r, o);
    sbuf_addstr(o, ",\"choices\":[{\"text\":");
    if (r->p.echo) {
        sbuf t = {0};
        sbuf_add(&t, r->prompt_text, r->prompt_text_len);
        sbuf_add(&t, r->text.p, r->visible);
        if (t.failed) o->failed = 1;
        json_str(o, t.p ? t.p : "", t.n);
        sbuf_free(&t);
    } else {
        json_str(o, r->text.p ? r->text.p : "", r->visible);
    }
    sbuf_addstr(o, ",\"index\":0,\"logprobs\":");
    if (r->p.logprobs >= 0)
        logprobs_json(s, r, r->p.echo, 0, r->n_toks, r->p.echo ? r->prompt_text_len : 0, o);
    else
        sbuf_addstr(o, "null");
    sbuf_printf(o, ",\"finish_reason\":\"%s\"", finish_name(r->finish));
    if (r->p.return_token_ids) token_ids_json(r, o, 1, 0, r->n_toks);
    sbuf_addstr(o, "}],\"usage\":");
    usage_json(r, o);
    sbuf_addstr(o, "}\n");
    return o->failed ? -1 : 0;
}

/* One SSE event holding a choice with text[a..b) and tokens [t0, t1). */
static void chunk(srv *s, serve_req *r, const char *text, size_t len, int prompt, size_t t0,
                  size_t t1, const char *finish, sbuf *o)
{
    sbuf_addstr(o, "data: ");
    head_json(s, r, o);
    sbuf_addstr(o, ",\"choices\":[{\"text\":");
    json_str(o, text ? text : "", len);
    sbuf_addstr(o, ",\"index\":0,\"logprobs\":");
    const size_t base = r->p.echo ? r->prompt_text_len : 0;
    if (r->p.logprobs >= 0) logprobs_json(s, r, prompt, t0, t1, base, o);
    else sbuf_addstr(o, "null");
    sbuf_addstr(o, ",\"finish_reason\":");
    json_cstr(o, finish);
    if (r->p.return_token_ids) token_ids_json(r, o, prompt, t0, t1);
    sbuf_addstr(o, "}]");
    if (r->p.include_usage) sbuf_addstr(o, ",\"usage\":null");
    sbuf_addstr(o, "}\n\n");
}

int serve_stream_chunks(srv *s, serve_req *r, size_t *sent_text, size_t *sent_toks, int first,
                        int final, sbuf *o)
{
    if (first && r->p.echo)
        chunk(s, r, r->prompt_text, r->prompt_text_len, 1, 0, 0, NULL, o);
    if (final && r->http_status) {
        serve_error e = {{0}, r->err_type, NULL, r->err_code};
        snprintf(e.message, sizeof e.message, "%s", r->err_msg);
        sbuf_addstr(o, "data: ");
        serve_error_json(&e, o);
        sbuf_addstr(o, "\ndata: [DONE]\n\n");
        return o->failed ? -1 : 0;
    }
    if (r->visible > *sent_text || final) {
        chunk(s, r, r->text.p ? r->text.p + *sent_text : "", r->visible - *sent_text, 0, *sent_toks,
              r->n_toks, final ? finish_name(r->finish) : NULL, o);
        *sent_text = r->visible;
        *sent_toks = r->n_toks;
    }
    if (final) {
        if (r->p.include_usage) {
            sbuf_addstr(o, "data: ");
            head_json(s, r, o);
            sbuf_addstr(o, ",\"choices\":[],\"usage\":");
            usage_json(r, o);
            sbuf_addstr(o, "}\n\n");
        }
        sbuf_addstr(o, "data: [DONE]\n\n");
    }
    return o->failed ? -1 : 0;
}

/* ---- the small endpoints ------------------------------------------------------------- */

/* 1 if the JSON text holds a NUL, raw or escaped (\u0000): cJSON's
 * strings end there. */
static int has_nul_escape(const char *body, size_t len)
{
    if (memchr(body, 0, len)) return 1;
    for (size_t i = 0; i + 1 < len; i++) {
        if (body[i] != '\\') continue;
        if (body[i + 1] == 'u' && i + 5 < len && memcmp(body + i + 2, "0000", 4) == 0) return 1;
        i++; /* the escaped character: "\\u0000" is a backslash and text */
    }
    return 0;
}

static cJSON *parse_object(const char *body, size_t len, serve_error *e, int *rc)
{
    if (has_nul_escape(body, len)) {
        *rc = fail(e, 400, NULL, NULL, "strings with NUL characters (\\u0000) are not supported");
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j) {
        *rc = fail(e, 400, NULL, NULL, "We could not parse the JSON body of your request: it is not valid JSON");
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *rc = fail(e, 400, NULL, NULL, "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

int serve_tokenize_json(srv *s, const char *body, size_t len, sbuf *o, serve_error *e)
{
    int rc = 0;
    cJSON *j = parse_object(body, len, e, &rc);
    if (!j) return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "content");
    int32_t *ids = NULL;
    int64_t n = 0;
    if (!cJSON_IsString(v)) rc = fail(e, 400, "content", NULL, "'content' must be a string");
    else rc = encode(s, v->valuestring, strlen(v->valuestring), &ids, &n, e);
    if (!rc) {
        sbuf_addstr(o, "{\"tokens\":");
        ids_json(ids, (size_t)n, o);
        sbuf_addstr(o, "}\n");
        if (o->failed) rc = fail(e, 500, NULL, NULL, "out of memory");
    }
    free(ids);
    cJSON_Delete(j);
    return rc;
}

int serve_detokenize_json(srv *s, const char *body, size_t len, sbuf *o, serve_error *e)
{
    int rc = 0;
    cJSON *j = parse_object(body, len, e, &rc);
    if (!j) return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "tokens");
    int32_t *ids = NULL;
    int64_t n = 0;
    if (!cJSON_IsArray(v) || !all_numbers(v))
        rc = fail(e, 400, "tokens", NULL, "'tokens' must be an array of token ids");
    else rc = ids_of(s, v, "tokens", &ids, &n, e);
    if (!rc) {
        char *text = NULL;
        size_t tl = 0;
        if (tril_tokenizer_decode(s->tok, ids, (size_t)n, &text, &tl) != TRIL_OK) {
            rc = fail(e, 400, "tokens", NULL, "%s", tril_last_error());
        } else {
            sbuf t = {0};
            serve_utf8_take(text, tl, 1, &t);
            sbuf_addstr(o, "{\"content\":");
            json_str(o, t.p ? t.p : "", t.n);
            sbuf_addstr(o, "}\n");
            if (o->failed || t.failed) rc = fail(e, 500, NULL, NULL, "out of memory");
            sbuf_free(&t);
            free(text);
        }
    }
    free(ids);
    cJSON_Delete(j);
    return rc;
}

int serve_models_json(srv *s, sbuf *o)
{
    sbuf_addstr(o, "{\"object\":\"list\",\"data\":[{\"id\":");
    json_cstr(o, s->model_name);
    sbuf_printf(o, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"tril\",\"max_model_len\":%lld}]}\n",
                (long long)s->started, (long long)s->n_ctx);
    return o->failed ? -1 : 0;
}
