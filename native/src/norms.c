// The norms: src/nn/norms/rmsnorm.ts, layernorm.ts, prmsnorm.ts, hyperspherenorm.ts, krmsnorm.ts
// and dact.ts's pieces around its inner activation, with the same saved buffers. Row statistics
// are summed in double and the per-element arithmetic is done in double, as the TypeScript code
// does; rows go to the pool, and the parameter gradients (sums over rows) are summed per block of
// rows in the same pass (nl_row_blocks).
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#define EPS_RMS 1e-6 // src/nn/norms/rmsnorm.ts: inside the square root
#define EPS_LN 1e-5  // src/nn/norms/layernorm.ts: torch.nn.LayerNorm's default, biased variance

typedef struct {
  float *out, *dx, *rrms, *mean, *rstd;
  const float *x, *dout, *gain, *bias, *crrms, *cmean, *crstd;
  long C;
} NormJob;

// ---- rmsnorm: y = x * r * gain, r = 1 / sqrt(mean(x^2) + eps); saved rrms = r ---------------

void nl_rmsnorm_forward(float *out, float *rrms, const float *x, const float *gain, long N, long C) {
  nl_prmsnorm_forward(out, rrms, x, gain, N, C, C); // prmsnorm's rows with k = C
}

// dx += r * (dout * gain - xhat * mean(dout * gain * xhat)), xhat = x * r; dgain += dout * xhat,
// summed per block of rows (nl_row_blocks) in the same pass.
BLOCK_FN_256(rms_bwd_rows, n0, n1, dgain) {
  const NormJob *j = p;
  const long C = j->C;
  const float *gain = j->gain;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C, *g = j->dout + n * C;
    float *dx = j->dx + n * C;
    const double r = j->crrms[n];
    double dot = 0;
    #pragma omp simd reduction(+ : dot)
    for (long c = 0; c < C; c++) dot += (double)g[c] * gain[c] * (x[c] * r);
    dot /= C;
    for (long c = 0; c < C; c++) {
      const double xhat = x[c] * r;
      dx[c] = (float)(dx[c] + r * ((double)g[c] * gain[c] - xhat * dot));
      dgain[c] += g[c] * xhat;
    }
  }
}

void nl_rmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x, const float *gain,
  const float *rrms, long N, long C) {
  NormJob j = { .dx = dx, .dout = dout, .x = x, .gain = gain, .crrms = rrms, .C = C };
  nl_row_blocks(&dgain, 1, N, C, rms_bwd_rows, &j);
}

// ---- layernorm: y = (x - mean) * rstd * weight + bias; saved mean, rstd ------------------------

POOL_FN_256(ln_fwd_rows, n0, n1) {
  (void)tid;
  const NormJob *j = p;
  const long C = j->C;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C;
    float *out = j->out + n * C;
    double sum = 0;
    #pragma omp simd reduction(+ : sum)
    for (long c = 0; c < C; c++) sum += x[c];
    const double m = sum / C;
    double var = 0; // two passes: the variance of values far from zero does not cancel
    #pragma omp simd reduction(+ : var)
    for (long c = 0; c < C; c++) { const double d = x[c] - m; var += d * d; }
    const double rstd = 1 / sqrt(var / C + EPS_LN);
    j->mean[n] = (float)m; j->rstd[n] = (float)rstd;
    if (j->bias) for (long c = 0; c < C; c++) out[c] = (float)((x[c] - m) * rstd * j->gain[c] + j->bias[c]);
    else for (long c = 0; c < C; c++) out[c] = (float)((x[c] - m) * rstd * j->gain[c]);
  }
}

void nl_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *weight,
  const float *bias, long N, long C) {
  NormJob j = { .out = out, .mean = mean, .rstd = rstd, .x = x, .gain = weight, .bias = bias, .C = C };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, C), ln_fwd_rows, &j);
}

