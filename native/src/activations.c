// Fused elementwise activations: src/nn/activations/{prelu,gelu_shifted,glu,rrelu,gelu}.ts here,
// and every row of NL_ELEMENTWISE (elementwise.h: identity, relu, leaky_relu, ..., mish) through one
// block loop (ELEMENTWISE_JOBS below); same semantics as the TypeScript code (kinks, thresholds),
// nothing saved but rrelu's slopes. Backward kernels add into dx (and the scalar parameter
// gradient of prelu / gelu_shifted).
//
// Accuracy: the piecewise-polynomial ones (identity .. softsign, prelu) do the TypeScript code's double
// arithmetic and round once, so they agree bit for bit. The others take exp / expm1 / log1p / erf
// from libm in float (vector versions, vmath.h) and do float arithmetic around them, rewritten so
// that nothing cancels: sigmoid(x) from e = exp(-|x|), s' = e / (1 + e)^2, tanh(|x|) =
// -expm1(-2|x|) / (2 + expm1(-2|x|)), 1 - tanh^2 = 4e / (1 + e)^2 with e = exp(-2|x|), and
// tanh(softplus(x)) = n / (n + 2) with n = e (e + 2), e = exp(x). They agree to a few float32 ulp.
//
// Scalar parameter gradients (prelu, gelu_shifted): each row's sum goes to a per-row double, and
// the rows are then added in row order: reproducible for any thread count.
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define BLK 512

typedef struct {
  float *out;        // out (forward) or dx (backward)
  const float *x, *dout;
  double p;          // prelu's slope, gelu_shifted's shift
  double *rowsum;    // per-row parameter-gradient sums (prelu, gelu_shifted), or NULL
  long C;            // row width for rowsum / glu
} EJob;

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define JOB const EJob *j = p; (void)tid

// ---- bit-exact ones: double arithmetic, one rounding ---------------------------------------------

// prelu: y = x (x >= 0) else a x; dx = g (x > 0) else a g; da += x g over x <= 0 (per row here).
POOL_FN(prelu_f, i0, i1) {
  JOB;
  const double a = j->p;
  for (long i = i0; i < i1; i++) { const float x = j->x[i]; j->out[i] = x >= 0 ? x : (float)(a * x); }
}
POOL_FN(prelu_b, n0, n1) { // rows
  JOB;
  const double a = j->p;
  const long C = j->C;
  for (long n = n0; n < n1; n++) {
    const float *x = j->x + n * C, *dout = j->dout + n * C;
    float *dx = j->out + n * C;
    double da = 0;
    #pragma omp simd reduction(+ : da)
    for (long c = 0; c < C; c++) {
      const double g = dout[c], v = x[c];
      const int pos = v > 0;
      dx[c] = (float)(dx[c] + (pos ? g : a * g));
      da += pos ? 0.0 : v * g;
    }
    j->rowsum[n] = da;
  }
}

// ---- libm ones ------------------------------------------------------------------------------------

// e[i] = exp(-|x[i]|) (never overflows); sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) below.
SIMD_INLINE void exp_neg_abs(float *e, const float *x, long n) {
  for (long i = 0; i < n; i++) e[i] = -fabsf(x[i]);
  vexpf(e, e, n);
}

// gelu_shifted: y = gelu(x - shift) (exact gelu, as nl_gelu_*); dshift -= dout * gelu'(x - shift).
static const float INV_SQRT2 = 0.70710678118654752f, INV_SQRT_2PI = 0.39894228040143268f;

POOL_FN(gelus_f, i0, i1) {
  JOB;
  float e[BLK], u[BLK];
  const float shift = (float)j->p;
  for (long b = i0; b < i1; b += BLK) {
    const long n = MIN(i1 - b, BLK);
    const float *x = j->x + b;
    float *out = j->out + b;
    for (long i = 0; i < n; i++) { u[i] = x[i] - shift; e[i] = u[i] * INV_SQRT2; }
    verff(e, e, n);
    for (long i = 0; i < n; i++) out[i] = 0.5f * u[i] * (1.0f + e[i]);
  }
}
POOL_FN(gelus_b, n0, n1) { // rows
  JOB;
  float e[BLK], g[BLK], u[BLK];
  const float shift = (float)j->p;
  const long C = j->C;
  for (long r = n0; r < n1; r++) {
    double ds = 0;
    for (long b = r * C; b < (r + 1) * C; b += BLK) {
      const long n = MIN((r + 1) * C - b, BLK);
      const float *x = j->x + b, *dout = j->dout + b;
      float *dx = j->out + b;
      for (long i = 0; i < n; i++) { u[i] = x[i] - shift; e[i] = u[i] * INV_SQRT2; g[i] = -0.5f * u[i] * u[i]; }
      verff(e, e, n);
      vexpf(g, g, n);
      #pragma omp simd reduction(+ : ds)
      for (long i = 0; i < n; i++) {
        const float t = dout[i] * (0.5f * (1.0f + e[i]) + u[i] * INV_SQRT_2PI * g[i]);
        dx[i] += t;
        ds -= t;
      }
    }
    j->rowsum[r] = ds;
  }
}

