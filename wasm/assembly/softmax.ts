// The softmax variants' math on one row of attention scores (docs/softmax.md, "Inside the attention
// kernel"): the kinds of SCORE_KIND (src/engine/kernels/ts/attention.ts), in the float32 operations of
// native/src/softmax.h (sums in f64), on f32x4 lanes where a kind is elementwise. The TypeScript
// definition is each variant's own transform (src/nn/softmax/<name>.ts); the wasm results are checked
// against it (test/softmax-backends.test.ts), not bit for bit (exp and log1p differ from libm's).
//   spec: c[8] | hp[4 NH] (per head) | xs[nk] | ys[nk] (pfla_softmax's knots, ascending)
// A row: S[0..n) at S (lanes n..n4 of the last vector may hold -inf), P[0..n4) written (zeros past n).
import { negAbs, vexp, vexp2, vlog1p01, vsigmoid } from './vmath';

const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;

export const SK_SOFTMAX = 0, SK_EXP = 1, SK_RELU = 2, SK_RELU2 = 3, SK_SIGMOID = 4, SK_SOFTPLUS = 5, SK_SQUAREPLUS = 6,
  SK_POLY = 7, SK_EXPPOLY = 8, SK_EXPROW = 9, SK_SIGSOFT = 10, SK_PFLA = 11;
export const SCORE_NC = 8;

const LANES = i32x4(0, 1, 2, 3);

/** A row's m and Z (rowForward's results, or its inputs when reading). */
export let rowM: f32 = 0;
export let rowZ: f32 = 1;
/** Sets rowM, rowZ (a row's saved statistics, before rowForward reads them). */
export function setRow(m: f32, Z: f32): void { rowM = m; rowZ = Z; }

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }
// @ts-ignore: decorator
@inline function c(spec: usize, i: i32): f32 { return load<f32>(at(spec, i)); }
// @ts-ignore: decorator
@inline function live(s: i32, n: i32): v128 { return i32x4.lt_s(i32x4.add(i32x4.splat(s), LANES), i32x4.splat(n)); }

/** Gradient sums per (batch, head) pair a kind writes (softmax.h score_sums). */
export function scoreSums(kind: i32, nk: i32): i32 {
  return kind == SK_EXP ? 3 : kind == SK_EXPROW ? 2 : kind == SK_PFLA ? 2 * nk + 1 : 0;
}

/** exprow's shift: 0, the guess, or the row max of x = min(S, c1); rowIm: the max's first index, else -1. */
let rowIm: i32 = -1;
function shift(spec: usize, S: usize, n: i32, decision: i32): f32 {
  const mode = <i32>c(spec, 3), c1 = c(spec, 1);
  rowIm = -1;
  if (mode == 0) return 0;
  if (mode == 1 || (mode == 3 && decision == 0)) return c(spec, 2);
  let m: f32 = -Infinity;
  for (let s = 0; s < n; s++) { const v = load<f32>(at(S, s)), x = v < c1 ? v : c1; if (x > m) { m = x; rowIm = s; } }
  return m;
}

// pfla_softmax's curve at x (softmax.h sk_pfla): value, slope, segment j, t, raw width w, slope s, L.
let pv: f32 = 0, pdv: f32 = 0, pt: f32 = 0, pw: f32 = 0, ps: f32 = 0, pL: f32 = 0, pj: i32 = 0;
function pfla(spec: usize, xs: usize, nk: i32, x: f32): void {
  const ys = at(xs, nk);
  let lo = 0, hi = nk; // first index with xs >= x
  while (lo < hi) { const mid = (lo + hi) >> 1; if (load<f32>(at(xs, mid)) < x) lo = mid + 1; else hi = mid; }
  let j = lo - 1;
  j = j < 0 ? 0 : j > nk - 2 ? nk - 2 : j;
  pj = j;
  const x0 = load<f32>(at(xs, j)), x1 = load<f32>(at(xs, j + 1)), y0 = load<f32>(at(ys, j)), y1 = load<f32>(at(ys, j + 1));
  pw = x1 - x0;
  const w: f32 = pw > <f32>1e-6 ? pw : <f32>1e-6, dx = x - x0;
  pt = dx / w;
  if (c(spec, 0) == 0) {
    const Y0 = y0 * y0, Y1 = y1 * y1;
    ps = (Y1 - Y0) / w; pv = Y0 + ps * dx; pdv = ps; pL = 0;
  } else {
    ps = (y1 - y0) / w; pL = y0 + ps * dx;
    pv = x * pL * pL; pdv = pL * pL + <f32>2 * x * pL * ps;
  }
}

