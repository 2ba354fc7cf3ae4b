// Vector math on f32x4 lanes: exp, and the normal CDF used by gelu. Accuracy (checked against
// float64 in test/backends.test.ts through the kernels that use them, class LIBM): exp within
// 2 ulp on [-87, 88]; phi within a few ulp of float32 (erf in two ranges, with the tail taken
// as exp(r) directly so that 1 + erf(z) for negative z does not cancel).

// exp(x) = 2^n e^r, n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two parts so that n ln2_hi
// is exact), e^r by a degree-6 polynomial on |r| <= ln2 / 2 (Cephes' expf coefficients).
// Inputs are clamped to [-87, 88]: exp(-87) ~ 1.6e-38 stands in for the denormal and zero results
// below (absolute difference < 2e-38); NaN stays NaN.
// @ts-ignore: decorator
@inline
export function vexp(x: v128): v128 {
  // pmin / pmax (one instruction each; min / max need five for their NaN and -0 rules): NaN is
  // the first operand, so it stays NaN
  x = f32x4.pmax(f32x4.pmin(x, f32x4.splat(88.0)), f32x4.splat(-87.0));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2n);
}

// 2^t of 4 lanes, for the attention scores' exponentials (the caller folds log2 e into the factor before
// them). n = round(t) from the bits of t + (1.5 2^23 + 127), whose low bits are n + 127 (shifted left by 23
// they are 2^n as a float32); f = t - n in [-1/2, 1/2] exactly; 2^f by a degree-5 polynomial 1 + f q(f)
// fitted for the least maximal relative error (1.9e-7 in float32 evaluation, checked against float64 on
// 200001 points), so 2^t is exact at integers (2^0 = 1). t is clamped to [-125, 126] (nonPositive: the
// caller knows t <= 0, no upper clamp) so that 2^n stays normal: 2^-125 ~ 2.4e-38 stands for the smaller
// results, 2^126 ~ 8.5e37 for the larger (as vexp's clamp). NaN stays NaN (the polynomial carries it).
// About half of vexp's instructions: no ln 2 split, no conversion to integer.
// @ts-ignore: decorator
@inline
export function vexp2(t: v128, nonPositive: bool = false): v128 {
  const M = f32x4.splat(12583039.0);
  t = f32x4.pmax(nonPositive ? t : f32x4.pmin(t, f32x4.splat(126.0)), f32x4.splat(-125.0));
  const tm = f32x4.add(t, M), f = f32x4.sub(t, f32x4.sub(tm, M));
  let p = f32x4.splat(1.326472731307149e-3);
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(9.671512991189957e-3));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(5.550733581185341e-2));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(2.4022242426872253e-1));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(6.931470036506653e-1));
  p = f32x4.add(f32x4.mul(p, f), f32x4.splat(1.0));
  return f32x4.mul(p, i32x4.shl(tm, 23));
}

/** Scalar exp through the vector code (same results as the vector lanes). */
// @ts-ignore: decorator
@inline
export function sexp(x: f32): f32 {
  return f32x4.extract_lane(vexp(f32x4.splat(x)), 0);
}

// Phi(x) = 0.5 (1 + erf(x / sqrt 2)), and e^(-x^2/2) for the derivative, of 4 lanes.
// erf(z), t = |z|: for t <= 0.927734375, z + z P(z^2) (degree 5); above, erf(t) = 1 - exp(R(t))
// with R a degree-7 polynomial (minimax coefficients in the style of N. Juffa's erff, max ~1.5 ulp
// in float arithmetic). Phi for z < 0 is then 0.5 exp(R(t)) with no cancellation.
// @ts-ignore: decorator
@inline
export function vphi(x: v128): v128 {
  const z = f32x4.mul(x, f32x4.splat(0.70710678118654752));
  const t = f32x4.abs(z), s = f32x4.mul(z, z);
  // small |z|
  let p = f32x4.splat(-5.96761703e-4);
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(4.99119423e-3));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-2.67681349e-2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(1.12819925e-1));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(-3.76125336e-1));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(1.28379166e-1));
  const erfSmall = f32x4.add(f32x4.mul(p, z), z);
  const phiSmall = f32x4.add(f32x4.splat(0.5), f32x4.mul(f32x4.splat(0.5), erfSmall));
  const large = f32x4.gt(t, f32x4.splat(0.927734375));
  if (!v128.any_true(large)) return phiSmall; // no lane needs the tail (most, with small activations)
  // large |z|: erfc(t) = exp(r)
  let r = f32x4.add(f32x4.mul(f32x4.splat(-1.72853470e-5), t), f32x4.splat(3.83197126e-4));
  const u = f32x4.add(f32x4.mul(f32x4.splat(-3.88396438e-3), t), f32x4.splat(2.42546219e-2));
  r = f32x4.add(f32x4.mul(r, s), u);
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(-1.06777877e-1));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(-6.34846687e-1));
  r = f32x4.add(f32x4.mul(r, t), f32x4.splat(-1.28717512e-1));
  r = f32x4.sub(f32x4.mul(r, t), t);
  const half = f32x4.mul(f32x4.splat(0.5), vexp(r)); // 0.5 erfc(t)
  const neg = f32x4.lt(z, f32x4.splat(0.0));
  const phiLarge = v128.bitselect(half, f32x4.sub(f32x4.splat(1.0), half), neg);
  return v128.bitselect(phiLarge, phiSmall, large);
}

// ---- sigmoid and log1p, shared by the elementwise activations and the attention's score kinds ----

// -|x| by setting the sign bit: one instruction with a constant V8 keeps in a register (abs and neg build
// their masks in each iteration, three instructions each)
// @ts-ignore: decorator
@inline export function negAbs(x: v128): v128 { return v128.or(x, f32x4.splat(-0.0)); }
// @ts-ignore: decorator
@inline export function recip1p(e: v128): v128 { return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e)); }
/** sigmoid(x) from e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) below (no overflow). */
// @ts-ignore: decorator
@inline export function sigmoidE(x: v128, e: v128): v128 {
  const r = recip1p(e);
  return v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(x, f32x4.splat(0)));
}
/** sigmoid(x) of 4 lanes without overflow. */
// @ts-ignore: decorator
@inline export function vsigmoid(x: v128): v128 { return sigmoidE(x, vexp(negAbs(x))); }

// log(1 + u) of 4 lanes for u in [0, 1] (softplus's exp(-|x|)): 2 atanh(z) with z = u / (2 + u) in [0, 1/3],
// as z p(z^2), p of degree 3 fitted for the least maximal relative error (3.8e-7 in float32 evaluation,
// about 3 ulp; checked against float64 on 200001 points). One division, no range split.
// @ts-ignore: decorator
@inline
export function vlog1p01(u: v128): v128 {
  const z = f32x4.div(u, f32x4.add(f32x4.splat(2), u)), w = f32x4.mul(z, z);
  let y = f32x4.splat(0.3422369062900543);
  y = f32x4.add(f32x4.mul(y, w), f32x4.splat(0.39589792490005493));
  y = f32x4.add(f32x4.mul(y, w), f32x4.splat(0.6667599081993103));
  y = f32x4.add(f32x4.mul(y, w), f32x4.splat(1.9999996423721313));
  return f32x4.mul(y, z);
}
