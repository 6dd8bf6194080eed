/* Softmax numerators over the vocabulary, vectorised: the training loss's
 * (two libm double exps per logit took ~3% of a GPT-2 training step) and
 * the sampler's weights (libm's expf took ~0.3 ms a token on GPT-2's 50257
 * logits). Compiled once per instruction set; exp is the library's vector
 * exp (~1 ulp, exact 0 far below the max). */
#include <math.h>
#include <stdint.h>

#include "core/isa.h"
#include "core/simd.h"


/* Sums are taken in float over blocks of this many values, then in double:
 * accurate to ~1e-7 relative over a 50k vocabulary. */
#define SUM_BLOCK (16 * TRIL_VL)

double TRIL_ISA_FN(tril_softmax_xent_row)(float *row, int64_t V, int32_t target)
{
    const int64_t full = V / TRIL_VL * TRIL_VL;
    vf vmx = vbcast(-INFINITY);
    for (int64_t v = 0; v < full; v += TRIL_VL) vmx = vmax(vmx, vload(row + v));
    float mx = vhmax(vmx);
    for (int64_t v = full; v < V; v++) mx = row[v] > mx ? row[v] : mx;
    const float shifted_target = row[target] - mx;
    double sum = 0.0;
    int64_t v = 0;
    while (v < full) {
        const int64_t end = v + SUM_BLOCK < full ? v + SUM_BLOCK : full;
        vf block = vbcast(0.0f);
        for (; v < end; v += TRIL_VL) {
            const vf e = vexp(vload(row + v) - vbcast(mx));
            vstore(row + v, e);
            block += e;
        }
        sum += (double)vhsum(block);
    }
    for (; v < V; v++) {
        row[v] = vexp(vbcast(row[v] - mx))[0];
        sum += (double)row[v];
    }
    const vf inv = vbcast((float)(1.0 / sum));
    for (v = 0; v < full; v += TRIL_VL) vstore(row + v, vload(row + v) * inv);
    for (; v < V; v++) row[v] *= inv[0];
    return log(sum) - (double)shifted_target;
}

typedef double vdbl __attribute__((vector_size(TRIL_VL * sizeof(double))));

/* exp((l - mx) / T) with the difference and the division by T (as a
 * product with 1 / T) in double, so neither overflows whatever the logits
 * and temperature; lane by lane, so a value does not depend on where it
 * sits. */
VINLINE vf sample_weights_of(vf l, double mx, double inv_t)
{
    const vdbl q = (__builtin_convertvector(l, vdbl) - mx) * inv_t;
    return vexp(__builtin_convertvector(q, vf));
}

void TRIL_ISA_FN(tril_sample_weights)(float *w, const float *logits, int64_t n, double mx,
                                      double inv_t)
{
    const int64_t full = n / TRIL_VL * TRIL_VL;
    for (int64_t i = 0; i < full; i += TRIL_VL)
        vstore(w + i, sample_weights_of(vload(logits + i), mx, inv_t));
    if (full < n) { /* the tail, through a padded vector */
        float pad[TRIL_VL];
        for (int64_t c = 0; c < TRIL_VL; c++) pad[c] = full + c < n ? logits[full + c] : 0.0f;
        const vf out = sample_weights_of(vload(pad), mx, inv_t);
        for (int64_t c = 0; full + c < n; c++) w[full + c] = out[c];
    }
}
