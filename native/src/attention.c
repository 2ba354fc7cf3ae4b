// Causal multi-head self-attention without T x T storage, as src/engine/kernels/ts/attention.ts
// (the definition; docs/memory.md, "Attention"). Head h of q, k, v, out is a (T, D) matrix with row
// stride C, which gemm_st takes as is (lda = C), so nothing is copied.
//
// The work is cut into strips: rows [r0, r1) of one (batch, head) pair against the keys [0, r1) they
// can see (causal). A strip's scores live in a per-thread buffer of rb x T floats (rb = 64 rows, fewer
// for long contexts so that a strip stays about 256 KB, in L2), never the whole T x T matrix.
// Forward: per strip, S = scale Q K^T (one product), the exact softmax of each row (its max m and sum
// Z are saved: stats), the dropout keep factors from the counter hash, out = W V (one product); the
// strips of every pair run in parallel. Backward: per pair, strip by strip in order, P is recomputed
// from S, m and Z (the same product and the same arithmetic as forward, so the same bits), then
//   dW = dO V^T, dv += W^T dO, dS = P (dW keep - D) scale with D = rowsum(dO o out),
//   dq += dS K, dk += dS^T Q;
// the pairs run in parallel, and dk, dv of a pair are summed over its strips in order, so results are
// the same bits for any thread count.
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include "gemm.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  float *out, *stats, *dq, *dk, *dv;
  const float *q, *k, *v, *dout, *o;
  long B, T, C, NH, D, rb, nrb;
  float scale;
  // gemm_st, or gemm_bf16_st with --dtype bfloat16 (docs/dtype.md): that one rounds every operand of
  // the products (q, k, v, W = P keep, dout, dS) to bfloat16 as it packs; D = dout . out is not rounded.
  void (*mm)(int, int, long, long, long, float, const float *, long, const float *, long, int, float *, long);
  double p;        // dropout probability (0: none)
  uint32_t seed;
  float *work;     // per thread: 3 (forward) or 4 (backward) strips of rb x T floats
} AttnJob;

// The counter hash of src/engine/kernels/ts/attention.ts (mix32, attnRowKey, attnKept).
SIMD_INLINE uint32_t mix32(uint32_t x) {
  x ^= x >> 16; x *= 0x7feb352du;
  x ^= x >> 15; x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}
SIMD_INLINE uint32_t row_key(uint32_t seed, uint32_t i, uint32_t t) { return mix32(mix32(seed ^ mix32(i)) ^ t); }

// keep[s] = 1/(1-p) or 0 for s < n of the row with key rk.
SIMD_INLINE void keep_row(float *keep, uint32_t rk, long n, double p) {
  const float ks = (float)(1 / (1 - p));
  const double thr = p * 16777216.0;
  for (long s = 0; s < n; s++) {
    const uint32_t h = mix32(rk + (uint32_t)s * 0x9e3779b9u);
    keep[s] = (double)(h >> 8) >= thr ? ks : 0.0f;
  }
}

// Rows of a strip, softmax of the n = t + 1 visible scores of each (m and Z saved); zeros up to
// ncol. With a stats array already filled (backward), m and Z are read instead of computed; the
// arithmetic from S to P is the same either way.
SIMD_INLINE void softmax_strip(float *S, long ld, long r0, long r1, long ncol, float *stats, int read) {
  for (long t = r0; t < r1; t++) {
    float *row = S + (t - r0) * ld;
    const long n = t + 1;
    float max;
    double sum;
    if (read) { max = stats[2 * t]; sum = stats[2 * t + 1]; }
    else {
      max = -INFINITY;
      #pragma omp simd reduction(max : max)
      for (long s = 0; s < n; s++) max = row[s] > max ? row[s] : max;
    }
    for (long s = 0; s < n; s++) row[s] -= max;
    vexpf(row, row, n);
    if (!read) {
      sum = 0;
      #pragma omp simd reduction(+ : sum)
      for (long s = 0; s < n; s++) sum += row[s];
      stats[2 * t] = max; stats[2 * t + 1] = (float)sum;
    }
    const float inv = (float)(1 / (double)stats[2 * t + 1]);
    for (long s = 0; s < n; s++) row[s] *= inv;
    for (long s = n; s < ncol; s++) row[s] = 0;
  }
}

// The dropout factors of a strip's rows into K (zeros past each row's end), and W = P K into W.
SIMD_INLINE void dropout_strip(float *W, float *K, const float *P, long ld, long r0, long r1, long ncol,
  uint32_t seed, uint32_t pair, double p) {
  for (long t = r0; t < r1; t++) {
    const long o = (t - r0) * ld, n = t + 1;
    keep_row(K + o, row_key(seed, pair, (uint32_t)t), n, p);
    for (long s = n; s < ncol; s++) K[o + s] = 0;
    for (long s = 0; s < ncol; s++) W[o + s] = P[o + s] * K[o + s];
  }
}

