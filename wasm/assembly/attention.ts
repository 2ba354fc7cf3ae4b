// Causal multi-head attention, the math of src/engine/kernels/ts/attention.ts (no T x T storage: the
// row statistics m, Z are saved and backward recomputes each row's probabilities; dropout from the
// same counter hash). Per batch and head,
// the head's keys and values are first copied transposed into work as (D, Tp), Tp = T rounded up
// to 4, so that one query row's scores q[t] . k[s] for s = 0..t are computed four s at a time
// (sum over d of q[t, d] * kT[d, s..s+3]). Probabilities use the vector exp; sums run in f32x4
// lanes. Everything else (weighted sums of value rows, gradient rows) is vectorized over d.
// With bfloat16 products (flags & 1; docs/dtype.md) q, k, v and the products' dout arrive rounded
// (wasm-backend.ts rounds copies first) and the weights P keep and dS scale are rounded here before
// they multiply a row: every product's operands are bfloat16, the sums float32, as native/src/attention.c.
import { vexp, vexp2 } from './vmath';
import { bf16, vbf16 } from './bf16';
import { elemE0, elemE12, elemFast, elemK, softplusDS, softplusP, softplusU, elemP, kindOf, lanes2, KExp, KExppoly, KPoly, KRelu, KRelu2, KSigmoid, KSoftplus, KSquareplus, maskTail, rowForward, rowBackward, rowM, rowZ, scoreSums, setRow, SCORE_NC, SK_EXP, SK_EXPROW, SK_POLY, SK_RELU,
  SK_RELU2, SK_SIGMOID, SK_SOFTMAX, SK_SOFTPLUS, SK_SQUAREPLUS } from './softmax';

const LANES = i32x4(0, 1, 2, 3);

// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline
function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** dst (D, Tp) = head h of src (rows b*T.., channels ho..ho+D) transposed; columns T..Tp zeroed. */
function transposeHead(dst: usize, src: usize, T: i32, C: i32, D: i32, Tp: i32): void {
  for (let s = 0; s < T; s++) {
    const row = src + (<usize>s * <usize>C << 2);
    for (let d = 0; d < D; d++) store<f32>(dst + ((<usize>d * <usize>Tp + <usize>s) << 2), load<f32>(row + (<usize>d << 2)));
  }
  for (let d = 0; d < D; d++) for (let s = T; s < Tp; s++) store<f32>(dst + ((<usize>d * <usize>Tp + <usize>s) << 2), 0);
}

/** out[0..D) = sum_s W[s] v[s] over s < n (rows of v C floats apart), each element summed in s order
 * from 0 (the sums of one axpy per s, held in registers 16 columns at a time). Also a row of scores
 * against a transposed panel: row[0..n4) = sum_d x[d] mT[d, 0..n4) is weightedRows(row, x, mT, D, Tp, n4). */
function weightedRows(out: usize, W: usize, v: usize, n: i32, C: i32, D: i32): void {
  const ld = <usize>C << 2;
  let d = 0;
  for (; d + 16 <= D; d += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let x = v + (<usize>d << 2);
    for (let s = 0; s < n; s++) {
      const w = v128.load32_splat(W + (<usize>s << 2));
      a0 = f32x4.add(a0, f32x4.mul(w, v128.load(x)));
      a1 = f32x4.add(a1, f32x4.mul(w, v128.load(x, 16)));
      a2 = f32x4.add(a2, f32x4.mul(w, v128.load(x, 32)));
      a3 = f32x4.add(a3, f32x4.mul(w, v128.load(x, 48)));
      x += ld;
    }
    const o = out + (<usize>d << 2);
    v128.store(o, a0); v128.store(o, a1, 16); v128.store(o, a2, 32); v128.store(o, a3, 48);
  }
  for (; d + 4 <= D; d += 4) {
    let a = f32x4.splat(0), x = v + (<usize>d << 2);
    for (let s = 0; s < n; s++) { a = f32x4.add(a, f32x4.mul(v128.load32_splat(W + (<usize>s << 2)), v128.load(x))); x += ld; }
    v128.store(out + (<usize>d << 2), a);
  }
  for (; d < D; d++) {
    let a: f32 = 0, x = v + (<usize>d << 2);
    for (let s = 0; s < n; s++) { a += load<f32>(W + (<usize>s << 2)) * load<f32>(x); x += ld; }
    store<f32>(out + (<usize>d << 2), a);
  }
}

/** Backward of one row t over its keys s < n: dv[s] += W[s] dO_t, dk[s] += G[s] q_t, dq_t += sum_s G[s] k[s]
 * (rows of dv, dk, k C floats apart from their bases): the same operations in the same order as one
 * axpy per s and term, with dO_t, q_t and the dq sum held in registers 16 columns at a time. */
