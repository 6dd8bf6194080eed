/* Hugging Face tokenizer.json: built here (with cJSON) from data/gpt2's
 * vocab.json and merges.txt in the layout the `tokenizers` library writes,
 * with model.merges both as "a b" strings and as ["a", "b"] pairs; each must
 * give exactly the ids of vocab.json + merges.txt. Then load_dir's fallback
 * to tokenizer.json, and the files tril refuses (FORMAT for malformed ones,
 * UNSUPPORTED for valid ones that would not behave like GPT-2). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_tokenizer_util.h"

static char *dir;
static cJSON *gpt2_vocab;
static char *gpt2_merges;

static int setup(void **state)
{
    dir = tt_mkdtemp();
    char *v = tt_read(GPT2_VOCAB, NULL);
    gpt2_vocab = cJSON_Parse(v);
    free(v);
    gpt2_merges = tt_read(GPT2_MERGES, NULL);
    return gpt2_vocab ? 0 : -1;
}

static int teardown(void **state)
{
    cJSON_Delete(gpt2_vocab);
    free(gpt2_merges);
    tt_rmdir(dir);
    return 0;
}

/* model.merges from merges.txt text, as strings or as pairs. */
static cJSON *merges_json(int pairs)
{
    cJSON *arr = cJSON_CreateArray();
    char *line = strchr(gpt2_merges, '\n') + 1; /* skip "#version" */
    while (*line) {
        char *nl = strchr(line, '\n'), *sp = strchr(line, ' ');
        if (nl) *nl = '\0';
        if (pairs) {
            *sp = '\0';
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(line));
            cJSON_AddItemToArray(pair, cJSON_CreateString(sp + 1));
            cJSON_AddItemToArray(arr, pair);
            *sp = ' ';
        } else {
            cJSON_AddItemToArray(arr, cJSON_CreateString(line));
        }
        if (!nl) break;
        *nl = '\n';
        line = nl + 1;
    }
    return arr;
}

/* A tokenizer.json as `tokenizers` writes GPT-2's (vocab and merges are
 * taken over). */
static cJSON *hf_json(cJSON *vocab, cJSON *merges)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *eot = cJSON_CreateObject();
    cJSON_AddNumberToObject(eot, "id", 50256);
    cJSON_AddStringToObject(eot, "content", "<|endoftext|>");
    cJSON_AddBoolToObject(eot, "special", 1);
    cJSON_AddItemToArray(added, eot);
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddBoolToObject(pre, "add_prefix_space", 0);
    cJSON_AddBoolToObject(pre, "trim_offsets", 1);
    cJSON_AddBoolToObject(pre, "use_regex", 1);
    cJSON_AddItemToObject(root, "post_processor", cJSON_Duplicate(pre, 1));
    cJSON_AddItemToObject(root, "decoder", cJSON_Duplicate(pre, 1));
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "");
    cJSON_AddStringToObject(model, "end_of_word_suffix", "");
    cJSON_AddBoolToObject(model, "fuse_unk", 0);
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    cJSON_AddBoolToObject(model, "ignore_merges", 0);
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    return root;
}

static const char *write_json(cJSON *root)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    char *text = cJSON_PrintUnformatted(root);
    tt_write(path, text, strlen(text));
    free(text);
    cJSON_Delete(root);
    return path;
}

static void expect_same_ids(tril_tokenizer *a, tril_tokenizer *b, const char *text, size_t len)
{
    int32_t *x, *y;
    size_t nx, ny;
    assert_int_equal(tril_tokenizer_encode(a, text, len, &x, &nx), TRIL_OK);
    assert_int_equal(tril_tokenizer_encode(b, text, len, &y, &ny), TRIL_OK);
    assert_int_equal(nx, ny);
    if (nx) assert_memory_equal(x, y, nx * sizeof *x);
    free(x);
    free(y);
}

static void check_against_gpt2(tril_tokenizer *hf)
{
    tril_tokenizer *ref = tt_gpt2();
    assert_int_equal(tril_tokenizer_vocab_size(hf), 50257);
    assert_int_equal(tril_tokenizer_eot(hf), 50256);
    cJSON *fx = tt_fixture();
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(fx, "cases"))
    {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        expect_same_ids(hf, ref, text, strlen(text));
    }
    cJSON_Delete(fx);
    size_t len;
    char *text = tt_read(SHAKESPEARE, &len);
    expect_same_ids(hf, ref, text, len);
    free(text);
    for (int32_t id = 0; id < 50257; id++) {
        const char *p, *q;
        size_t np, nq;
        assert_int_equal(tril_tokenizer_token_bytes(hf, id, &p, &np), TRIL_OK);
        assert_int_equal(tril_tokenizer_token_bytes(ref, id, &q, &nq), TRIL_OK);
        assert_int_equal(np, nq);
        assert_memory_equal(p, q, np);
    }
    tril_tokenizer_free(ref);
}

static void test_string_merges(void **state)
{
    const char *path = write_json(hf_json(cJSON_Duplicate(gpt2_vocab, 1), merges_json(0)));
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_load_hf_json(path, &tok), TRIL_OK);
    check_against_gpt2(tok);
    tril_tokenizer_free(tok);
}