/** P[n..n4) = 0 (the lanes past the row's end in its last vector). */
// @ts-ignore: decorator
@inline
export function maskTail(P: usize, n: i32): void {
  if ((n & 3) == 0) return;
  const o = at(P, n & ~3);
  v128.store(o, v128.and(v128.load(o), live(n & ~3, n)));
}

/** Sum of P[0..n4) in f64 (P[n..n4) are 0): four f64 lanes, added in lane order at the end. */
function sumRow(P: usize, n: i32): f64 {
  const n4 = (n + 3) & ~3;
  let a = f64x2.splat(0), b = f64x2.splat(0);
  for (let s = 0; s < n4; s += 4) {
    const x = v128.load(at(P, s));
    a = f64x2.add(a, f64x2.promote_low_f32x4(x));
    b = f64x2.add(b, f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1)));
  }
  return lanes2(a, b);
}

/** P[0..n) *= f (P[n..n4) stays 0). */
function scaleRow(P: usize, n: i32, f: f32): void {
  const n4 = (n + 3) & ~3, fv = f32x4.splat(f);
  for (let s = 0; s < n4; s += 4) v128.store(at(P, s), f32x4.mul(v128.load(at(P, s)), fv));
}


// exppoly with power 2 on 4 lanes, from e = e^(c1 x) (taken where x < 0), y = max(x, 0) + c2 and neg = x < 0:
// P = c0 (x < 0 ? e : y^2 + c3), and its derivative c0 (x < 0 ? c1 e : 2 y). k0, k1, k3: c0, c1, c3 splatted.
// @ts-ignore: decorator
@inline function exppolyP(e: v128, y: v128, neg: v128, k0: v128, k3: v128): v128 {
  return f32x4.mul(k0, v128.bitselect(e, f32x4.add(f32x4.mul(y, y), k3), neg));
}
// @ts-ignore: decorator
@inline function exppolyF(e: v128, y: v128, neg: v128, k0: v128, k1: v128): v128 {
  return f32x4.mul(k0, v128.bitselect(f32x4.mul(k1, e), f32x4.add(y, y), neg));
}

/**
 * P from S for one row of head h (softmax.h score_row_forward), for the kinds that are not elemFast (those
 * run in the fused rows below, elemP). Row kinds: read = 0 computes m and Z into rowM, rowZ; read = 1
 * takes them from there (backward), with the same arithmetic from S to P. poly and exppoly (power other
 * than 2) leave rowM = 0, rowZ = 1. mxS: max S[0..n) when the caller has it (scoreRow's), else NaN.
 */
