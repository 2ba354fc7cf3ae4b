// The parameter-free elementwise activations, one row each (src/nn/activations/<name>.ts is the
// definition of each; docs/native.md, "Elementwise activations"). A row is all a new one takes:
// kernels.h declares nl_<name>_forward / _backward from it, activations.c defines them (the block
// loop and the thread split are written once there) and addon.c exports them as <addon>Forward /
// <addon>Backward (what the variant's file names: `pointwise(be.native, '<addon>')`).
//
// X(name, addon, grain, FIN, FLIB, FOUT, BIN, BLIB, BOUT), per element x (a float), over blocks:
//   forward:  e = FIN for every x of the block; FLIB(e, e, n) (a vector libm call, or NOLIB);
//             out = FOUT (of x and e)
//   backward: e = BIN; BLIB(e, e, n); dx = BOUT (of x, e, g = dout and d = dx before)
// grain: below it one thread runs the call (PAR_GRAIN for plain arithmetic, a quarter for libm).
// The piecewise-polynomial rows do the TypeScript code's double arithmetic and round once (bit for
// bit); the libm rows take exp / expm1 from libm in float and are rewritten so that nothing cancels
// (activations.c's header). GNU C statement expressions ({ ... }) give a row its local names.
#ifndef NORMLAB_ELEMENTWISE_H
#define NORMLAB_ELEMENTWISE_H

#define LEAKY_SLOPE 0.01           // leaky_relu.ts
#define SOFTPLUS_THRESHOLD 20.0f   // softplus.ts (torch's default): softplus(x) = x above it
#define SELU_SCALE ((float)1.0507009873554805)
#define SELU_NEG ((float)(1.0507009873554805 * 1.6732632423543772)) // scale * alpha
// 1 / (1 + e): sigmoid(x) with e = exp(-|x|) for x >= 0 (times e below 0), without overflow.
#define RECIP1P(e) (1.0f / (1.0f + (e)))
#define SIGMOID_E(x, e) ((x) >= 0 ? RECIP1P(e) : (e) * RECIP1P(e))