POOL_FN(attention_forward_strips, i0, i1) {
  const AttnJob *j = p;
  const long T = j->T, C = j->C, D = j->D, NH = j->NH, rb = j->rb, ld = T;
  float *S = j->work + (long)tid * 3 * rb * T, *K = S + rb * T, *W = K + rb * T;
  for (long it = i0; it < i1; it++) { // it = pair * nrb + strip
    const long i = it / j->nrb, r0 = (it % j->nrb) * rb, r1 = r0 + rb < T ? r0 + rb : T;
    const long b = i / NH, h = i % NH, o = b * T * C + h * D;
    const float *q = j->q + o, *k = j->k + o, *v = j->v + o;
    float *stats = j->stats + i * T * 2;
    j->mm(0, 1, r1 - r0, r1, D, j->scale, q + r0 * C, C, k, C, 0, S, ld);
    softmax_strip(S, ld, r0, r1, r1, stats, 0);
    const float *w = S;
    if (j->p > 0) { dropout_strip(W, K, S, ld, r0, r1, r1, j->seed, (uint32_t)i, j->p); w = W; }
    j->mm(0, 0, r1 - r0, D, r1, 1.0f, w, ld, v, C, 0, j->out + o + r0 * C, C);
  }
}

POOL_FN(attention_backward_pairs, i0, i1) {
  const AttnJob *j = p;
  const long T = j->T, C = j->C, D = j->D, NH = j->NH, rb = j->rb, ld = T;
  float *P = j->work + (long)tid * 4 * rb * T, *G = P + rb * T, *K = G + rb * T;
  for (long i = i0; i < i1; i++) {
    const long b = i / NH, h = i % NH, o = b * T * C + h * D;
    const float *q = j->q + o, *k = j->k + o, *v = j->v + o, *dout = j->dout + o, *out = j->o + o;
    float *dq = j->dq + o, *dk = j->dk + o, *dv = j->dv + o, *stats = j->stats + i * T * 2;
    for (long r0 = 0; r0 < T; r0 += rb) {
      const long r1 = r0 + rb < T ? r0 + rb : T, nr = r1 - r0;
      j->mm(0, 1, nr, r1, D, j->scale, q + r0 * C, C, k, C, 0, P, ld);
      softmax_strip(P, ld, r0, r1, r1, stats, 1);
      // G = dW = dO V^T (rows [r0, r1), keys [0, r1))
      j->mm(0, 1, nr, r1, D, 1.0f, dout + r0 * C, C, v, C, 0, G, ld);
      if (j->p > 0) {
        float *W = K + rb * T; // the fourth strip of this thread's work: W = P keep
        dropout_strip(W, K, P, ld, r0, r1, r1, j->seed, (uint32_t)i, j->p);
        j->mm(1, 0, r1, D, nr, 1.0f, W, ld, dout + r0 * C, C, 1, dv, C);
        for (long x = 0; x < nr; x++) for (long s = 0; s < r1; s++) G[x * ld + s] *= K[x * ld + s];
      } else {
        j->mm(1, 0, r1, D, nr, 1.0f, P, ld, dout + r0 * C, C, 1, dv, C);
      }
      for (long t = r0; t < r1; t++) { // dS = P (dP - D) scale, D = dout[t] . out[t]
        float *g = G + (t - r0) * ld;
        const float *pr = P + (t - r0) * ld;
        double dd = 0;
        #pragma omp simd reduction(+ : dd)
        for (long d = 0; d < D; d++) dd += (double)dout[t * C + d] * out[t * C + d];
        const float fd = (float)dd;
        for (long s = 0; s < r1; s++) g[s] = pr[s] * (g[s] - fd) * j->scale;
      }
      j->mm(0, 0, nr, D, r1, 1.0f, G, ld, k, C, 1, dq + r0 * C, C);
      j->mm(1, 0, r1, D, nr, 1.0f, G, ld, q + r0 * C, C, 1, dk, C);
    }
  }
}

// Rows per strip: 64, or fewer for long contexts so that one strip (rb x T floats) stays near 256 KB.
static long strip_rows(long T) {
  long rb = 64;
  while (rb > 8 && rb * T > 65536) rb /= 2;
  return rb;
}

static void run(pool_fn fn, AttnJob *j, long items, int strips) {
  j->rb = strip_rows(j->T);
  j->nrb = (j->T + j->rb - 1) / j->rb;
  j->work = malloc((size_t)pool_threads() * strips * j->rb * j->T * sizeof(float));
  if (!j->work) abort();
  pool_run(items, 1, fn, j);
  free(j->work);
}

void nl_attention_forward(float *out, float *stats, const float *q, const float *k, const float *v, double p,
  uint32_t seed, long B, long T, long C, long NH, int bf16) {
  if (B * T * NH == 0) return;
  AttnJob j = { .mm = bf16 ? gemm_bf16_st : gemm_st, .out = out, .stats = stats, .q = q, .k = k, .v = v, .B = B, .T = T, .C = C, .NH = NH,
    .D = C / NH, .scale = (float)(1 / sqrt((double)(C / NH))), .p = p, .seed = seed };
  const long rb = strip_rows(T);
  run(attention_forward_strips, &j, B * NH * ((T + rb - 1) / rb), 3);
}

void nl_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *o, float *stats,
  const float *q, const float *k, const float *v, double p, uint32_t seed, long B, long T, long C, long NH, int bf16) {
  if (B * T * NH == 0) return;
  AttnJob j = { .mm = bf16 ? gemm_bf16_st : gemm_st, .dq = dq, .dk = dk, .dv = dv, .dout = dout, .o = o, .stats = stats, .q = q, .k = k, .v = v,
    .B = B, .T = T, .C = C, .NH = NH, .D = C / NH, .scale = (float)(1 / sqrt((double)(C / NH))), .p = p, .seed = seed };
  run(attention_backward_pairs, &j, B * NH, 4);
}
