/* Attention front end: names, argument validation, stride resolution and
 * kernel dispatch. The kernels themselves never see unchecked arguments. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attention/attention_internal.h"
#include "attention/kernels.h"
#include "attention/tile_util.h"
#include "tril/cpu.h"

static const char *const fill_names[TRIL_FILL_COUNT] = {"-inf", "-1e10", "-1e9",
                                                        "-1e4", "dtype_min", "0"};
static const char *const mode_names[] = {"structural", "additive", "boolean", "none"};
static const char *const kernel_names[TRIL_ATTN_KERNEL_COUNT] = {
    "auto", "reference", "simd", "simd-generic", "simd-avx2", "simd-avx512"};

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Index of `name` in names[n], or TRIL_ERR_INVALID_ARG naming it and the
 * accepted ones (`what` says which kind of name). */
static tril_status parse_name(const char *const *names, int n, const char *name, const char *what,
                              int *index)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0) {
            *index = i;
            return TRIL_OK;
        }
    char list[160];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < n && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s'%s'",
                                 i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "unknown %s '%s' (expected %s)", what,
                     name ? name : "(null)", list);
}

const char *tril_fill_name(tril_fill fill)
{
    return (unsigned)fill < TRIL_FILL_COUNT ? fill_names[fill] : NULL;
}

tril_status tril_fill_parse(const char *name, tril_fill *out)
{
    int i = 0;
    tril_status st = parse_name(fill_names, TRIL_FILL_COUNT, name, "mask fill", &i);
    if (st == TRIL_OK) *out = (tril_fill)i;
    return st;
}

float tril_fill_value(tril_fill fill, tril_dtype dtype)
{
    switch (fill) {
    case TRIL_FILL_NEG_INF: return -INFINITY;
    case TRIL_FILL_NEG_1E10: return -1e10f;
    case TRIL_FILL_NEG_1E9: return -1e9f;
    case TRIL_FILL_NEG_1E4: return -1e4f;
    case TRIL_FILL_DTYPE_MIN: return tril_dtype_min(dtype);
    case TRIL_FILL_ZERO: return 0.0f;
    case TRIL_FILL_COUNT: break;
    }
    return NAN;
}

const char *tril_mask_mode_name(tril_mask_mode mode)
{
    return (unsigned)mode < (unsigned)COUNT_OF(mode_names) ? mode_names[mode] : NULL;
}

tril_status tril_mask_mode_parse(const char *name, tril_mask_mode *out)
{
    int i = 0;
    tril_status st = parse_name(mode_names, COUNT_OF(mode_names), name, "mask mode", &i);
    if (st == TRIL_OK) *out = (tril_mask_mode)i;
    return st;
}

const char *tril_attn_kernel_name(tril_attn_kernel kernel)
{
    return (unsigned)kernel < TRIL_ATTN_KERNEL_COUNT ? kernel_names[kernel] : NULL;
}

tril_status tril_attn_kernel_parse(const char *name, tril_attn_kernel *out)
{
    int i = 0;
    tril_status st = parse_name(kernel_names, TRIL_ATTN_KERNEL_COUNT, name, "attention kernel", &i);
    if (st == TRIL_OK) *out = (tril_attn_kernel)i;
    return st;
}

int tril_attn_kernel_available(tril_attn_kernel kernel)
{
    switch (kernel) {
    case TRIL_ATTN_AUTO:
    case TRIL_ATTN_REFERENCE:
    case TRIL_ATTN_SIMD:
    case TRIL_ATTN_SIMD_GENERIC: return 1;
    case TRIL_ATTN_SIMD_AVX2: return tril_cpu_supports(TRIL_ISA_AVX2);
    case TRIL_ATTN_SIMD_AVX512: return tril_cpu_supports(TRIL_ISA_AVX512);
    case TRIL_ATTN_KERNEL_COUNT: break;
    }
    return 0;
}

tril_attention_args tril_attention_args_init(void)
{
    tril_attention_args a;
    memset(&a, 0, sizeof a);
    a.dtype = TRIL_F32;
    a.mask = TRIL_MASK_STRUCTURAL;
    return a;
}

