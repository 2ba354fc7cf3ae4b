// The parameter-free elementwise activations on WebAssembly, one row each (src/nn/activations/
// <name>.ts is the definition; docs/native.md, "Elementwise activations"). A row is a class whose
// f(x) is the forward and b(x, g, d) the new gradient d + g f'(x) (g = dout, d = dx before), on 4
// float32 lanes, and its two exported entries (<name>Forward / <name>Backward, the name the
// variant's file gives `pointwise(be.native ?? be.wasm, '<name>')`). The loop, the chunk split
// for the worker threads and the tail are written once (forward, backward below the rows);
// index.ts exports every entry of this file, and src/engine/kernels/wasm/wasm-backend.ts finds
// an entry by its name: a new row needs nothing else.
//
// Accuracy (checked against the TypeScript variants in test/backends.test.ts, class LIBM): float32
// arithmetic around vexp (2 ulp) and expm1 / log1p below (a few ulp), rewritten so that nothing
// cancels, as the native rows (native/src/elementwise.h): sigmoid from e = exp(-|x|), tanh from
// expm1(-2|x|), softplus as max(x, 0) + log1p(exp(-|x|)), mish's tanh(softplus) as n / (n + 2).
import { negAbs, recip1p, vexp, vlog1p01, vphi, vsigmoid } from './vmath';

// ---- rows ---------------------------------------------------------------------------------------

// gelu(x) = x Phi(x); gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
@final class Gelu {
  @inline f(x: v128): v128 { return f32x4.mul(x, vphi(x)); }
  @inline b(x: v128, g: v128, d: v128): v128 {
    const e = vexp(f32x4.mul(f32x4.splat(-0.5), f32x4.mul(x, x)));
    return f32x4.add(d, f32x4.mul(g, f32x4.add(vphi(x), f32x4.mul(f32x4.mul(x, f32x4.splat(0.3989422804014327)), e))));
  }
}
export function geluForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Gelu>(out, x, n, chunk, nChunks); }
export function geluBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Gelu>(dx, dout, x, n, chunk, nChunks); }

// relu: x > 0 ? x : 0 (NaN and -0 give +0, as the TypeScript comparison); dx += dout where x > 0
// (elsewhere dx is kept as it is: bit for bit the TypeScript result).
@final class Relu {
  @inline f(x: v128): v128 { return v128.and(x, f32x4.gt(x, f32x4.splat(0))); }
  @inline b(x: v128, g: v128, d: v128): v128 { return v128.bitselect(f32x4.add(d, g), d, f32x4.gt(x, f32x4.splat(0))); }
}
export function reluForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Relu>(out, x, n, chunk, nChunks); }
export function reluBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Relu>(dx, dout, x, n, chunk, nChunks); }

// sigmoid: y = 1 / (1 + exp(-x)); gradient y (1 - y) = e / (1 + e)^2, e = exp(-|x|).
@final class Sigmoid {
  @inline f(x: v128): v128 { return vsigmoid(x); }
  @inline b(x: v128, g: v128, d: v128): v128 {
    const e = vexp(negAbs(x)), r = recip1p(e);
    return f32x4.add(d, f32x4.mul(g, f32x4.mul(f32x4.mul(e, r), r)));
  }
}
export function sigmoidForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Sigmoid>(out, x, n, chunk, nChunks); }
export function sigmoidBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Sigmoid>(dx, dout, x, n, chunk, nChunks); }

// silu: y = x sigmoid(x); gradient s (1 + x (1 - s)), s and 1 - s both from e = exp(-|x|).
@final class Silu {
  @inline f(x: v128): v128 { return f32x4.mul(x, vsigmoid(x)); }
  @inline b(x: v128, g: v128, d: v128): v128 {
    const e = vexp(negAbs(x)), r = recip1p(e), er = f32x4.mul(e, r), pos = f32x4.ge(x, f32x4.splat(0));
    const s = v128.bitselect(r, er, pos), sm = v128.bitselect(er, r, pos); // sigmoid(x), 1 - sigmoid(x)
    return f32x4.add(d, f32x4.mul(g, f32x4.mul(s, f32x4.add(f32x4.splat(1), f32x4.mul(x, sm)))));
  }
}
export function siluForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Silu>(out, x, n, chunk, nChunks); }
export function siluBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Silu>(dx, dout, x, n, chunk, nChunks); }

