// Bias, embeddings, cross-entropy, elementwise ops and AdamW.
// Elementwise arithmetic is done in double and rounded once, as the TypeScript kernels do (JS
// numbers are doubles), and the build uses -ffp-contract=off, so these kernels agree with the
// TypeScript ones bit for bit; only sums over many terms differ, by their summation order.
#include "kernels.h"
#include "pool.h"
#include "vmath.h"
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "gemm.h"

static atomic_int init_threads;
static void init_once(void) {
  pool_init(atomic_load(&init_threads));
  vmath_init();
  gemm_init();
}

// Once per process: every worker_threads Worker that loads the addon calls this too, possibly while
// kernels run on other threads (which read what vmath_init writes).
void kernels_init(int threads) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  int none = 0;
  atomic_compare_exchange_strong(&init_threads, &none, threads < 1 ? 1 : threads);
  pthread_once(&once, init_once);
}

int kernels_threads(void) { return pool_threads(); }

// nl_matmul is in gemm.c.

// ---- bias -------------------------------------------------------------------------------------

typedef struct { float *out; const float *bias; long C; } AddBiasJob;

POOL_FN(add_bias_rows, n0, n1) {
  (void)tid;
  const AddBiasJob *j = p;
  for (long n = n0; n < n1; n++) {
    float *o = j->out + n * j->C;
    for (long c = 0; c < j->C; c++) o[c] += j->bias[c];
  }
}

void nl_add_bias(float *out, const float *bias, long N, long C) {
  AddBiasJob j = { out, bias, C };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, C), add_bias_rows, &j);
}

#define ROW_BLOCK 64
typedef struct { rowblock_fn fn; const void *ctx; long N, width; double *partial; } RowBlockJob;

static void row_blocks(void *p, long k0, long k1, int tid) {
  (void)tid;
  const RowBlockJob *j = p;
  for (long k = k0; k < k1; k++) {
    double *part = j->partial + k * j->width;
    memset(part, 0, (size_t)j->width * sizeof(double));
    const long n0 = k * ROW_BLOCK, n1 = n0 + ROW_BLOCK < j->N ? n0 + ROW_BLOCK : j->N;
    j->fn(j->ctx, n0, n1, part);
  }
}

void nl_row_blocks(float *const *dst, int nsums, long N, long C, rowblock_fn fn, const void *ctx) {
  const long blocks = (N + ROW_BLOCK - 1) / ROW_BLOCK, width = nsums * C;
  if (blocks == 0 || width == 0) return;
  double *partial = malloc((size_t)blocks * width * sizeof(double));
  if (!partial) abort(); // a few MB at most (N/64 blocks of nsums*C doubles)
  RowBlockJob j = { fn, ctx, N, width, partial };
  pool_run(blocks, PAR_GRAIN / (ROW_BLOCK * C) + 1, row_blocks, &j);
  // Block sums in block order, then one rounding into each float32 gradient.
  for (long k = 1; k < blocks; k++) {
    const double *part = partial + k * width;
    for (long i = 0; i < width; i++) partial[i] += part[i];
  }
  for (int s = 0; s < nsums; s++) if (dst[s]) {
    float *d = dst[s];
    for (long c = 0; c < C; c++) d[c] = (float)((double)d[c] + partial[s * C + c]);
  }
  free(partial);
}

double *nl_row_sums(long N) {
  double *rowsum = calloc((size_t)(N > 0 ? N : 1), sizeof(double));
  if (!rowsum) abort(); // N doubles
  return rowsum;
}

void nl_add_row_sums(float *dst, double *rowsum, long N) {
  if (dst) {
    double s = 0;
    for (long n = 0; n < N; n++) s += rowsum[n];
    *dst = (float)(*dst + s);
  }
  free(rowsum);
}

typedef struct { const float *dout; long C; } BiasGradCtx;

BLOCK_FN(bias_grad_rows, n0, n1, acc) {
  const BiasGradCtx *j = p;
  const long C = j->C;
  for (long n = n0; n < n1; n++) {
    const float *g = j->dout + n * C;
    for (long c = 0; c < C; c++) acc[c] += g[c];
  }
}

void nl_bias_backward(float *dbias, const float *dout, long N, long C) {
  BiasGradCtx j = { dout, C };
  nl_row_blocks(&dbias, 1, N, C, bias_grad_rows, &j);
}