/* a * b into *out unless it overflows int64 (both are >= 0). */
static int mul_ok(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Checks that a [rows, H*D] view with the given strides fits in int64. */
static tril_status check_view(const char *name, int64_t batch, int64_t rows, int64_t hd,
                              int64_t row_stride, int64_t batch_stride)
{
    int64_t span;
    if (row_stride < hd)
        return TRIL_FAIL(TRIL_ERR_SHAPE, "%s row stride %lld is smaller than H*D = %lld", name,
                         (long long)row_stride, (long long)hd);
    if (!mul_ok(rows - 1, row_stride, &span) || __builtin_add_overflow(span, hd, &span))
        return TRIL_FAIL(TRIL_ERR_SHAPE, "%s: size overflows int64", name);
    if (batch_stride < span && batch > 1)
        return TRIL_FAIL(TRIL_ERR_SHAPE,
                         "%s batch stride %lld is smaller than one sequence (%lld elements)",
                         name, (long long)batch_stride, (long long)span);
    int64_t total;
    if (!mul_ok(batch - 1, batch_stride, &total) || __builtin_add_overflow(total, span, &total) ||
        !mul_ok(total, 4, &total))
        return TRIL_FAIL(TRIL_ERR_SHAPE, "%s: size overflows int64", name);
    return TRIL_OK;
}

/* Fills the zero ("dense") strides and the default scale in a copy. */
void tril_attention_resolve(tril_attention_args *a)
{
    int64_t hd = a->heads * a->head_dim;
    if (a->q_row_stride == 0) a->q_row_stride = hd;
    if (a->kv_row_stride == 0) a->kv_row_stride = hd;
    if (a->out_row_stride == 0) a->out_row_stride = hd;
    if (a->q_batch_stride == 0) a->q_batch_stride = a->q_len * a->q_row_stride;
    if (a->kv_batch_stride == 0 && !a->kv_page_table)
        a->kv_batch_stride = a->kv_len * a->kv_row_stride;
    if (a->out_batch_stride == 0) a->out_batch_stride = a->q_len * a->out_row_stride;
    if (a->scale == 0.0f) a->scale = (float)(1.0 / sqrt((double)a->head_dim));
    a->fill = tril_round_to_dtype(a->fill, a->dtype);
    if (a->kv_dtype == TRIL_F32) a->kv_dtype = a->dtype; /* the zero value: as the queries */
}

/* Paged K/V: the pool is one view of kv_pages * kv_page_rows rows, and every
 * table entry a sequence uses (the first ceil(Tk / rows)) names a page in
 * it, so the kernels' row offsets stay inside the pool. Entries past those
 * are never read; pages may be shared (a common prefix). */
static tril_status validate_pages(const tril_attention_args *a, int64_t hd)
{
    const int64_t rows = a->kv_page_rows, per_seq = a->kv_pages_per_seq;
    if (rows < 1)
        return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: kv_page_rows must be >= 1, got %lld",
                         (long long)rows);
    if (a->kv_pages < 1)
        return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: kv_pages must be >= 1, got %lld",
                         (long long)a->kv_pages);
    const int64_t used = a->kv_len / rows + (a->kv_len % rows != 0);
    if (per_seq < used)
        return TRIL_FAIL(TRIL_ERR_SHAPE,
                         "attention: kv_pages_per_seq %lld is smaller than the %lld pages of "
                         "%lld rows that kv_len %lld needs",
                         (long long)per_seq, (long long)used, (long long)rows,
                         (long long)a->kv_len);
    int64_t entries, pool_rows;
    if (!mul_ok(a->batch, per_seq, &entries) || (uint64_t)entries > SIZE_MAX / sizeof(int32_t))
        return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: page table size B*kv_pages_per_seq = "
                                         "%lld*%lld overflows", (long long)a->batch,
                         (long long)per_seq);
    if (!mul_ok(a->kv_pages, rows, &pool_rows))
        return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: page pool kv_pages*kv_page_rows = %lld*%lld "
                                         "overflows int64", (long long)a->kv_pages, (long long)rows);
    tril_status st = check_view("k/v page pool", 1, pool_rows, hd, a->kv_row_stride, 0);
    if (st != TRIL_OK) return st;
    for (int64_t b = 0; b < a->batch; b++)
        for (int64_t p = 0; p < used; p++) {
            const int32_t page = a->kv_page_table[b * per_seq + p];
            if (page < 0 || page >= a->kv_pages)
                return TRIL_FAIL(TRIL_ERR_RANGE,
                                 "attention: page table entry %lld of sequence %lld (keys from "
                                 "%lld) is %ld, not inside [0, %lld)",
                                 (long long)p, (long long)b, (long long)(p * rows), (long)page,
                                 (long long)a->kv_pages);
        }
    return TRIL_OK;
}