function rowsBackward(dv: usize, dk: usize, k: usize, W: usize, G: usize, dOt: usize, qt: usize, dqt: usize, n: i32, C: i32, D: i32): void {
  const ld = <usize>C << 2;
  let d = 0;
  for (; d + 16 <= D; d += 16) {
    const o = <usize>d << 2;
    const g0 = v128.load(dOt + o), g1 = v128.load(dOt + o, 16), g2 = v128.load(dOt + o, 32), g3 = v128.load(dOt + o, 48);
    const q0 = v128.load(qt + o), q1 = v128.load(qt + o, 16), q2 = v128.load(qt + o, 32), q3 = v128.load(qt + o, 48);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let x = o;
    for (let s = 0; s < n; s++) {
      const w = v128.load32_splat(W + (<usize>s << 2)), ds = v128.load32_splat(G + (<usize>s << 2));
      const pv = dv + x, pk = dk + x, kk = k + x;
      v128.store(pv, f32x4.add(v128.load(pv), f32x4.mul(w, g0)));
      v128.store(pv, f32x4.add(v128.load(pv, 16), f32x4.mul(w, g1)), 16);
      v128.store(pv, f32x4.add(v128.load(pv, 32), f32x4.mul(w, g2)), 32);
      v128.store(pv, f32x4.add(v128.load(pv, 48), f32x4.mul(w, g3)), 48);
      a0 = f32x4.add(a0, f32x4.mul(ds, v128.load(kk)));
      a1 = f32x4.add(a1, f32x4.mul(ds, v128.load(kk, 16)));
      a2 = f32x4.add(a2, f32x4.mul(ds, v128.load(kk, 32)));
      a3 = f32x4.add(a3, f32x4.mul(ds, v128.load(kk, 48)));
      v128.store(pk, f32x4.add(v128.load(pk), f32x4.mul(ds, q0)));
      v128.store(pk, f32x4.add(v128.load(pk, 16), f32x4.mul(ds, q1)), 16);
      v128.store(pk, f32x4.add(v128.load(pk, 32), f32x4.mul(ds, q2)), 32);
      v128.store(pk, f32x4.add(v128.load(pk, 48), f32x4.mul(ds, q3)), 48);
      x += ld;
    }
    const pq = dqt + o;
    v128.store(pq, f32x4.add(v128.load(pq), a0)); v128.store(pq, f32x4.add(v128.load(pq, 16), a1), 16);
    v128.store(pq, f32x4.add(v128.load(pq, 32), a2), 32); v128.store(pq, f32x4.add(v128.load(pq, 48), a3), 48);
  }
  for (; d + 4 <= D; d += 4) {
    const o = <usize>d << 2, g = v128.load(dOt + o), qv = v128.load(qt + o);
    let a = f32x4.splat(0), x = o;
    for (let s = 0; s < n; s++) {
      const w = v128.load32_splat(W + (<usize>s << 2)), ds = v128.load32_splat(G + (<usize>s << 2));
      v128.store(dv + x, f32x4.add(v128.load(dv + x), f32x4.mul(w, g)));
      a = f32x4.add(a, f32x4.mul(ds, v128.load(k + x)));
      v128.store(dk + x, f32x4.add(v128.load(dk + x), f32x4.mul(ds, qv)));
      x += ld;
    }
    v128.store(dqt + o, f32x4.add(v128.load(dqt + o), a));
  }
  for (; d < D; d++) {
    const o = <usize>d << 2, g = load<f32>(dOt + o), qv = load<f32>(qt + o);
    let a: f32 = 0, x = o;
    for (let s = 0; s < n; s++) {
      const w = load<f32>(W + (<usize>s << 2)), ds = load<f32>(G + (<usize>s << 2));
      store<f32>(dv + x, load<f32>(dv + x) + w * g);
      a += ds * load<f32>(k + x);
      store<f32>(dk + x, load<f32>(dk + x) + ds * qv);
      x += ld;
    }
    store<f32>(dqt + o, load<f32>(dqt + o) + a);
  }
}

/** Chunk `chunk` of nChunks gets (batch, head) pairs [P chunk / nChunks, P (chunk + 1) / nChunks), P = B NH. */
// @ts-ignore: decorator
@inline
function pairStart(B: i32, NH: i32, chunk: i32, nChunks: i32): i32 {
  return <i32>(<i64>(B * NH) * chunk / nChunks);
}

// The counter hash of src/engine/kernels/ts/attention.ts (mix32, attnRowKey, attnKept).
// @ts-ignore: decorator
@inline
function mix32(x: u32): u32 {
  x ^= x >> 16; x *= 0x7feb352d;
  x ^= x >> 15; x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}
// @ts-ignore: decorator
@inline
function rowKey(seed: u32, i: u32, t: u32): u32 { return mix32(mix32(seed ^ mix32(i)) ^ t); }
// @ts-ignore: decorator
@inline
function keepAt(rk: u32, s: i32, thr: f64, ks: f32): f32 {
  const h = mix32(rk + <u32>s * 0x9e3779b9);
  return <f64>(h >> 8) >= thr ? ks : 0;
}

/** row[0..n) = scale * q[t] . k[s] for s < n, masked lanes (s >= n) -inf; returns the row max when
 * wantMax (softmax's forward, the row kinds that shift by it), else -inf: backward and the elementwise
 * kinds need no max. pmax (one instruction; x > mx ? x : mx, as native/src/attention.c). */
// @ts-ignore: decorator
@inline
function scoreRow(row: usize, qo: usize, kT: usize, D: i32, Tp: i32, n: i32, scale: f32, wantMax: bool): f32 {
  const n4 = (n + 3) & ~3;
  weightedRows(row, qo, kT, D, Tp, n4);
  let mx = f32x4.splat(-Infinity);
  const sv = f32x4.splat(scale);
  for (let s = 0; s < n4; s += 4) {
    let x = f32x4.mul(v128.load(row + (<usize>s << 2)), sv);
    if (s + 4 > n) x = v128.bitselect(x, f32x4.splat(-Infinity), i32x4.lt_s(i32x4.add(i32x4.splat(s), LANES), i32x4.splat(n)));
    v128.store(row + (<usize>s << 2), x);
    if (wantMax) mx = f32x4.pmax(mx, x);
  }
  return hmax(mx);
}

/** row[s] = exp(row[s] - m) for s < n4 (masked lanes 0); returns their sum (f32x4 lanes). */
// @ts-ignore: decorator
@inline
function expRow(row: usize, n: i32, m: f32): f32 {
  const n4 = (n + 3) & ~3, mv = f32x4.splat(m);
  let sum = f32x4.splat(0);
  for (let s = 0; s < n4; s += 4) {
    const e = vexp(f32x4.sub(v128.load(row + (<usize>s << 2)), mv));
    const e2 = s + 4 > n ? v128.and(e, i32x4.lt_s(i32x4.add(i32x4.splat(s), LANES), i32x4.splat(n))) : e; // the last vector: lanes past n
    v128.store(row + (<usize>s << 2), e2);
    sum = f32x4.add(sum, e2);
  }
  return hsum(sum);
}

