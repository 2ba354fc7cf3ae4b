// Causal multi-head self-attention without T x T storage (docs/memory.md, "Attention"): per batch b
// and head h (pair i = b * NH + h), row t of the scores S[t, s] = scale q[t] . k[s] over s <= t,
//   m_t = max_s S[t, s],  Z_t = sum_s exp(S[t, s] - m_t),  P[t, s] = exp(S[t, s] - m_t) / Z_t,
//   out[t] = sum_s P[t, s] keep[t, s] v[s]
// with q, k, v, out in (B, T, C) layout, head h owning channels h*D .. h*D+D-1. Forward saves only
// the row statistics stats[2r] = m_t, stats[2r + 1] = Z_t (r = i * T + t); backward recomputes P
// from q, k and them. Dropout needs no mask either: keep[t, s] is 0 or 1/(1-p) from attnKeep, a
// counter-based hash of (seed, i, t, s) that backward evaluates again. The native and wasm kernels
// compute the same numbers strip by strip (native/src/attention.c); this file is the definition.
import type { F } from '../../types.js';
import { bf16, bf16Copy } from '../../bf16.js';

const same = (x: number): number => x;

/** Attention dropout: probability p, and a uint32 seed drawn once per call (per layer and step). */
export interface AttnDropout { p: number; seed: number }

/**
 * A score transform other than softmax (docs/memory.md, "Plugging into attention"), applied to the n
 * unmasked scores S[0..n) of one row of head h (T: the key length of the call). 'elem': P = f(S),
 * dS = f'(S) dP. 'row': fwd writes P already normalized and returns [m, Z] (saved in stats, handed
 * back to bwd); bwd writes dS. Parameter gradients are the transform's own business (it accumulates
 * them as bwd is called, rows in order).
 */
export interface ScoreTransform {
  kind: 'elem' | 'row';
  fwd(S: Float64Array, P: Float64Array, n: number, h: number, T: number): [number, number] | void;
  bwd(S: Float64Array, P: Float64Array, dP: Float64Array, dS: Float64Array, n: number, h: number, m: number, Z: number, T: number): void;
}

/** Extensions of the kernel (transform: softmax variants; others to come). Absent = plain softmax.
 * bf16 (--dtype bfloat16, docs/dtype.md): every product's operands rounded to bfloat16: q, k, v and
 * dout (rounded copies), the weights P keep and dS scale (where used); scale multiplies the float32
 * q . k, and D_t = dout[t] . out[t] is not a matrix product (unrounded). */
export interface AttnOpts { transform?: ScoreTransform; bf16?: boolean }

/** A 32-bit integer mix (lowbias32), the same in C (attention.c) and AssemblyScript. */
export function mix32(x: number): number {
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15; x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The key of row t of pair i under seed: every element of the row is one more mix away. */
export function attnRowKey(seed: number, i: number, t: number): number {
  return mix32((mix32((seed ^ mix32(i)) >>> 0) ^ t) >>> 0);
}

/** Whether element s of the row with key rk is kept under dropout probability p. */
export function attnKept(rk: number, s: number, p: number): boolean {
  const h = mix32((rk + Math.imul(s, 0x9e3779b9)) >>> 0);
  return (h >>> 8) >= p * 16777216;
}

export function attentionForward(out: F, stats: F, q: F, k: F, v: F, drop: AttnDropout | null,
  B: number, T: number, C: number, NH: number, opts?: AttnOpts): void {
  const D = C / NH, scale = 1 / Math.sqrt(D), tr = opts?.transform, n3 = B * T * C;
  const rd = opts?.bf16 ? bf16 : same;
  if (opts?.bf16) { q = bf16Copy(q, n3); k = bf16Copy(k, n3); v = bf16Copy(v, n3); }
  const S = new Float64Array(T), P = new Float64Array(T);
  const keepScale = drop ? 1 / (1 - drop.p) : 1;
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) {
    const ho = h * D, i = b * NH + h;
    for (let t = 0; t < T; t++) {
      const qo = (b * T + t) * C + ho, n = t + 1, r = i * T + t;
      for (let s = 0; s < n; s++) {
        const ko = (b * T + s) * C + ho;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
        S[s] = dot * scale;
      }
      let m = 0, Z = 1;
      if (tr) {
        const mz = tr.fwd(S, P, n, h, T);
        if (mz) [m, Z] = mz;
      } else {
        m = -Infinity;
        for (let s = 0; s < n; s++) if (S[s] > m) m = S[s];
        Z = 0;
        for (let s = 0; s < n; s++) { const e = Math.exp(S[s] - m); P[s] = e; Z += e; }
        const inv = 1 / Z;
        for (let s = 0; s < n; s++) P[s] *= inv;
      }
      stats[2 * r] = m; stats[2 * r + 1] = Z;
      if (drop) {
        const rk = attnRowKey(drop.seed, i, t);
        for (let s = 0; s < n; s++) P[s] = attnKept(rk, s, drop.p) ? P[s] * keepScale : 0;
      }
      for (let d = 0; d < D; d++) out[qo + d] = 0;
      for (let s = 0; s < n; s++) {
        const w = rd(P[s]), vo = (b * T + s) * C + ho;
        for (let d = 0; d < D; d++) out[qo + d] += w * v[vo + d];
      }
    }
  }
}