static tril_status validate_resolved(const tril_attention_args *a)
{
    if (!a->q || !a->k || !a->v || !a->out)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "attention: q, k, v and out must not be NULL");
    if ((unsigned)a->dtype > TRIL_BF16)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "attention: unknown dtype %d", (int)a->dtype);
    if ((unsigned)a->kv_dtype > TRIL_BF16)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "attention: unknown kv_dtype %d", (int)a->kv_dtype);
    if ((unsigned)a->mask > TRIL_MASK_NONE)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "attention: unknown mask mode %d", (int)a->mask);
    struct { const char *name; int64_t v; } dims[] = {
        {"batch", a->batch}, {"heads", a->heads}, {"head_dim", a->head_dim},
        {"q_len", a->q_len}, {"kv_len", a->kv_len}};
    for (int i = 0; i < COUNT_OF(dims); i++)
        if (dims[i].v <= 0)
            return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: %s must be >= 1, got %lld", dims[i].name,
                             (long long)dims[i].v);
    int64_t hd, rows;
    if (!mul_ok(a->heads, a->head_dim, &hd))
        return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: H*D = %lld*%lld overflows int64",
                         (long long)a->heads, (long long)a->head_dim);
    if (!mul_ok(a->batch, a->heads, &rows) || !mul_ok(rows, a->q_len, &rows))
        return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: B*H*Tq overflows int64");
    if (!isfinite(a->scale) || a->scale < 0.0f)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "attention: scale must be finite and >= 0");
    if (a->mask == TRIL_MASK_ADDITIVE || a->mask == TRIL_MASK_BOOLEAN) {
        if (isnan(a->fill) || a->fill > 0.0f)
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "attention: fill must be <= 0, got %g",
                             (double)a->fill);
    }
    tril_status st;
    if ((st = check_view("q", a->batch, a->q_len, hd, a->q_row_stride, a->q_batch_stride)) ||
        (st = a->kv_page_table ? validate_pages(a, hd)
                               : check_view("k/v", a->batch, a->kv_len, hd, a->kv_row_stride,
                                            a->kv_batch_stride)) ||
        (st = check_view("out", a->batch, a->q_len, hd, a->out_row_stride, a->out_batch_stride)))
        return st;
    for (int64_t b = 0; (a->key_start || a->key_end) && b < a->batch; b++) {
        int64_t start, end;
        attn_key_window(a, b, &start, &end);
        if (start < 0 || end > a->kv_len || start > end)
            return TRIL_FAIL(TRIL_ERR_RANGE,
                             "attention: padding window [%lld, %lld) of sequence %lld is not "
                             "inside [0, %lld]",
                             (long long)start, (long long)end, (long long)b, (long long)a->kv_len);
    }
    return TRIL_OK;
}