// ---- embeddings -------------------------------------------------------------------------------

typedef struct { float *out; const int *idx; const float *wte, *wpe; long T, C; } EmbJob;

POOL_FN(embedding_rows, r0, r1) {
  (void)tid;
  const EmbJob *j = p;
  for (long r = r0; r < r1; r++) { // r = b * T + t
    float *o = j->out + r * j->C;
    const float *e = j->wte + (long)j->idx[r] * j->C, *pe = j->wpe + (r % j->T) * j->C;
    for (long c = 0; c < j->C; c++) o[c] = e[c] + pe[c];
  }
}

void nl_embedding_forward(float *out, const int *idx, const float *wte, const float *wpe, long B, long T, long C) {
  EmbJob j = { out, idx, wte, wpe, T, C };
  pool_run(B * T, ROW_GRAIN(PAR_GRAIN, C), embedding_rows, &j);
}

typedef struct { float *dwte, *dwpe; const float *dout; const int *idx; long R, T, C; } EmbGradJob;

// Rows scatter into dwte (two rows may share a token), so threads split the channels instead;
// within a channel the rows are added in order, exactly as the TypeScript loop does.
POOL_FN(embedding_grad_cols, c0, c1) {
  (void)tid;
  const EmbGradJob *j = p;
  for (long r = 0; r < j->R; r++) {
    const float *g = j->dout + r * j->C;
    float *e = j->dwte + (long)j->idx[r] * j->C, *pe = j->dwpe + (r % j->T) * j->C;
    for (long c = c0; c < c1; c++) { e[c] += g[c]; pe[c] += g[c]; }
  }
}

void nl_embedding_backward(float *dwte, float *dwpe, const float *dout, const int *idx, long B, long T, long C) {
  EmbGradJob j = { dwte, dwpe, dout, idx, B * T, T, C };
  pool_run(C, B * T * C >= PAR_GRAIN ? 16 : C, embedding_grad_cols, &j);
}

// ---- cross-entropy ----------------------------------------------------------------------------

typedef struct { float *losses, *probs; const float *logits; const int *targets; long V; } CeJob;

POOL_FN(ce_rows, n0, n1) {
  (void)tid;
  const CeJob *j = p;
  const long V = j->V;
  for (long n = n0; n < n1; n++) {
    const float *x = j->logits + n * V;
    float *pr = j->probs + n * V; // may alias x: the target's logit is read first
    const float target = x[j->targets[n]];
    float max = -INFINITY;
    #pragma omp simd reduction(max : max)
    for (long i = 0; i < V; i++) max = x[i] > max ? x[i] : max;
    for (long i = 0; i < V; i++) pr[i] = x[i] - max;
    vexpf(pr, pr, V);
    double sum = 0;
    #pragma omp simd reduction(+ : sum)
    for (long i = 0; i < V; i++) sum += pr[i];
    const double inv = 1 / sum;
    for (long i = 0; i < V; i++) pr[i] = (float)(pr[i] * inv);
    j->losses[n] = (float)(log(sum) + max - target);
  }
}

double nl_cross_entropy_forward(float *losses, float *probs, const float *logits, const int *targets, long N, long V) {
  CeJob j = { losses, probs, logits, targets, V };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, V), ce_rows, &j);
  double total = 0;
  for (long n = 0; n < N; n++) total += losses[n];
  return total / N;
}

typedef struct { float *dlogits; const float *probs; const int *targets; double scale; long V; } CeGradJob;

POOL_FN(ce_grad_rows, n0, n1) {
  (void)tid;
  const CeGradJob *j = p;
  const long V = j->V;
  for (long n = n0; n < n1; n++) {
    float *d = j->dlogits + n * V;
    const float *pr = j->probs + n * V;
    for (long i = 0; i < V; i++) d[i] = (float)(pr[i] * j->scale);
    d[j->targets[n]] = (float)(d[j->targets[n]] - j->scale);
  }
}

void nl_cross_entropy_backward(float *dlogits, const float *probs, const int *targets, double scale, long N, long V) {
  CeGradJob j = { dlogits, probs, targets, scale, V };
  pool_run(N, ROW_GRAIN(PAR_GRAIN, V), ce_grad_rows, &j);
}