// glu (gated): x rows are [a (C) | b (C)]; y = a sigmoid(b); da = g s, db = g a s (1 - s).
POOL_FN(glu_f, n0, n1) {
  JOB;
  float e[BLK];
  const long C = j->C;
  for (long r = n0; r < n1; r++) {
    for (long c0 = 0; c0 < C; c0 += BLK) {
      const long n = MIN(C - c0, BLK);
      const float *a = j->x + 2 * r * C + c0, *gate = a + C;
      float *out = j->out + r * C + c0;
      exp_neg_abs(e, gate, n);
      for (long i = 0; i < n; i++) { const float q = 1.0f / (1.0f + e[i]); out[i] = a[i] * (gate[i] >= 0 ? q : e[i] * q); }
    }
  }
}
POOL_FN(glu_b, n0, n1) {
  JOB;
  float e[BLK];
  const long C = j->C;
  for (long r = n0; r < n1; r++) {
    for (long c0 = 0; c0 < C; c0 += BLK) {
      const long n = MIN(C - c0, BLK);
      const float *a = j->x + 2 * r * C + c0, *gate = a + C, *dout = j->dout + r * C + c0;
      float *da = j->out + 2 * r * C + c0, *db = da + C;
      exp_neg_abs(e, gate, n);
      for (long i = 0; i < n; i++) {
        const float q = 1.0f / (1.0f + e[i]), s = gate[i] >= 0 ? q : e[i] * q;
        da[i] += dout[i] * s;
        db[i] += dout[i] * a[i] * (e[i] * q * q);
      }
    }
  }
}

// ---- entry points -----------------------------------------------------------------------------

static void run_flat(pool_fn fn, float *out, const float *x, const float *dout, double p, long n, long grain) {
  EJob j = { .out = out, .x = x, .dout = dout, .p = p };
  pool_run(n, grain, fn, &j);
}

// Rows of C, with the per-row sums added (in row order, in double) into *dparam when given.
static void run_rows(pool_fn fn, float *out, const float *x, const float *dout, double p, float *dparam, long N,
  long C, long grain) {
  EJob j = { .out = out, .x = x, .dout = dout, .p = p, .rowsum = nl_row_sums(N), .C = C };
  pool_run(N, grain, fn, &j);
  nl_add_row_sums(dparam, j.rowsum, N);
}

// Every row of NL_ELEMENTWISE (elementwise.h) becomes two pool jobs over blocks of BLK elements
// (the row's libm call takes a whole block) and its two entry points. NOLIB: a row without one.
#define NOLIB(y, x, n) ((void)0)
SIMD_INLINE void vexp_log1pf(float *y, const float *x, long n) { vexpf(y, x, n); vlog1pf(y, y, n); } // softplus

