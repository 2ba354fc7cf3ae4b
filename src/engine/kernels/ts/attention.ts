// Causal multi-head self-attention (the nanoGPT math, without flash): per batch b and head h,
//   att[t, s] = softmax_s<=t( q[t] . k[s] / sqrt(D) ),  out[t] = sum_s (att * mask)[t, s] v[s]
// with q, k, v, out in (B, T, C) layout, head h owning channels h*D .. h*D+D-1.
// Saved: att (B, NH, T, T), the probabilities before dropout (zeros above the diagonal).
// With opts.bf16 (docs/dtype.md) every product's operands are rounded to bfloat16: q, k, v, dout
// (rounded copies), the weights W = P * mask and dS (rounded where used); scale multiplies the
// unrounded q . k, and dS includes the scale.
import type { F } from '../../types.js';
import type { AttentionOptions } from '../../backend.js';
import { bf16, bf16Copy } from '../../bf16.js';

const same = (x: number): number => x;

export function attentionForward(out: F, att: F, q: F, k: F, v: F, mask: F | null,
  B: number, T: number, C: number, NH: number, opts?: AttentionOptions): void {
  const D = C / NH, scale = 1 / Math.sqrt(D), n = B * T * C;
  const r = opts?.bf16 ? bf16 : same;
  if (opts?.bf16) { q = bf16Copy(q, n); k = bf16Copy(k, n); v = bf16Copy(v, n); }
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) {
    const ho = h * D;
    for (let t = 0; t < T; t++) {
      const qo = (b * T + t) * C + ho;
      const ao = ((b * NH + h) * T + t) * T; // att row (b, h, t, :)
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        const ko = (b * T + s) * C + ho;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
        dot *= scale;
        att[ao + s] = dot;
        if (dot > max) max = dot;
      }
      let sum = 0;
      for (let s = 0; s <= t; s++) { const e = Math.exp(att[ao + s] - max); att[ao + s] = e; sum += e; }
      const inv = 1 / sum;
      for (let s = 0; s <= t; s++) att[ao + s] *= inv;
      for (let s = t + 1; s < T; s++) att[ao + s] = 0;
      const oo = qo;
      for (let d = 0; d < D; d++) out[oo + d] = 0;
      for (let s = 0; s <= t; s++) {
        const w = r(mask ? att[ao + s] * mask[ao + s] : att[ao + s]);
        const vo = (b * T + s) * C + ho;
        for (let d = 0; d < D; d++) out[oo + d] += w * v[vo + d];
      }
    }
  }
}

// Backward. With P = att, W = P * mask:
//   dW[t, s] = dout[t] . v[s];   dv[s] += W[t, s] dout[t];   dP = dW * mask
//   dS[t, s] = P[t, s] (dP[t, s] - sum_s' P[t, s'] dP[t, s'])   (softmax backward)
//   dq[t] += scale sum_s dS[t, s] k[s];   dk[s] += scale dS[t, s] q[t]
export function attentionBackward(dq: F, dk: F, dv: F, scratch: F, dout: F, att: F, q: F, k: F, v: F,
  mask: F | null, B: number, T: number, C: number, NH: number, opts?: AttentionOptions): void {
  const D = C / NH, scale = 1 / Math.sqrt(D), n = B * T * C;
  const r = opts?.bf16 ? bf16 : same;
  if (opts?.bf16) { q = bf16Copy(q, n); k = bf16Copy(k, n); v = bf16Copy(v, n); dout = bf16Copy(dout, n); }
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) {
    const ho = h * D;
    for (let t = 0; t < T; t++) {
      const to = (b * T + t) * C + ho;
      const ao = ((b * NH + h) * T + t) * T;
      let dot = 0;
      for (let s = 0; s <= t; s++) {
        const so = (b * T + s) * C + ho;
        let dw = 0;
        for (let d = 0; d < D; d++) dw += dout[to + d] * v[so + d];
        const m = mask ? mask[ao + s] : 1;
        const w = r(att[ao + s] * m);
        for (let d = 0; d < D; d++) dv[so + d] += w * dout[to + d];
        const dp = dw * m;
        scratch[ao + s] = dp;
        dot += att[ao + s] * dp;
      }
      for (let s = 0; s <= t; s++) {
        const so = (b * T + s) * C + ho;
        const ds = r(att[ao + s] * (scratch[ao + s] - dot) * scale);
        for (let d = 0; d < D; d++) {
          dq[to + d] += ds * k[so + d];
          dk[so + d] += ds * q[to + d];
        }
      }
    }
  }
}