// dx += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dout * weight;
// dweight += dout * xhat and dbias += dout (partial[0..C) and partial[C..2C)) in the same pass.
BLOCK_FN_256(ln_bwd_rows, n0, n1, partial) {
  const NormJob *j = p;
  const long C = j->C;
  const float *w = j->gain;
  double *dw = partial, *db = partial + C;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C, *g = j->dout + n * C;
    float *dx = j->dx + n * C;
    const double m = j->cmean[n], rstd = j->crstd[n];
    double mdx = 0, mdxx = 0;
    #pragma omp simd reduction(+ : mdx, mdxx)
    for (long c = 0; c < C; c++) {
      const double xhat = (x[c] - m) * rstd, gw = (double)g[c] * w[c];
      mdx += gw;
      mdxx += gw * xhat;
    }
    mdx /= C; mdxx /= C;
    for (long c = 0; c < C; c++) {
      const double xhat = (x[c] - m) * rstd;
      dx[c] = (float)(dx[c] + rstd * ((double)g[c] * w[c] - mdx - xhat * mdxx));
      dw[c] += g[c] * xhat;
      db[c] += g[c];
    }
  }
}

void nl_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dout, const float *x,
  const float *weight, const float *mean, const float *rstd, long N, long C) {
  NormJob j = { .dx = dx, .dout = dout, .x = x, .gain = weight, .cmean = mean, .crstd = rstd, .C = C };
  float *dst[2] = { dweight, dbias };
  nl_row_blocks(dst, 2, N, C, ln_bwd_rows, &j);
}

// ---- prmsnorm: r = 1 / sqrt(mean(x[0:k]^2) + eps), y = x * r * gain; saved rrms = r ------------------
// (src/nn/norms/prmsnorm.ts; k = ceil(C * pct) clamped to [1, C] is computed there and passed in.)

typedef struct { NormJob j; long k; double R; double *rowsum; } PNormJob;

POOL_FN_256(prms_fwd_rows, n0, n1) {
  (void)tid;
  const PNormJob *pj = p;
  const NormJob *j = &pj->j;
  const long C = j->C, k = pj->k;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C;
    float *out = j->out + n * C;
    double ss = 0;
    #pragma omp simd reduction(+ : ss)
    for (long c = 0; c < k; c++) ss += (double)x[c] * x[c];
    const double r = 1 / sqrt(ss / k + EPS_RMS);
    j->rrms[n] = (float)r;
    for (long c = 0; c < C; c++) out[c] = (float)(x[c] * r * j->gain[c]);
  }
}

void nl_prmsnorm_forward(float *out, float *rrms, const float *x, const float *gain, long N, long C, long k) {
  // k is at most C (the wrapper checks it for C > 0; with C = 0 no entry may be read).
  PNormJob j = { .j = { .out = out, .rrms = rrms, .x = x, .gain = gain, .C = C }, .k = k < C ? k : C };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, C), prms_fwd_rows, &j);
}

// dx_c += dout_c gain_c r, then dx_c += -S r^3 / k * x_c for c < k (two roundings, as the TS code),
// S = sum_c dout_c gain_c x_c; dgain += dout * x * r.
BLOCK_FN_256(prms_bwd_rows, n0, n1, dgain) {
  const PNormJob *pj = p;
  const NormJob *j = &pj->j;
  const long C = j->C, k = pj->k;
  const float *gain = j->gain;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C, *g = j->dout + n * C;
    float *dx = j->dx + n * C;
    const double rr = j->crrms[n];
    double S = 0;
    #pragma omp simd reduction(+ : S)
    for (long c = 0; c < C; c++) S += (double)g[c] * gain[c] * x[c];
    for (long c = 0; c < C; c++) {
      dgain[c] += (double)g[c] * x[c] * rr;
      dx[c] = (float)(dx[c] + (double)g[c] * gain[c] * rr);
    }
    const double coef = -S * rr * rr * rr / k;
    for (long c = 0; c < k; c++) dx[c] = (float)(dx[c] + coef * x[c]);
  }
}

void nl_prmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x, const float *gain,
  const float *rrms, long N, long C, long k) {
  PNormJob j = { .j = { .dx = dx, .dout = dout, .x = x, .gain = gain, .crrms = rrms, .C = C }, .k = k < C ? k : C };
  nl_row_blocks(&dgain, 1, N, C, prms_bwd_rows, &j);
}

// ---- hyperspherenorm: rn = 1 / sqrt(sum(x^2) + eps), y = x * rn * R * gain (gain optional) ----------
// (src/nn/norms/hyperspherenorm.ts); saved rnorm = rn.