// @ts-ignore: decorator
@inline
export function rowForward(kind: i32, spec: usize, NH: i32, nk: i32, decision: i32, P: usize, S: usize, n: i32, h: i32, read: bool, mxS: f32): void {
  const c0 = c(spec, 0), c1 = c(spec, 1), c2 = c(spec, 2), c3 = c(spec, 3), c4 = c(spec, 4);
  const hp = at(spec, SCORE_NC + 4 * h);
  const n4 = (n + 3) & ~3;
  const v0 = f32x4.splat(c0), v1 = f32x4.splat(c1), zero = f32x4.splat(0);
  switch (kind) {
    case SK_SOFTMAX: {
      let mx: f32 = -Infinity;
      if (read) mx = rowM;
      else if (!isNaN(mxS)) mx = mxS;
      else for (let s = 0; s < n; s++) { const x = load<f32>(at(S, s)); mx = x > mx ? x : mx; }
      const mv = f32x4.splat(mx);
      for (let s = 0; s < n4; s += 4) v128.store(at(P, s), vexp(f32x4.sub(v128.load(at(S, s)), mv)));
      maskTail(P, n);
      if (!read) { rowM = mx; rowZ = <f32>sumRow(P, n); }
      scaleRow(P, n, <f32>(1.0 / <f64>rowZ));
      return;
    }
    case SK_POLY: // power other than 2
      for (let s = 0; s < n; s++) {
        const x = load<f32>(at(S, s));
        store<f32>(at(P, s), c0 * (x > 0 ? Mathf.pow(x, c4) + c3 : x >= c1 ? c2 * x + c3 : 0));
      }
      for (let s = n; s < n4; s++) store<f32>(at(P, s), 0);
      break;
    case SK_EXPPOLY: // power other than 2: e^(c1 x) on the lanes, the power per score
      for (let s = 0; s < n4; s += 4) {
        const x = v128.load(at(S, s));
        v128.store(at(P, s), vexp(f32x4.mul(v1, v128.and(x, f32x4.lt(x, zero)))));
      }
      for (let s = 0; s < n; s++) {
        const x = load<f32>(at(S, s));
        store<f32>(at(P, s), c0 * (x < 0 ? load<f32>(at(P, s)) : Mathf.pow(x + c2, c4) + c3));
      }
      for (let s = n; s < n4; s++) store<f32>(at(P, s), 0);
      break;
    case SK_EXPROW: {
      // max_s min(S, c1) = min(max_s S, c1): scoreRow's max serves when the shift is the row max
      const mode = <i32>c3, rowMax = mode == 2 || (mode == 3 && decision != 0);
      const sh = read ? rowM : rowMax && !isNaN(mxS) ? min<f32>(mxS, c1) : shift(spec, S, n, decision), shv = f32x4.splat(sh);
      for (let s = 0; s < n4; s += 4) {
        const x = f32x4.pmin(v1, v128.load(at(S, s))); // S < c1 ? S : c1
        v128.store(at(P, s), vexp(f32x4.mul(v0, f32x4.sub(x, shv))));
      }
      maskTail(P, n);
      if (!read) { const sum = sumRow(P, n); rowM = sh; rowZ = c(spec, 5) != 0 ? <f32>(<f64>load<f32>(hp) + sum) : 1; }
      scaleRow(P, n, <f32>(<f64>c4 / <f64>rowZ));
      return;
    }
    case SK_SIGSOFT: {
      let mm: f32;
      if (read) mm = rowM;
      else {
        let mx: f32 = -Infinity, mn: f32 = Infinity;
        for (let s = 0; s < n; s++) { const x = load<f32>(at(S, s)); mx = x > mx ? x : mx; mn = x < mn ? x : mn; }
        mm = c0 * (c0 >= 0 ? mx : mn);
      }
      const mv = f32x4.splat(mm);
      for (let s = 0; s < n4; s += 4) v128.store(at(P, s), vexp(f32x4.sub(f32x4.mul(v0, v128.load(at(S, s))), mv)));
      for (let s = 0; s < n4; s += 4) v128.store(at(P, s), f32x4.mul(v128.load(at(P, s)), vsigmoid(f32x4.mul(v0, v128.load(at(S, s))))));
      maskTail(P, n);
      if (!read) { rowM = mm; rowZ = <f32>sumRow(P, n); }
      scaleRow(P, n, <f32>(1.0 / <f64>rowZ));
      return;
    }
    case SK_PFLA: {
      const xs = at(spec, SCORE_NC + 4 * NH);
      let sum: f64 = 0;
      for (let s = 0; s < n; s++) { pfla(spec, xs, nk, load<f32>(at(S, s))); store<f32>(at(P, s), pv); sum += <f64>pv; }
      for (let s = n; s < n4; s++) store<f32>(at(P, s), 0);
      if (!read) { rowM = 0; rowZ = c1 != 0 ? <f32>(sum + <f64>c2) : c2; }
      scaleRow(P, n, <f32>(1.0 / <f64>rowZ));
      return;
    }
  }
  if (!read) { rowM = 0; rowZ = 1; } // poly, exppoly
}

