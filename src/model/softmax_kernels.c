/* The training loss's softmax over the vocabulary, vectorised: two libm
 * double exps per logit took ~3% of a GPT-2 training step. Compiled once per
 * instruction set; exp is the library's vector exp (~1 ulp, exact 0 far
 * below the max). */
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