POOL_FN_256(hs_fwd_rows, n0, n1) {
  (void)tid;
  const PNormJob *pj = p;
  const NormJob *j = &pj->j;
  const long C = j->C;
  const double R = pj->R;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C;
    float *out = j->out + n * C;
    double ss = 0;
    #pragma omp simd reduction(+ : ss)
    for (long c = 0; c < C; c++) ss += (double)x[c] * x[c];
    const double rn = 1 / sqrt(ss + EPS_RMS);
    j->rrms[n] = (float)rn;
    if (j->gain) for (long c = 0; c < C; c++) out[c] = (float)(x[c] * rn * R * j->gain[c]);
    else for (long c = 0; c < C; c++) out[c] = (float)(x[c] * rn * R);
  }
}

void nl_hyperspherenorm_forward(float *out, float *rnorm, const float *x, const float *gain, double radius, long N, long C) {
  PNormJob j = { .j = { .out = out, .rrms = rnorm, .x = x, .gain = gain, .C = C }, .R = radius };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, C), hs_fwd_rows, &j);
}

// dx_c += dout_c gain_c rn R, then dx_c += -R S rn^3 x_c (two roundings, as the TS code),
// S = sum_c dout_c gain_c x_c; dgain_c += dout_c x_c rn R; dradius += S rn (per row, summed in row order).
BLOCK_FN_256(hs_bwd_rows, n0, n1, dgain) {
  const PNormJob *pj = p;
  const NormJob *j = &pj->j;
  const long C = j->C;
  const double R = pj->R;
  const float *gain = j->gain;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C, *g = j->dout + n * C;
    float *dx = j->dx + n * C;
    const double rn = j->crrms[n];
    double S = 0;
    if (gain) {
      #pragma omp simd reduction(+ : S)
      for (long c = 0; c < C; c++) S += (double)g[c] * gain[c] * x[c];
      for (long c = 0; c < C; c++) {
        dgain[c] += (double)g[c] * x[c] * rn * R;
        dx[c] = (float)(dx[c] + (double)g[c] * gain[c] * rn * R);
      }
    } else {
      #pragma omp simd reduction(+ : S)
      for (long c = 0; c < C; c++) S += (double)g[c] * x[c];
      for (long c = 0; c < C; c++) dx[c] = (float)(dx[c] + (double)g[c] * rn * R);
    }
    const double coef = -R * S * rn * rn * rn;
    for (long c = 0; c < C; c++) dx[c] = (float)(dx[c] + coef * x[c]);
    pj->rowsum[n] = S * rn;
  }
}

void nl_hyperspherenorm_backward(float *dx, float *dgain, float *dradius, const float *dout, const float *x,
  const float *gain, double radius, const float *rnorm, long N, long C) {
  PNormJob j = { .j = { .dx = dx, .dout = dout, .x = x, .gain = gain, .crrms = rnorm, .C = C }, .R = radius,
    .rowsum = nl_row_sums(N) };
  float *none = NULL; // without gain there is no per-channel gradient (the partial sums stay 0)
  nl_row_blocks(gain ? &dgain : &none, 1, N, C, hs_bwd_rows, &j);
  nl_add_row_sums(dradius, j.rowsum, N);
}

// ---- dact (src/nn/norms/dact.ts): y = gamma * act(alpha x) + beta ---------------------------------------
// The inner activation runs between these kernels (its own native kernel when it has one). gamma and
// beta are optional (NULL = the constants 1 and 0).

typedef struct {
  float *out, *gd; const float *x, *act, *dout, *gamma, *beta; double alpha; double *rowsum; long C;
} DactJob;

POOL_FN(dact_scale_range, i0, i1) {
  (void)tid;
  const DactJob *j = p;
  for (long i = i0; i < i1; i++) j->out[i] = (float)(j->alpha * j->x[i]);
}

// ax = alpha * x.
void nl_dact_scale(float *ax, const float *x, double alpha, long n) {
  DactJob j = { .out = ax, .x = x, .alpha = alpha };
  pool_run(n, PAR_GRAIN, dact_scale_range, &j);
}

