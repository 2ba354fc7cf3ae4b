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
#include "softmax.h"
#include "quant.h"
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
  float *work;     // per thread: `strips` strips of rb x T floats (run's argument)
  int strips;
  // The extended kernel (softmax variants and quantizers; docs/softmax.md "Inside the attention kernel"):
  ScoreSpec sc;
  Quant qs, qp;    // the scores' and the weights' quantizers (on = 0: off or passing unchanged)
  int pass;        // forward: 0 the main pass, else a pre-pass (PASS_*)
  float *imn, *imx, *iam; // per (pair, strip) item: min, max, max|x| of a statistics pre-pass, or the decision's max
  double *rsum;    // per row (B NH T): sum |x| of a statistics pre-pass
  double *sums;    // per pair: G parameter-gradient sums (backward)
  long G;
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

// Rows of a strip in place, softmax.h's softmax_row of the n = t + 1 visible scores of each (m and Z
// saved in stats, or read from there with read = 1: backward); zeros up to ncol.
SIMD_INLINE void softmax_strip(float *S, long ld, long r0, long r1, long ncol, float *stats, int read) {
  for (long t = r0; t < r1; t++) {
    float *row = S + (t - r0) * ld;
    softmax_row(row, row, t + 1, &stats[2 * t], &stats[2 * t + 1], read);
    for (long s = t + 1; s < ncol; s++) row[s] = 0;
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
  float *S = j->work + (long)tid * j->strips * rb * T, *K = S + rb * T, *W = K + rb * T;
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
  float *P = j->work + (long)tid * j->strips * rb * T, *G = P + rb * T, *K = G + rb * T;
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
  j->strips = strips;
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

// ---- The extended kernel: softmax variants and the in-attention quantizers inside the strips ----------
// (docs/softmax.md "Inside the attention kernel", docs/quantization.md "Attention"; the definition is
// src/engine/kernels/ts/attention.ts with the variant's own TypeScript transform.) Per row t of a strip:
// S = scale q k^T; S' = Q_S(S); P = the variant's transform of S' (softmax.h; row kinds save m, Z);
// P' = Q_P(P); W = P' keep; out = W V. Q_S and Q_P have one scale per call, so forward first runs the
// pre-passes it needs, each a strip loop recomputing S: the scores' statistics, the call's decision
// (strongermax's overflow recompute), the weights' statistics. Backward recomputes S', P, P' with the
// saved state and passes gradients straight through both quantizers.
enum { PASS_MAIN = 0, PASS_S, PASS_DECIDE, PASS_P };

// x[0..n) of row t of pair i through quantizer q (quantize.c's float32 arithmetic; stochastic rounding
// draws u from the dropout hash under the quantizer's seed).
SIMD_INLINE void quant_row(float *x, long n, const Quant *q, uint32_t pair, uint32_t t) {
  if (!q->on) return;
  if (q->method != 2) { quant_values(x, x, n, q); return; }
  const uint32_t rk = row_key(q->seed, pair, t);
  for (long s = 0; s < n; s++) x[s] = quant_stochastic(x[s], (float)(mix32(rk + (uint32_t)s * 0x9e3779b9u) >> 8) * (1.0f / 16777216.0f), q);
}

// A pre-pass's statistics of rows [r0, r1) of a strip (row x of the buffer has n = t + 1 entries).
SIMD_INLINE void strip_stats(const AttnJob *j, const float *X, long ld, long r0, long r1, long it, long pair) {
  float mn = INFINITY, mx = -INFINITY, am = 0;
  for (long t = r0; t < r1; t++) {
    const float *x = X + (t - r0) * ld;
    double rs = 0;
    for (long s = 0; s <= t; s++) {
      const float v = x[s], a = fabsf(v);
      mn = v < mn ? v : mn; mx = v > mx ? v : mx; am = a > am ? a : am;
      rs += a;
    }
    j->rsum[pair * j->T + t] = rs;
  }
  j->imn[it] = mn; j->imx[it] = mx; j->iam[it] = am;
}

POOL_FN(score_forward_strips, i0, i1) {
  const AttnJob *j = p;
  const long T = j->T, C = j->C, D = j->D, NH = j->NH, rb = j->rb, ld = T;
  float *S = j->work + (long)tid * j->strips * rb * T, *P = S + rb * T; // then K, W (score_pass)
  for (long it = i0; it < i1; it++) { // it = pair * nrb + strip
    const long i = it / j->nrb, r0 = (it % j->nrb) * rb, r1 = r0 + rb < T ? r0 + rb : T;
    const long b = i / NH, h = i % NH, o = b * T * C + h * D;
    float *stats = j->stats + i * T * 2;
    j->mm(0, 1, r1 - r0, r1, D, j->scale, j->q + o + r0 * C, C, j->k + o, C, 0, S, ld);
    if (j->pass == PASS_S) { strip_stats(j, S, ld, r0, r1, it, i); continue; }
    for (long t = r0; t < r1; t++) quant_row(S + (t - r0) * ld, t + 1, &j->qs, (uint32_t)i, (uint32_t)t);
    if (j->pass == PASS_DECIDE) { // the decision's max over the strip's rows of S'
      float mx = -INFINITY;
      for (long t = r0; t < r1; t++) { const float y = sk_decide_row(&j->sc, S + (t - r0) * ld, t + 1); mx = y > mx ? y : mx; }
      j->imx[it] = mx;
      continue;
    }
    for (long t = r0; t < r1; t++) {
      float *pr = P + (t - r0) * ld, m = 0, Z = 1; // every kind sets both (GCC cannot tell)
      score_row_forward(&j->sc, pr, S + (t - r0) * ld, t + 1, r1, h, &m, &Z, 0, NULL);
      if (j->pass == PASS_MAIN) { stats[2 * t] = m; stats[2 * t + 1] = Z; }
    }
    if (j->pass == PASS_P) { strip_stats(j, P, ld, r0, r1, it, i); continue; }
    for (long t = r0; t < r1; t++) quant_row(P + (t - r0) * ld, t + 1, &j->qp, (uint32_t)i, (uint32_t)t);
    const float *w = P;
    if (j->p > 0) {
      float *K = P + rb * T, *W = K + rb * T;
      dropout_strip(W, K, P, ld, r0, r1, r1, j->seed, (uint32_t)i, j->p);
      w = W;
    }
    j->mm(0, 0, r1 - r0, D, r1, 1.0f, w, ld, j->v + o, C, 0, j->out + o + r0 * C, C);
  }
}

// One forward pass over all strips with the strips per thread it uses: S (the pre-passes of S and of
// the decision), S and P (of P), S, P, K and W (the main pass).
static void score_pass(AttnJob *j, int pass, long items) {
  j->pass = pass;
  run(score_forward_strips, j, items, pass == PASS_MAIN ? 4 : pass == PASS_P ? 2 : 1);
}

// Per strip: S and dP = dO V^T first (two products), then row by row, while the row is in cache: S', P
// (recomputed), W = P' keep, dP keep, dS (the kind's backward, times scale); then dv, dq, dk (three products).
POOL_FN(score_backward_pairs, i0, i1) {
  const AttnJob *j = p;
  const long T = j->T, C = j->C, D = j->D, NH = j->NH, rb = j->rb, ld = T, G = j->G;
  // strips S, P, dP/dS, W (only with Q_P or dropout), then one row each of keep factors and σ
  float *S = j->work + (long)tid * j->strips * rb * T, *P = S + rb * T, *Gs = P + rb * T, *W = Gs + rb * T, *K = W + rb * T, *F = K + T;
  const int weights = j->qp.on || j->p > 0; // W differs from P
  for (long i = i0; i < i1; i++) {
    const long b = i / NH, h = i % NH, o = b * T * C + h * D;
    const float *q = j->q + o, *k = j->k + o, *v = j->v + o, *dout = j->dout + o;
    float *dq = j->dq + o, *dk = j->dk + o, *dv = j->dv + o, *stats = j->stats + i * T * 2;
    double *sums = j->sums ? j->sums + i * G : NULL;
    for (long g = 0; g < G; g++) sums[g] = 0;
    ExpAcc acc = { 0 };
    for (long r0 = 0; r0 < T; r0 += rb) {
      const long r1 = r0 + rb < T ? r0 + rb : T, nr = r1 - r0;
      j->mm(0, 1, nr, r1, D, j->scale, q + r0 * C, C, k, C, 0, S, ld);
      j->mm(0, 1, nr, r1, D, 1.0f, dout + r0 * C, C, v, C, 0, Gs, ld); // dP (before the keep factors)
      for (long t = r0; t < r1; t++) {
        const long n = t + 1;
        float *sr = S + (t - r0) * ld, *pr = P + (t - r0) * ld, *g = Gs + (t - r0) * ld;
        quant_row(sr, n, &j->qs, (uint32_t)i, (uint32_t)t);
        score_row_forward(&j->sc, pr, sr, n, r1, h, &stats[2 * t], &stats[2 * t + 1], 1, F);
        if (weights) {
          float *wr = W + (t - r0) * ld;
          memcpy(wr, pr, (size_t)r1 * sizeof(float));
          quant_row(wr, n, &j->qp, (uint32_t)i, (uint32_t)t);
          if (j->p > 0) {
            keep_row(K, row_key(j->seed, (uint32_t)i, (uint32_t)t), n, j->p);
            for (long s = 0; s < n; s++) { wr[s] *= K[s]; g[s] *= K[s]; }
          }
        }
        score_row_backward(&j->sc, g, sr, pr, F, n, r1, h, stats[2 * t], stats[2 * t + 1], j->scale, sums, &acc);
      }
      j->mm(1, 0, r1, D, nr, 1.0f, weights ? W : P, ld, dout + r0 * C, C, 1, dv, C);
      j->mm(0, 0, nr, D, r1, 1.0f, Gs, ld, k, C, 1, dq + r0 * C, C);
      j->mm(1, 0, r1, D, nr, 1.0f, Gs, ld, q + r0 * C, C, 1, dk, C);
    }
    if (j->sc.kind == SK_EXP) exp_sums_end(sums, &acc, (int)j->sc.c[1]);
  }
}

// The quantizer at state[0..12) (method < 0: off), from its saved parameters (backward) or none yet.
static Quant quant_of(const double *st) {
  Quant q = { .on = st[0] >= 0 && st[4] == 1, .method = (int)st[0], .scale = (float)st[5], .zp = (float)st[6],
    .qmin = (float)st[7], .qmax = (float)st[8], .amax = (float)st[9], .levels = (float)st[10], .level = (float)st[2],
    .sched = st[2] >= 0, .seed = (uint32_t)st[3] };
  return q;
}

// A statistics pre-pass's result: quant.h's parameters into state[4..11) and q.
static void quant_from_stats(Quant *q, double *st, const AttnJob *j, long items, long rows) {
  float mn, mx, amax;
  quant_fold(j->imn, items, &mn, &mx, &amax); // imx = imn + items, iam = imx + items
  double asum = 0;
  for (long r = 0; r < rows; r++) asum += j->rsum[r];
  quant_params(q, (int)st[0], (int)st[1], mn, mx, amax, asum, (double)j->B * j->NH * j->T * (j->T + 1) / 2);
  st[4] = q->on; st[5] = q->scale; st[6] = q->zp; st[7] = q->qmin; st[8] = q->qmax; st[9] = q->amax; st[10] = q->levels;
}

static void score_spec(AttnJob *j, int kind, const float *spec, long nk, const double *state) {
  j->sc = (ScoreSpec){ .kind = kind, .c = spec, .hp = spec + SCORE_NC, .xs = spec + SCORE_NC + 4 * j->NH, .nk = nk,
    .decision = state[24] != 0 };
  j->sc.ys = j->sc.xs + nk;
}

void nl_attention_score_forward(float *out, float *stats, const float *q, const float *k, const float *v, double p, uint32_t seed,
  long B, long T, long C, long NH, int bf16, int kind, const float *spec, long nk, double *state) {
  if (B * T * NH == 0) return;
  AttnJob j = { .mm = bf16 ? gemm_bf16_st : gemm_st, .out = out, .stats = stats, .q = q, .k = k, .v = v, .B = B, .T = T, .C = C, .NH = NH,
    .D = C / NH, .scale = (float)(1 / sqrt((double)(C / NH))), .p = p, .seed = seed };
  for (int x = 4; x < 12; x++) { state[x] = 0; state[12 + x] = 0; }
  state[24] = 0;
  score_spec(&j, kind, spec, nk, state);
  j.qs = quant_of(state); j.qp = quant_of(state + 12); // both off until their pre-pass
  const long rb = strip_rows(T), items = B * NH * ((T + rb - 1) / rb), rows = B * NH * T;
  const int decide = kind == SK_EXPROW && spec[3] == 3;
  if (state[0] >= 0 || state[12] >= 0 || decide) {
    j.imn = malloc((size_t)items * 3 * sizeof(float));
    j.rsum = malloc((size_t)rows * sizeof(double));
    if (!j.imn || !j.rsum) abort();
    j.imx = j.imn + items; j.iam = j.imx + items;
  }
  if (state[0] >= 0) { score_pass(&j, PASS_S, items); quant_from_stats(&j.qs, state, &j, items, rows); }
  if (decide) {
    score_pass(&j, PASS_DECIDE, items);
    float mx = -INFINITY;
    for (long it = 0; it < items; it++) mx = j.imx[it] > mx ? j.imx[it] : mx;
    j.sc.decision = mx > spec[6];
    state[24] = j.sc.decision;
  }
  if (state[12] >= 0) { score_pass(&j, PASS_P, items); quant_from_stats(&j.qp, state + 12, &j, items, rows); }
  score_pass(&j, PASS_MAIN, items);
  free(j.imn); free(j.rsum);
}

void nl_attention_score_backward(float *dq, float *dk, float *dv, const float *dout, const float *o, float *stats,
  const float *q, const float *k, const float *v, double p, uint32_t seed, long B, long T, long C, long NH, int bf16,
  int kind, const float *spec, long nk, const double *state, double *sums, long G) {
  if (B * T * NH == 0) return;
  AttnJob j = { .mm = bf16 ? gemm_bf16_st : gemm_st, .dq = dq, .dk = dk, .dv = dv, .dout = dout, .o = o, .stats = stats, .q = q, .k = k, .v = v,
    .B = B, .T = T, .C = C, .NH = NH, .D = C / NH, .scale = (float)(1 / sqrt((double)(C / NH))), .p = p, .seed = seed, .sums = sums, .G = G };
  score_spec(&j, kind, spec, nk, state);
  j.qs = quant_of(state); j.qp = quant_of(state + 12);
  run(score_backward_pairs, &j, B * NH, 5);
}
