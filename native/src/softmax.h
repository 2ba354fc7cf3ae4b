// The softmax variants' math on one row of a strip (docs/softmax.md, "Inside the attention kernel"),
// included by attention.c so that it is compiled for each SIMD level with the strip loops. A variant is a
// kind and its constants (src/nn/softmax/<name>.ts builds them: its `kernel` adapter); the TypeScript
// definition of each is the variant's own forward/backward, which these follow operation for operation
// in float32 (sums in double; the exp kind's sums in float lanes per row first, exp_row_backward).
//   spec: c[8] | hp[4 NH] (per head) | xs[nk] | ys[nk] (pfla_softmax's knots, ascending)
// Kinds (SCORE_KIND in src/engine/kernels/ts/attention.ts):
//   0 softmax      P = exp(S - m) / Z, m the row max, Z the row sum
//   1 exp          a = min(S - hp0, hp1), P = exp(c0 a) hp2        (consmax family, strongermax elementwise)
//   2 relu c0 max(S, 0)   3 relu2 c0 max(S, 0)^2   4 sigmoid c0 σ(S)   5 softplus c0 (max(S, 0) + log1p(e^-|S|))
//   6 squareplus c0 (S + sqrt(S^2 + c1)) / 2      7 poly c0 (S > 0 ? S^c4 + c3 : S >= c1 ? c2 S + c3 : 0)
//   8 exppoly c0 (S < 0 ? e^(c1 S) : (S + c2)^c4 + c3)
//   9 exprow       x = min(S, c1), m by mode c3 (0: 0, 1: c2, 2: row max of x, 3: decision ? row max : c2),
//                  r = exp(c0 (x - m)), Z = c5 ? hp0 + Σ r : 1, P = c4 r / Z   (softermax, strongermax)
//  10 sigsoftmax   e = exp(c0 S - m) σ(c0 S), m = c0 (c0 >= 0 ? row max : row min), P = e / Σ e
//  11 pfla         y = the knots' curve (c0 = 0: ys^2 interpolated; 1: x L(ys)^2), Z = c1 ? Σ y + c2 : c2, P = y / Z
// Per-pair parameter-gradient sums (G doubles): exp 3 (Σ dP P, Σ unclamped dP P, Σ dP P a; only those of the
// mask c1, EXP_SUMS, are computed, the others stay 0), exprow 2
// (Σ da (x - m), Σ D/Z), pfla 2 nk + 1 (d xs, d ys at sorted indices, Σ (Σ dP P)/Z); others none.
#ifndef NORMLAB_SOFTMAX_H
#define NORMLAB_SOFTMAX_H
#include "vmath.h"
#include <math.h>
#include <string.h>

enum { SK_SOFTMAX = 0, SK_EXP, SK_RELU, SK_RELU2, SK_SIGMOID, SK_SOFTPLUS, SK_SQUAREPLUS, SK_POLY, SK_EXPPOLY,
  SK_EXPROW, SK_SIGSOFT, SK_PFLA, SK_KINDS };
#define SCORE_NC 8

typedef struct {
  int kind;
  const float *c, *hp, *xs, *ys; // hp: 4 per head
  long nk;
  int decision;                   // the call's decision (exprow mode 3)
} ScoreSpec;

// The number of gradient sums per pair a kind writes.
static inline long score_sums(int kind, long nk) {
  return kind == SK_EXP ? 3 : kind == SK_EXPROW ? 2 : kind == SK_PFLA ? 2 * nk + 1 : 0;
}

// The row max of x = min(S, c1), exprow's clamped score (-inf for n = 0).
SIMD_INLINE float sk_xmax(const float *S, long n, float c1) {
  float m = -INFINITY;
  for (long s = 0; s < n; s++) { const float x = S[s] < c1 ? S[s] : c1; m = x > m ? x : m; }
  return m;
}