// ---- elementwise ------------------------------------------------------------------------------

typedef struct { float *out; const float *a, *b; double s; } EwJob;

POOL_FN(add_range, i0, i1) {
  (void)tid;
  const EwJob *j = p;
  for (long i = i0; i < i1; i++) j->out[i] = j->a[i] + j->b[i];
}
POOL_FN(mul_range, i0, i1) {
  (void)tid;
  const EwJob *j = p;
  for (long i = i0; i < i1; i++) j->out[i] = j->a[i] * j->b[i];
}
POOL_FN(scale_range, i0, i1) {
  (void)tid;
  const EwJob *j = p;
  for (long i = i0; i < i1; i++) j->out[i] = (float)(j->out[i] * j->s);
}

// float + float and float * float are correctly rounded, so they equal the double result rounded.
void nl_add(float *out, const float *a, const float *b, long n) { EwJob j = { out, a, b, 0 }; pool_run(n, PAR_GRAIN, add_range, &j); }
void nl_add_into(float *dst, const float *src, long n) { EwJob j = { dst, dst, src, 0 }; pool_run(n, PAR_GRAIN, add_range, &j); }
void nl_mul(float *out, const float *x, const float *mask, long n) { EwJob j = { out, x, mask, 0 }; pool_run(n, PAR_GRAIN, mul_range, &j); }
void nl_scale(float *x, double s, long n) { EwJob j = { x, NULL, NULL, s }; pool_run(n, PAR_GRAIN, scale_range, &j); }

// Partial sums over fixed blocks, added in block order: the result does not depend on the threads.
#define SS_BLOCK 65536
typedef struct { const float *x; double *partial; long n; } SsJob;

POOL_FN(sum_squares_blocks, k0, k1) {
  (void)tid;
  const SsJob *j = p;
  for (long k = k0; k < k1; k++) {
    const long i0 = k * SS_BLOCK, i1 = i0 + SS_BLOCK < j->n ? i0 + SS_BLOCK : j->n;
    double s = 0;
    #pragma omp simd reduction(+ : s)
    for (long i = i0; i < i1; i++) s += (double)j->x[i] * j->x[i];
    j->partial[k] = s;
  }
}

double nl_sum_squares(const float *x, long n) {
  const long blocks = (n + SS_BLOCK - 1) / SS_BLOCK;
  double stack[64], *partial = blocks <= 64 ? stack : malloc((size_t)blocks * sizeof(double));
  if (!partial) { // out of memory for the partials: one block
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
  }
  SsJob j = { x, partial, n };
  pool_run(blocks, 1, sum_squares_blocks, &j);
  double s = 0;
  for (long k = 0; k < blocks; k++) s += partial[k];
  if (partial != stack) free(partial);
  return s;
}

// ---- AdamW ------------------------------------------------------------------------------------

typedef struct { float *param, *m, *v; const float *grad; double beta1, beta2, eps, decay, step_size, rbc2; } AdamJob;

// Same operation order as src/engine/kernels/ts/adamw.ts, in double; m and v are rounded to
// float before the update reads them, as the TypeScript kernel reads them back from its arrays.
POOL_FN(adamw_range, i0, i1) {
  (void)tid;
  const AdamJob *j = p;
  const double b1 = j->beta1, b2 = j->beta2;
  for (long i = i0; i < i1; i++) {
    const double g = j->grad[i];
    const float m = (float)(b1 * j->m[i] + (1 - b1) * g);
    const float v = (float)(b2 * j->v[i] + (1 - b2) * g * g);
    j->m[i] = m; j->v[i] = v;
    j->param[i] = (float)(j->param[i] * j->decay - j->step_size * m / (sqrt((double)v) * j->rbc2 + j->eps));
  }
}

void nl_adamw(float *param, const float *grad, float *m, float *v, long n, double lr, double beta1, double beta2,
  double eps, double weight_decay, double step) {
  const double bc1 = 1 - pow(beta1, step), bc2 = 1 - pow(beta2, step);
  AdamJob j = { param, m, v, grad, beta1, beta2, eps, 1 - lr * weight_decay, lr / bc1, 1 / sqrt(bc2) };
  pool_run(n, PAR_GRAIN, adamw_range, &j);
}