// The fused rows of an elementwise kind K (softmax.ts elemP): no row pass, the kind's P (and in backward
// dS) straight from the row's dots S times sv (the scale), or from the quantized scores S' (sv = 1): every
// path of an elemFast kind runs them, so forward and backward compute the same weights. Lanes n..n4 of
// the last vector are other keys' dots (S': 0), finite; their P and dS are never read (the weighted sums
// and rowsBackward stop at n), and backward zeroes dP there, so the exp kind's sums get nothing from
// them: no masks in the loops. Constants splatted once per row.
// @ts-ignore: decorator
@inline
function elemRowForward<K>(P: usize, S: usize, n: i32, sv: v128, spec: usize, hp: usize): void {
  const n4 = (n + 3) & ~3;
  const k0 = f32x4.splat(elemK<K>(0, spec)), k1 = f32x4.splat(elemK<K>(1, spec)), k2 = f32x4.splat(elemK<K>(2, spec)), k3 = f32x4.splat(elemK<K>(3, spec));
  const e0 = f32x4.splat(elemE0<K>(spec, hp, f32x4.extract_lane(sv, 0))), e1 = f32x4.splat(elemE12<K>(1, spec, hp, f32x4.extract_lane(sv, 0))), e2 = f32x4.splat(elemE12<K>(2, spec, hp, f32x4.extract_lane(sv, 0)));
  if (kindOf<K>() == SK_EXP && load<f32>(hp, 4) == Infinity) { // nothing clamped: 2^(c0 log2 e (scale S - beta)) g
    const ks = f32x4.mul(k0, sv), kb = f32x4.mul(k0, e0);
    for (let s = 0; s < n4; s += 4) {
      const o = <usize>s << 2;
      v128.store(P + o, f32x4.mul(vexp2(f32x4.sub(f32x4.mul(v128.load(S + o), ks), kb)), e2));
    }
    return;
  }
  // softplus in two passes over the row (in L1): u = 2^-|t|, then P. One loop holding both vexp2's and log1p's
  // constants needs more than V8's 16 vector registers and reloads them from the stack every vector; two
  // passes keep each one's constants in registers (the layer's forward + backward: 0.98x -> 0.91x of softmax).
  if (kindOf<K>() == SK_SOFTPLUS) {
    for (let s = 0; s < n4; s += 4) { const o = <usize>s << 2; v128.store(P + o, softplusU(v128.load(S + o), e0)); }
    for (let s = 0; s < n4; s += 4) { const o = <usize>s << 2; v128.store(P + o, softplusP(v128.load(S + o), v128.load(P + o), e0, e1, k0)); }
    return;
  }
  for (let s = 0; s < n4; s += 4) {
    const o = <usize>s << 2;
    v128.store(P + o, elemP<K>(v128.load(S + o), sv, k0, k1, k2, k3, e0, e1, e2, false, sv, 0));
  }
}

// The exp kind's per-pair sums (Σ dP P, Σ unclamped dP P, Σ dP P a) in f64 lanes: f32x4 partials of at
// most 16 vectors of a row each, promoted and added here (lanes in a fixed order: thread-count independent).
let sumA0 = f64x2.splat(0), sumA1 = f64x2.splat(0), sumF0 = f64x2.splat(0), sumF1 = f64x2.splat(0), sumW0 = f64x2.splat(0), sumW1 = f64x2.splat(0);

// @ts-ignore: decorator
@inline function promoteLo(x: v128): v128 { return f64x2.promote_low_f32x4(x); }
// @ts-ignore: decorator
@inline function promoteHi(x: v128): v128 { return f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1)); }

/**
 * Backward's fused row of kind K: W[0..n) = P and drow (dP) becomes dS sv (both unrounded: the caller
 * rounds them with bfloat16). The exp kind adds its sums by mode: 0 nothing clamped and Σ dP P a not wanted
 * (Σ dP P only, which is then also Σ unclamped) to sumA; 1 Σ dP P only wanted, to sumA; 2 all three, to
 * sumA, sumF and sumW.
 */