// Whether exprow's shift is the row max of x (mode 2, or 3 with the call's decision; else 0 or the guess c2).
SIMD_INLINE int sk_shift_is_max(const ScoreSpec *sp) { const int mode = (int)sp->c[3]; return mode == 2 || (mode == 3 && sp->decision); }
SIMD_INLINE float sk_shift(const ScoreSpec *sp, const float *S, long n) {
  return sk_shift_is_max(sp) ? sk_xmax(S, n, sp->c[1]) : sp->c[3] == 0 ? 0 : sp->c[2];
}

// A row's part of the call's decision (exprow mode 3; strongermax's callDecision): max(x) - c2, the call
// deciding on the max over all rows. x - c2 rounds monotonically in x, so c2 subtracted once after the
// max gives the max of the per-element differences, bit for bit.
SIMD_INLINE float sk_decide_row(const ScoreSpec *sp, const float *S, long n) { return sk_xmax(S, n, sp->c[1]) - sp->c[2]; }

// pfla_softmax's curve at x: value, slope, and (for the knot gradients) segment j, t, raw width, s, L.
typedef struct { float v, dv, t, w, s, L; long j; } Pfla;
SIMD_INLINE Pfla sk_pfla(const ScoreSpec *sp, float x) {
  const float *xs = sp->xs, *ys = sp->ys;
  const long nk = sp->nk;
  long lo = 0, hi = nk; // first index with xs >= x
  while (lo < hi) { const long mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid + 1; else hi = mid; }
  long j = lo - 1;
  j = j < 0 ? 0 : j > nk - 2 ? nk - 2 : j;
  Pfla r;
  r.j = j;
  r.w = xs[j + 1] - xs[j];
  const float w = r.w > 1e-6f ? r.w : 1e-6f, dx = x - xs[j];
  r.t = dx / w;
  if (sp->c[0] == 0) {
    const float Y0 = ys[j] * ys[j], Y1 = ys[j + 1] * ys[j + 1];
    r.s = (Y1 - Y0) / w; r.v = Y0 + r.s * dx; r.dv = r.s; r.L = 0;
  } else {
    r.s = (ys[j + 1] - ys[j]) / w; r.L = ys[j] + r.s * dx;
    r.v = x * r.L * r.L; r.dv = r.L * r.L + 2 * x * r.L * r.s;
  }
  return r;
}

// 16 float lanes (GCC vector extensions: one AVX-512 register, two AVX2 or four SSE ones; the lanes'
// arithmetic is the same at every level), loaded and stored at any float alignment; 8 float, 8 double lanes.
typedef float v16f __attribute__((vector_size(64), aligned(4)));
typedef int v16i __attribute__((vector_size(64), aligned(4)));
typedef float v8f __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

// x where the lane's index s + l is below n, else 0.
SIMD_INLINE v16f live16(v16f x, long s, long n) {
  const v16i iota = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
  return (v16f)((v16i)x & (iota + (int)s < (int)n));
}

// a where the lane's mask is set (-1), else b.
SIMD_INLINE v16f sel16(v16i mask, v16f a, v16f b) { return (v16f)(((v16i)a & mask) | ((v16i)b & ~mask)); }

// log(1 + u) for u in [0, 1] (softplus's e^-|S|): u p(u), p of degree 7 fitted to log1p(u) / u on [0, 1]
// for the least maximal relative error (3.4e-7 in float32, about 3 ulp). No division, no range split: it
// vectorizes inside the kind's loop (wasm, with fewer multiplies per lane to spare, takes 2 atanh(u / (2 + u))).
SIMD_INLINE v16f sk_log1p01_v(v16f u) {
  v16f y = -0.008539227768778801f - (v16f){ 0 };
  y = y * u + 0.044089701026678085f;
  y = y * u - 0.10768181085586548f;
  y = y * u + 0.1774524748325348f;
  y = y * u - 0.2449546456336975f;
  y = y * u + 0.33275479078292847f;
  y = y * u - 0.4999740421772003f;
  y = y * u + 0.9999998211860657f;
  return y * u;
}
SIMD_INLINE float sk_log1p01(float u) { return sk_log1p01_v((v16f){ 0 } + u)[0]; } // one lane (a row's scalar tail)

