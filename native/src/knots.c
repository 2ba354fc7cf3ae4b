// Per-element evaluation of the activations with learned knots; their per-call setup stays in
// TypeScript (src/engine/kernels/native/index.ts), which passes in the arrays it computed:
//   - piecewise, pfla, pfla_le (src/nn/activations/pwl.ts): knots x_vals, y_vals and the slopes of
//     computeSlopes(); the same segment rules and precedence (segmentOf), the same double arithmetic
//     (bit-for-bit equal outputs and dx), and the knot gradients summed into acc (2n doubles:
//     dx_vals then dy_vals), which the TypeScript side adds into the parameter gradients;
//   - learned_spline (learned_spline.ts, cubic_spline.ts): sorted knots and coefficients from
//     splineSetup(); value and dx as there, and the per-segment sums (5 per segment) that
//     splineAdjoint() turns into knot gradients.
// Sums over elements go per fixed block of EBLOCK elements, then in block order: reproducible for
// any thread count.
#include "kernels.h"
#include "pool.h"
#include <stdlib.h>
#include <string.h>

#define EBLOCK 4096

typedef void (*elemblock_fn)(const void *ctx, long i0, long i1, double *partial);
typedef struct { elemblock_fn fn; const void *ctx; long n, width; double *partial; } EBJob;

static void eb_run(void *p, long k0, long k1, int tid) {
  (void)tid;
  const EBJob *j = p;
  for (long k = k0; k < k1; k++) {
    double *part = j->partial + k * j->width;
    memset(part, 0, (size_t)j->width * sizeof(double));
    const long i0 = k * EBLOCK, i1 = i0 + EBLOCK < j->n ? i0 + EBLOCK : j->n;
    j->fn(j->ctx, i0, i1, part);
  }
}

// acc[w] += sum over elements of fn's contributions, for w < width.
static void elem_blocks(double *acc, long width, long n, elemblock_fn fn, const void *ctx) {
  const long blocks = (n + EBLOCK - 1) / EBLOCK;
  if (blocks == 0) return;
  double *partial = malloc((size_t)blocks * (width > 0 ? width : 1) * sizeof(double));
  if (!partial) abort(); // n / 4096 blocks of a few hundred doubles at most
  EBJob j = { fn, ctx, n, width, partial };
  pool_run(blocks, 1, eb_run, &j);
  for (long k = 0; k < blocks; k++)
    for (long w = 0; w < width; w++) acc[w] += partial[k * width + w];
  free(partial);
}

// ---- piecewise-linear -------------------------------------------------------------------------------

#define SEG_IDENTITY (-2)
#define SEG_LEFT (-1)

typedef struct {
  float *out; const float *x, *dout, *xv, *yv, *slope;
  long n; double R; int le, inc;
} PwlJob;

static inline long pwl_segment(double x, const PwlJob *j) {
  const float *xv = j->xv;
  const long n = j->n;
  if (!j->le && x >= j->R) return SEG_IDENTITY;
  if (x >= xv[n - 1]) return n - 1;
  if (j->inc) {
    if (!(x >= xv[0])) return SEG_LEFT;
    // The largest i in [0, n-2] with xv[i] <= x (unique for increasing knots, so the same answer as
    // pwl.ts's binary search), searched without branches: the candidates are base[0 .. len).
    const float *base = xv;
    long len = n - 1;
    while (len > 1) {
      const long half = len >> 1;
      base = base[half] <= x ? base + half : base;
      len -= half;
    }
    return base - xv;
  }
  for (long i = n - 2; i >= 0; i--) if (xv[i] <= x && x < xv[i + 1]) return i;
  return SEG_LEFT;
}

HOT static void pwl_fwd_range(void *p, long i0, long i1, int tid) {
  (void)tid;
  const PwlJob *j = p;
  for (long i = i0; i < i1; i++) {
    const double x = j->x[i];
    const long seg = pwl_segment(x, j);
    double y;
    if (seg == SEG_IDENTITY) y = x;
    else if (seg == SEG_LEFT) y = j->le ? j->yv[0] : 0;
    else y = j->yv[seg] + (double)j->slope[seg] * (x - j->xv[seg]);
    j->out[i] = (float)y;
  }
}

