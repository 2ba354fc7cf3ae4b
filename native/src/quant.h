// Fake quantization's float32 arithmetic (src/engine/quantize.ts is the definition; docs/quantization.md),
// shared by the whole-tensor kernel (quantize.c) and the quantizers inside attention's strips
// (attention.c): the parameters from a tensor's statistics, and the value of one entry.
#ifndef NORMLAB_QUANT_H
#define NORMLAB_QUANT_H
#include "vmath.h"
#include <math.h>
#include <stdint.h>

typedef struct { int on, method, sched; float scale, zp, qmin, qmax, amax, levels, level; uint32_t seed; } Quant;

// The parameters of method (0 symmetric, 1 affine, 2 stochastic, 3 ternary) and bits from min, max,
// max|x| and sum|x| (double) over count entries; q->on = 0 when the tensor passes unchanged.
static inline void quant_params(Quant *q, int method, int bits, float mn, float mx, float amax, double asum, double count) {
  const float half = (float)((1L << (bits - 1)) - 1), levels = (float)((1L << bits) - 1);
  float scale, zp = 0, qmin = -half - 1, qmax = half;
  switch (method) {
    case 0: scale = amax / half; break;
    case 1: scale = (mx - mn) / levels; zp = -nearbyintf(mn / scale) + qmin; break;
    case 2: scale = amax / levels; qmin = -levels; qmax = levels; break;
    default: { const float m = (float)(asum / count), lo = 1e-5f; scale = m > lo ? m : lo; qmin = -1; qmax = 1; }
  }
  q->method = method; q->scale = scale; q->zp = zp; q->qmin = qmin; q->qmax = qmax; q->amax = amax; q->levels = levels;
  q->on = count > 0 && scale > 0 && isfinite(scale) && isfinite(zp);
}

// A tensor's min, max and max|x| from those of its parts (st: mn[items] | mx[items] | am[items]),
// folded in part order: the per-part statistics of pooled passes (quantize.c, attention.c).
static inline void quant_fold(const float *st, long items, float *mn, float *mx, float *amax) {
  const float *imn = st, *imx = st + items, *iam = imx + items;
  float a = INFINITY, b = -INFINITY, c = 0;
  for (long it = 0; it < items; it++) { a = imn[it] < a ? imn[it] : a; b = imx[it] > b ? imx[it] : b; c = iam[it] > c ? iam[it] : c; }
  *mn = a; *mx = b; *amax = c;
}

// x'[0..n) of a deterministic method (0, 1, 3), blended at q->level under a scheduler.
SIMD_INLINE void quant_values(float *out, const float *x, long n, const Quant *q) {
  const float scale = q->scale, zp = q->zp, qmin = q->qmin, qmax = q->qmax, lv = q->level;
  if (q->sched) {
    #pragma omp simd
    for (long i = 0; i < n; i++) {
      const float v = x[i];
      float qq = nearbyintf(v / scale) + zp;
      qq = qq < qmin ? qmin : qq > qmax ? qmax : qq;
      out[i] = v + lv * ((qq - zp) * scale - v);
    }
  } else {
    #pragma omp simd
    for (long i = 0; i < n; i++) {
      float qq = nearbyintf(x[i] / scale) + zp;
      qq = qq < qmin ? qmin : qq > qmax ? qmax : qq;
      out[i] = (qq - zp) * scale;
    }
  }
}

// x' of one entry under stochastic rounding (method 2) with its uniform u.
SIMD_INLINE float quant_stochastic(float v, float u, const Quant *q) {
  const float l = (fabsf(v) / q->amax) * q->levels, fl = truncf(l);
  float prob = l - fl;
  prob = prob < 0 ? 0 : prob > 1 ? 1 : prob;
  const float qq = (v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f) * (fl + (u < prob ? 1.0f : 0.0f)), d = (qq - q->zp) * q->scale;
  return q->sched ? v + q->level * (d - v) : d;
}

#endif
