// Per-element evaluation of the activations with learned knots; their per-call setup stays in
// TypeScript (src/engine/kernels/native/native-backend.ts), which passes in the arrays it computed:
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
#include "vmath.h"
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

SIMD_INLINE long pwl_segment(double x, const PwlJob *j) {
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

#define SBLK 256

// seg[i] for a block of elements. With increasing knots: count the knots <= x (one compare per
// knot and element, over the whole block: vectorized), which gives the same segment as the binary
// search; the identity rule (x >= R) comes first, as in segmentOf. Otherwise the precedence scan.
SIMD_INLINE void pwl_segments(int *seg, const float *x, long m, const PwlJob *j) {
  const long n = j->n;
  if (!j->inc) { for (long i = 0; i < m; i++) seg[i] = (int)pwl_segment(x[i], j); return; }
  for (long i = 0; i < m; i++) seg[i] = 0;
  for (long k = 0; k < n; k++) {
    const float t = j->xv[k];
    for (long i = 0; i < m; i++) seg[i] += x[i] >= t;
  }
  const int le = j->le;
  for (long i = 0; i < m; i++) {
    // count 0: left of every knot (or NaN); n: right of the last (segment n-1); else segment
    // count - 1. x >= R is compared in double, as segmentOf (R need not be a float).
    const int c = seg[i], id = !le && (double)x[i] >= j->R;
    seg[i] = id ? SEG_IDENTITY : c == 0 ? SEG_LEFT : c == n ? (int)n - 1 : c - 1;
  }
}

POOL_FN(pwl_fwd_range, i0, i1) {
  (void)tid;
  const PwlJob *j = p;
  int seg[SBLK];
  for (long b = i0; b < i1; b += SBLK) {
    const long m = i1 - b < SBLK ? i1 - b : SBLK;
    const float *x = j->x + b;
    float *out = j->out + b;
    pwl_segments(seg, x, m, j);
    const double left = j->le ? j->yv[0] : 0;
    for (long i = 0; i < m; i++) { // branch-free: every rule evaluated, the segment's one kept
      const int sg = seg[i], k = sg < 0 ? 0 : sg;
      const double line = j->yv[k] + (double)j->slope[k] * ((double)x[i] - j->xv[k]);
      out[i] = (float)(sg == SEG_IDENTITY ? (double)x[i] : sg == SEG_LEFT ? left : line);
    }
  }
}

BLOCK_FN(pwl_bwd_block, i0, i1, acc) {
  const PwlJob *j = p;
  const long n = j->n;
  const float *xv = j->xv;
  double *gx = acc, *gy = acc + n;
  int segs[SBLK];
  for (long i = i0; i < i1; i++) {
    if ((i - i0) % SBLK == 0) pwl_segments(segs, j->x + i, i1 - i < SBLK ? i1 - i : SBLK, j);
    const double g = j->dout[i], v = j->x[i];
    const long seg = segs[(i - i0) % SBLK];
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

// Segments for a block: the number of knots below x (vectorized, as pwl_segments), minus one,
// clamped to [0, n-2]: the same as splineSegment for sorted knots.
SIMD_INLINE void spline_segments(int *seg, const float *x, long m, const float *knots, long n) {
  for (long i = 0; i < m; i++) seg[i] = 0;
  for (long k = 0; k < n; k++) {
    const float t = knots[k];
    for (long i = 0; i < m; i++) seg[i] += t < x[i];
  }
  for (long i = 0; i < m; i++) { const int c = seg[i] - 1; seg[i] = c < 0 ? 0 : c > n - 2 ? (int)n - 2 : c; }
}

POOL_FN_256(spline_fwd_range, i0, i1) {
  (void)tid;
  const SplineJob *j = p;
  int seg[SBLK];
  for (long b = i0; b < i1; b += SBLK) {
    const long m = i1 - b < SBLK ? i1 - b : SBLK;
    const float *x = j->x + b;
    float *out = j->out + b;
    spline_segments(seg, x, m, j->knots, j->n);
    for (long i = 0; i < m; i++) {
      const long k = seg[i];
      const double u = (double)x[i] - j->knots[k];
      const float *c = j->coef + 4 * k;
      out[i] = (float)(c[0] + u * (c[1] + u * (c[2] + u * (double)c[3])));
    }
  }
}

BLOCK_FN_256(spline_bwd_block, i0, i1, acc) {
  const SplineJob *j = p;
  int segs[SBLK];
  for (long i = i0; i < i1; i++) {
    if ((i - i0) % SBLK == 0) spline_segments(segs, j->x + i, i1 - i < SBLK ? i1 - i : SBLK, j->knots, j->n);
    const double g = j->dout[i], x = j->x[i];
    const long k = segs[(i - i0) % SBLK];
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