// ---- The elementwise kinds (elemFast) on 4 lanes, for the attention's fused rows (attention.ts), which run
// them on every path (with or without the quantizers and dropout). Each kind has a tag type; a generic
// function instantiated with a tag knows its kind at compile time (kindOf<K>()), so its loop holds only
// that kind's arithmetic.
export class KExp {}
export class KRelu {}
export class KRelu2 {}
export class KSigmoid {}
export class KSoftplus {}
export class KSquareplus {}
export class KPoly {}
export class KExppoly {}

// @ts-ignore: decorator
@inline
export function kindOf<K>(): i32 {
  return idof<K>() == idof<KExp>() ? SK_EXP : idof<K>() == idof<KRelu>() ? SK_RELU : idof<K>() == idof<KRelu2>() ? SK_RELU2
    : idof<K>() == idof<KSigmoid>() ? SK_SIGMOID : idof<K>() == idof<KSoftplus>() ? SK_SOFTPLUS
    : idof<K>() == idof<KSquareplus>() ? SK_SQUAREPLUS : idof<K>() == idof<KPoly>() ? SK_POLY : SK_EXPPOLY;
}

/** Whether a kind runs in the fused elementwise rows: the elementwise kinds, poly and exppoly with power 2. */
export function elemFast(kind: i32, spec: usize): bool {
  return kind >= SK_EXP && kind <= SK_EXPPOLY && ((kind != SK_POLY && kind != SK_EXPPOLY) || c(spec, 4) == 2);
}

/**
 * P of 4 scores x = s sv (s: the dots, sv: the scale) for the elementwise kind of tag K (elemFast; not softplus,
 * whose fused rows run two passes of their own: softplusU, softplusP, softplusDS), and with
 * wantF (backward; not exp, whose backward is its own) dS scale = dw dP/dS scale stored at dS. k0..k3: c0..c3
 * splatted (elemK: the exp kind's k0 is c0 log2 e); e0, e1, e2: exp's beta, amax, g (the head's hp0..hp2), e0
 * also squareplus's c0 / 2, relu2's 2 c0, and the factor that turns the dots into vexp2's exponent: sigmoid's
 * -scale log2 e, exppoly's c1 scale log2 e (elemE0). The caller splats them once per row (not per vector: the
 * loop keeps them in registers).
 */
