// Causal multi-head self-attention, as src/engine/kernels/ts/attention.ts, with the four products
// of each (batch, head) pair done by single-threaded sgemm calls and the (b, h) pairs spread over
// the pool. Head h of q, k, v, out is a (T, D) matrix with row stride C, which sgemm takes as is
// (lda = C), so nothing is copied. Causality: rows are cut into blocks of TB; a row block only
// multiplies the columns up to its end, which skips most of the upper triangle (at T = 256, 10 of
// 16 tiles are computed instead of 16).
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int);
int openblas_get_num_threads(void);

#define TB 64

typedef struct {
  float *out, *att, *dq, *dk, *dv, *scratch;
  const float *q, *k, *v, *mask, *dout, *catt;
  long B, T, C, NH, D;
  float scale;
  float *work; // per thread: T * T floats
} AttnJob;

// att rows t of one pair: softmax of the scaled scores over s <= t, zeros above the diagonal.
HOT static void softmax_rows(float *a, long T, long t0, long t1) {
  for (long t = t0; t < t1; t++) {
    float *row = a + t * T;
    float max = -INFINITY;
    for (long s = 0; s <= t; s++) if (row[s] > max) max = row[s];
    for (long s = 0; s <= t; s++) row[s] -= max;
    vexpf(row, row, t + 1);
    double sum = 0;
    for (long s = 0; s <= t; s++) sum += row[s];
    const float inv = (float)(1 / sum);
    for (long s = 0; s <= t; s++) row[s] *= inv;
    for (long s = t + 1; s < T; s++) row[s] = 0;
  }
}

static void attention_forward_pairs(void *p, long i0, long i1, int tid) {
  const AttnJob *j = p;
  const long T = j->T, C = j->C, D = j->D, NH = j->NH;
  for (long i = i0; i < i1; i++) { // i = b * NH + h
    const long b = i / NH, h = i % NH, o = b * T * C + h * D;
    const float *q = j->q + o, *k = j->k + o, *v = j->v + o;
    float *out = j->out + o, *att = j->att + i * T * T;
    for (long r0 = 0; r0 < T; r0 += TB) { // scores = scale * Q K^T, row block [r0, r1), columns [0, r1)
      const long r1 = r0 + TB < T ? r0 + TB : T;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), (int)r1, (int)D, j->scale,
        q + r0 * C, (int)C, k, (int)C, 0.0f, att + r0 * T, (int)T);
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
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r1 - r0), (int)D, (int)r1, 1.0f,
        w + r0 * T, (int)T, v, (int)C, 0.0f, out + r0 * C, (int)C);
    }
  }
}

// dS = P (dP - rowsum(P dP)) scale, with dP = dW mask, for rows of one pair; zeros above the diagonal.
HOT static void softmax_grad_rows(float *ds, const float *P, const float *m, long T, float scale) {
  for (long t = 0; t < T; t++) {
    float *d = ds + t * T;
    const float *pr = P + t * T;
    if (m) for (long s = 0; s <= t; s++) d[s] *= m[t * T + s];
    double dot = 0;
    for (long s = 0; s <= t; s++) dot += (double)pr[s] * d[s];
    const float fdot = (float)dot;
    for (long s = 0; s <= t; s++) d[s] = pr[s] * (d[s] - fdot) * scale;
    for (long s = t + 1; s < T; s++) d[s] = 0;
  }
}

static void attention_backward_pairs(void *p, long i0, long i1, int tid) {
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
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)r1, (int)D, 1.0f,
        dout + r0 * C, (int)C, v, (int)C, 0.0f, ds + r0 * T, (int)T);
      // dv rows [r0, r1) += W[r0:T, r0:r1]^T dout[r0:T]   (only rows t >= s weight v[s])
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nr, (int)D, (int)(T - r0), 1.0f,
        w + r0 * T + r0, (int)T, dout + r0 * C, (int)C, 1.0f, dv + r0 * C, (int)C);
    }
    softmax_grad_rows(ds, P, m, T, j->scale);
    for (long r0 = 0; r0 < T; r0 += TB) {
      const long r1 = r0 + TB < T ? r0 + TB : T, nr = r1 - r0;
      // dq rows [r0, r1) += dS[r0:r1, 0:r1] K[0:r1]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)D, (int)r1, 1.0f,
        ds + r0 * T, (int)T, k, (int)C, 1.0f, dq + r0 * C, (int)C);
      // dk rows [r0, r1) += dS[r0:T, r0:r1]^T Q[r0:T]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nr, (int)D, (int)(T - r0), 1.0f,
        ds + r0 * T + r0, (int)T, q + r0 * C, (int)C, 1.0f, dk + r0 * C, (int)C);
    }
  }
}

// The pairs run on the pool with OpenBLAS held to one thread: several threads calling a threaded
// sgemm at once would serialize on OpenBLAS's server and oversubscribe the cores.
static void run_pairs(pool_fn fn, AttnJob *j) {
  const long pairs = j->B * j->NH;
  float *work = NULL;
  if (j->mask) {
    work = malloc((size_t)pool_threads() * j->T * j->T * sizeof(float));
    if (!work) { j->work = NULL; pool_run(pairs, pairs, fn, j); return; } // unreachable in practice
  }
  j->work = work;
  const int threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
  pool_run(pairs, 1, fn, j);
  openblas_set_num_threads(threads);
  free(work);
}

void nl_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, const float *mask,
  long B, long T, long C, long NH) {
  if (B * T * NH == 0) return;
  AttnJob j = { .out = out, .att = att, .q = q, .k = k, .v = v, .mask = mask, .B = B, .T = T, .C = C, .NH = NH,
    .D = C / NH, .scale = (float)(1 / sqrt((double)(C / NH))) };
  run_pairs(attention_forward_pairs, &j);
}

void nl_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *att,
  const float *q, const float *k, const float *v, const float *mask, long B, long T, long C, long NH) {
  if (B * T * NH == 0) return;
  AttnJob j = { .dq = dq, .dk = dk, .dv = dv, .scratch = scratch, .dout = dout, .catt = att, .q = q, .k = k, .v = v,
    .mask = mask, .B = B, .T = T, .C = C, .NH = NH, .D = C / NH, .scale = (float)(1 / sqrt((double)(C / NH))) };
  run_pairs(attention_backward_pairs, &j);
}
