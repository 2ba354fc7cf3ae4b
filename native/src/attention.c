// Causal multi-head self-attention, as src/engine/kernels/ts/attention.ts, with the four products
// of each (batch, head) pair done by single-threaded products (gemm_st) and the (b, h) pairs spread over
// the pool. Head h of q, k, v, out is a (T, D) matrix with row stride C, which gemm_st takes as is
// (lda = C), so nothing is copied. Causality: rows are cut into blocks of TB; a row block only
// multiplies the columns up to its end, which skips most of the upper triangle (at T = 256, 10 of
// 16 tiles are computed instead of 16). With bf16 (--dtype bfloat16, docs/dtype.md) the products are
// gemm_bf16_st's, which round every operand (q, k, v, the weights, dout, dS) to bfloat16 as they pack.
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include "gemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TB 64

typedef struct {
  float *out, *att, *dq, *dk, *dv, *scratch;
  const float *q, *k, *v, *mask, *dout, *catt;
  long B, T, C, NH, D;
  float scale;
  void (*mm)(int, int, long, long, long, float, const float *, long, const float *, long, int, float *, long); // gemm_st or gemm_bf16_st
  float *work; // per thread: T * T floats
} AttnJob;

// att rows t of one pair: softmax of the scaled scores over s <= t, zeros above the diagonal.
SIMD_INLINE void softmax_rows(float *a, long T, long t0, long t1) {
  for (long t = t0; t < t1; t++) {
    float *row = a + t * T;
    float max = -INFINITY;
    #pragma omp simd reduction(max : max)
    for (long s = 0; s <= t; s++) max = row[s] > max ? row[s] : max;
    for (long s = 0; s <= t; s++) row[s] -= max;
    vexpf(row, row, t + 1);
    double sum = 0;
    #pragma omp simd reduction(+ : sum)
    for (long s = 0; s <= t; s++) sum += row[s];
    const float inv = (float)(1 / sum);
    for (long s = 0; s <= t; s++) row[s] *= inv;
    for (long s = t + 1; s < T; s++) row[s] = 0;
  }
}

POOL_FN(attention_forward_pairs, i0, i1) {
  const AttnJob *j = p;
  const long T = j->T, C = j->C, D = j->D, NH = j->NH;
  for (long i = i0; i < i1; i++) { // i = b * NH + h
    const long b = i / NH, h = i % NH, o = b * T * C + h * D;
    const float *q = j->q + o, *k = j->k + o, *v = j->v + o;
    float *out = j->out + o, *att = j->att + i * T * T;
    for (long r0 = 0; r0 < T; r0 += TB) { // scores = scale * Q K^T, row block [r0, r1), columns [0, r1)
      const long r1 = r0 + TB < T ? r0 + TB : T;
      j->mm(0, 1, r1 - r0, r1, D, j->scale, q + r0 * C, C, k, C, 0, att + r0 * T, T);
    }
    softmax_rows(att, T, 0, T);
    const float *w = att; // the weights applied to v: att, or att * mask (dropout)
    if (j->mask) {
      float *wm = j->work + (long)tid * T * T;
      const float *m = j->mask + i * T * T;
      for (long x = 0; x < T * T; x++) wm[x] = att[x] * m[x];
      w = wm;
    }
    for (long r0 = 0; r0 < T; r0 += TB) { // out rows [r0, r1) = W[r0:r1, 0:r1] V[0:r1]
      const long r1 = r0 + TB < T ? r0 + TB : T;
      j->mm(0, 0, r1 - r0, D, r1, 1.0f, w + r0 * T, T, v, C, 0, out + r0 * C, C);
    }
  }
}

// dS = P (dP - rowsum(P dP)) scale, with dP = dW mask, for rows of one pair; zeros above the diagonal.
SIMD_INLINE void softmax_grad_rows(float *ds, const float *P, const float *m, long T, float scale) {
  for (long t = 0; t < T; t++) {
    float *d = ds + t * T;
    const float *pr = P + t * T;
    if (m) for (long s = 0; s <= t; s++) d[s] *= m[t * T + s];
    double dot = 0;
    #pragma omp simd reduction(+ : dot)
    for (long s = 0; s <= t; s++) dot += (double)pr[s] * d[s];
    const float fdot = (float)dot;
    for (long s = 0; s <= t; s++) d[s] = pr[s] * (d[s] - fdot) * scale;
    for (long s = t + 1; s < T; s++) d[s] = 0;
  }
}