// elu (= celu, alpha 1): y = x (x > 0) else expm1(x); gradient 1 else exp(x).
@final class Elu {
  @inline f(x: v128): v128 { return eluF(x, f32x4.splat(1), f32x4.splat(1)); }
  @inline b(x: v128, g: v128, d: v128): v128 { return eluB(x, g, d, f32x4.splat(1), f32x4.splat(1)); }
}
export function eluForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Elu>(out, x, n, chunk, nChunks); }
export function eluBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Elu>(dx, dout, x, n, chunk, nChunks); }

// selu: scale (x (x > 0) else alpha expm1(x)); gradient scale, else scale alpha exp(x).
const SELU_SCALE: f32 = 1.0507009873554805, SELU_NEG: f32 = <f32>(1.0507009873554805 * 1.6732632423543772);
@final class Selu {
  @inline f(x: v128): v128 { return eluF(x, f32x4.splat(SELU_SCALE), f32x4.splat(SELU_NEG)); }
  @inline b(x: v128, g: v128, d: v128): v128 { return eluB(x, g, d, f32x4.splat(SELU_SCALE), f32x4.splat(SELU_NEG)); }
}
export function seluForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Selu>(out, x, n, chunk, nChunks); }
export function seluBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Selu>(dx, dout, x, n, chunk, nChunks); }

// tanh: y = sign(x) -m / (2 + m), m = expm1(-2|x|); gradient 1 - y^2 = 4e / (1 + e)^2, e = exp(-2|x|).
@final class Tanh {
  @inline f(x: v128): v128 {
    const m = vexpm1neg(f32x4.mul(f32x4.splat(2), negAbs(x)));
    return copySign(f32x4.div(f32x4.neg(m), f32x4.add(f32x4.splat(2), m)), x);
  }
  @inline b(x: v128, g: v128, d: v128): v128 {
    const e = vexp(f32x4.mul(f32x4.splat(2), negAbs(x))), r = recip1p(e);
    return f32x4.add(d, f32x4.mul(g, f32x4.mul(f32x4.mul(f32x4.mul(f32x4.splat(4), e), r), r)));
  }
}
export function tanhForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Tanh>(out, x, n, chunk, nChunks); }
export function tanhBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Tanh>(dx, dout, x, n, chunk, nChunks); }

// softplus: y = x above the threshold 20 (torch's), else max(x, 0) + log1p(exp(-|x|)); gradient 1
// above it, else sigmoid(x).
@final class Softplus {
  @inline f(x: v128): v128 {
    const y = f32x4.add(f32x4.pmax(x, f32x4.splat(0)), vlog1p01(vexp(negAbs(x))));
    return v128.bitselect(x, y, f32x4.gt(x, f32x4.splat(20)));
  }
  @inline b(x: v128, g: v128, d: v128): v128 {
    const s = vsigmoid(x);
    return f32x4.add(d, v128.bitselect(g, f32x4.mul(g, s), f32x4.gt(x, f32x4.splat(20))));
  }
}
export function softplusForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Softplus>(out, x, n, chunk, nChunks); }
export function softplusBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Softplus>(dx, dout, x, n, chunk, nChunks); }

// mish: y = x tanh(softplus(x)); below the threshold 20, tanh(log1p(e)) = n / (n + 2) with
// n = e (e + 2), e = exp(x), and 1 - t^2 = 4 (n + 1) / (n + 2)^2; above it y = x, gradient 1.
// Gradient t + x (1 - t^2) sigmoid(x), sigmoid(x) = e / (1 + e).
@final class Mish {
  @inline f(x: v128): v128 {
    const e = vexp(f32x4.pmin(x, f32x4.splat(20))), n = f32x4.mul(e, f32x4.add(e, f32x4.splat(2)));
    const y = f32x4.mul(x, f32x4.div(n, f32x4.add(n, f32x4.splat(2))));
    return v128.bitselect(x, y, f32x4.gt(x, f32x4.splat(20)));
  }
  @inline b(x: v128, g: v128, d: v128): v128 {
    const e = vexp(f32x4.pmin(x, f32x4.splat(20))), n = f32x4.mul(e, f32x4.add(e, f32x4.splat(2)));
    const r = f32x4.div(f32x4.splat(1), f32x4.add(n, f32x4.splat(2))), t = f32x4.mul(n, r);
    const sech2 = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.splat(4), f32x4.add(n, f32x4.splat(1))), r), r);
    const s = f32x4.div(e, f32x4.add(f32x4.splat(1), e));
    const grad = f32x4.mul(g, f32x4.add(t, f32x4.mul(f32x4.mul(x, sech2), s)));
    return f32x4.add(d, v128.bitselect(g, grad, f32x4.gt(x, f32x4.splat(20))));
  }
}
export function mishForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Mish>(out, x, n, chunk, nChunks); }
export function mishBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Mish>(dx, dout, x, n, chunk, nChunks); }

