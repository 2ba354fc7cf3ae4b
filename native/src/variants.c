// Fused norms and activations: src/nn/norms/rmsnorm.ts, layernorm.ts and src/nn/activations/
// gelu.ts, relu.ts, with the same saved buffers. Row statistics are summed in double and the
// per-element arithmetic is done in double, as the TypeScript code does; rows go to the pool, and
// the parameter gradients (sums over rows) take a second, column-split pass (nl_column_pass).
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include <math.h>
#include <stddef.h>

#define EPS_RMS 1e-6 // src/nn/norms/rmsnorm.ts: inside the square root
#define EPS_LN 1e-5  // src/nn/norms/layernorm.ts: torch.nn.LayerNorm's default, biased variance

typedef struct {
  float *out, *dx, *rrms, *mean, *rstd;
  const float *x, *dout, *gain, *bias, *crrms, *cmean, *crstd;
  long C;
} NormJob;

// ---- rmsnorm: y = x * r * gain, r = 1 / sqrt(mean(x^2) + eps); saved rrms = r ---------------

HOT static void rms_fwd_rows(void *p, long n0, long n1, int tid) {
  (void)tid;
  const NormJob *j = p;
  const long C = j->C;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C;
    float *out = j->out + n * C;
    double ss = 0;
    #pragma omp simd reduction(+ : ss)
    for (long c = 0; c < C; c++) ss += (double)x[c] * x[c];
    const double r = 1 / sqrt(ss / C + EPS_RMS);
    j->rrms[n] = (float)r;
    for (long c = 0; c < C; c++) out[c] = (float)(x[c] * r * j->gain[c]);
  }
}

void nl_rmsnorm_forward(float *out, float *rrms, const float *x, const float *gain, long N, long C) {
  NormJob j = { .out = out, .rrms = rrms, .x = x, .gain = gain, .C = C };
  pool_run(N, PAR_GRAIN / (C > 0 ? C : 1) + 1, rms_fwd_rows, &j);
}

// dx += r * (dout * gain - xhat * mean(dout * gain * xhat)), xhat = x * r.
HOT static void rms_bwd_rows(void *p, long n0, long n1, int tid) {
  (void)tid;
  const NormJob *j = p;
  const long C = j->C;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C, *g = j->dout + n * C;
    float *dx = j->dx + n * C;
    const double r = j->crrms[n];
    double dot = 0;
    #pragma omp simd reduction(+ : dot)
    for (long c = 0; c < C; c++) dot += (double)g[c] * j->gain[c] * (x[c] * r);
    dot /= C;
    for (long c = 0; c < C; c++) dx[c] = (float)(dx[c] + r * ((double)g[c] * j->gain[c] - x[c] * r * dot));
  }
}

HOT static void rms_dgain_row(double *acc, const void *p, long n, long c0, long c1) {
  const NormJob *j = p;
  const float *x = j->x + n * j->C, *g = j->dout + n * j->C;
  const double r = j->crrms[n];
  for (long c = c0; c < c1; c++) acc[c - c0] += g[c] * (x[c] * r);
}

void nl_rmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x, const float *gain,
  const float *rrms, long N, long C) {
  NormJob j = { .dx = dx, .dout = dout, .x = x, .gain = gain, .crrms = rrms, .C = C };
  pool_run(N, PAR_GRAIN / (C > 0 ? C : 1) + 1, rms_bwd_rows, &j);
  nl_column_pass(dgain, N, C, rms_dgain_row, &j);
}

// ---- layernorm: y = (x - mean) * rstd * weight + bias; saved mean, rstd ------------------------

HOT static void ln_fwd_rows(void *p, long n0, long n1, int tid) {
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
  pool_run(N, PAR_GRAIN / (C > 0 ? C : 1) + 1, ln_fwd_rows, &j);
}

// dx += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dout * weight.
HOT static void ln_bwd_rows(void *p, long n0, long n1, int tid) {
  (void)tid;
  const NormJob *j = p;
  const long C = j->C;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C, *g = j->dout + n * C;
    float *dx = j->dx + n * C;
    const double m = j->cmean[n], rstd = j->crstd[n];
    double mdx = 0, mdxx = 0;
    #pragma omp simd reduction(+ : mdx, mdxx)
    for (long c = 0; c < C; c++) {
      const double xhat = (x[c] - m) * rstd, gw = (double)g[c] * j->gain[c];
      mdx += gw;
      mdxx += gw * xhat;
    }
    mdx /= C; mdxx /= C;
    for (long c = 0; c < C; c++) {
      const double xhat = (x[c] - m) * rstd;
      dx[c] = (float)(dx[c] + rstd * ((double)g[c] * j->gain[c] - mdx - xhat * mdxx));
    }
  }
}