POOL_FN(dact_affine_rows, n0, n1) {
  (void)tid;
  const DactJob *j = p;
  const long C = j->C;
  for (long n = n0; n < n1; n++) {
    const float *act = j->act + n * C;
    float *out = j->out + n * C;
    for (long c = 0; c < C; c++)
      out[c] = (float)((j->gamma ? (double)j->gamma[c] : 1.0) * act[c] + (j->beta ? j->beta[c] : 0.0));
  }
}

// out = gamma * act + beta.
void nl_dact_affine_forward(float *out, const float *act, const float *gamma, const float *beta, long N, long C) {
  DactJob j = { .out = out, .act = act, .gamma = gamma, .beta = beta, .C = C };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, C), dact_affine_rows, &j);
}

// gd = dout * gamma (written, with gamma); dgamma += dout * act, dbeta += dout (partial[0..C), [C..2C)).
BLOCK_FN(dact_affine_bwd_rows, n0, n1, partial) {
  const DactJob *j = p;
  const long C = j->C;
  double *dg = partial, *db = partial + C;
  for (long n = n0; n < n1; n++) {
    const float *g = j->dout + n * C, *act = j->act + n * C;
    if (j->gamma) { float *gd = j->gd + n * C; for (long c = 0; c < C; c++) gd[c] = (float)((double)g[c] * j->gamma[c]); }
    for (long c = 0; c < C; c++) { dg[c] += (double)g[c] * act[c]; db[c] += g[c]; }
  }
}

void nl_dact_affine_backward(float *gd, float *dgamma, float *dbeta, const float *dout, const float *act,
  const float *gamma, long N, long C) {
  DactJob j = { .gd = gd, .dout = dout, .act = act, .gamma = gamma, .C = C };
  float *dst[2] = { dgamma, dbeta };
  nl_row_blocks(dst, 2, N, C, dact_affine_bwd_rows, &j);
}

POOL_FN(dact_input_bwd_rows, n0, n1) {
  (void)tid;
  const DactJob *j = p;
  const long C = j->C;
  for (long n = n0; n < n1; n++) {
    const float *dax = j->act + n * C, *x = j->x + n * C;
    float *dx = j->out + n * C;
    double s = 0;
    #pragma omp simd reduction(+ : s)
    for (long c = 0; c < C; c++) { dx[c] = (float)(dx[c] + j->alpha * dax[c]); s += (double)dax[c] * x[c]; }
    j->rowsum[n] = s;
  }
}

// dx += alpha * dax; dalpha += sum(dax * x) (per row, rows added in order).
void nl_dact_input_backward(float *dx, float *dalpha, const float *dax, const float *x, double alpha, long N, long C) {
  DactJob j = { .out = dx, .act = dax, .x = x, .alpha = alpha, .rowsum = nl_row_sums(N), .C = C };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, C), dact_input_bwd_rows, &j);
  nl_add_row_sums(dalpha, j.rowsum, N);
}

// ---- krmsnorm (src/nn/norms/krmsnorm.ts): RMS from k selected, fake-quantized entries ---------------------
// The selection (first / last / random from the run's rng) is made in TypeScript and passed in as sel.
// Every rounding decision is the TypeScript code's: fakeQuantInt rounds each intermediate to float32
// (done here as double arithmetic then a float cast, which is what Math.fround does), ties to even
// (rint in the default rounding mode), and 'none' rounds to IEEE half (_Float16 conversion: nearest,
// ties to even, overflow to infinity). The statistics that decide recomputation are summed in the
// TypeScript order (sequentially), so the choice of each row is the same.

typedef struct {
  float *out, *vq, *rrms, *full, *dx; const float *x, *gain, *dout, *sel;
  long C, k; int qtype; double qmin, qmax, pct; int has_pct;
} KrmsJob;

static void fake_quant_int(float *v, long k, double qmin, double qmax) {
  float mn = INFINITY, mx = -INFINITY;
  for (long j = 0; j < k; j++) { if (v[j] < mn) mn = v[j]; if (v[j] > mx) mx = v[j]; }
  if (mx == mn) return;
  const float scale = (float)((double)(float)((double)mx - mn) / (qmax - qmin));
  if (!(scale > 0 && isfinite(scale))) return;
  const float zp = (float)(qmin - (double)(float)((double)mn / scale));
  for (long j = 0; j < k; j++) {
    double q = rint((double)(float)((double)(float)((double)v[j] / scale) + zp));
    q = q > qmin ? q : qmin; // Math.min(qmax, Math.max(qmin, q))
    q = q < qmax ? q : qmax;
    v[j] = (float)((double)(float)(q - zp) * scale);
  }
}

