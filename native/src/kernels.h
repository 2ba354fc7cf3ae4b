// The native kernels. Each mirrors the TypeScript kernel of the same name in src/engine/kernels/ts
// or src/nn (see there for the math); the N-API layer (addon.c, one table row per entry point)
// checks types and lengths first.
#ifndef NORMLAB_KERNELS_H
#define NORMLAB_KERNELS_H

#include <stdint.h>

// Below about this many elements a kernel runs on one thread: waking the pool costs more.
#define PAR_GRAIN 16384
// pool_run's grain for jobs over rows of C elements: about `grain` elements' worth of rows (at least one).
#define ROW_GRAIN(grain, C) ((grain) / ((C) > 0 ? (C) : 1) + 1)

void kernels_init(int threads);
int kernels_threads(void);

void nl_matmul(float *out, const float *a, const float *b, int M, int N, int K, int transA, int transB, int accumulate);
// The same with bf16 = 1: operands rounded to bfloat16, float32 sums (gemm_bf16.c).
void nl_matmul_ex(float *out, const float *a, const float *b, int M, int N, int K, int transA, int transB, int accumulate,
  int bf16);
void nl_add_bias(float *out, const float *bias, long N, long C);
void nl_bias_backward(float *dbias, const float *dout, long N, long C);
void nl_embedding_forward(float *out, const int *idx, const float *wte, const float *wpe, long B, long T, long C);
void nl_embedding_backward(float *dwte, float *dwpe, const float *dout, const int *idx, long B, long T, long C);
void nl_attention_forward(float *out, float *stats, const float *q, const float *k, const float *v, double p,
  uint32_t seed, long B, long T, long C, long NH, int bf16);
void nl_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *o, float *stats,
  const float *q, const float *k, const float *v, double p, uint32_t seed, long B, long T, long C, long NH, int bf16);
// Attention with a softmax variant and/or the in-attention quantizers inside the strips (attention.c,
// softmax.h; docs/softmax.md "Inside the attention kernel"): kind, spec = c[8] | hp[4 NH] | xs[nk] | ys[nk],
// state (32 doubles: quantizers and the per-call decision; forward writes, backward reads), sums (B NH G).
void nl_attention_score_forward(float *out, float *stats, const float *q, const float *k, const float *v, double p, uint32_t seed,
  long B, long T, long C, long NH, int bf16, int kind, const float *spec, long nk, double *state);
void nl_attention_score_backward(float *dq, float *dk, float *dv, const float *dout, const float *o, float *stats,
  const float *q, const float *k, const float *v, double p, uint32_t seed, long B, long T, long C, long NH, int bf16,
  int kind, const float *spec, long nk, const double *state, double *sums, long G);
double nl_cross_entropy_forward(float *losses, float *probs, const float *logits, const int *targets, long N, long V);
void nl_cross_entropy_backward(float *dlogits, const float *probs, const int *targets, double scale, long N, long V);
void nl_add(float *out, const float *a, const float *b, long n);
void nl_add_into(float *dst, const float *src, long n);
void nl_mul(float *out, const float *x, const float *mask, long n);
void nl_scale(float *x, double s, long n);
double nl_sum_squares(const float *x, long n);
// quantize.c: Backend.fakeQuant (u: n uniforms for method 2, else NULL).
void nl_fake_quant(float *out, const float *x, const float *u, long n, long T, int method, int bits, double level);
void nl_adamw(float *param, const float *grad, float *m, float *v, long n, double lr, double beta1, double beta2,
  double eps, double weight_decay, double step);

// Variants; backward kernels add into dx and the parameter grads.
// norms.c: src/nn/norms (dact's pieces around its inner activation included).
void nl_rmsnorm_forward(float *out, float *rrms, const float *x, const float *gain, long N, long C);
void nl_rmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x, const float *gain,
  const float *rrms, long N, long C);
void nl_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *weight,
  const float *bias, long N, long C);
void nl_layernorm_backward(float *dx, float *dweight, float *dbias, const float *dout, const float *x,
  const float *weight, const float *mean, const float *rstd, long N, long C);