// @ts-ignore: decorator
@inline
export function elemP<K>(s: v128, sv: v128, k0: v128, k1: v128, k2: v128, k3: v128, e0: v128, e1: v128, e2: v128, wantF: bool, dw: v128, dS: usize): v128 {
  const kind = kindOf<K>(), zero = f32x4.splat(0), one = f32x4.splat(1), x = f32x4.mul(s, sv);
  if (kind == SK_EXP) return f32x4.mul(vexp2(f32x4.mul(k0, f32x4.pmin(e1, f32x4.sub(x, e0)))), e2); // k0 = c0 log2 e
  if (kind == SK_RELU) {
    const pos = f32x4.gt(x, zero);
    if (wantF) v128.store(dS, f32x4.mul(f32x4.mul(dw, v128.and(k0, pos)), sv));
    return v128.and(f32x4.mul(k0, x), pos);
  }
  if (kind == SK_RELU2) {
    const pos = f32x4.gt(x, zero);
    if (wantF) v128.store(dS, f32x4.mul(f32x4.mul(dw, v128.and(f32x4.mul(e0, x), pos)), sv));
    return v128.and(f32x4.mul(f32x4.mul(k0, x), x), pos);
  }
  if (kind == SK_SIGMOID) { // e0 = -scale log2 e: e^-x = 2^(s e0) from the dot itself
    const d = f32x4.add(one, vexp2(f32x4.mul(s, e0)));
    if (!wantF) return f32x4.div(k0, d);
    const q = f32x4.div(one, d), P = f32x4.mul(k0, q);
    v128.store(dS, f32x4.mul(f32x4.mul(dw, f32x4.mul(P, f32x4.sub(one, q))), sv));
    return P;
  }
  if (kind == SK_SQUAREPLUS) {
    const r = f32x4.sqrt(f32x4.add(f32x4.mul(x, x), k1));
    if (wantF) v128.store(dS, f32x4.mul(f32x4.mul(dw, f32x4.mul(e0, f32x4.add(one, f32x4.div(x, r)))), sv));
    return f32x4.mul(e0, f32x4.add(x, r));
  }
  if (kind == SK_POLY) { // power 2
    const pos = f32x4.gt(x, zero), lin = f32x4.ge(x, k1);
    if (wantF) v128.store(dS, f32x4.mul(f32x4.mul(dw, f32x4.mul(k0, v128.bitselect(f32x4.mul(f32x4.splat(2), x), v128.and(k2, lin), pos))), sv));
    return f32x4.mul(k0, v128.bitselect(f32x4.add(f32x4.mul(x, x), k3), v128.and(f32x4.add(f32x4.mul(k2, x), k3), lin), pos));
  }
  // exppoly, power 2: x < 0: e^(c1 x), else (x + c2)^2 + c3; e0 = c1 scale log2 e: e^(c1 x) = 2^(s e0)
  const neg = f32x4.lt(x, zero), e = vexp2(v128.and(f32x4.mul(s, e0), neg)), y = f32x4.add(f32x4.pmax(x, zero), k2);
  if (wantF) v128.store(dS, f32x4.mul(f32x4.mul(dw, exppolyF(e, y, neg, k0, k1)), sv));
  return exppolyP(e, y, neg, k0, k3);
}

/** k0..k3 of elemP for kind K: the spec's c0..c3, but the exp kind's c0 log2 e (its exponent in vexp2's units). */
// @ts-ignore: decorator
@inline
export function elemK<K>(i: i32, spec: usize): f32 {
  const kind = kindOf<K>();
  return kind == SK_EXP && i == 0 ? c(spec, 0) * LOG2E : c(spec, i);
}

// softplus from the dots s: max(x, 0) + log1p(e^-|x|) with t = x log2 e = s e0 (e0 = scale log2 e), e^-|x| = 2^-|t|.
/** u = e^-|x| = 2^-|t|. */
// @ts-ignore: decorator
@inline export function softplusU(s: v128, e0: v128): v128 { return vexp2(negAbs(f32x4.mul(s, e0)), true); }
/** P = c0 (max(x, 0) + log1p(u)): t - (-|t|) = 2 max(t, 0) exactly, e1 = c0 ln 2 / 2. */
// @ts-ignore: decorator
@inline export function softplusP(s: v128, u: v128, e0: v128, e1: v128, k0: v128): v128 {
  const t = f32x4.mul(s, e0);
  return f32x4.add(f32x4.mul(f32x4.sub(t, negAbs(t)), e1), f32x4.mul(k0, vlog1p01(u)));
}
/** dS = dP σ(x) c0 scale (e2), σ(x) = (x >= 0 ? 1 : u) / (1 + u): one division; the factor is max(u, 1 where t's
 * sign bit is clear, else 0) (-0 gives u = 1 too). */
// @ts-ignore: decorator
@inline export function softplusDS(s: v128, u: v128, e0: v128, e2: v128, dw: v128): v128 {
  const one = f32x4.splat(1), t = f32x4.mul(s, e0);
  return f32x4.div(f32x4.mul(f32x4.mul(dw, e2), f32x4.pmax(u, v128.andnot(one, i32x4.shr_s(t, 31)))), f32x4.add(one, u));
}