HOT static void pwl_bwd_block(const void *p, long i0, long i1, double *acc) {
  const PwlJob *j = p;
  const long n = j->n;
  const float *xv = j->xv;
  double *gx = acc, *gy = acc + n;
  for (long i = i0; i < i1; i++) {
    const double g = j->dout[i], v = j->x[i];
    const long seg = pwl_segment(v, j);
    if (seg == SEG_IDENTITY) { j->out[i] = (float)(j->out[i] + g); continue; }
    if (seg == SEG_LEFT) { if (j->le) gy[0] += g; continue; }
    const double sl = j->slope[seg];
    j->out[i] = (float)(j->out[i] + g * sl);
    if (seg < n - 1 || j->le) {
      const long ia = seg < n - 1 ? seg : n - 2;
      const double w = (double)xv[ia + 1] - xv[ia];
      if (w == 0) { gy[n - 1] += g; continue; } // pfla_le's flat right end
      const double t = (v - xv[ia]) / w;
      gy[ia] += g * (1 - t); gy[ia + 1] += g * t;
      gx[ia] += g * sl * (t - 1); gx[ia + 1] -= g * sl * t;
    } else {
      const double t = (v - xv[n - 1]) / (j->R - xv[n - 1]);
      gy[n - 1] += g * (1 - t);
      gx[n - 1] += g * sl * (t - 1);
    }
  }
}

void nl_pwl_forward(float *out, const float *x, const float *xv, const float *yv, const float *slope, long count,
  long n, double R, int le, int inc) {
  PwlJob j = { .out = out, .x = x, .xv = xv, .yv = yv, .slope = slope, .n = n, .R = R, .le = le, .inc = inc };
  pool_run(count, PAR_GRAIN / 8, pwl_fwd_range, &j);
}

void nl_pwl_backward(float *dx, double *acc, const float *dout, const float *x, const float *xv, const float *yv,
  const float *slope, long count, long n, double R, int le, int inc) {
  PwlJob j = { .out = dx, .x = x, .dout = dout, .xv = xv, .yv = yv, .slope = slope, .n = n, .R = R, .le = le, .inc = inc };
  elem_blocks(acc, 2 * n, count, pwl_bwd_block, &j);
}

// ---- natural cubic spline ----------------------------------------------------------------------------

typedef struct { float *out; const float *x, *dout, *knots, *coef; long n; } SplineJob;

// cubic_spline.ts splineSegment: the last k with knots[k] < x, clamped to [0, n-2] (the knots are
// sorted by then), searched without branches as pwl_segment.
static inline long spline_segment(const float *knots, long n, double x) {
  const float *base = knots;
  long len = n - 1;
  while (len > 1) {
    const long half = len >> 1;
    base = base[half] < x ? base + half : base;
    len -= half;
  }
  return base - knots;
}

HOT static void spline_fwd_range(void *p, long i0, long i1, int tid) {
  (void)tid;
  const SplineJob *j = p;
  for (long i = i0; i < i1; i++) {
    const double x = j->x[i];
    const long k = spline_segment(j->knots, j->n, x);
    const double u = x - j->knots[k];
    const float *c = j->coef + 4 * k;
    j->out[i] = (float)(c[0] + u * (c[1] + u * (c[2] + u * (double)c[3])));
  }
}

HOT static void spline_bwd_block(const void *p, long i0, long i1, double *acc) {
  const SplineJob *j = p;
  for (long i = i0; i < i1; i++) {
    const double g = j->dout[i], x = j->x[i];
    const long k = spline_segment(j->knots, j->n, x);
    const double u = x - j->knots[k];
    const float *c = j->coef + 4 * k;
    const double slope = c[1] + u * (2 * (double)c[2] + 3 * u * c[3]);
    j->out[i] = (float)(j->out[i] + g * slope);
    const double gu = g * u;
    double *q = acc + 5 * k;
    q[0] += g; q[1] += gu; q[2] += gu * u; q[3] += gu * u * u; q[4] += g * slope;
  }
}

void nl_spline_forward(float *out, const float *x, const float *knots, const float *coef, long count, long n) {
  SplineJob j = { .out = out, .x = x, .knots = knots, .coef = coef, .n = n };
  pool_run(count, PAR_GRAIN / 8, spline_fwd_range, &j);
}

void nl_spline_backward(float *dx, double *acc, const float *dout, const float *x, const float *knots, const float *coef,
  long count, long n) {
  SplineJob j = { .out = dx, .x = x, .dout = dout, .knots = knots, .coef = coef, .n = n };
  elem_blocks(acc, 5 * (n - 1), count, spline_bwd_block, &j);
}