static void test_pair_merges_and_load_dir(void **state)
{
    write_json(hf_json(cJSON_Duplicate(gpt2_vocab, 1), merges_json(1)));
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_load_dir(dir, &tok), TRIL_OK); /* only tokenizer.json there */
    check_against_gpt2(tok);
    tril_tokenizer_free(tok);
}

/* A small valid vocab (bytes + "ab") and merges ["a b"], then one change. */
static cJSON *small(cJSON **model)
{
    cJSON *vocab = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, gpt2_vocab)
    {
        if (it->valueint < 256) cJSON_AddNumberToObject(vocab, it->string, it->valueint);
    }
    cJSON_AddNumberToObject(vocab, "ab", 256);
    cJSON *merges = cJSON_CreateArray();
    cJSON_AddItemToArray(merges, cJSON_CreateString("a b"));
    cJSON *root = hf_json(vocab, merges);
    *model = cJSON_GetObjectItem(root, "model");
    return root;
}

static void expect_refused(cJSON *root, tril_status want, const char *must)
{
    const char *path = write_json(root);
    tril_tokenizer *tok = (tril_tokenizer *)1;
    const tril_status st = tril_tokenizer_load_hf_json(path, &tok);
    if (getenv("TRIL_TEST_VERBOSE"))
        fprintf(stderr, "%s: %s\n", tril_status_name(st), tril_last_error());
    assert_int_equal(st, want);
    assert_null(tok);
    assert_non_null(strstr(tril_last_error(), "tokenizer.json"));
    if (must && !strstr(tril_last_error(), must)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", tril_last_error(), must);
        fail();
    }
}

static void test_refused(void **state)
{
    cJSON *model, *root;
    root = small(&model); /* the baseline loads */
    const char *path = write_json(root);
    tril_tokenizer *tok;
    assert_int_equal(tril_tokenizer_load_hf_json(path, &tok), TRIL_OK);
    int32_t *ids;
    size_t n;
    assert_int_equal(tril_tokenizer_encode(tok, "ab", 2, &ids, &n), TRIL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 256);
    free(ids);
    tril_tokenizer_free(tok);

    root = small(&model);
    cJSON_ReplaceItemInObject(model, "type", cJSON_CreateString("WordPiece"));
    expect_refused(root, TRIL_ERR_UNSUPPORTED, "WordPiece");
    root = small(&model);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "pre_tokenizer"), "add_prefix_space",
                              cJSON_CreateTrue());
    expect_refused(root, TRIL_ERR_UNSUPPORTED, "pre_tokenizer");
    root = small(&model);
    cJSON_ReplaceItemInObject(root, "normalizer", cJSON_CreateObject());
    expect_refused(root, TRIL_ERR_UNSUPPORTED, "normalizer");
    root = small(&model);
    cJSON_ReplaceItemInObject(model, "ignore_merges", cJSON_CreateTrue());
    expect_refused(root, TRIL_ERR_UNSUPPORTED, "ignore_merges");
    root = small(&model);
    cJSON_ReplaceItemInObject(model, "dropout", cJSON_CreateNumber(0.1));
    expect_refused(root, TRIL_ERR_UNSUPPORTED, "dropout");

    root = small(&model);
    cJSON_DeleteItemFromObject(root, "model");
    expect_refused(root, TRIL_ERR_FORMAT, "\"model\"");
    root = small(&model);
    cJSON_ReplaceItemInObject(model, "vocab", cJSON_CreateArray());
    expect_refused(root, TRIL_ERR_FORMAT, "model.vocab");
    root = small(&model);
    cJSON_ReplaceItemInObject(model, "merges", cJSON_CreateString("a b"));
    expect_refused(root, TRIL_ERR_FORMAT, "model.merges");
    root = small(&model);
    cJSON_AddItemToArray(cJSON_GetObjectItem(model, "merges"), cJSON_CreateNumber(3));
    expect_refused(root, TRIL_ERR_FORMAT, "model.merges[1]");
    root = small(&model);
    cJSON_AddItemToArray(cJSON_GetObjectItem(model, "merges"), cJSON_CreateString("ab"));
    expect_refused(root, TRIL_ERR_FORMAT, "model.merges[1]");
    root = small(&model);
    cJSON_AddItemToArray(cJSON_GetObjectItem(model, "merges"), cJSON_CreateString("b c"));
    expect_refused(root, TRIL_ERR_FORMAT, "model.merges[1]");
    root = small(&model);
    cJSON_AddNumberToObject(cJSON_GetObjectItem(model, "vocab"), "abc", 1000);
    expect_refused(root, TRIL_ERR_FORMAT, "outside");
    root = small(&model); /* no merges: not GPT-2's BPE, refused as an empty merges.txt */
    cJSON_ReplaceItemInObject(model, "merges", cJSON_CreateArray());
    expect_refused(root, TRIL_ERR_FORMAT, "model.merges is empty");
    root = cJSON_CreateArray();
    expect_refused(root, TRIL_ERR_FORMAT, "not a JSON object");
    tt_write(path, "{\"model\": ", 10);
    assert_int_equal(tril_tokenizer_load_hf_json(path, &tok), TRIL_ERR_FORMAT);
    assert_non_null(strstr(tril_last_error(), "not valid JSON"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_merges),
        cmocka_unit_test(test_pair_merges_and_load_dir),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
