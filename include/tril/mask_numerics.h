/* tril/mask_numerics.h - the masking numerics table, computed live.
 *
 * Each cell runs a kernel on a small constructed problem and measures:
 *   future_prob: the largest probability given to a key the row must not see
 *                (rows that came out NaN are counted in nan_rows instead);
 *   nan_rows:    how many query rows contain a NaN.
 *
 * Methods: "textbook" (scores + fill stored in the dtype, then a
 * max-subtracting softmax with no special case, as picoGPT and the tutorials
 * write it) and "tril" (the library's own kernel, structural mask). */
#ifndef TRIL_MASK_NUMERICS_H
#define TRIL_MASK_NUMERICS_H

#include <stddef.h>
#include <stdint.h>

#include "tril/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TRIL_SCENARIO_NORMAL = 0,       /* square causal problem, ordinary scores */
    TRIL_SCENARIO_FULLY_MASKED_ROW, /* left padding: the first rows see no key */
    TRIL_SCENARIO_SCORES_BELOW_1E4, /* visible scores around -2e4, below some fills */
    TRIL_SCENARIO_Q_LONGER_THAN_K,  /* Tq > Tk: the top rows have no visible key */
    TRIL_SCENARIO_COUNT
} tril_scenario;

typedef enum {
    TRIL_METHOD_TEXTBOOK = 0,
    TRIL_METHOD_TRIL = 1
} tril_numerics_method;

/* "normal", "fully_masked_row", "scores_below_-1e4", "q_longer_than_k" */
const char *tril_scenario_name(tril_scenario scenario);
/* "textbook", "tril" */
const char *tril_numerics_method_name(tril_numerics_method method);

typedef struct {
    tril_numerics_method method;
    tril_fill fill;           /* the fill the textbook method adds; unused by tril */
    tril_dtype dtype;
    tril_scenario scenario;
    double future_prob;       /* largest probability on a key the row must not see */
    int64_t nan_rows;         /* rows with a NaN */
    int64_t rows;             /* query rows in the problem */
} tril_numerics_cell;

/* Runs one cell (method, fill, dtype, scenario are inputs; the rest outputs). */
tril_status tril_mask_numerics_run(tril_numerics_cell *cell, uint64_t seed);

/* Number of cells in the full table: (6 fills + tril) x 3 dtypes x 4 scenarios. */
size_t tril_mask_numerics_table_size(void);

/* Fills `cells` (capacity >= table size) with every cell, in table order
 * (method, fill, dtype, scenario), running each. */
tril_status tril_mask_numerics_table(tril_numerics_cell *cells, size_t capacity, uint64_t seed);

/* The textbook kernel on its own: probabilities of a [Tq, Tk] score matrix
 * (already scaled) under a visibility matrix (1 = visible), with `fill` added
 * to masked scores, everything stored in `dtype`. Writes probs [Tq, Tk]. No
 * guard: a row whose max is -inf becomes NaN, as in the tutorials. */
tril_status tril_textbook_softmax(const float *scores, const uint8_t *visible, int64_t q_len,
                                  int64_t kv_len, float fill, tril_dtype dtype, float *probs);

#ifdef __cplusplus
}
#endif
#endif
