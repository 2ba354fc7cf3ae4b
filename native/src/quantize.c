// Per-tensor fake quantization (Backend.fakeQuant): the float32 arithmetic of fakeQuant in
// src/engine/quantize.ts, operation for operation (each float op rounded once; -ffp-contract=off
// keeps products and sums apart), so the results equal the TypeScript ones bit for bit.
// docs/quantization.md states the methods. Single-threaded: two passes over memory, cheap next to
// the matrix products around every quantization point.
#include <math.h>
#include "kernels.h"

// Entries the quantizer sees: all n (T = 0), or the causal lower triangles of n / (T T) blocks.
#define FOR_ENTRIES(n, T, ...) do { \
  if ((T) <= 0) { for (long i = 0; i < (n); i++) { __VA_ARGS__ } } \
  else for (long o_ = 0; o_ + (T) * (T) <= (n); o_ += (T) * (T)) \
    for (long r_ = 0; r_ < (T); r_++) for (long c_ = 0; c_ <= r_; c_++) { const long i = o_ + r_ * (T) + c_; __VA_ARGS__ } \
} while (0)

void nl_fake_quant(float *out, const float *x, const float *u, long n, long T, int method, int bits, double level) {
  float mn = INFINITY, mx = -INFINITY, amax = 0;
  double asum = 0;
  long count = 0;
  FOR_ENTRIES(n, T, {
    const float v = x[i], a = fabsf(v);
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    if (a > amax) amax = a;
    asum += a; count++;
  });
  if (out != x) for (long i = 0; i < n; i++) out[i] = x[i];
  if (count == 0) return;
  const float half = (float)((1L << (bits - 1)) - 1), levels = (float)((1L << bits) - 1);
  float scale, zp = 0, qmin = -half - 1, qmax = half;
  switch (method) {
    case 0: scale = amax / half; break;
    case 1: scale = (mx - mn) / levels; zp = -nearbyintf(mn / scale) + qmin; break;
    case 2: scale = amax / levels; qmin = -levels; qmax = levels; break;
    default: { const float m = (float)(asum / (double)count), lo = 1e-5f; scale = m > lo ? m : lo; qmin = -1; qmax = 1; }
  }
  if (!(scale > 0 && isfinite(scale)) || !isfinite(zp)) return;
  const float lv = (float)level;
  FOR_ENTRIES(n, T, {
    const float v = x[i];
    float q;
    if (method == 2) {
      const float l = (fabsf(v) / amax) * levels, fl = truncf(l);
      float prob = l - fl;
      prob = prob < 0 ? 0 : prob > 1 ? 1 : prob;
      q = (v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f) * (fl + (u[i] < prob ? 1.0f : 0.0f));
    } else {
      q = nearbyintf(v / scale) + zp;
      q = q < qmin ? qmin : q > qmax ? qmax : q;
    }
    const float d = (q - zp) * scale;
    out[i] = level < 0 ? d : v + lv * (d - v);
  });
}