// @ts-ignore: decorator
@inline
function elemRowBackward<K>(W: usize, S: usize, drow: usize, n: i32, sv: v128, spec: usize, hp: usize, mode: i32): void {
  const n4 = (n + 3) & ~3, zero = f32x4.splat(0);
  const k0 = f32x4.splat(elemK<K>(0, spec)), k1 = f32x4.splat(elemK<K>(1, spec)), k2 = f32x4.splat(elemK<K>(2, spec)), k3 = f32x4.splat(elemK<K>(3, spec));
  const e0 = f32x4.splat(elemE0<K>(spec, hp, f32x4.extract_lane(sv, 0))), e1 = f32x4.splat(elemE12<K>(1, spec, hp, f32x4.extract_lane(sv, 0))), e2 = f32x4.splat(elemE12<K>(2, spec, hp, f32x4.extract_lane(sv, 0)));
  if ((n & 3) != 0) { const o = drow + (<usize>(n & ~3) << 2); v128.store(o, v128.and(v128.load(o), i32x4.lt_s(i32x4.add(i32x4.splat(n & ~3), LANES), i32x4.splat(n)))); }
  if (kindOf<K>() == SK_SOFTPLUS) { // two passes as forward's: u, then P and dS
    for (let s = 0; s < n4; s += 4) { const o = <usize>s << 2; v128.store(W + o, softplusU(v128.load(S + o), e0)); }
    for (let s = 0; s < n4; s += 4) {
      const o = <usize>s << 2, x = v128.load(S + o), u = v128.load(W + o);
      v128.store(drow + o, softplusDS(x, u, e0, e2, v128.load(drow + o)));
      v128.store(W + o, softplusP(x, u, e0, e1, k0));
    }
    return;
  }
  if (kindOf<K>() != SK_EXP) {
    for (let s = 0; s < n4; s += 4) {
      const o = <usize>s << 2;
      v128.store(W + o, elemP<K>(v128.load(S + o), sv, k0, k1, k2, k3, e0, e1, e2, true, v128.load(drow + o), drow + o));
    }
    return;
  }
  const kl = k0, c0 = f32x4.splat(load<f32>(spec)); // c0 in log2 units (elemK: the exponent for vexp2), and c0 itself
  for (let s0 = 0; s0 < n4; s0 += 64) { // dS = dP P c0 (a < amax), the sums over 16 vectors at most in f32
    const s1 = min(s0 + 64, n4);
    let pa = zero, pf = zero, pw = zero;
    if (mode == 0) { // nothing clamped: 2^(c0 log2 e (scale S - beta)) g, dS scale = dP P (c0 scale)
      const ks = f32x4.mul(c0, sv), ksl = f32x4.mul(kl, sv), kbl = f32x4.mul(kl, e0);
      for (let s = s0; s < s1; s += 4) {
        const o = <usize>s << 2;
        const P = f32x4.mul(vexp2(f32x4.sub(f32x4.mul(v128.load(S + o), ksl), kbl)), e2), gp = f32x4.mul(v128.load(drow + o), P);
        pa = f32x4.add(pa, gp);
        v128.store(W + o, P);
        v128.store(drow + o, f32x4.mul(gp, ks));
      }
    } else if (mode == 1) { // clamped, Σ dP P only
      const ks = f32x4.mul(c0, sv);
      for (let s = s0; s < s1; s += 4) {
        const o = <usize>s << 2, a = f32x4.sub(f32x4.mul(v128.load(S + o), sv), e0);
        const P = f32x4.mul(vexp2(f32x4.mul(kl, f32x4.pmin(e1, a))), e2), gp = f32x4.mul(v128.load(drow + o), P);
        pa = f32x4.add(pa, gp);
        v128.store(W + o, P);
        v128.store(drow + o, f32x4.mul(v128.and(gp, f32x4.lt(a, e1)), ks));
      }
    } else {
      for (let s = s0; s < s1; s += 4) {
        const o = <usize>s << 2, a = f32x4.sub(f32x4.mul(v128.load(S + o), sv), e0), am = f32x4.pmin(e1, a);
        const P = f32x4.mul(vexp2(f32x4.mul(kl, am)), e2), gp = f32x4.mul(v128.load(drow + o), P), gf = v128.and(gp, f32x4.lt(a, e1));
        pa = f32x4.add(pa, gp); pf = f32x4.add(pf, gf); pw = f32x4.add(pw, f32x4.mul(gp, am));
        v128.store(W + o, P);
        v128.store(drow + o, f32x4.mul(f32x4.mul(gf, c0), sv));
      }
      sumF0 = f64x2.add(sumF0, promoteLo(pf)); sumF1 = f64x2.add(sumF1, promoteHi(pf));
      sumW0 = f64x2.add(sumW0, promoteLo(pw)); sumW1 = f64x2.add(sumW1, promoteHi(pw));
    }
    sumA0 = f64x2.add(sumA0, promoteLo(pa)); sumA1 = f64x2.add(sumA1, promoteHi(pa));
  }
}

// The fused rows of an elemFast kind, one loop per kind (chosen once per row).
// @ts-ignore: decorator
@inline
function elemForward(kind: i32, P: usize, S: usize, n: i32, sv: v128, spec: usize, hp: usize): void {
  switch (kind) {
    case SK_EXP: elemRowForward<KExp>(P, S, n, sv, spec, hp); break;
    case SK_RELU: elemRowForward<KRelu>(P, S, n, sv, spec, hp); break;
    case SK_RELU2: elemRowForward<KRelu2>(P, S, n, sv, spec, hp); break;
    case SK_SIGMOID: elemRowForward<KSigmoid>(P, S, n, sv, spec, hp); break;
    case SK_SOFTPLUS: elemRowForward<KSoftplus>(P, S, n, sv, spec, hp); break;
    case SK_SQUAREPLUS: elemRowForward<KSquareplus>(P, S, n, sv, spec, hp); break;
    case SK_POLY: elemRowForward<KPoly>(P, S, n, sv, spec, hp); break;
    default: elemRowForward<KExppoly>(P, S, n, sv, spec, hp);
  }
}
// @ts-ignore: decorator
@inline
function elemBackward(kind: i32, W: usize, S: usize, drow: usize, n: i32, sv: v128, spec: usize, hp: usize, mode: i32): void {
  switch (kind) {
    case SK_EXP: elemRowBackward<KExp>(W, S, drow, n, sv, spec, hp, mode); break;
    case SK_RELU: elemRowBackward<KRelu>(W, S, drow, n, sv, spec, hp, 0); break;
    case SK_RELU2: elemRowBackward<KRelu2>(W, S, drow, n, sv, spec, hp, 0); break;
    case SK_SIGMOID: elemRowBackward<KSigmoid>(W, S, drow, n, sv, spec, hp, 0); break;
    case SK_SOFTPLUS: elemRowBackward<KSoftplus>(W, S, drow, n, sv, spec, hp, 0); break;
    case SK_SQUAREPLUS: elemRowBackward<KSquareplus>(W, S, drow, n, sv, spec, hp, 0); break;
    case SK_POLY: elemRowBackward<KPoly>(W, S, drow, n, sv, spec, hp, 0); break;
    default: elemRowBackward<KExppoly>(W, S, drow, n, sv, spec, hp, 0);
  }
}

