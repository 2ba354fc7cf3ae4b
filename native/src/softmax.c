// Attention with a softmax variant (src/nn/softmax/score-attention.ts is the definition; docs/softmax.md).
// Two ways in:
//   - the four stages (scores, values, their backward), for the variants whose transform runs in
//     TypeScript between them (the row variants and pfla_softmax);
//   - fused elementwise attention: scores, the elementwise transform and the weighted sum in one
//     pass per (batch, head) pair while the pair's rows are in cache, and its backward. No row
//     reduction at all: the point of the elementwise variants. The transform is one of a few kinds
//     (ScoreFn), which the variants' files fill in (their `native` adapters).
// Products as native/src/attention.c: gemm_st per pair, causal row blocks of TB, pairs on the pool.
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include "gemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TB 64

typedef struct {
  float *out, *P, *S, *dq, *dk, *dv, *dS;
  const float *q, *k, *v, *mask, *dout, *cP, *cS;
  long B, T, C, NH, D;
  float scale;
  const float *c;  // the kind's constants (ScoreFn kinds below)
  const float *hp; // per head: 3 values (exp kind: beta, amax, g)
  int kind;
  double *sums;    // per pair: 2 sums (exp kind backward)
  float *work;     // per thread: T * T floats (P * mask)
} SJob;

// Elementwise kinds, P = f(S) (constants c[0..5]):
//   1 exp:        a = min(S - beta_h, amax_h); P = exp(c0 a) g_h         (consmax family; c0 = ln b)
//   2 relu:       c0 max(S, 0)            3 relu2: c0 max(S, 0)^2       4 sigmoid: c0 sigma(S)
//   5 softplus:   c0 (S > 20 ? S : log1p(e^S))                          6 squareplus: c0 (S + sqrt(S^2 + c1)) / 2
//   7 polymax:    c0 (S > 0 ? S^c4 + c3 : S >= c1 ? c2 S + c3 : 0)     (c1 = x0, c2 = slope, c3 = y0, c4 = p)
//   8 exppolymax: c0 (S < 0 ? e^(c1 S) : (S + c2)^c4 + c3)              (c1 = ln b, c2 = shift k)
enum { SK_EXP = 1, SK_RELU, SK_RELU2, SK_SIGMOID, SK_SOFTPLUS, SK_SQUAREPLUS, SK_POLY, SK_EXPPOLY };

// The kinds' loops over the visible part of a pair's rows, the switch hoisted out so that each loop
// vectorizes: EACH_ROW(body) runs body with x = S[t, s], o = &out[t, s] for s <= t.
#define EACH_ROW(out, S, T, body)                                                   \
  for (long t = 0; t < T; t++) {                                                    \
    float *orow = (out) + t * (T);                                                  \
    const float *srow = (S) + t * (T);                                              \
    _Pragma("omp simd")                                                             \
    for (long s = 0; s <= t; s++) { const float x = srow[s]; float *o = orow + s; body; } \
  }

// P = f(S) for the pointwise kinds (masked entries are written by the caller).
SIMD_INLINE void pointwise_rows(int kind, const float *c, float *P, const float *S, long T) {
  const float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4];
  switch (kind) {
    case SK_RELU: EACH_ROW(P, S, T, *o = x > 0 ? c0 * x : 0); break;
    case SK_RELU2: EACH_ROW(P, S, T, *o = x > 0 ? c0 * x * x : 0); break;
    // The exponentials of a row through vexpf (vectorized), the rest elementwise.
    case SK_SIGMOID:
      for (long t = 0; t < T; t++) {
        float *o = P + t * T;
        const float *x = S + t * T;
        for (long s = 0; s <= t; s++) o[s] = -x[s];
        vexpf(o, o, t + 1);
        for (long s = 0; s <= t; s++) o[s] = c0 / (1 + o[s]);
      }
      break;
    case SK_SOFTPLUS:
      for (long t = 0; t < T; t++) {
        float *o = P + t * T;
        const float *x = S + t * T;
        for (long s = 0; s <= t; s++) o[s] = x[s] < 20 ? x[s] : 20;
        vexpf(o, o, t + 1);
        vlog1pf(o, o, t + 1);
        for (long s = 0; s <= t; s++) o[s] = c0 * (x[s] > 20 ? x[s] : o[s]);
      }
      break;
    case SK_SQUAREPLUS: EACH_ROW(P, S, T, *o = c0 * 0.5f * (x + sqrtf(x * x + c1))); break;
    case SK_POLY:
      if (c4 == 2) EACH_ROW(P, S, T, *o = c0 * (x > 0 ? x * x + c3 : x >= c1 ? c2 * x + c3 : 0))
      else EACH_ROW(P, S, T, *o = c0 * (x > 0 ? powf(x, c4) + c3 : x >= c1 ? c2 * x + c3 : 0))
      break;
    case SK_EXPPOLY:
      for (long t = 0; t < T; t++) {
        float *o = P + t * T;
        const float *x = S + t * T;
        for (long s = 0; s <= t; s++) o[s] = c1 * (x[s] < 0 ? x[s] : 0);
        vexpf(o, o, t + 1);
        if (c4 == 2) for (long s = 0; s <= t; s++) { const float y = (x[s] > 0 ? x[s] : 0) + c2; o[s] = c0 * (x[s] < 0 ? o[s] : y * y + c3); }
        else for (long s = 0; s <= t; s++) o[s] = c0 * (x[s] < 0 ? o[s] : powf(x[s] + c2, c4) + c3);
      }
      break;
  }
}