// ---- the pieces the rows share --------------------------------------------------------------------

/** |a| with the sign bit of s. */
// @ts-ignore: decorator
@inline function copySign(a: v128, s: v128): v128 {
  return v128.or(f32x4.abs(a), v128.and(s, i32x4.splat(0x80000000)));
}

/** expm1(u) for u <= 0: the Taylor polynomial to degree 7 for u > -0.35 (truncation below 2e-8
 * relative), exp(u) - 1 below (no cancellation there: |exp(u) - 1| > 0.29). */
// @ts-ignore: decorator
@inline function vexpm1neg(u: v128): v128 {
  let p = f32x4.splat(<f32>(1.0 / 5040));
  p = f32x4.add(f32x4.mul(p, u), f32x4.splat(<f32>(1.0 / 720)));
  p = f32x4.add(f32x4.mul(p, u), f32x4.splat(<f32>(1.0 / 120)));
  p = f32x4.add(f32x4.mul(p, u), f32x4.splat(<f32>(1.0 / 24)));
  p = f32x4.add(f32x4.mul(p, u), f32x4.splat(<f32>(1.0 / 6)));
  p = f32x4.add(f32x4.mul(p, u), f32x4.splat(0.5));
  const small = f32x4.add(u, f32x4.mul(f32x4.mul(u, u), p));
  return v128.bitselect(small, f32x4.sub(vexp(u), f32x4.splat(1)), f32x4.gt(u, f32x4.splat(-0.35)));
}

/** elu / selu: pos x for x > 0, else neg expm1(x) (expm1 of min(x, 0): nothing overflows). */
// @ts-ignore: decorator
@inline function eluF(x: v128, pos: v128, neg: v128): v128 {
  const m = vexpm1neg(f32x4.pmin(x, f32x4.splat(0)));
  return v128.bitselect(f32x4.mul(pos, x), f32x4.mul(neg, m), f32x4.gt(x, f32x4.splat(0)));
}
// @ts-ignore: decorator
@inline function eluB(x: v128, g: v128, d: v128, pos: v128, neg: v128): v128 {
  const e = vexp(f32x4.pmin(x, f32x4.splat(0)));
  return f32x4.add(d, v128.bitselect(f32x4.mul(pos, g), f32x4.mul(f32x4.mul(neg, e), g), f32x4.gt(x, f32x4.splat(0))));
}

// ---- the loop, written once --------------------------------------------------------------------

/** Chunk `chunk` of nChunks of n elements: [start, end), start a multiple of 4. */
// @ts-ignore: decorator
@inline function split4(n: i32, chunk: i32, nChunks: i32): i32 {
  return chunk >= nChunks ? n : min(n, (<i32>(<i64>((n + 3) >> 2) * chunk / nChunks)) << 2);
}

/** The k < 4 floats at p in a zero-padded vector, and back. */
// @ts-ignore: decorator
@inline function tailLoad(p: usize, k: i32): v128 {
  let v = f32x4.splat(0);
  if (k > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (k > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (k > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}
// @ts-ignore: decorator
@inline function tailStore(p: usize, v: v128, k: i32): void {
  if (k > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (k > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (k > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** out = K.f(x) over chunk `chunk` of nChunks of n elements (worker threads take the chunks). */
// @ts-ignore: decorator
@inline function forward<K>(out: usize, x: usize, n0: i32, chunk: i32, nChunks: i32): void {
  const k = changetype<K>(0); // the row's methods use no instance: a direct, inlined call
  let i = split4(n0, chunk, nChunks);
  const n = split4(n0, chunk + 1, nChunks);
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, k.f(v128.load(x + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    tailStore(out + o, k.f(tailLoad(x + o, n - i)), n - i);
  }
}

/** dx = K.b(x, dout, dx) over chunk `chunk` of nChunks of n elements. */
// @ts-ignore: decorator
@inline function backward<K>(dx: usize, dout: usize, x: usize, n0: i32, chunk: i32, nChunks: i32): void {
  const k = changetype<K>(0);
  let i = split4(n0, chunk, nChunks);
  const n = split4(n0, chunk + 1, nChunks);
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, k.b(v128.load(x + o), v128.load(dout + o), v128.load(dx + o)));
  }
  if (i < n) {
    const o = <usize>i << 2, r = n - i;
    tailStore(dx + o, k.b(tailLoad(x + o, r), tailLoad(dout + o, r), tailLoad(dx + o, r)), r);
  }
}