static void krms_fwd_rows(void *p, long n0, long n1, int tid) {
  (void)tid;
  const KrmsJob *j = p;
  const long C = j->C, k = j->k;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C;
    float *vq = j->vq + n * k, *out = j->out + n * C;
    for (long i = 0; i < k; i++) vq[i] = x[(long)j->sel[i]];
    if (j->qtype == 0) for (long i = 0; i < k; i++) vq[i] = (float)(_Float16)vq[i];
    else fake_quant_int(vq, k, j->qmin, j->qmax);
    double ss = 0;
    for (long i = 0; i < k; i++) ss += (double)vq[i] * vq[i];
    double r = sqrt(ss / k + EPS_RMS);
    j->full[n] = 0;
    if (j->has_pct) {
      double st = 0;
      for (long c = 0; c < C; c++) st += (double)x[c] * x[c];
      const double rms = sqrt(st / C + EPS_RMS);
      if (!(rms * (1 - j->pct) < r && r < rms * (1 + j->pct))) { r = rms; j->full[n] = 1; }
    }
    const double rr = 1 / r;
    j->rrms[n] = (float)rr;
    if (j->gain) for (long c = 0; c < C; c++) out[c] = (float)(x[c] * rr * j->gain[c]);
    else for (long c = 0; c < C; c++) out[c] = (float)(x[c] * rr);
  }
}

// qtype: 0 = half ('none'), 1 = int8, 2 = int16. pct NaN: no recomputation. Returns the number of
// recomputed rows.
long nl_krmsnorm_forward(float *out, float *vq, float *rrms, float *full, const float *x, const float *gain,
  const float *sel, long N, long C, long k, int qtype, double pct) {
  KrmsJob j = { .out = out, .vq = vq, .rrms = rrms, .full = full, .x = x, .gain = gain, .sel = sel, .C = C, .k = k,
    .qtype = qtype, .qmin = qtype == 1 ? -128 : -32768, .qmax = qtype == 1 ? 127 : 32767, .pct = pct, .has_pct = !isnan(pct) };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, C), krms_fwd_rows, &j);
  long rec = 0;
  for (long n = 0; n < N; n++) rec += full[n] != 0;
  return rec;
}

// dx_c += dout_c g_c r; then the RMS term: all channels (recomputed row) or the selected ones.
BLOCK_FN(krms_bwd_rows, n0, n1, dgain) {
  const KrmsJob *j = p;
  const long C = j->C, k = j->k;
  const float *gain = j->gain;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C, *g = j->dout + n * C, *vq = j->vq + n * k;
    float *dx = j->dx + n * C;
    const double rr = j->rrms[n];
    double S = 0;
    #pragma omp simd reduction(+ : S)
    for (long c = 0; c < C; c++) S += (double)g[c] * (gain ? gain[c] : 1.0f) * x[c];
    for (long c = 0; c < C; c++) {
      const double gc = gain ? gain[c] : 1.0;
      if (gain) dgain[c] += (double)g[c] * x[c] * rr;
      dx[c] = (float)(dx[c] + (double)g[c] * gc * rr);
    }
    if (j->full[n] != 0) {
      const double coef = -S * rr * rr * rr / C;
      for (long c = 0; c < C; c++) dx[c] = (float)(dx[c] + coef * x[c]);
    } else {
      const double coef = -S * rr * rr * rr / k;
      for (long i = 0; i < k; i++) { const long c = (long)j->sel[i]; dx[c] = (float)(dx[c] + coef * vq[i]); }
    }
  }
}

void nl_krmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x, const float *gain,
  const float *sel, const float *vq, const float *rrms, const float *full, long N, long C, long k) {
  KrmsJob j = { .dx = dx, .dout = dout, .x = x, .gain = gain, .sel = sel, .vq = (float *)vq, .rrms = (float *)rrms,
    .full = (float *)full, .C = C, .k = k };
  float *none = NULL;
  nl_row_blocks(gain ? &dgain : &none, 1, N, C, krms_bwd_rows, &j);
}