// dS = dP f'(S) in place (d holds dP) for the pointwise kinds.
SIMD_INLINE void pointwise_grad_rows(int kind, const float *c, float *d, const float *S, long T) {
  const float c0 = c[0], c1 = c[1], c2 = c[2], c4 = c[4];
  if (kind == SK_SIGMOID || kind == SK_SOFTPLUS || kind == SK_EXPPOLY) {
    float e[T]; // one row's exponentials (vexpf), then the elementwise rest
    for (long t = 0; t < T; t++) {
      float *g = d + t * T;
      const float *x = S + t * T;
      const long n = t + 1;
      if (kind == SK_EXPPOLY) for (long s = 0; s < n; s++) e[s] = c1 * (x[s] < 0 ? x[s] : 0);
      else for (long s = 0; s < n; s++) e[s] = -x[s];
      vexpf(e, e, n);
      if (kind == SK_SIGMOID) for (long s = 0; s < n; s++) { const float q = 1 / (1 + e[s]); g[s] *= c0 * q * (1 - q); }
      else if (kind == SK_SOFTPLUS) for (long s = 0; s < n; s++) g[s] *= c0 * (x[s] > 20 ? 1 : 1 / (1 + e[s]));
      else if (c4 == 2) for (long s = 0; s < n; s++) g[s] *= c0 * (x[s] < 0 ? c1 * e[s] : 2 * ((x[s] > 0 ? x[s] : 0) + c2));
      else for (long s = 0; s < n; s++) g[s] *= c0 * (x[s] < 0 ? c1 * e[s] : c4 * powf(x[s] + c2, c4 - 1));
    }
    return;
  }
  switch (kind) {
    case SK_RELU: EACH_ROW(d, S, T, *o *= x > 0 ? c0 : 0); break;
    case SK_RELU2: EACH_ROW(d, S, T, *o *= x > 0 ? 2 * c0 * x : 0); break;
    case SK_SQUAREPLUS: EACH_ROW(d, S, T, *o *= c0 * 0.5f * (1 + x / sqrtf(x * x + c1))); break;
    case SK_POLY:
      if (c4 == 2) EACH_ROW(d, S, T, *o *= c0 * (x > 0 ? 2 * x : x >= c1 ? c2 : 0))
      else EACH_ROW(d, S, T, *o *= c0 * (x > 0 ? c4 * powf(x, c4 - 1) : x >= c1 ? c2 : 0))
      break;
  }
}