void nl_prmsnorm_forward(float *out, float *rrms, const float *x, const float *gain, long N, long C, long k);
void nl_prmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x, const float *gain,
  const float *rrms, long N, long C, long k);
void nl_hyperspherenorm_forward(float *out, float *rnorm, const float *x, const float *gain, double radius, long N, long C);
void nl_hyperspherenorm_backward(float *dx, float *dgain, float *dradius, const float *dout, const float *x,
  const float *gain, double radius, const float *rnorm, long N, long C);
long nl_krmsnorm_forward(float *out, float *vq, float *rrms, float *full, const float *x, const float *gain,
  const float *sel, long N, long C, long k, int qtype, double pct);
void nl_krmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x, const float *gain,
  const float *sel, const float *vq, const float *rrms, const float *full, long N, long C, long k);
void nl_dact_scale(float *ax, const float *x, double alpha, long n);
void nl_dact_affine_forward(float *out, const float *act, const float *gamma, const float *beta, long N, long C);
void nl_dact_affine_backward(float *gd, float *dgamma, float *dbeta, const float *dout, const float *act,
  const float *gamma, long N, long C);
void nl_dact_input_backward(float *dx, float *dalpha, const float *dax, const float *x, double alpha, long N, long C);

// activations.c: (out, x, n) and (dx, dout, x, n) unless a parameter or rows are involved; one
// declaration pair per row of NL_ELEMENTWISE (elementwise.h), and gelu (its loops' own SIMD width).
#include "elementwise.h"
#define NL_ACT(name, ...) void nl_##name##_forward(float *out, const float *x, long n); \
  void nl_##name##_backward(float *dx, const float *dout, const float *x, long n);
NL_ACT(gelu)
NL_ELEMENTWISE(NL_ACT)
#undef NL_ACT
void nl_prelu_forward(float *out, const float *x, double a, long n);
void nl_prelu_backward(float *dx, float *da, const float *dout, const float *x, double a, long N, long C);
void nl_gelu_shifted_forward(float *out, const float *x, double shift, long n);
void nl_gelu_shifted_backward(float *dx, float *dshift, const float *dout, const float *x, double shift, long N, long C);
void nl_glu_forward(float *out, const float *x, long N, long C);
void nl_glu_backward(float *dx, const float *dout, const float *x, long N, long C);
void nl_rrelu_forward(float *out, float *slope, const float *x, uint32_t *state, long n);
void nl_rrelu_backward(float *dx, const float *dout, const float *x, const float *slope, long n);

// knots.c: piecewise-linear (pwl.ts) and natural cubic spline (learned_spline.ts) evaluation; acc gets
// the knot-gradient sums added (2n, resp. 5(n-1) doubles).
void nl_pwl_forward(float *out, const float *x, const float *xv, const float *yv, const float *slope, long count,
  long n, double R, int le, int inc);
void nl_pwl_backward(float *dx, double *acc, const float *dout, const float *x, const float *xv, const float *yv,
  const float *slope, long count, long n, double R, int le, int inc);
void nl_spline_forward(float *out, const float *x, const float *knots, const float *coef, long count, long n);
void nl_spline_backward(float *dx, double *acc, const float *dout, const float *x, const float *knots, const float *coef,
  long count, long n);

// Parameter gradients summed over rows: rows are cut into fixed blocks of 64 (independent of the
// thread count); fn(ctx, n0, n1, partial) handles rows [n0, n1) and adds its sums into
// partial[s * C + c] (zeroed) for s < nsums; the block partials are then added in block order, in
// double, and each dst[s] (unless NULL) gets its total rounded once. Reproducible, no atomics.
typedef void (*rowblock_fn)(const void *ctx, long n0, long n1, double *partial);
void nl_row_blocks(float *const *dst, int nsums, long N, long C, rowblock_fn fn, const void *ctx);

// A scalar parameter's gradient summed over rows: nl_row_sums gives N doubles (zeroed; aborts when
// out of memory) for a job to write one sum per row into; nl_add_row_sums adds them in row order, in
// double, into *dst (unless NULL) with one rounding, and frees them.
double *nl_row_sums(long N);
void nl_add_row_sums(float *dst, double *rowsum, long N);

#endif