// Backward, row t, with W = P keep:  dW[s] = dout[t] . v[s];  dv[s] += W[s] dout[t];  dP = dW keep;
//   dS[s] = P[s] (dP[s] - D_t) scale with D_t = sum_s P[s] dP[s] = dout[t] . out[t]   (softmax backward)
//   dq[t] += sum_s dS[s] k[s];  dk[s] += dS[s] q[t].  dq, dk, dv are accumulated into.
export function attentionBackward(dq: F, dk: F, dv: F, dout: F, out: F, stats: F, q: F, k: F, v: F,
  drop: AttnDropout | null, B: number, T: number, C: number, NH: number, opts?: AttnOpts): void {
  const D = C / NH, scale = 1 / Math.sqrt(D), tr = opts?.transform, n3 = B * T * C;
  const rd = opts?.bf16 ? bf16 : same, dO = opts?.bf16 ? bf16Copy(dout, n3) : dout; // dO: the products' dout
  if (opts?.bf16) { q = bf16Copy(q, n3); k = bf16Copy(k, n3); v = bf16Copy(v, n3); }
  const S = new Float64Array(T), P = new Float64Array(T), dP = new Float64Array(T), dS = new Float64Array(T);
  const keepScale = drop ? 1 / (1 - drop.p) : 1;
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) {
    const ho = h * D, i = b * NH + h;
    for (let t = 0; t < T; t++) {
      const to = (b * T + t) * C + ho, n = t + 1, r = i * T + t;
      const m = stats[2 * r], Z = stats[2 * r + 1];
      for (let s = 0; s < n; s++) {
        const ko = (b * T + s) * C + ho;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[to + d] * k[ko + d];
        S[s] = dot * scale;
      }
      if (tr) tr.fwd(S, P, n, h, T);
      else { const inv = 1 / Z; for (let s = 0; s < n; s++) P[s] = Math.exp(S[s] - m) * inv; }
      const rk = drop ? attnRowKey(drop.seed, i, t) : 0;
      for (let s = 0; s < n; s++) {
        const so = (b * T + s) * C + ho;
        let dw = 0;
        for (let d = 0; d < D; d++) dw += dO[to + d] * v[so + d];
        const keep = drop ? (attnKept(rk, s, drop.p) ? keepScale : 0) : 1;
        const w = rd(P[s] * keep);
        for (let d = 0; d < D; d++) dv[so + d] += w * dO[to + d];
        dP[s] = dw * keep;
      }
      if (tr) tr.bwd(S, P, dP, dS, n, h, m, Z, T);
      else {
        let Dt = 0;
        for (let d = 0; d < D; d++) Dt += dout[to + d] * out[to + d];
        for (let s = 0; s < n; s++) dS[s] = P[s] * (dP[s] - Dt);
      }
      for (let s = 0; s < n; s++) {
        const so = (b * T + s) * C + ho, ds = rd(dS[s] * scale);
        for (let d = 0; d < D; d++) {
          dq[to + d] += ds * k[so + d];
          dk[so + d] += ds * q[to + d];
        }
      }
    }
  }
}