// softplus from u = e^-|S| (in P[0..n)): P = c0 (max(S, 0) + log1p(u)) and, with sig, σ(S) = (S >= 0 ? 1 : u) / (1 + u),
// over [0, ncol) in 16-lane blocks, both 0 past n.
SIMD_INLINE void softplus_row(float *P, float *sig, const float *S, long n, long ncol, float c0) {
  const v16f zero = { 0 }, one = zero + 1;
  long s = 0;
  for (; s + 16 <= ncol; s += 16) {
    const v16f x = *(const v16f *)(S + s), u = *(const v16f *)(P + s);
    const v16i pos = x > zero, nonneg = x >= zero;
    *(v16f *)(P + s) = live16(c0 * ((v16f)((v16i)x & pos) + sk_log1p01_v(u)), s, n);
    if (sig) *(v16f *)(sig + s) = live16(sel16(nonneg, one, u) / (one + u), s, n);
  }
  for (; s < ncol; s++) {
    const float x = S[s], u = P[s];
    if (sig) sig[s] = s < n ? (x >= 0 ? 1 : u) / (1 + u) : 0;
    P[s] = s < n ? c0 * ((x > 0 ? x : 0) + sk_log1p01(u)) : 0;
  }
}

// softmax of a row: P[0..n) = exp(S - m) / Z (P may be S: each entry is read before it is written), m
// the row max and Z the row sum, computed and stored (read = 0) or read from *m, *Z (read = 1). The plain
// kernel (attention.c's softmax_strip) and kind 0 share it, so both save the same m and Z for the same S.
SIMD_INLINE void softmax_row(float *P, const float *S, long n, float *m, float *Z, int read) {
  float max = -INFINITY;
  if (read) max = *m;
  else {
    #pragma omp simd reduction(max : max)
    for (long s = 0; s < n; s++) max = S[s] > max ? S[s] : max;
  }
  for (long s = 0; s < n; s++) P[s] = S[s] - max;
  vexpf(P, P, n);
  if (!read) {
    double sum = 0;
    #pragma omp simd reduction(+ : sum)
    for (long s = 0; s < n; s++) sum += P[s];
    *m = max; *Z = (float)sum;
  }
  const float inv = (float)(1 / (double)*Z);
  for (long s = 0; s < n; s++) P[s] *= inv;
}