// Scores of one pair: S = scale q k^T for s <= t, 0 above the diagonal.
SIMD_INLINE void pair_scores(float *S, const float *q, const float *k, long T, long C, long D, float scale) {
  for (long r0 = 0; r0 < T; r0 += TB) {
    const long r1 = r0 + TB < T ? r0 + TB : T;
    gemm_st(0, 1, r1 - r0, r1, D, scale, q + r0 * C, C, k, C, 0, S + r0 * T, T);
  }
  for (long t = 0; t < T; t++) memset(S + t * T + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
}

// out rows = (P * mask) v for one pair (w: P, or P * mask in the thread's work buffer).
SIMD_INLINE const float *pair_weights(const SJob *j, const float *P, long i, int tid) {
  if (!j->mask) return P;
  const long TT = j->T * j->T;
  float *wm = j->work + (long)tid * TT;
  const float *m = j->mask + i * TT;
  for (long x = 0; x < TT; x++) wm[x] = P[x] * m[x];
  return wm;
}
SIMD_INLINE void pair_values(float *out, const float *w, const float *v, long T, long C, long D) {
  for (long r0 = 0; r0 < T; r0 += TB) {
    const long r1 = r0 + TB < T ? r0 + TB : T;
    gemm_st(0, 0, r1 - r0, D, r1, 1.0f, w + r0 * T, T, v, C, 0, out + r0 * C, C);
  }
}

// The elementwise transform of one pair's rows: P from S (masked entries 0).
SIMD_INLINE void pair_transform(const SJob *j, float *P, const float *S, long h) {
  const long T = j->T;
  const float *c = j->c;
  if (j->kind == SK_EXP) {
    const float beta = j->hp[3 * h], amax = j->hp[3 * h + 1], g = j->hp[3 * h + 2], kb = c[0];
    for (long t = 0; t < T; t++) {
      float *pr = P + t * T;
      const float *sr = S + t * T;
      #pragma omp simd
      for (long s = 0; s <= t; s++) { const float a = sr[s] - beta; pr[s] = kb * (a < amax ? a : amax); }
      vexpf(pr, pr, t + 1);
      #pragma omp simd
      for (long s = 0; s <= t; s++) pr[s] *= g;
      memset(pr + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
    }
    return;
  }
  pointwise_rows(j->kind, c, P, S, T);
  for (long t = 0; t < T; t++) memset(P + t * T + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
}

#define PAIR_SETUP                                                                     \
  const SJob *j = p;                                                                   \
  const long T = j->T, C = j->C, D = j->D, NH = j->NH, TT = T * T;                     \
  (void)TT; (void)NH

POOL_FN(scores_pairs, i0, i1) {
  PAIR_SETUP;
  for (long i = i0; i < i1; i++) {
    const long o = (i / NH) * T * C + (i % NH) * D;
    pair_scores(j->S + i * TT, j->q + o, j->k + o, T, C, D, j->scale);
  }
}

POOL_FN(values_pairs, i0, i1) {
  PAIR_SETUP;
  for (long i = i0; i < i1; i++) {
    const long o = (i / NH) * T * C + (i % NH) * D;
    pair_values(j->out + o, pair_weights(j, j->cP + i * TT, i, tid), j->v + o, T, C, D);
  }
}

POOL_FN(elem_forward_pairs, i0, i1) {
  PAIR_SETUP;
  for (long i = i0; i < i1; i++) {
    const long o = (i / NH) * T * C + (i % NH) * D;
    float *S = j->S + i * TT, *P = j->P + i * TT;
    pair_scores(S, j->q + o, j->k + o, T, C, D, j->scale);
    pair_transform(j, P, S, i % NH);
    pair_values(j->out + o, pair_weights(j, P, i, tid), j->v + o, T, C, D);
  }
}

// dP rows of one pair = (dout v^T) * mask (0 above the diagonal), dv += (P * mask)^T dout.
SIMD_INLINE void pair_dvalues(const SJob *j, float *dP, float *dv, const float *dout, const float *P, const float *v, long i, int tid) {
  const long T = j->T, C = j->C, D = j->D, TT = T * T;
  const float *w = pair_weights(j, P, i, tid), *m = j->mask ? j->mask + i * TT : NULL;
  for (long r0 = 0; r0 < T; r0 += TB) {
    const long r1 = r0 + TB < T ? r0 + TB : T, nr = r1 - r0;
    gemm_st(0, 1, nr, r1, D, 1.0f, dout + r0 * C, C, v, C, 0, dP + r0 * T, T);
    gemm_st(1, 0, nr, D, T - r0, 1.0f, w + r0 * T + r0, T, dout + r0 * C, C, 1, dv + r0 * C, C);
  }
  for (long t = 0; t < T; t++) {
    float *d = dP + t * T;
    if (m) for (long s = 0; s <= t; s++) d[s] *= m[t * T + s];
    memset(d + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
  }
}

// dq += dS k alpha, dk += dS^T q alpha for one pair.
SIMD_INLINE void pair_dscores(float *dq, float *dk, const float *dS, const float *q, const float *k, long T, long C, long D, float alpha) {
  for (long r0 = 0; r0 < T; r0 += TB) {
    const long r1 = r0 + TB < T ? r0 + TB : T, nr = r1 - r0;
    gemm_st(0, 0, nr, D, r1, alpha, dS + r0 * T, T, k, C, 1, dq + r0 * C, C);
    gemm_st(1, 0, nr, D, T - r0, alpha, dS + r0 * T + r0, T, q + r0 * C, C, 1, dk + r0 * C, C);
  }
}

POOL_FN(values_backward_pairs, i0, i1) {
  PAIR_SETUP;
  for (long i = i0; i < i1; i++) {
    const long o = (i / NH) * T * C + (i % NH) * D;
    pair_dvalues(j, j->dS + i * TT, j->dv + o, j->dout + o, j->cP + i * TT, j->v + o, i, tid);
  }
}

POOL_FN(scores_backward_pairs, i0, i1) {
  PAIR_SETUP;
  for (long i = i0; i < i1; i++) {
    const long o = (i / NH) * T * C + (i % NH) * D;
    pair_dscores(j->dq + o, j->dk + o, j->dS + i * TT, j->q + o, j->k + o, T, C, D, j->scale);
  }
}

POOL_FN(elem_backward_pairs, i0, i1) {
  PAIR_SETUP;
  for (long i = i0; i < i1; i++) {
    const long o = (i / NH) * T * C + (i % NH) * D, h = i % NH;
    float *dS = j->dS + i * TT;
    const float *P = j->cP + i * TT, *S = j->cS + i * TT;
    pair_dvalues(j, dS, j->dv + o, j->dout + o, P, j->v + o, i, tid);
    // dS = dP f'(S) (dP is in dS); the exp kind also sums dP P per pair (all, and unclamped).
    if (j->kind == SK_EXP) {
      const float beta = j->hp[3 * h], amax = j->hp[3 * h + 1], kb = j->c[0];
      double all = 0, unclamped = 0;
      for (long t = 0; t < T; t++) {
        float *d = dS + t * T;
        const float *pr = P + t * T, *sr = S + t * T;
        for (long s = 0; s <= t; s++) {
          const float gp = d[s] * pr[s];
          all += gp;
          if (sr[s] - beta < amax) { unclamped += gp; d[s] = gp * kb; } else d[s] = 0;
        }
      }
      j->sums[2 * i] = all; j->sums[2 * i + 1] = unclamped;
    } else {
      pointwise_grad_rows(j->kind, j->c, dS, S, T);
    }
    pair_dscores(j->dq + o, j->dk + o, dS, j->q + o, j->k + o, T, C, D, j->scale);
  }
}

static void run(pool_fn fn, SJob *j) {
  j->D = j->C / j->NH;
  j->scale = (float)(1 / sqrt((double)j->D));
  j->work = NULL;
  if (j->B * j->T * j->NH == 0) return;
  if (j->mask) {
    j->work = malloc((size_t)pool_threads() * j->T * j->T * sizeof(float));
    if (!j->work) abort();
  }
  pool_run(j->B * j->NH, 1, fn, j);
  free(j->work);
}

void nl_score_attention_scores(float *S, const float *q, const float *k, long B, long T, long C, long NH) {
  SJob j = { .S = S, .q = q, .k = k, .B = B, .T = T, .C = C, .NH = NH };
  run(scores_pairs, &j);
}

void nl_score_attention_values(float *out, const float *P, const float *v, const float *mask, long B, long T, long C, long NH) {
  SJob j = { .out = out, .cP = P, .v = v, .mask = mask, .B = B, .T = T, .C = C, .NH = NH };
  run(values_pairs, &j);
}

void nl_score_attention_values_backward(float *dP, float *dv, const float *dout, const float *P, const float *v, const float *mask,
  long B, long T, long C, long NH) {
  SJob j = { .dS = dP, .dv = dv, .dout = dout, .cP = P, .v = v, .mask = mask, .B = B, .T = T, .C = C, .NH = NH };
  run(values_backward_pairs, &j);
}

void nl_score_attention_scores_backward(float *dq, float *dk, const float *dS, const float *q, const float *k,
  long B, long T, long C, long NH) {
  SJob j = { .dq = dq, .dk = dk, .dS = (float *)dS, .q = q, .k = k, .B = B, .T = T, .C = C, .NH = NH };
  run(scores_backward_pairs, &j);
}

void nl_elem_attention_forward(float *out, float *P, float *S, const float *q, const float *k, const float *v, const float *mask,
  long B, long T, long C, long NH, int kind, const float *c, const float *hp) {
  SJob j = { .out = out, .P = P, .S = S, .q = q, .k = k, .v = v, .mask = mask, .B = B, .T = T, .C = C, .NH = NH,
    .kind = kind, .c = c, .hp = hp };
  run(elem_forward_pairs, &j);
}

void nl_elem_attention_backward(float *dq, float *dk, float *dv, float *scratch, double *sums, const float *dout, const float *P,
  const float *S, const float *q, const float *k, const float *v, const float *mask, long B, long T, long C, long NH,
  int kind, const float *c, const float *hp) {
  SJob j = { .dq = dq, .dk = dk, .dv = dv, .dS = scratch, .sums = sums, .dout = dout, .cP = P, .cS = S, .q = q, .k = k,
    .v = v, .mask = mask, .B = B, .T = T, .C = C, .NH = NH, .kind = kind, .c = c, .hp = hp };
  run(elem_backward_pairs, &j);
}
