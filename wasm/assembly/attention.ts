// Causal multi-head attention, the math of src/engine/kernels/ts/attention.ts. Per batch and head,
// the head's keys (or values) are first copied transposed into work as (D, Tp), Tp = T rounded up
// to 4, so that one query row's scores q[t] . k[s] for s = 0..t are computed four s at a time
// (sum over d of q[t, d] * kT[d, s..s+3]). Probabilities use the vector exp; sums run in f32x4
// lanes. Everything else (weighted sums of value rows, gradient rows) is vectorized over d.
import { vexp } from './vmath';

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

export function attentionForward(out: usize, att: usize, q: usize, k: usize, v: usize, mask: usize,
  B: i32, T: i32, C: i32, NH: i32, work0: usize, chunk: i32, nChunks: i32): void {
  const D = C / NH, Tp = (T + 3) & ~3;
  const scale = <f32>(1.0 / Math.sqrt(<f64>D));
  const work = work0 + (<usize>chunk * <usize>attentionWork(T, C, NH) << 2);
  const kT = work, row = work + (<usize>D * <usize>Tp << 2);
  const p1 = pairStart(B, NH, chunk + 1, nChunks);
  for (let p = pairStart(B, NH, chunk, nChunks); p < p1; p++) {
    const b = p / NH, h = p % NH;
    const base = (<usize>b * <usize>T * <usize>C + <usize>h * <usize>D) << 2;
    transposeHead(kT, k + base, T, C, D, Tp);
    for (let t = 0; t < T; t++) {
      const qo = q + base + (<usize>t * <usize>C << 2);
      const ao = att + (((<usize>b * <usize>NH + <usize>h) * <usize>T + <usize>t) * <usize>T << 2);
      const n = t + 1, n4 = (n + 3) & ~3;
      rowTimesPanel(row, qo, kT, D, Tp, n4);
      // scale, max, exp, sum over s <= t (lanes past t are masked to -inf before the max and exp)
      let mx = f32x4.splat(-Infinity);
      const sv = f32x4.splat(scale);
      for (let s = 0; s < n4; s += 4) {
        let x = f32x4.mul(v128.load(row + (<usize>s << 2)), sv);
        if (s + 4 > n) x = v128.bitselect(x, f32x4.splat(-Infinity), i32x4.lt_s(i32x4.add(i32x4.splat(s), LANES), i32x4.splat(n)));
        v128.store(row + (<usize>s << 2), x);
        mx = f32x4.max(mx, x);
      }
      const m = f32x4.splat(hmax(mx));
      let sum = f32x4.splat(0);
      for (let s = 0; s < n4; s += 4) {
        const e = vexp(f32x4.sub(v128.load(row + (<usize>s << 2)), m));
        const live = i32x4.lt_s(i32x4.add(i32x4.splat(s), LANES), i32x4.splat(n));
        const e2 = v128.and(e, live);
        v128.store(row + (<usize>s << 2), e2);
        sum = f32x4.add(sum, e2);
      }
      const inv = f32x4.splat(<f32>(1.0 / <f64>hsum(sum)));
      let s = 0;
      for (; s + 4 <= n; s += 4) v128.store(ao + (<usize>s << 2), f32x4.mul(v128.load(row + (<usize>s << 2)), inv));
      for (; s < n; s++) store<f32>(ao + (<usize>s << 2), load<f32>(row + (<usize>s << 2)) * f32x4.extract_lane(inv, 0));
      for (; s < T; s++) store<f32>(ao + (<usize>s << 2), 0);
      // out[t] = sum_s p[t, s] mask[t, s] v[s]
      const oo = out + base + (<usize>t * <usize>C << 2);
      memory.fill(oo, 0, <usize>D << 2);
      const mo = mask + (((<usize>b * <usize>NH + <usize>h) * <usize>T + <usize>t) * <usize>T << 2);
      for (let s2 = 0; s2 < n; s2++) {
        let w = load<f32>(ao + (<usize>s2 << 2));
        if (mask != 0) w *= load<f32>(mo + (<usize>s2 << 2));
        axpy(oo, w, v + base + (<usize>s2 * <usize>C << 2), D);
      }
    }
  }
}

export function attentionBackward(dq: usize, dk: usize, dv: usize, scratch: usize, dout: usize, att: usize,
  q: usize, k: usize, v: usize, mask: usize, B: i32, T: i32, C: i32, NH: i32, work0: usize, chunk: i32, nChunks: i32): void {
  const D = C / NH, Tp = (T + 3) & ~3;
  const scale = <f32>(1.0 / Math.sqrt(<f64>D));
  const work = work0 + (<usize>chunk * <usize>attentionWork(T, C, NH) << 2);
  const vT = work, row = work + (<usize>D * <usize>Tp << 2), acc = row + (<usize>Tp << 2);
  const p1 = pairStart(B, NH, chunk + 1, nChunks);
  for (let p = pairStart(B, NH, chunk, nChunks); p < p1; p++) {
    const b = p / NH, h = p % NH;
    const base = (<usize>b * <usize>T * <usize>C + <usize>h * <usize>D) << 2;
    transposeHead(vT, v + base, T, C, D, Tp);
    for (let t = 0; t < T; t++) {
      const to = (<usize>t * <usize>C) << 2;
      const ao = ((((<usize>b * <usize>NH + <usize>h) * <usize>T + <usize>t) * <usize>T) << 2);
      const n = t + 1, n4 = (n + 3) & ~3;
      // dW[t, s] = dout[t] . v[s] for s <= t
      rowTimesPanel(row, dout + base + to, vT, D, Tp, n4);
      let dot: f32 = 0;
      for (let s = 0; s < n; s++) {
        const so = base + (<usize>s * <usize>C << 2);
        const m: f32 = mask != 0 ? load<f32>(mask + ao + (<usize>s << 2)) : 1;
        const p = load<f32>(att + ao + (<usize>s << 2));
        axpy(dv + so, p * m, dout + base + to, D);
        const dp = load<f32>(row + (<usize>s << 2)) * m;
        store<f32>(scratch + ao + (<usize>s << 2), dp);
        dot += p * dp;
      }
      // dS = P (dP - dot) scale; dq[t] += dS k[s]; dk[s] += dS q[t]
      memory.fill(acc, 0, <usize>D << 2);
      for (let s = 0; s < n; s++) {
        const so = base + (<usize>s * <usize>C << 2);
        const ds = load<f32>(att + ao + (<usize>s << 2)) * (load<f32>(scratch + ao + (<usize>s << 2)) - dot) * scale;
        axpy(acc, ds, k + so, D);
        axpy(dk + so, ds, q + base + to, D);
      }
      axpy(dq + base + to, 1, acc, D);
    }
  }
}

/** Floats of `work` the attention kernels need per chunk. */
export function attentionWork(T: i32, C: i32, NH: i32): i32 {
  const D = C / NH, Tp = (T + 3) & ~3;
  return D * Tp + Tp + D + 16;
}