// P[0..n) from S[0..n) (distinct arrays) of a row of head h, and zeros up to ncol. Row kinds: with read = 0 the row's m and Z
// are computed and stored in *m, *Z; with read = 1 they are read from there (backward), the arithmetic
// from S to P being the same either way. Elementwise kinds store m = 0, Z = 1. softplus with sig given
// (backward) also keeps σ(S) there (its derivative, from the same exponential), sigsoftmax σ(k S),
// pfla the curve's slope (from the same segment search).
SIMD_INLINE void score_row_forward(const ScoreSpec *sp, float *P, const float *S, long n, long ncol, long h, float *m, float *Z, int read, float *sig) {
  const float *c = sp->c, *hp = sp->hp + 4 * h;
  const float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4];
  int zeroed = 0; // P[n..ncol) written by the kind's own loop
  switch (sp->kind) {
    case SK_SOFTMAX: softmax_row(P, S, n, m, Z, read); break;
    case SK_EXP: { // exp(c0 min(S - hp0, hp1)) hp2; the loops around vexpf in 16-lane blocks to ncol (exp_row)
      const float beta = hp[0], amax = hp[1], g = hp[2];
      long s = 0;
      for (; s + 16 <= ncol; s += 16) {
        const v16f a = *(const v16f *)(S + s) - beta, am = amax - (v16f){ 0 };
        *(v16f *)(P + s) = c0 * sel16(a < am, a, am);
      }
      for (; s < ncol; s++) { const float a = S[s] - beta; P[s] = c0 * (a < amax ? a : amax); }
      vexpf(P, P, n);
      for (s = 0; s + 16 <= ncol; s += 16) *(v16f *)(P + s) = live16(*(const v16f *)(P + s) * g, s, n);
      for (; s < ncol; s++) P[s] = s < n ? P[s] * g : 0;
      zeroed = 1;
      break;
    }
    case SK_RELU:
      #pragma omp simd
      for (long s = 0; s < n; s++) P[s] = S[s] > 0 ? c0 * S[s] : 0;
      break;
    case SK_RELU2:
      #pragma omp simd
      for (long s = 0; s < n; s++) P[s] = S[s] > 0 ? c0 * S[s] * S[s] : 0;
      break;
    case SK_SIGMOID: {
      long s = 0;
      for (; s + 16 <= ncol; s += 16) *(v16f *)(P + s) = -*(const v16f *)(S + s);
      for (; s < ncol; s++) P[s] = -S[s];
      vexpf(P, P, n);
      for (s = 0; s + 16 <= ncol; s += 16) *(v16f *)(P + s) = live16(c0 / (1 + *(const v16f *)(P + s)), s, n);
      for (; s < ncol; s++) P[s] = s < n ? c0 / (1 + P[s]) : 0;
      zeroed = 1;
      break;
    }
    case SK_SOFTPLUS: { // max(S, 0) + log1p(u), u = e^-|S|: the same function, no overflow, u in (0, 1]
      long s = 0;
      for (; s + 16 <= ncol; s += 16) *(v16f *)(P + s) = (v16f)((v16i)*(const v16f *)(S + s) | (v16i)(-(v16f){ 0 })); // -|S|
      for (; s < ncol; s++) P[s] = -fabsf(S[s]);
      vexpf(P, P, n);
      softplus_row(P, sig, S, n, ncol, c0);
      zeroed = 1;
      break;
    }
    case SK_SQUAREPLUS:
      #pragma omp simd
      for (long s = 0; s < n; s++) P[s] = c0 * 0.5f * (S[s] + sqrtf(S[s] * S[s] + c1));
      break;
    case SK_POLY:
      if (c4 == 2) {
        #pragma omp simd
        for (long s = 0; s < n; s++) { const float x = S[s]; P[s] = c0 * (x > 0 ? x * x + c3 : x >= c1 ? c2 * x + c3 : 0); }
      } else for (long s = 0; s < n; s++) { const float x = S[s]; P[s] = c0 * (x > 0 ? powf(x, c4) + c3 : x >= c1 ? c2 * x + c3 : 0); }
      break;
    case SK_EXPPOLY: {
      const v16f zero = { 0 };
      long s = 0;
      for (; s + 16 <= ncol; s += 16) { const v16f x = *(const v16f *)(S + s); *(v16f *)(P + s) = c1 * (v16f)((v16i)x & (x < zero)); }
      for (; s < ncol; s++) P[s] = c1 * (S[s] < 0 ? S[s] : 0);
      vexpf(P, P, n);
      if (c4 == 2) {
        for (s = 0; s + 16 <= ncol; s += 16) {
          const v16f x = *(const v16f *)(S + s), y = (v16f)((v16i)x & (x > zero)) + c2;
          *(v16f *)(P + s) = live16(c0 * sel16(x < zero, *(const v16f *)(P + s), y * y + c3), s, n);
        }
        for (; s < ncol; s++) { const float y = (S[s] > 0 ? S[s] : 0) + c2; P[s] = s < n ? c0 * (S[s] < 0 ? P[s] : y * y + c3) : 0; }
        zeroed = 1;
      } else for (s = 0; s < n; s++) P[s] = c0 * (S[s] < 0 ? P[s] : powf(S[s] + c2, c4) + c3);
      break;
    }
    case SK_EXPROW: {
      const float sh = read ? *m : sk_shift(sp, S, n);
      for (long s = 0; s < n; s++) P[s] = c0 * ((S[s] < c1 ? S[s] : c1) - sh);
      vexpf(P, P, n);
      if (!read) {
        double sum = 0;
        #pragma omp simd reduction(+ : sum)
        for (long s = 0; s < n; s++) sum += P[s];
        *m = sh; *Z = c[5] != 0 ? (float)(hp[0] + sum) : 1.0f;
      }
      const float f = (float)(c4 / (double)*Z);
      for (long s = 0; s < n; s++) P[s] *= f;
      break;
    }
    case SK_SIGSOFT: {
      float mm;
      if (read) mm = *m;
      else {
        float mx = -INFINITY, mn = INFINITY;
        for (long s = 0; s < n; s++) { mx = S[s] > mx ? S[s] : mx; mn = S[s] < mn ? S[s] : mn; }
        mm = c0 * (c0 >= 0 ? mx : mn);
      }
      // σ(k S) = 1 / (1 + u) or u / (1 + u) with u = e^(-|k S|), the exponentials through vexpf
      float ub[sig ? 1 : n], *u = sig ? sig : ub;
      for (long s = 0; s < n; s++) { P[s] = c0 * S[s] - mm; u[s] = -fabsf(c0 * S[s]); }
      vexpf(P, P, n);
      vexpf(u, u, n);
      for (long s = 0; s < n; s++) { u[s] = c0 * S[s] >= 0 ? 1 / (1 + u[s]) : u[s] / (1 + u[s]); P[s] *= u[s]; }
      if (!read) {
        double sum = 0;
        for (long s = 0; s < n; s++) sum += P[s];
        *m = mm; *Z = (float)sum;
      }
      const float inv = (float)(1 / (double)*Z);
      for (long s = 0; s < n; s++) P[s] *= inv;
      break;
    }
    case SK_PFLA: {
      double sum = 0;
      for (long s = 0; s < n; s++) {
        const Pfla q = sk_pfla(sp, S[s]);
        P[s] = q.v; sum += P[s];
        if (sig) sig[s] = q.dv;
      }
      if (!read) { *m = 0; *Z = c1 != 0 ? (float)(sum + c2) : c2; }
      const float inv = (float)(1 / (double)*Z);
      for (long s = 0; s < n; s++) P[s] *= inv;
      break;
    }
  }
  if (sp->kind >= SK_EXP && sp->kind <= SK_EXPPOLY && !read) { *m = 0; *Z = 1; }
  if (!zeroed) for (long s = n; s < ncol; s++) P[s] = 0;
}