/** e0 of elemP (and of the softplus rows) for kind K (e1, e2: elemE12). */
// @ts-ignore: decorator
@inline
export function elemE0<K>(spec: usize, hp: usize, scale: f32): f32 {
  const kind = kindOf<K>();
  return kind == SK_EXP ? load<f32>(hp) : kind == SK_SQUAREPLUS ? c(spec, 0) * <f32>0.5 : kind == SK_RELU2 ? <f32>2 * c(spec, 0)
    : kind == SK_SIGMOID ? -scale * LOG2E : kind == SK_EXPPOLY ? c(spec, 1) * scale * LOG2E : kind == SK_SOFTPLUS ? scale * LOG2E : 0;
}

/** e1 (i = 1) and e2 (i = 2) of elemP for kind K: exp's hp1, hp2; the softplus rows' c0 ln 2 / 2 (softplusP) and
 * c0 scale (softplusDS); else 0. */
// @ts-ignore: decorator
@inline
export function elemE12<K>(i: i32, spec: usize, hp: usize, scale: f32): f32 {
  const kind = kindOf<K>();
  return kind == SK_EXP ? load<f32>(hp + (<usize>i << 2)) : kind == SK_SOFTPLUS ? c(spec, 0) * (i == 1 ? LN2 * <f32>0.5 : scale) : 0;
}

/**
 * d[0..n) holds dP; it becomes dS (before the scale) for one row (softmax.h score_row_backward). S, P as
 * rowForward gave them, m and Z the row's statistics; sums: the pair's G sums (added to). The kinds of
 * rowForward only (not elemFast's: elemP).
 */