export function attentionForward(out: usize, stats: usize, q: usize, k: usize, v: usize, p: f64, seed: u32,
  B: i32, T: i32, C: i32, NH: i32, flags: i32, work0: usize, chunk: i32, nChunks: i32): void {
  const bf = (flags & 1) != 0;
  const D = C / NH, Tp = (T + 3) & ~3;
  const scale = <f32>(1.0 / Math.sqrt(<f64>D));
  const work = work0 + (<usize>chunk * <usize>attentionWork(T, C, NH) << 2);
  const kT = work, row = work + (<usize>D * <usize>Tp << 2);
  const thr = p * 16777216.0, ks = <f32>(1.0 / (1.0 - p));
  const p1 = pairStart(B, NH, chunk + 1, nChunks);
  for (let pr = pairStart(B, NH, chunk, nChunks); pr < p1; pr++) {
    const b = pr / NH, h = pr % NH;
    const base = (<usize>b * <usize>T * <usize>C + <usize>h * <usize>D) << 2;
    transposeHead(kT, k + base, T, C, D, Tp);
    for (let t = 0; t < T; t++) {
      const qo = q + base + (<usize>t * <usize>C << 2);
      const so = stats + ((<usize>pr * <usize>T + <usize>t) << 3);
      const n = t + 1;
      const m = scoreRow(row, qo, kT, D, Tp, n, scale, true);
      const Z = <f32>expRow(row, n, m);
      store<f32>(so, m); store<f32>(so, Z, 4);
      const inv = <f32>(1.0 / <f64>Z);
      const rk = p > 0 ? rowKey(seed, <u32>pr, <u32>t) : 0;
      // out[t] = sum_s P[t, s] keep[t, s] v[s]
      if (p > 0) {
        for (let s = 0; s < n; s++) { // the weights W = P keep, in place
          let w = load<f32>(row + (<usize>s << 2)) * inv;
          w *= keepAt(rk, s, thr, ks);
          if (bf) w = bf16(w);
          store<f32>(row + (<usize>s << 2), w);
        }
      } else {
        const iv = f32x4.splat(inv);
        for (let s = 0; s < n; s += 4) {
          const o = row + (<usize>s << 2), w = f32x4.mul(v128.load(o), iv);
          v128.store(o, bf ? vbf16(w) : w);
        }
      }
      weightedRows(out + base + (<usize>t * <usize>C << 2), row, v + base, n, C, D);
    }
  }
}

// dor: the dout the products read (a rounded copy with bfloat16, else dout itself); D_t reads dout.
export function attentionBackward(dq: usize, dk: usize, dv: usize, dout: usize, dor: usize, out: usize, stats: usize,
  q: usize, k: usize, v: usize, p: f64, seed: u32, B: i32, T: i32, C: i32, NH: i32, flags: i32, work0: usize, chunk: i32, nChunks: i32): void {
  const bf = (flags & 1) != 0;
  const D = C / NH, Tp = (T + 3) & ~3;
  const scale = <f32>(1.0 / Math.sqrt(<f64>D));
  const work = work0 + (<usize>chunk * <usize>attentionWork(T, C, NH) << 2);
  const kT = work, vT = kT + (<usize>D * <usize>Tp << 2), row = vT + (<usize>D * <usize>Tp << 2);
  const drow = row + (<usize>Tp << 2);
  const thr = p * 16777216.0, ks = <f32>(1.0 / (1.0 - p));
  const p1 = pairStart(B, NH, chunk + 1, nChunks);
  for (let pr = pairStart(B, NH, chunk, nChunks); pr < p1; pr++) {
    const b = pr / NH, h = pr % NH;
    const base = (<usize>b * <usize>T * <usize>C + <usize>h * <usize>D) << 2;
    transposeHead(kT, k + base, T, C, D, Tp);
    transposeHead(vT, v + base, T, C, D, Tp);
    for (let t = 0; t < T; t++) {
      const to = base + (<usize>t * <usize>C << 2);
      const so = stats + ((<usize>pr * <usize>T + <usize>t) << 3);
      const n = t + 1, n4 = (n + 3) & ~3;
      // P[t, s] = exp(S[t, s] - m) / Z, the forward's arithmetic
      const m = load<f32>(so), inv = <f32>(1.0 / <f64>load<f32>(so, 4));
      scoreRow(row, q + to, kT, D, Tp, n, scale, false);
      expRow(row, n, m);
      // dW[t, s] = dout[t] . v[s] for s <= t
      weightedRows(drow, dor + to, vT, D, Tp, n4);
      let Dt: f32 = 0;
      for (let d = 0; d < D; d++) Dt += load<f32>(dout + to + (<usize>d << 2)) * load<f32>(out + to + (<usize>d << 2));
      const rk = p > 0 ? rowKey(seed, <u32>pr, <u32>t) : 0;
      // W = P keep (into row), dS = P (dW keep - D) scale (into drow); then dv[s] += W dout[t],
      // dq[t] += dS k[s], dk[s] += dS q[t]
      if (p > 0) {
        for (let s = 0; s < n; s++) {
          const P = load<f32>(row + (<usize>s << 2)) * inv;
          const kp = keepAt(rk, s, thr, ks);
          const wv = P * kp;
          store<f32>(row + (<usize>s << 2), bf ? bf16(wv) : wv);
          let ds = P * (load<f32>(drow + (<usize>s << 2)) * kp - Dt) * scale;
          if (bf) ds = bf16(ds);
          store<f32>(drow + (<usize>s << 2), ds);
        }
      } else { // the same operations on four lanes (keep = 1)
        const iv = f32x4.splat(inv), dv4 = f32x4.splat(Dt), sv = f32x4.splat(scale);
        for (let s = 0; s < n4; s += 4) {
          const o = <usize>s << 2, P = f32x4.mul(v128.load(row + o), iv);
          const ds = f32x4.mul(f32x4.mul(P, f32x4.sub(v128.load(drow + o), dv4)), sv);
          v128.store(row + o, bf ? vbf16(P) : P);
          v128.store(drow + o, bf ? vbf16(ds) : ds);
        }
      }
      rowsBackward(dv + base, dk + base, k + base, row, drow, dor + to, q + to, dq + to, n, C, D);
    }
  }
}

/** Floats of `work` the attention kernels need per chunk: kT, vT (D Tp each), row, drow (Tp each); forward kT, row. */
export function attentionWork(T: i32, C: i32, NH: i32): i32 {
  const D = C / NH, Tp = (T + 3) & ~3;
  return 2 * D * Tp + 2 * Tp + 16;
}