#define ELEMENTWISE_JOBS(name, addon, grain, FIN, FLIB, FOUT, BIN, BLIB, BOUT)                  \
  POOL_FN(name##_f, i0, i1) {                                                                    \
    JOB;                                                                                         \
    float eb[BLK];                                                                               \
    for (long b = i0; b < i1; b += BLK) {                                                        \
      const long bn = MIN(i1 - b, BLK);                                                          \
      const float *xb = j->x + b;                                                                \
      float *ob = j->out + b;                                                                    \
      for (long i = 0; i < bn; i++) { const float x = xb[i]; (void)x; eb[i] = (FIN); }           \
      FLIB(eb, eb, bn);                                                                          \
      for (long i = 0; i < bn; i++) { const float x = xb[i], e = eb[i]; (void)e; ob[i] = (FOUT); } \
    }                                                                                            \
  }                                                                                              \
  POOL_FN(name##_b, i0, i1) {                                                                    \
    JOB;                                                                                         \
    float eb[BLK];                                                                               \
    for (long b = i0; b < i1; b += BLK) {                                                        \
      const long bn = MIN(i1 - b, BLK);                                                          \
      const float *xb = j->x + b, *gb = j->dout + b;                                             \
      float *db = j->out + b;                                                                    \
      for (long i = 0; i < bn; i++) { const float x = xb[i]; (void)x; eb[i] = (BIN); }           \
      BLIB(eb, eb, bn);                                                                          \
      for (long i = 0; i < bn; i++) {                                                            \
        const float x = xb[i], e = eb[i], g = gb[i], d = db[i];                                  \
        (void)e;                                                                                 \
        db[i] = (BOUT);                                                                          \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  void nl_##name##_forward(float *out, const float *x, long n) { run_flat(name##_f, out, x, NULL, 0, n, grain); } \
  void nl_##name##_backward(float *dx, const float *dout, const float *x, long n) { run_flat(name##_b, dx, x, dout, 0, n, grain); }
NL_ELEMENTWISE(ELEMENTWISE_JOBS)
#undef ELEMENTWISE_JOBS

void nl_prelu_forward(float *out, const float *x, double a, long n) { run_flat(prelu_f, out, x, NULL, a, n, PAR_GRAIN); }
void nl_prelu_backward(float *dx, float *da, const float *dout, const float *x, double a, long N, long C) {
  run_rows(prelu_b, dx, x, dout, a, da, N, C, ROW_GRAIN(PAR_GRAIN, C));
}
void nl_gelu_shifted_forward(float *out, const float *x, double shift, long n) {
  run_flat(gelus_f, out, x, NULL, shift, n, PAR_GRAIN / 4);
}
void nl_gelu_shifted_backward(float *dx, float *dshift, const float *dout, const float *x, double shift, long N, long C) {
  run_rows(gelus_b, dx, x, dout, shift, dshift, N, C, ROW_GRAIN(PAR_GRAIN / 4, C));
}
void nl_glu_forward(float *out, const float *x, long N, long C) {
  EJob j = { .out = out, .x = x, .C = C };
  pool_run(N, ROW_GRAIN(PAR_GRAIN / 4, C), glu_f, &j);
}
void nl_glu_backward(float *dx, const float *dout, const float *x, long N, long C) {
  EJob j = { .out = dx, .x = x, .dout = dout, .C = C };
  pool_run(N, ROW_GRAIN(PAR_GRAIN / 4, C), glu_b, &j);
}

// ---- rrelu (rrelu.ts): y = x (x >= 0) else a x; training draws a ~ U(1/8, 1/3) per element -------------
// The draws are the run's generator (src/engine/rng.ts, xoshiro128**), ported here: state is its
// four words, advanced exactly as Rng.nextU32 does, one draw per element in element order, so the
// slopes and the generator's state afterwards are the TypeScript code's. The draws are sequential;
// the elementwise part goes to the pool.
#define RRELU_LOWER (1.0 / 8)
#define RRELU_UPPER (1.0 / 3)

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static void rrelu_draw(float *slope, uint32_t *s, long n) {
  uint32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
  for (long i = 0; i < n; i++) {
    const uint32_t result = rotl32(s1 * 5, 7) * 9, t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl32(s3, 11);
    slope[i] = (float)(RRELU_LOWER + (RRELU_UPPER - RRELU_LOWER) * (result / 4294967296.0));
  }
  s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3;
}

typedef struct { float *out; const float *x, *dout, *slope; } RJob;

POOL_FN(rrelu_f, i0, i1) {
  (void)tid;
  const RJob *j = p;
  const float *x = j->x, *a = j->slope;
  float *out = j->out;
  for (long i = i0; i < i1; i++) { const double ai = a[i]; out[i] = x[i] >= 0 ? x[i] : (float)(ai * x[i]); } // a read unconditionally: vectorizes without masked loads
}

POOL_FN(rrelu_b, i0, i1) {
  (void)tid;
  const RJob *j = p;
  const float *x = j->x, *a = j->slope, *dout = j->dout;
  float *dx = j->out;
  for (long i = i0; i < i1; i++) {
    const double g = dout[i], ai = a[i];
    dx[i] = (float)(dx[i] + (x[i] > 0 ? g : ai * g));
  }
}

// state NULL: evaluation (every slope is the mean, 11/48).
void nl_rrelu_forward(float *out, float *slope, const float *x, uint32_t *state, long n) {
  if (state) rrelu_draw(slope, state, n);
  else for (long i = 0; i < n; i++) slope[i] = (float)((RRELU_LOWER + RRELU_UPPER) / 2);
  RJob j = { .out = out, .x = x, .slope = slope };
  pool_run(n, PAR_GRAIN, rrelu_f, &j);
}

void nl_rrelu_backward(float *dx, const float *dout, const float *x, const float *slope, long n) {
  RJob j = { .out = dx, .x = x, .dout = dout, .slope = slope };
  pool_run(n, PAR_GRAIN, rrelu_b, &j);
}

// ---- gelu (exact): y = 0.5 x (1 + erf(x / sqrt 2)); dy/dx = Phi(x) + x phi(x) --------------------
// erf and exp come from libm (vector versions, see vmath.h) in float; the rest is float too, since
// the libm calls already set the accuracy (a few ulp).

#define GELU_BLOCK 512

typedef struct { float *out; const float *x, *dout; } ActJob;

POOL_FN_256(gelu_fwd_range, i0, i1) {
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

POOL_FN_256(gelu_bwd_range, i0, i1) {
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