tril_status tril_attention_validate(const tril_attention_args *args)
{
    if (!args) return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "attention: args must not be NULL");
    tril_attention_args a = *args;
    /* Dims are checked before tril_attention_resolve() multiplies them. */
    if (a.heads > 0 && a.head_dim > 0 && a.q_len > 0 && a.kv_len > 0) {
        int64_t hd, tmp;
        if (!mul_ok(a.heads, a.head_dim, &hd) ||
            (a.q_row_stride == 0 && !mul_ok(a.q_len, hd, &tmp)) ||
            (a.kv_row_stride == 0 && !mul_ok(a.kv_len, hd, &tmp)) ||
            (a.q_row_stride > 0 && !mul_ok(a.q_len, a.q_row_stride, &tmp)) ||
            (a.kv_row_stride > 0 && !mul_ok(a.kv_len, a.kv_row_stride, &tmp)) ||
            (a.out_row_stride > 0 && !mul_ok(a.q_len, a.out_row_stride, &tmp)))
            return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: sizes overflow int64 (H=%lld, D=%lld)",
                             (long long)a.heads, (long long)a.head_dim);
        tril_attention_resolve(&a);
    }
    /* kv_batch_stride is unused when paged */
    if (a.q_row_stride < 0 || a.kv_row_stride < 0 || a.out_row_stride < 0 ||
        a.q_batch_stride < 0 || (a.kv_batch_stride < 0 && !a.kv_page_table) ||
        a.out_batch_stride < 0)
        return TRIL_FAIL(TRIL_ERR_SHAPE, "attention: strides must not be negative");
    /* Paging fields without a table would silently read the pool as one
     * contiguous cache */
    if (!a.kv_page_table && (a.kv_page_rows || a.kv_pages_per_seq || a.kv_pages))
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG,
                         "attention: kv_page_rows, kv_pages_per_seq and kv_pages are set but "
                         "kv_page_table is NULL (set all four for paged K/V, or none)");
    return validate_resolved(&a);
}

tril_status tril_attention_pick_kernel(const char *what, tril_attn_kernel kernel,
                                      const tril_attention_kernels **simd)
{
    tril_status st = tril_cpu_check_isa_env();
    if (st != TRIL_OK) return st;
    if ((unsigned)kernel >= TRIL_ATTN_KERNEL_COUNT)
        return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "%s: unknown kernel %d", what, (int)kernel);
    if (!tril_attn_kernel_available(kernel))
        return TRIL_FAIL(TRIL_ERR_UNSUPPORTED, "%s: kernel '%s' is not available on this CPU", what,
                         tril_attn_kernel_name(kernel));
    switch (kernel) {
    case TRIL_ATTN_REFERENCE: *simd = NULL; break;
    case TRIL_ATTN_SIMD_GENERIC:
        *simd = TRIL_ISA_TABLE_FOR(tril_attention_kernels, TRIL_ISA_GENERIC);
        break;
    case TRIL_ATTN_SIMD_AVX2: *simd = TRIL_ISA_TABLE_FOR(tril_attention_kernels, TRIL_ISA_AVX2); break;
    case TRIL_ATTN_SIMD_AVX512:
        *simd = TRIL_ISA_TABLE_FOR(tril_attention_kernels, TRIL_ISA_AVX512);
        break;
    default: *simd = TRIL_ISA_TABLE(tril_attention_kernels); break; /* AUTO, SIMD */
    }
    return TRIL_OK;
}

tril_status tril_attention_forward(const tril_attention_args *args, tril_attn_kernel kernel)
{
    tril_status st = tril_attention_validate(args);
    if (st != TRIL_OK) return st;
    const tril_attention_kernels *simd;
    if ((st = tril_attention_pick_kernel("attention", kernel, &simd)) != TRIL_OK) return st;
    tril_attention_args a = *args;
    tril_attention_resolve(&a);
    if (!simd) return tril_attention_reference(&a);
    if (a.q_len <= TRIL_DIRECT_MAX_ROWS) return simd->forward_direct(&a);
    /* the transposed kernel's windows are int32 lanes: beyond them (2^31
     * keys) the row-major kernel serves every mask */
    if ((a.mask == TRIL_MASK_STRUCTURAL || a.mask == TRIL_MASK_NONE) &&
        a.kv_len < INT32_MAX - TRIL_TRANSPOSED_KEY_TILE)
        return simd->forward_transposed(&a);
    return simd->forward_rowmajor(&a);
}

void tril_attention_free_workspace(void)
{
    const tril_isa isas[] = {TRIL_ISA_GENERIC, TRIL_ISA_AVX2, TRIL_ISA_AVX512};
    /* A team of the default size: the threads the kernels ran on. */
#pragma omp parallel
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (tril_cpu_supports(isas[i]))
            TRIL_ISA_TABLE_FOR(tril_attention_kernels, isas[i])->release_thread_buffers();
}