// ---- Softmax variants and the in-attention quantizers inside the rows (docs/softmax.md "Inside the
// attention kernel", docs/quantization.md "Attention"; the contract of native/src/attention.c, whose
// definition is src/engine/kernels/ts/attention.ts with the variant's own transform). Per row t:
// S = scale q k^T; S' = Q_S(S); P = the kind's transform of S' (softmax.ts; row kinds save m, Z, the
// elementwise ones need no row pass); P' = Q_P(P); W = P' keep; out = W V. Q_S and Q_P have one scale
// per call: forward first runs the pre-passes the call needs (flags >> 1: 1 the scores' statistics,
// 2 the call's decision, 3 the weights' statistics; 0 the main pass), each recomputing S, and
// wasm-backend.ts turns their results into the state (attentionQuantParams). Backward recomputes S',
// P, P' with the saved state and passes gradients straight through both quantizers.
// state (f64): [0..12) quantizer S, [12..24) quantizer P (method (-1 off), bits, level, seed, active,
// scale, zp, qmin, qmax, amax, levels), [24] the decision.

/** x[0..n) of row t of pair i through the quantizer at st (native/src/quantize.c's float32 arithmetic;
 * stochastic rounding draws u from the dropout hash under the quantizer's seed); false when it is off. */
// @ts-ignore: decorator
@inline function quantOn(st: usize): bool { return load<f64>(st) >= 0 && load<f64>(st, 32) == 1; }

function quantRow(x: usize, n: i32, st: usize, pair: i32, t: i32): bool {
  if (!quantOn(st)) return false;
  const method = <i32>load<f64>(st), lv = load<f64>(st, 16), level = <f32>lv, sched = lv >= 0;
  const scale = <f32>load<f64>(st, 40), zp = <f32>load<f64>(st, 48), qmin = <f32>load<f64>(st, 56), qmax = <f32>load<f64>(st, 64);
  const amax = <f32>load<f64>(st, 72), levels = <f32>load<f64>(st, 80);
  const rk = method == 2 ? rowKey(<u32>load<f64>(st, 24), <u32>pair, <u32>t) : 0;
  for (let s = 0; s < n; s++) {
    const o = x + (<usize>s << 2), v = load<f32>(o);
    let q: f32;
    if (method == 2) {
      const u = <f32>(mix32(rk + <u32>s * 0x9e3779b9) >> 8) * (<f32>1.0 / <f32>16777216.0);
      const l = (abs<f32>(v) / amax) * levels, fl = trunc<f32>(l);
      let prob = l - fl;
      prob = prob < 0 ? 0 : prob > 1 ? 1 : prob;
      q = (v > 0 ? <f32>1 : v < 0 ? <f32>-1 : <f32>0) * (fl + (u < prob ? <f32>1 : <f32>0));
    } else {
      q = nearest<f32>(v / scale) + zp;
      q = q < qmin ? qmin : q > qmax ? qmax : q;
    }
    const d = (q - zp) * scale;
    store<f32>(o, sched ? v + level * (d - v) : d);
  }
  return true;
}

// A statistics pre-pass's running values over one pair (min, max, max|x|); sum |x| per row in f64.
let stMn: f32 = 0, stMx: f32 = 0, stAm: f32 = 0;
function rowStats(x: usize, n: i32): f64 {
  let rs: f64 = 0;
  for (let s = 0; s < n; s++) {
    const v = load<f32>(x + (<usize>s << 2)), a = abs<f32>(v);
    stMn = v < stMn ? v : stMn; stMx = v > stMx ? v : stMx; stAm = a > stAm ? a : stAm;
    rs += <f64>a;
  }
  return rs;
}

/** Floats of `work` the score kernels need per chunk: kT, vT (D Tp each), S, P, drow, W (Tp each); forward kT, S, P. */
export function attentionScoreWork(T: i32, C: i32, NH: i32): i32 {
  const D = C / NH, Tp = (T + 3) & ~3;
  return 2 * D * Tp + 4 * Tp + 16;
}

/**
 * Forward with a score kind and quantizers (one pass, flags >> 1). A statistics pass writes per pair
 * aux[3 i ..] = min, max, max|x| and per row rsum[i T + t]; the decision pass aux[3 i + 1] = the pair's
 * max of min(S', c1) - c2. flags & 1: bfloat16 (q, k, v arrive rounded; W is rounded here).
 */