// The exp kind's three per-pair sums (Σ dP P, Σ dP P where unclamped, Σ dP P a): element s of a row's
// 16-element blocks adds to float lane s % 16, the lanes then to double lanes at the row's end, the
// elements past the last block to a double tail in order; exp_sums_end adds them up in lane order.
// The same arithmetic at every SIMD level, and no horizontal sum per row.
typedef struct { v8d lane[3][2]; double tail[3]; } ExpAcc;

SIMD_INLINE void lanes_add(v8d *dst, v16f x) {
  v8f lo, hi;
  memcpy(&lo, &x, sizeof lo);
  memcpy(&hi, (const char *)&x + sizeof lo, sizeof hi);
  dst[0] += __builtin_convertvector(lo, v8d);
  dst[1] += __builtin_convertvector(hi, v8d);
}

SIMD_INLINE void exp_sums_end(double *sums, ExpAcc *acc, int want) {
  for (int j = 0; j < 3; j++) {
    double r = 0;
    for (int l = 0; l < 16; l++) r += acc->lane[j][l >> 3][l & 7];
    if (want >> j & 1) sums[j] += r + acc->tail[j];
  }
  *acc = (ExpAcc){ 0 };
}

// Row of the exp kind over [0, ncol), P being 0 past the row's end (so are dS and the terms there):
// d = dP P c0 scale where a = S - beta < amax, else 0; the sums of `want` (a bit mask) into acc.
SIMD_INLINE void exp_row_backward(float *d, const float *S, const float *P, long ncol, float beta, float amax, float c0,
  float scale, int want, ExpAcc *acc) {
  v16f la = { 0 }, lf = { 0 }, lw = { 0 };
  long s = 0;
  if (!(amax < INFINITY) && !(want & 6)) { // nothing clamped (a < inf) and only Σ dP P wanted
    for (; s + 16 <= ncol; s += 16) {
      const v16f gp = *(const v16f *)(d + s) * *(const v16f *)(P + s);
      la += gp;
      *(v16f *)(d + s) = gp * c0 * scale;
    }
  } else {
    const v16f am = amax - (v16f){ 0 };
    for (; s + 16 <= ncol; s += 16) {
      const v16f gp = *(const v16f *)(d + s) * *(const v16f *)(P + s), a = *(const v16f *)(S + s) - beta;
      const v16i in = a < am; // lanes where a < amax: -1, else 0
      const v16f u = (v16f)((v16i)gp & in);
      la += gp; lf += u; lw += gp * sel16(in, a, am);
      *(v16f *)(d + s) = u * c0 * scale;
    }
  }
  for (; s < ncol; s++) {
    const float gp = d[s] * P[s], a = S[s] - beta, u = a < amax ? gp : 0.0f;
    acc->tail[0] += gp; acc->tail[1] += u; acc->tail[2] += (double)gp * (a < amax ? a : amax);
    d[s] = u * c0 * scale;
  }
  if (want & 1) lanes_add(acc->lane[0], la);
  if (want & 2) lanes_add(acc->lane[1], lf);
  if (want & 4) lanes_add(acc->lane[2], lw);
}