HOT static void ln_dweight_row(double *acc, const void *p, long n, long c0, long c1) {
  const NormJob *j = p;
  const float *x = j->x + n * j->C, *g = j->dout + n * j->C;
  const double m = j->cmean[n], rstd = j->crstd[n];
  for (long c = c0; c < c1; c++) acc[c - c0] += g[c] * ((x[c] - m) * rstd);
}

HOT static void ln_dbias_row(double *acc, const void *p, long n, long c0, long c1) {
  const NormJob *j = p;
  const float *g = j->dout + n * j->C;
  for (long c = c0; c < c1; c++) acc[c - c0] += g[c];
}

void nl_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dout, const float *x,
  const float *weight, const float *mean, const float *rstd, long N, long C) {
  NormJob j = { .dx = dx, .dout = dout, .x = x, .gain = weight, .cmean = mean, .crstd = rstd, .C = C };
  pool_run(N, PAR_GRAIN / (C > 0 ? C : 1) + 1, ln_bwd_rows, &j);
  nl_column_pass(dweight, N, C, ln_dweight_row, &j);
  if (dbias) nl_column_pass(dbias, N, C, ln_dbias_row, &j);
}

// ---- gelu (exact): y = 0.5 x (1 + erf(x / sqrt 2)); dy/dx = Phi(x) + x phi(x) --------------------
// erf and exp come from libm (vector versions, see vmath.h) in float; the rest is float too, since
// the libm calls already set the accuracy (a few ulp).

#define GELU_BLOCK 512
static const float INV_SQRT2 = 0.70710678118654752f, INV_SQRT_2PI = 0.39894228040143268f;

typedef struct { float *out; const float *x, *dout; } ActJob;

HOT static void gelu_fwd_range(void *p, long i0, long i1, int tid) {
  (void)tid;
  const ActJob *j = p;
  float e[GELU_BLOCK];
  for (long b = i0; b < i1; b += GELU_BLOCK) {
    const long n = i1 - b < GELU_BLOCK ? i1 - b : GELU_BLOCK;
    const float *x = j->x + b;
    for (long i = 0; i < n; i++) e[i] = x[i] * INV_SQRT2;
    verff(e, e, n);
    float *out = j->out + b;
    for (long i = 0; i < n; i++) out[i] = 0.5f * x[i] * (1.0f + e[i]);
  }
}

HOT static void gelu_bwd_range(void *p, long i0, long i1, int tid) {
  (void)tid;
  const ActJob *j = p;
  float e[GELU_BLOCK], g[GELU_BLOCK];
  for (long b = i0; b < i1; b += GELU_BLOCK) {
    const long n = i1 - b < GELU_BLOCK ? i1 - b : GELU_BLOCK;
    const float *x = j->x + b, *dout = j->dout + b;
    for (long i = 0; i < n; i++) { e[i] = x[i] * INV_SQRT2; g[i] = -0.5f * x[i] * x[i]; }
    verff(e, e, n);
    vexpf(g, g, n);
    float *dx = j->out + b;
    for (long i = 0; i < n; i++) dx[i] += dout[i] * (0.5f * (1.0f + e[i]) + x[i] * INV_SQRT_2PI * g[i]);
  }
}

void nl_gelu_forward(float *out, const float *x, long n) { ActJob j = { .out = out, .x = x }; pool_run(n, PAR_GRAIN / 4, gelu_fwd_range, &j); }
void nl_gelu_backward(float *dx, const float *dout, const float *x, long n) { ActJob j = { dx, x, dout }; pool_run(n, PAR_GRAIN / 4, gelu_bwd_range, &j); }

// ---- relu: y = max(0, x); gradient 1 where x > 0 (0 at 0, as torch) --------------------------------

HOT static void relu_fwd_range(void *p, long i0, long i1, int tid) {
  (void)tid;
  const ActJob *j = p;
  for (long i = i0; i < i1; i++) j->out[i] = j->x[i] > 0 ? j->x[i] : 0.0f;
}

HOT static void relu_bwd_range(void *p, long i0, long i1, int tid) {
  (void)tid;
  const ActJob *j = p;
  for (long i = i0; i < i1; i++) if (j->x[i] > 0) j->out[i] += j->dout[i];
}

void nl_relu_forward(float *out, const float *x, long n) { ActJob j = { .out = out, .x = x }; pool_run(n, PAR_GRAIN, relu_fwd_range, &j); }
void nl_relu_backward(float *dx, const float *dout, const float *x, long n) { ActJob j = { dx, x, dout }; pool_run(n, PAR_GRAIN, relu_bwd_range, &j); }