#define NL_ELEMENTWISE(X) \
  /* identity: y = x */ \
  X(identity, "identity", PAR_GRAIN, 0, NOLIB, x, 0, NOLIB, d + g) \
  /* relu: y = max(0, x); gradient 1 where x > 0 (0 at 0, as torch); adding +0 leaves dx as it is */ \
  X(relu, "relu", PAR_GRAIN, 0, NOLIB, x > 0 ? x : 0.0f, 0, NOLIB, d + (x > 0 ? g : 0.0f)) \
  /* leaky_relu: y = x (x >= 0) else 0.01 x; gradient 1 for x > 0, else 0.01 (also at 0, as torch) */ \
  X(leaky_relu, "leakyRelu", PAR_GRAIN, 0, NOLIB, x >= 0 ? x : (float)(LEAKY_SLOPE * x), \
    0, NOLIB, (float)(d + (x > 0 ? (double)g : LEAKY_SLOPE * g))) \
  /* relu6: y = min(max(0, x), 6); gradient 1 on (0, 6) only */ \
  X(relu6, "relu6", PAR_GRAIN, 0, NOLIB, x > 0 ? (x < 6 ? x : 6.0f) : 0.0f, 0, NOLIB, d + ((x > 0 && x < 6) ? g : 0.0f)) \
  /* squared_relu: y = x^2 for x > 0 (x * x: one rounding either way); gradient 2x */ \
  X(squared_relu, "squaredRelu", PAR_GRAIN, 0, NOLIB, x > 0 ? x * x : 0.0f, \
    0, NOLIB, (float)(d + (x > 0 ? 2 * (double)x * g : 0.0))) \
  /* softsign: y = x / (1 + |x|); gradient 1 / (1 + |x|)^2 */ \
  X(softsign, "softsign", PAR_GRAIN, 0, NOLIB, (float)(x / (1 + fabs((double)x))), \
    0, NOLIB, ({ const double q = 1 + fabs((double)x); (float)(d + g / (q * q)); })) \
  /* elu (= celu, alpha 1): y = x (x > 0) else expm1(x); gradient 1 else exp(x); e = 0 on the unused side */ \
  X(elu, "elu", PAR_GRAIN / 4, x > 0 ? 0.0f : x, vexpm1f, x > 0 ? x : e, \
    x > 0 ? 0.0f : x, vexpf, d + (x > 0 ? g : e * g)) \
  /* selu: scale * (x (x > 0) else alpha expm1(x)) */ \
  X(selu, "selu", PAR_GRAIN / 4, x > 0 ? 0.0f : x, vexpm1f, x > 0 ? SELU_SCALE * x : SELU_NEG * e, \
    x > 0 ? 0.0f : x, vexpf, d + (x > 0 ? SELU_SCALE * g : SELU_NEG * e * g)) \
  /* sigmoid: y = 1 / (1 + exp(-x)) from e = exp(-|x|); gradient y (1 - y) = e / (1 + e)^2 */ \
  X(sigmoid, "sigmoid", PAR_GRAIN / 4, -fabsf(x), vexpf, SIGMOID_E(x, e), \
    -fabsf(x), vexpf, d + g * (e * RECIP1P(e) * RECIP1P(e))) \
  /* silu: y = x sigmoid(x); gradient s (1 + x (1 - s)), s and 1 - s both from e = exp(-|x|) */ \
  X(silu, "silu", PAR_GRAIN / 4, -fabsf(x), vexpf, x * SIGMOID_E(x, e), -fabsf(x), vexpf, \
    ({ const float r = RECIP1P(e), er = e * r, s = x >= 0 ? r : er, sm = x >= 0 ? er : r; d + g * (s * (1.0f + x * sm)); })) \
  /* tanh: y = sign(x) * -m / (2 + m), m = expm1(-2|x|); gradient 1 - y^2 = 4e / (1 + e)^2, e = exp(-2|x|) */ \
  X(tanh, "tanh", PAR_GRAIN / 4, -2.0f * fabsf(x), vexpm1f, copysignf(-e / (2.0f + e), x), \
    -2.0f * fabsf(x), vexpf, d + g * (4.0f * e * RECIP1P(e) * RECIP1P(e))) \
  /* softplus: y = x above the threshold (20), else log1p(exp(x)); gradient 1 above, else sigmoid(x) */ \
  X(softplus, "softplus", PAR_GRAIN / 4, x > SOFTPLUS_THRESHOLD ? 0.0f : x, vexp_log1pf, x > SOFTPLUS_THRESHOLD ? x : e, \
    -fabsf(x), vexpf, d + (x > SOFTPLUS_THRESHOLD ? g : g * SIGMOID_E(x, e))) \
  /* mish: y = x tanh(softplus(x)); below the threshold tanh(log1p(e)) = n / (n + 2), n = e (e + 2), e = exp(x), */ \
  /* 1 - t^2 = 4 (n + 1) / (n + 2)^2; above it y = x (tanh(x) rounds to 1), gradient 1. Gradient t + x (1 - t^2) sigmoid(x) */ \
  X(mish, "mish", PAR_GRAIN / 4, x > SOFTPLUS_THRESHOLD ? 0.0f : x, vexpf, \
    ({ const float n = e * (e + 2.0f); x > SOFTPLUS_THRESHOLD ? x : x * (n / (n + 2.0f)); }), \
    x > SOFTPLUS_THRESHOLD ? 0.0f : x, vexpf, \
    ({ const float n = e * (e + 2.0f), r = 1.0f / (n + 2.0f); \
       const float t = n * r, sech2 = 4.0f * (n + 1.0f) * r * r, s = e / (1.0f + e); \
       d + (x > SOFTPLUS_THRESHOLD ? g : g * (t + x * sech2 * s)); }))

#endif