// d[0..n) holds dP (the loss's gradient with respect to P); it becomes dS scale (the gradient of the
// unscaled scores q.k), and d[n..ncol) zeros. S, P (and softplus's/sigsoftmax's/pfla's sig) as forward gave
// them; Dt = Σ P dP where a kind needs it; sums: this pair's G sums (added to). Each kind's loop is one
// vectorized pass that also multiplies by scale (the same float32 operations as dS, then dS * scale).
// sigmoid and exppoly take their derivative from P (σ = P / c0; c1 e^(c1 S) = c1 P / c0), no exponential.
SIMD_INLINE void score_row_backward(const ScoreSpec *sp, float *d, const float *S, const float *P, const float *sig, long n, long ncol,
  long h, float m, float Z, float scale, double *sums, ExpAcc *acc) {
  const float *c = sp->c, *hp = sp->hp + 4 * h;
  const float c0 = c[0], c1 = c[1], c2 = c[2], c4 = c[4];
  double dot = 0;
  if (sp->kind == SK_SOFTMAX || sp->kind >= SK_EXPROW) {
    #pragma omp simd reduction(+ : dot)
    for (long s = 0; s < n; s++) dot += (double)P[s] * d[s];
  }
  const float fd = (float)dot;
  switch (sp->kind) {
    case SK_SOFTMAX:
      #pragma omp simd
      for (long s = 0; s < n; s++) d[s] = P[s] * (d[s] - fd) * scale;
      break;
    case SK_EXP: // dS = dP P c0 where a = S - hp0 < hp1 (else 0), and the sums into acc (exp_row_backward)
      exp_row_backward(d, S, P, ncol, hp[0], hp[1], c0, scale, (int)c1, acc);
      return;
    case SK_RELU:
      #pragma omp simd
      for (long s = 0; s < n; s++) d[s] = d[s] * (S[s] > 0 ? c0 : 0) * scale;
      break;
    case SK_RELU2:
      #pragma omp simd
      for (long s = 0; s < n; s++) d[s] = d[s] * (S[s] > 0 ? 2 * c0 * S[s] : 0) * scale;
      break;
    case SK_SQUAREPLUS:
      #pragma omp simd
      for (long s = 0; s < n; s++) d[s] = d[s] * (c0 * 0.5f * (1 + S[s] / sqrtf(S[s] * S[s] + c1))) * scale;
      break;
    case SK_POLY:
      if (c4 == 2) {
        #pragma omp simd
        for (long s = 0; s < n; s++) { const float x = S[s]; d[s] = d[s] * (c0 * (x > 0 ? 2 * x : x >= c1 ? c2 : 0)) * scale; }
      } else for (long s = 0; s < n; s++) { const float x = S[s]; d[s] = d[s] * (c0 * (x > 0 ? c4 * powf(x, c4 - 1) : x >= c1 ? c2 : 0)) * scale; }
      break;
    case SK_SIGMOID: { // over [0, ncol): P (so dS) is 0 past n
      long s = 0;
      for (; s + 16 <= ncol; s += 16) {
        const v16f q = *(const v16f *)(P + s) / c0;
        *(v16f *)(d + s) = *(const v16f *)(d + s) * (c0 * q * (1 - q)) * scale;
      }
      for (; s < ncol; s++) { const float q = P[s] / c0; d[s] = d[s] * (c0 * q * (1 - q)) * scale; }
      return;
    }
    case SK_SOFTPLUS: { // sig is 0 past n (softplus_row)
      long s = 0;
      for (; s + 16 <= ncol; s += 16) *(v16f *)(d + s) = *(const v16f *)(d + s) * (c0 * *(const v16f *)(sig + s)) * scale;
      for (; s < ncol; s++) d[s] = d[s] * (c0 * sig[s]) * scale;
      return;
    }
    case SK_EXPPOLY:
      if (c4 == 2) {
        #pragma omp simd
        for (long s = 0; s < n; s++) d[s] = d[s] * (S[s] < 0 ? c1 * P[s] : c0 * 2 * ((S[s] > 0 ? S[s] : 0) + c2)) * scale;
      } else for (long s = 0; s < n; s++) d[s] = d[s] * (S[s] < 0 ? c1 * P[s] : c0 * c4 * powf(S[s] + c2, c4 - 1)) * scale;
      break;
    case SK_EXPROW: {
      // da = c0 P (dP - div D / c4); the row max (when it is the shift) gets -Σ da at its first index,
      // the first s with x = m (m, saved by forward, is then the row max of these same x).
      const int rowmax = ((int)c[7] & 1) && sk_shift_is_max(sp);
      const float sub = c[5] != 0 ? (float)(dot / c4) : 0.0f;
      double dsum = 0, dt = 0;
      long im = -1;
      for (long s = 0; s < n; s++) {
        const float da = c0 * P[s] * (d[s] - sub), x = S[s] < c1 ? S[s] : c1;
        dsum += da; dt += (double)da * (x - m);
        d[s] = S[s] > c1 ? 0 : da;
        if (rowmax && im < 0 && x == m) im = s;
      }
      if (im >= 0 && !(S[im] > c1)) d[im] -= (float)dsum;
      sums[0] += dt;
      if (c[5] != 0) sums[1] += dot / Z;
      for (long s = 0; s < n; s++) d[s] *= scale;
      break;
    }
    case SK_SIGSOFT: // sig: σ(k S) from the recomputation
      #pragma omp simd
      for (long s = 0; s < n; s++) d[s] = P[s] * (d[s] - fd) * c0 * (2 - sig[s]) * scale;
      break;
    case SK_PFLA: {
      const long nk = sp->nk;
      const int lx = c[4] != 0, ly = c[5] != 0;
      const float sub = c1 != 0 ? fd : 0.0f, quad = c[0] != 0;
      for (long s = 0; s < n; s++) {
        const float gy = (d[s] - sub) / Z;
        d[s] = gy * sig[s] * scale; // sig: the slope, from the recomputation
        if (!lx && !ly) continue; // no knot gradients: no second search
        const Pfla q = sk_pfla(sp, S[s]);
        const float gl = quad ? gy * 2 * S[s] * q.L : gy;
        const long j = q.j;
        if (ly) {
          const float dya = quad ? 1 : 2 * sp->ys[j], dyb = quad ? 1 : 2 * sp->ys[j + 1];
          sums[nk + j] += (double)(gl * (1 - q.t) * dya);
          sums[nk + j + 1] += (double)(gl * q.t * dyb);
        }
        if (lx) {
          if (q.w > 1e-6f) { sums[j] += (double)(gl * q.s * (q.t - 1)); sums[j + 1] -= (double)(gl * q.s * q.t); }
          else sums[j] -= (double)(gl * q.s);
        }
      }
      sums[2 * nk] += dot / Z;
      break;
    }
  }
  for (long s = n; s < ncol; s++) d[s] = 0;
}

#endif