export function attentionScoreForward(out: usize, stats: usize, q: usize, k: usize, v: usize, p: f64, seed: u32,
  B: i32, T: i32, C: i32, NH: i32, flags: i32, kind: i32, spec: usize, nk: i32, state: usize, aux: usize, rsum: usize,
  work0: usize, chunk: i32, nChunks: i32): void {
  const bf = (flags & 1) != 0, pass = (flags >> 1) & 3;
  const D = C / NH, Tp = (T + 3) & ~3;
  const scale = <f32>(1.0 / Math.sqrt(<f64>D));
  const work = work0 + (<usize>chunk * <usize>attentionScoreWork(T, C, NH) << 2);
  const kT = work, S = kT + (<usize>D * <usize>Tp << 2), P = S + (<usize>Tp << 2);
  const thr = p * 16777216.0, ks = <f32>(1.0 / (1.0 - p));
  const decision = <i32>load<f64>(state, 192), qs = state, qp = state + 96, qsOn = quantOn(qs), qpOn = quantOn(qp);
  const c1 = load<f32>(spec, 4), c2 = load<f32>(spec, 8);
  const needMax = pass == 0 && (kind == SK_SOFTMAX || kind == SK_EXPROW); // the kinds that use the row max
  // elemFast kinds: the fused rows, P straight from the dots (scale sv), or from S' (scale 1) when Q_S changes
  // the scores; the weights' statistics (pass 3) see the P that pass 0 quantizes
  const el = elemFast(kind, spec), dots = el && !qsOn && (pass == 0 || pass == 3);
  const sv = f32x4.splat(dots ? scale : 1);
  const p1 = pairStart(B, NH, chunk + 1, nChunks);
  for (let pr = pairStart(B, NH, chunk, nChunks); pr < p1; pr++) {
    const b = pr / NH, h = pr % NH;
    const base = (<usize>b * <usize>T * <usize>C + <usize>h * <usize>D) << 2;
    const hp = spec + (<usize>(SCORE_NC + 4 * h) << 2);
    transposeHead(kT, k + base, T, C, D, Tp);
    stMn = Infinity; stMx = -Infinity; stAm = 0;
    let dmx: f32 = -Infinity;
    for (let t = 0; t < T; t++) {
      const qo = q + base + (<usize>t * <usize>C << 2), r = pr * T + t;
      const n = t + 1;
      if (dots) weightedRows(S, qo, kT, D, Tp, (n + 3) & ~3); // lanes past n are keys' dots too (finite)
      else {
        let mxS = scoreRow(S, qo, kT, D, Tp, n, scale, needMax);
        if (!needMax) mxS = NaN;
        if (pass == 1) { store<f64>(rsum + (<usize>r << 3), rowStats(S, n)); continue; }
        if (qsOn && quantRow(S, n, qs, pr, t)) mxS = NaN; // S changed: its max is not scoreRow's
        if (pass == 2) {
          for (let s = 0; s < n; s++) { const x = load<f32>(S + (<usize>s << 2)), y = (x < c1 ? x : c1) - c2; dmx = y > dmx ? y : dmx; }
          continue;
        }
        if (el) maskTail(S, n); // -inf past n: 0 (the fused rows read whole vectors)
        else rowForward(kind, spec, NH, nk, decision, P, S, n, h, false, mxS);
      }
      if (el) { elemForward(kind, P, S, n, sv, spec, hp); setRow(0, 1); }
      if (pass == 3) { store<f64>(rsum + (<usize>r << 3), rowStats(P, n)); continue; }
      const so = stats + (<usize>r << 3);
      store<f32>(so, rowM); store<f32>(so, rowZ, 4);
      if (qpOn) quantRow(P, n, qp, pr, t);
      const rk = p > 0 ? rowKey(seed, <u32>pr, <u32>t) : 0;
      if (p > 0) for (let s = 0; s < n; s++) { // W = P' keep, in place
        let w = load<f32>(P + (<usize>s << 2));
        w *= keepAt(rk, s, thr, ks);
        if (bf) w = bf16(w);
        store<f32>(P + (<usize>s << 2), w);
      } else if (bf) for (let s = 0; s < n; s += 4) v128.store(P + (<usize>s << 2), vbf16(v128.load(P + (<usize>s << 2))));
      weightedRows(out + base + (<usize>t * <usize>C << 2), P, v + base, n, C, D);
    }
    if (pass == 1 || pass == 3) {
      const a = aux + (<usize>pr * 12);
      store<f32>(a, stMn); store<f32>(a, stMx, 4); store<f32>(a, stAm, 8);
    } else if (pass == 2) store<f32>(aux + (<usize>pr * 12), dmx, 4);
  }
}

/**
 * Backward with a score kind and quantizers: dq, dk, dv accumulated; the pair's G parameter-gradient
 * sums written to sums[i G ..] (f64). dor: the dout the products read (a rounded copy with bfloat16).
 */