export function rowBackward(kind: i32, spec: usize, NH: i32, nk: i32, decision: i32, d: usize, S: usize, P: usize, n: i32, h: i32,
  m: f32, Z: f32, sums: usize): void {
  const c0 = c(spec, 0), c1 = c(spec, 1), c2 = c(spec, 2), c4 = c(spec, 4);
  const n4 = (n + 3) & ~3;
  const v0 = f32x4.splat(c0), v1 = f32x4.splat(c1), zero = f32x4.splat(0);
  let dot: f64 = 0;
  if (kind == SK_SOFTMAX || kind >= SK_EXPROW) for (let s = 0; s < n; s++) dot += <f64>load<f32>(at(P, s)) * <f64>load<f32>(at(d, s));
  const fd = <f32>dot;
  switch (kind) {
    case SK_SOFTMAX: {
      const fv = f32x4.splat(fd);
      for (let s = 0; s < n4; s += 4) v128.store(at(d, s), f32x4.mul(v128.load(at(P, s)), f32x4.sub(v128.load(at(d, s)), fv)));
      break;
    }
    case SK_POLY: // power other than 2
      for (let s = 0; s < n; s++) {
        const x = load<f32>(at(S, s));
        store<f32>(at(d, s), load<f32>(at(d, s)) * (c0 * (x > 0 ? c4 * Mathf.pow(x, c4 - 1) : x >= c1 ? c2 : 0)));
      }
      break;
    case SK_EXPPOLY: // power other than 2
      for (let s = 0; s < n4; s += 4) {
        const x = v128.load(at(S, s)), e = vexp(f32x4.mul(v1, v128.and(x, f32x4.lt(x, zero))));
        for (let l = 0; l < 4 && s + l < n; l++) {
          const xl = load<f32>(at(S, s + l));
          const f: f32 = xl < 0 ? c1 * expLane(e, l) : c4 * Mathf.pow(xl + c2, c4 - 1);
          store<f32>(at(d, s + l), load<f32>(at(d, s + l)) * (c0 * f));
        }
      }
      break;
    case SK_EXPROW: {
      const sub: f32 = c(spec, 5) != 0 ? <f32>(dot / <f64>c4) : 0;
      let dsum: f64 = 0, dtm: f64 = 0;
      for (let s = 0; s < n; s++) {
        const sv = load<f32>(at(S, s));
        const da = c0 * load<f32>(at(P, s)) * (load<f32>(at(d, s)) - sub), x = sv < c1 ? sv : c1;
        dsum += <f64>da; dtm += <f64>da * <f64>(x - m);
        store<f32>(at(d, s), sv > c1 ? 0 : da);
      }
      const mode = <i32>c(spec, 3);
      if ((<i32>c(spec, 7) & 1) != 0 && (mode == 2 || (mode == 3 && decision != 0))) {
        shift(spec, S, n, decision);
        const im = rowIm;
        if (im >= 0 && !(load<f32>(at(S, im)) > c1)) store<f32>(at(d, im), load<f32>(at(d, im)) - <f32>dsum);
      }
      store<f64>(sums, load<f64>(sums) + dtm);
      if (c(spec, 5) != 0) store<f64>(sums, load<f64>(sums, 8) + dot / <f64>Z, 8);
      break;
    }
    case SK_SIGSOFT: {
      const fv = f32x4.splat(fd), two = f32x4.splat(2);
      for (let s = 0; s < n4; s += 4) {
        const g = f32x4.mul(f32x4.mul(v128.load(at(P, s)), f32x4.sub(v128.load(at(d, s)), fv)), v0);
        v128.store(at(d, s), f32x4.mul(g, f32x4.sub(two, vsigmoid(f32x4.mul(v0, v128.load(at(S, s)))))));
      }
      break;
    }
    case SK_PFLA: {
      const xs = at(spec, SCORE_NC + 4 * NH), ys = at(xs, nk);
      const lx = c(spec, 4) != 0, ly = c(spec, 5) != 0, quad = c(spec, 0) != 0;
      const sub: f32 = c1 != 0 ? fd : 0;
      for (let s = 0; s < n; s++) {
        const sv = load<f32>(at(S, s));
        pfla(spec, xs, nk, sv);
        const gy = (load<f32>(at(d, s)) - sub) / Z;
        store<f32>(at(d, s), gy * pdv);
        if (!lx && !ly) continue;
        const gl: f32 = quad ? gy * <f32>2 * sv * pL : gy;
        const j = pj;
        if (ly) {
          const dya: f32 = quad ? 1 : <f32>2 * load<f32>(at(ys, j)), dyb: f32 = quad ? 1 : <f32>2 * load<f32>(at(ys, j + 1));
          addSum(sums, nk + j, <f64>(gl * (<f32>1 - pt) * dya));
          addSum(sums, nk + j + 1, <f64>(gl * pt * dyb));
        }
        if (lx) {
          if (pw > <f32>1e-6) { addSum(sums, j, <f64>(gl * ps * (pt - <f32>1))); addSum(sums, j + 1, -<f64>(gl * ps * pt)); }
          else addSum(sums, j, -<f64>(gl * ps));
        }
      }
      addSum(sums, 2 * nk, dot / <f64>Z);
      break;
    }
  }
  for (let s = n; s < n4; s++) store<f32>(at(d, s), 0);
}

/** The four f64 lanes of two f64x2 added in order. */
// @ts-ignore: decorator
@inline
export function lanes2(a: v128, b: v128): f64 {
  return f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1) + f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1);
}

// @ts-ignore: decorator
@inline function addSum(sums: usize, i: i32, x: f64): void { const o = sums + (<usize>i << 3); store<f64>(o, load<f64>(o) + x); }

// @ts-ignore: decorator
@inline
function expLane(e: v128, l: i32): f32 {
  return l == 0 ? f32x4.extract_lane(e, 0) : l == 1 ? f32x4.extract_lane(e, 1) : l == 2 ? f32x4.extract_lane(e, 2) : f32x4.extract_lane(e, 3);
}