POOL_FN(attention_backward_pairs, i0, i1) {
  const AttnJob *j = p;
  const long T = j->T, C = j->C, D = j->D, NH = j->NH;
  for (long i = i0; i < i1; i++) {
    const long b = i / NH, h = i % NH, o = b * T * C + h * D;
    const float *q = j->q + o, *k = j->k + o, *v = j->v + o, *dout = j->dout + o;
    float *dq = j->dq + o, *dk = j->dk + o, *dv = j->dv + o;
    const float *P = j->catt + i * T * T, *m = j->mask ? j->mask + i * T * T : NULL;
    float *ds = j->scratch + i * T * T;
    const float *w = P;
    if (m) {
      float *wm = j->work + (long)tid * T * T;
      for (long x = 0; x < T * T; x++) wm[x] = P[x] * m[x];
      w = wm;
    }
    for (long r0 = 0; r0 < T; r0 += TB) {
      const long r1 = r0 + TB < T ? r0 + TB : T, nr = r1 - r0;
      // dW rows [r0, r1), columns [0, r1) = dout V^T
      j->mm(0, 1, nr, r1, D, 1.0f, dout + r0 * C, C, v, C, 0, ds + r0 * T, T);
      // dv rows [r0, r1) += W[r0:T, r0:r1]^T dout[r0:T]   (only rows t >= s weight v[s])
      j->mm(1, 0, nr, D, T - r0, 1.0f, w + r0 * T + r0, T, dout + r0 * C, C, 1, dv + r0 * C, C);
    }
    softmax_grad_rows(ds, P, m, T, j->scale);
    for (long r0 = 0; r0 < T; r0 += TB) {
      const long r1 = r0 + TB < T ? r0 + TB : T, nr = r1 - r0;
      // dq rows [r0, r1) += dS[r0:r1, 0:r1] K[0:r1]
      j->mm(0, 0, nr, D, r1, 1.0f, ds + r0 * T, T, k, C, 1, dq + r0 * C, C);
      // dk rows [r0, r1) += dS[r0:T, r0:r1]^T Q[r0:T]
      j->mm(1, 0, nr, D, T - r0, 1.0f, ds + r0 * T + r0, T, q + r0 * C, C, 1, dk + r0 * C, C);
    }
  }
}

// The pairs run on the pool, each product on one thread.
static void run_pairs(pool_fn fn, AttnJob *j) {
  const long pairs = j->B * j->NH;
  j->work = NULL;
  if (j->mask) { // per-thread T x T buffer for att * mask
    j->work = malloc((size_t)pool_threads() * j->T * j->T * sizeof(float));
    if (!j->work) abort();
  }
  pool_run(pairs, 1, fn, j);
  free(j->work);
}

void nl_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, const float *mask,
  long B, long T, long C, long NH, int bf16) {
  if (B * T * NH == 0) return;
  AttnJob j = { .mm = bf16 ? gemm_bf16_st : gemm_st, .out = out, .att = att, .q = q, .k = k, .v = v, .mask = mask, .B = B, .T = T, .C = C, .NH = NH,
    .D = C / NH, .scale = (float)(1 / sqrt((double)(C / NH))) };
  run_pairs(attention_forward_pairs, &j);
}

void nl_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *att,
  const float *q, const float *k, const float *v, const float *mask, long B, long T, long C, long NH, int bf16) {
  if (B * T * NH == 0) return;
  AttnJob j = { .mm = bf16 ? gemm_bf16_st : gemm_st, .dq = dq, .dk = dk, .dv = dv, .scratch = scratch, .dout = dout, .catt = att, .q = q, .k = k, .v = v,
    .mask = mask, .B = B, .T = T, .C = C, .NH = NH, .D = C / NH, .scale = (float)(1 / sqrt((double)(C / NH))) };
  run_pairs(attention_backward_pairs, &j);
}