export function attentionScoreBackward(dq: usize, dk: usize, dv: usize, dor: usize, stats: usize, q: usize, k: usize, v: usize,
  p: f64, seed: u32, B: i32, T: i32, C: i32, NH: i32, flags: i32, kind: i32, spec: usize, nk: i32, state: usize, sums: usize,
  work0: usize, chunk: i32, nChunks: i32): void {
  const bf = (flags & 1) != 0;
  const D = C / NH, Tp = (T + 3) & ~3, G = scoreSums(kind, nk);
  const scale = <f32>(1.0 / Math.sqrt(<f64>D));
  const work = work0 + (<usize>chunk * <usize>attentionScoreWork(T, C, NH) << 2);
  const kT = work, vT = kT + (<usize>D * <usize>Tp << 2), S = vT + (<usize>D * <usize>Tp << 2);
  const P = S + (<usize>Tp << 2), drow = P + (<usize>Tp << 2), W = drow + (<usize>Tp << 2);
  const thr = p * 16777216.0, ks = <f32>(1.0 / (1.0 - p));
  const decision = <i32>load<f64>(state, 192), qs = state, qp = state + 96, qsOn = quantOn(qs), qpOn = quantOn(qp);
  const el = elemFast(kind, spec), dots = !qsOn; // elemFast kinds: forward's fused rows, from the dots or S'
  const want = <i32>load<f32>(spec, 4), sv = f32x4.splat(scale), ev = f32x4.splat(dots ? scale : 1);
  const p1 = pairStart(B, NH, chunk + 1, nChunks);
  for (let pr = pairStart(B, NH, chunk, nChunks); pr < p1; pr++) {
    const b = pr / NH, h = pr % NH;
    const base = (<usize>b * <usize>T * <usize>C + <usize>h * <usize>D) << 2;
    const ps = sums + (<usize>pr * <usize>G << 3);
    if (G > 0) memory.fill(ps, 0, <usize>G << 3);
    transposeHead(kT, k + base, T, C, D, Tp);
    transposeHead(vT, v + base, T, C, D, Tp);
    const hp = spec + (<usize>(SCORE_NC + 4 * h) << 2), mode = load<f32>(hp, 4) == Infinity && (want & 4) == 0 ? 0 : (want & 6) == 0 ? 1 : 2;
    sumA0 = f64x2.splat(0); sumA1 = sumA0; sumF0 = sumA0; sumF1 = sumA0; sumW0 = sumA0; sumW1 = sumA0;
    for (let t = 0; t < T; t++) {
      const to = base + (<usize>t * <usize>C << 2);
      const so = stats + ((<usize>pr * <usize>T + <usize>t) << 3);
      const n = t + 1, n4 = (n + 3) & ~3;
      const rk = p > 0 ? rowKey(seed, <u32>pr, <u32>t) : 0;
      if (el) {
        if (dots) weightedRows(S, q + to, kT, D, Tp, n4); // lanes past n are keys' dots too (finite)
        else { scoreRow(S, q + to, kT, D, Tp, n, scale, false); quantRow(S, n, qs, pr, t); maskTail(S, n); } // S', 0 past n
        weightedRows(drow, dor + to, vT, D, Tp, n4); // dW = dout[t] . v[s]
        if (p > 0) for (let s = 0; s < n; s++) { // dP = dW keep; keep into W
          const o = <usize>s << 2, kp = keepAt(rk, s, thr, ks);
          store<f32>(W + o, kp); store<f32>(drow + o, load<f32>(drow + o) * kp);
        }
        elemBackward(kind, P, S, drow, n, ev, spec, hp, mode); // P, and drow: dS scale (dots) or dS (S')
        if (qpOn) quantRow(P, n, qp, pr, t);
        if (p > 0) for (let s = 0; s < n; s++) { const o = <usize>s << 2, w = load<f32>(P + o) * load<f32>(W + o); store<f32>(W + o, bf ? bf16(w) : w); }
        if (bf || !dots) for (let s = 0; s < n; s += 4) {
          const o = <usize>s << 2, ds = dots ? v128.load(drow + o) : f32x4.mul(v128.load(drow + o), sv);
          if (bf && p == 0) v128.store(P + o, vbf16(v128.load(P + o)));
          v128.store(drow + o, bf ? vbf16(ds) : ds);
        }
        rowsBackward(dv + base, dk + base, k + base, p > 0 ? W : P, drow, dor + to, q + to, dq + to, n, C, D);
        continue;
      }
      scoreRow(S, q + to, kT, D, Tp, n, scale, false);
      if (qsOn) quantRow(S, n, qs, pr, t);
      const m = load<f32>(so), Z = load<f32>(so, 4);
      setRow(m, Z);
      rowForward(kind, spec, NH, nk, decision, P, S, n, h, true, NaN);
      let wsrc = P;
      if (qpOn) { memory.copy(W, P, <usize>n4 << 2); quantRow(W, n, qp, pr, t); wsrc = W; }
      weightedRows(drow, dor + to, vT, D, Tp, n4); // dW = dout[t] . v[s]
      let wr = wsrc; // W = P' keep (into W with dropout or bfloat16), dP = dW keep
      if (p > 0) {
        for (let s = 0; s < n; s++) {
          const kp = keepAt(rk, s, thr, ks);
          const wv = load<f32>(wsrc + (<usize>s << 2)) * kp;
          store<f32>(W + (<usize>s << 2), bf ? bf16(wv) : wv);
          store<f32>(drow + (<usize>s << 2), load<f32>(drow + (<usize>s << 2)) * kp);
        }
        wr = W;
      } else if (bf) {
        for (let s = 0; s < n; s += 4) v128.store(W + (<usize>s << 2), vbf16(v128.load(wsrc + (<usize>s << 2))));
        wr = W;
      }
      rowBackward(kind, spec, NH, nk, decision, drow, S, P, n, h, m, Z, ps); // dS, then scaled
      for (let s = 0; s < n; s += 4) {
        const o = drow + (<usize>s << 2), ds = f32x4.mul(v128.load(o), sv);
        v128.store(o, bf ? vbf16(ds) : ds);
      }
      // dv[s] += W dout[t], dq[t] += dS k[s], dk[s] += dS q[t]
      rowsBackward(dv + base, dk + base, k + base, wr, drow, dor + to, q + to, dq + to, n, C, D);
    }
    if (kind == SK_EXP) { // the fused rows' sums, those the variant reads
      if (want & 1) store<f64>(ps, lanes2(sumA0, sumA1));
      if (want & 2) store<f64>(ps, mode == 0 ? lanes2(sumA0, sumA1) : lanes2(sumF0, sumF1), 8); // nothing clamped: Σ unclamped = Σ all
      if (want & 4) store<f64>(ps, lanes2(sumW0, sumW1), 16);
    }
  }
}

/**
 * A statistics pass's result as the quantizer's parameters (native/src/attention.c quant_from_stats,
 * float32 operations) into state[o + 4 .. o + 11): min, max, max|x| over the pairs' aux values, sum |x|
 * over the rows in order (f64), count = B NH T (T + 1) / 2.
 */
export function attentionQuantParams(state: usize, o: i32, aux: usize, pairs: i32, rsum: usize, rows: i32, count: f64): void {
  const st = state + (<usize>o << 3);
  let mn: f32 = Infinity, mx: f32 = -Infinity, amax: f32 = 0;
  for (let i = 0; i < pairs; i++) {
    const a = aux + (<usize>i * 12);
    const x0 = load<f32>(a), x1 = load<f32>(a, 4), x2 = load<f32>(a, 8);
    mn = x0 < mn ? x0 : mn; mx = x1 > mx ? x1 : mx; amax = x2 > amax ? x2 : amax;
  }
  let asum: f64 = 0;
  for (let r = 0; r < rows; r++) asum += load<f64>(rsum + (<usize>r << 3));
  const method = <i32>load<f64>(st), bits = <i32>load<f64>(st, 8);
  const half = <f32>((1 << (bits - 1)) - 1), levels = <f32>((1 << bits) - 1);
  let scale: f32, zp: f32 = 0, qmin: f32 = -half - 1, qmax: f32 = half;
  if (method == 0) scale = amax / half;
  else if (method == 1) { scale = (mx - mn) / levels; zp = -nearest<f32>(mn / scale) + qmin; }
  else if (method == 2) { scale = amax / levels; qmin = -levels; qmax = levels; }
  else { const m = <f32>(asum / count), lo: f32 = 1e-5; scale = m > lo ? m : lo; qmin = -1; qmax = 1; }
  const on = count > 0 && scale > 0 && isFinite<f32>(scale) && isFinite<f32>(zp);
  store<f64>(st, on ? 1 : 0, 32); store<f64>(st, scale, 40); store<f64>(st, zp, 48); store<f64>(st, qmin, 56);
  store<f64>(st, qmax, 64); store<f64>(st, amax, 72); store<f64>(st, levels, 80);
}
