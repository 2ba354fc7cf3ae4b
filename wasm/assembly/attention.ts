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
import { vexp } from './vmath';
import { bf16 } from './bf16';

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

/** row[0..n4) = sum_d x[d] * mT[d, 0..n4), n4 a multiple of 4. */
// @ts-ignore: decorator
@inline
function rowTimesPanel(row: usize, x: usize, mT: usize, D: i32, Tp: i32, n4: i32): void {
  for (let s = 0; s < n4; s += 16) {
    const w = min(16, n4 - s);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let p = mT + (<usize>s << 2);
    const stride = <usize>Tp << 2;
    if (w == 16) {
      for (let d = 0; d < D; d++) {
        const xd = v128.load32_splat(x + (<usize>d << 2));
        a0 = f32x4.add(a0, f32x4.mul(xd, v128.load(p)));
        a1 = f32x4.add(a1, f32x4.mul(xd, v128.load(p, 16)));
        a2 = f32x4.add(a2, f32x4.mul(xd, v128.load(p, 32)));
        a3 = f32x4.add(a3, f32x4.mul(xd, v128.load(p, 48)));
        p += stride;
      }
      const r = row + (<usize>s << 2);
      v128.store(r, a0); v128.store(r, a1, 16); v128.store(r, a2, 32); v128.store(r, a3, 48);
    } else {
      for (let q = 0; q < w; q += 4) {
        let acc = f32x4.splat(0);
        let pq = p + (<usize>q << 2);
        for (let d = 0; d < D; d++) {
          acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(x + (<usize>d << 2)), v128.load(pq)));
          pq += stride;
        }
        v128.store(row + (<usize>(s + q) << 2), acc);
      }
    }
  }
}

/** y[0..D) += w * x[0..D) */
// @ts-ignore: decorator
@inline
function axpy(y: usize, w: f32, x: usize, D: i32): void {
  const wv = f32x4.splat(w);
  let d = 0;
  for (; d + 16 <= D; d += 16) { // 4 vectors per pass: a quarter of the loop tests (D is 32 or 64 in practice)
    const yo = y + (<usize>d << 2), xo = x + (<usize>d << 2);
    v128.store(yo, f32x4.add(v128.load(yo), f32x4.mul(wv, v128.load(xo))));
    v128.store(yo, f32x4.add(v128.load(yo, 16), f32x4.mul(wv, v128.load(xo, 16))), 16);
    v128.store(yo, f32x4.add(v128.load(yo, 32), f32x4.mul(wv, v128.load(xo, 32))), 32);
    v128.store(yo, f32x4.add(v128.load(yo, 48), f32x4.mul(wv, v128.load(xo, 48))), 48);
  }
  for (; d + 4 <= D; d += 4) {
    const o = <usize>d << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(wv, v128.load(x + o))));
  }
  for (; d < D; d++) {
    const o = <usize>d << 2;
    store<f32>(y + o, load<f32>(y + o) + w * load<f32>(x + o));
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

/** row[0..n) = scale * q[t] . k[s] for s < n, masked lanes (s >= n) -inf; returns the row max. */
// @ts-ignore: decorator
@inline
function scoreRow(row: usize, qo: usize, kT: usize, D: i32, Tp: i32, n: i32, scale: f32): f32 {
  const n4 = (n + 3) & ~3;
  rowTimesPanel(row, qo, kT, D, Tp, n4);
  let mx = f32x4.splat(-Infinity);
  const sv = f32x4.splat(scale);
  for (let s = 0; s < n4; s += 4) {
    let x = f32x4.mul(v128.load(row + (<usize>s << 2)), sv);
    if (s + 4 > n) x = v128.bitselect(x, f32x4.splat(-Infinity), i32x4.lt_s(i32x4.add(i32x4.splat(s), LANES), i32x4.splat(n)));
    v128.store(row + (<usize>s << 2), x);
    mx = f32x4.max(mx, x);
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
    const live = i32x4.lt_s(i32x4.add(i32x4.splat(s), LANES), i32x4.splat(n));
    const e2 = v128.and(e, live);
    v128.store(row + (<usize>s << 2), e2);
    sum = f32x4.add(sum, e2);
  }
  return hsum(sum);
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
      const m = scoreRow(row, qo, kT, D, Tp, n, scale);
      const Z = <f32>expRow(row, n, m);
      store<f32>(so, m); store<f32>(so, Z, 4);
      const inv = <f32>(1.0 / <f64>Z);
      const rk = rowKey(seed, <u32>pr, <u32>t);
      // out[t] = sum_s P[t, s] keep[t, s] v[s]
      const oo = out + base + (<usize>t * <usize>C << 2);
      memory.fill(oo, 0, <usize>D << 2);
      for (let s = 0; s < n; s++) {
        let w = load<f32>(row + (<usize>s << 2)) * inv;
        if (p > 0) w *= keepAt(rk, s, thr, ks);
        if (bf) w = bf16(w);
        axpy(oo, w, v + base + (<usize>s * <usize>C << 2), D);
      }
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
  const drow = row + (<usize>Tp << 2), acc = drow + (<usize>Tp << 2);
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
      scoreRow(row, q + to, kT, D, Tp, n, scale);
      expRow(row, n, m);
      // dW[t, s] = dout[t] . v[s] for s <= t
      rowTimesPanel(drow, dor + to, vT, D, Tp, n4);
      let Dt: f32 = 0;
      for (let d = 0; d < D; d++) Dt += load<f32>(dout + to + (<usize>d << 2)) * load<f32>(out + to + (<usize>d << 2));
      const rk = rowKey(seed, <u32>pr, <u32>t);
      // dv[s] += P keep dout[t]; dS = P (dW keep - D) scale; dq[t] += dS k[s]; dk[s] += dS q[t]
      memory.fill(acc, 0, <usize>D << 2);
      for (let s = 0; s < n; s++) {
        const sx = base + (<usize>s * <usize>C << 2);
        const P = load<f32>(row + (<usize>s << 2)) * inv;
        const kp: f32 = p > 0 ? keepAt(rk, s, thr, ks) : 1;
        const wv = P * kp;
        axpy(dv + sx, bf ? bf16(wv) : wv, dor + to, D);
        let ds = P * (load<f32>(drow + (<usize>s << 2)) * kp - Dt) * scale;
        if (bf) ds = bf16(ds);
        axpy(acc, ds, k + sx, D);
        axpy(dk + sx, ds, q + to, D);
      }
      axpy(dq + to, 1, acc, D);
    }
  }
}

/** Floats of `work` the attention kernels need per chunk. */
export function attentionWork(T: i32, C: i32, NH: i32): i32 {
  const D = C / NH, Tp = (T + 3) & ~3;
  return 2 * D * Tp + 2 * Tp + D + 16;
}
