// Per-tensor fake quantization (Backend.fakeQuant): the float32 arithmetic of fakeQuant in
// src/engine/quantize.ts, operation for operation (each float op rounded once; -ffp-contract=off
// keeps products and sums apart), so the results equal the TypeScript ones bit for bit.
// docs/quantization.md states the methods. A whole tensor (T = 0, every point but the tests' causal
// blocks) runs on the pool in chunks of CHUNK entries: min, max and max|x| per chunk (order-free), the
// values independently. Ternary's scale reads only sum |x|, one sequential double sum as the
// definition's, so it skips the min/max pass.
#include <math.h>
#include <stdlib.h>
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include "quant.h"

#define CHUNK 16384

typedef struct {
  float *out; const float *x, *u; long n;
  Quant q;
  float *st; long chunks; // per chunk: st[c] min, st[chunks + c] max, st[2 chunks + c] max|x| (quant_fold's layout)
} QJob;

POOL_FN(quant_stats_chunks, c0, c1) {
  const QJob *j = p;
  for (long c = c0; c < c1; c++) {
    const long i0 = c * CHUNK, i1 = i0 + CHUNK < j->n ? i0 + CHUNK : j->n;
    float mn = INFINITY, mx = -INFINITY, am = 0;
    #pragma omp simd reduction(min : mn) reduction(max : mx, am)
    for (long i = i0; i < i1; i++) { const float v = j->x[i], a = fabsf(v); mn = v < mn ? v : mn; mx = v > mx ? v : mx; am = a > am ? a : am; }
    j->st[c] = mn; j->st[j->chunks + c] = mx; j->st[2 * j->chunks + c] = am;
  }
}

POOL_FN(quant_apply_chunks, c0, c1) {
  const QJob *j = p;
  for (long c = c0; c < c1; c++) {
    const long i0 = c * CHUNK, i1 = i0 + CHUNK < j->n ? i0 + CHUNK : j->n;
    if (j->q.method == 2) for (long i = i0; i < i1; i++) j->out[i] = quant_stochastic(j->x[i], j->u[i], &j->q);
    else quant_values(j->out + i0, j->x + i0, i1 - i0, &j->q);
  }
}

// The whole-tensor case (T = 0) on the pool; the same arithmetic as the loop below. The chunk
// statistics sit on the stack up to STACK_CHUNKS chunks (4M entries), as nl_sum_squares' partials.
#define STACK_CHUNKS 256
static void fake_quant_tensor(float *out, const float *x, const float *u, long n, int method, int bits, double level) {
  const long chunks = (n + CHUNK - 1) / CHUNK;
  QJob j = { .out = out, .x = x, .u = u, .n = n, .chunks = chunks, .q = { .sched = level >= 0, .level = (float)level } };
  float mn = INFINITY, mx = -INFINITY, amax = 0, stack[3 * STACK_CHUNKS];
  double asum = 0;
  if (method == 3) for (long i = 0; i < n; i++) asum += fabsf(x[i]); // ternary reads only sum |x|
  else {
    j.st = chunks <= STACK_CHUNKS ? stack : malloc((size_t)chunks * 3 * sizeof(float));
    if (!j.st) abort();
    pool_run(chunks, 1, quant_stats_chunks, &j);
    quant_fold(j.st, chunks, &mn, &mx, &amax);
    if (j.st != stack) free(j.st);
  }
  quant_params(&j.q, method, bits, mn, mx, amax, asum, (double)n);
  if (!j.q.on) { if (out != x) for (long i = 0; i < n; i++) out[i] = x[i]; return; }
  pool_run(chunks, 1, quant_apply_chunks, &j);
}

// Entries the quantizer sees: the causal lower triangles of n / (T T) blocks (T > 0).
#define FOR_ENTRIES(n, T, ...) do { \
  for (long o_ = 0; o_ + (T) * (T) <= (n); o_ += (T) * (T)) \
    for (long r_ = 0; r_ < (T); r_++) for (long c_ = 0; c_ <= r_; c_++) { const long i = o_ + r_ * (T) + c_; __VA_ARGS__ } \
} while (0)

void nl_fake_quant(float *out, const float *x, const float *u, long n, long T, int method, int bits, double level) {
  if (T <= 0) { if (n > 0) fake_quant_tensor(out, x, u, n, method, bits, level); return; }
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
  Quant q = { .sched = level >= 0, .level = (float)level };
  quant_params(&q, method, bits, mn, mx, amax, asum, (double)count);
  if (!q.on) return;
  FOR_ENTRIES(n, T, { if (method == 2) out[i] = quant_stochastic(x[i], u[i], &q); else quant_values(out + i, x + i, 1, &q); });
}
