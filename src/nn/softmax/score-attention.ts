// Causal attention with a softmax variant (docs/softmax.md, "Where it acts"), in three stages a
// faster backend can take over one by one (Backend.scoreAttention, src/engine/backend.ts):
//   forward:  S = q k^T / sqrt(D) for keys s <= t (0 above the diagonal);  P = variant(S) row by row
//             (masked entries 0);  out = (P * mask) v;
//   backward: dP = (dout v^T) * mask and dv += (P * mask)^T dout;  dS = variant'(dP) row by row;
//             dq += dS k / sqrt(D), dk += dS^T q / sqrt(D).
// Layouts as src/engine/kernels/ts/attention.ts: q, k, v, out (B, T, C), head h owning channels
// h*D..h*D+D-1; S, P, dP (B, NH, T, T).
import type { F } from '../../engine/types.js';

/** S (B, NH, T, T): scaled scores for s <= t, 0 above the diagonal. */
export function attentionScores(S: F, q: F, k: F, B: number, T: number, C: number, NH: number): void {
  const D = C / NH, scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const qo = (b * T + t) * C + h * D, ao = ((b * NH + h) * T + t) * T;
    for (let s = 0; s <= t; s++) {
      const ko = (b * T + s) * C + h * D;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
      S[ao + s] = dot * scale;
    }
    for (let s = t + 1; s < T; s++) S[ao + s] = 0;
  }
}

/** out (B, T, C) = (P * mask) v over s <= t. */
export function attentionValues(out: F, P: F, v: F, mask: F | null, B: number, T: number, C: number, NH: number): void {
  const D = C / NH;
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const oo = (b * T + t) * C + h * D, ao = ((b * NH + h) * T + t) * T;
    for (let d = 0; d < D; d++) out[oo + d] = 0;
    for (let s = 0; s <= t; s++) {
      const w = mask ? P[ao + s] * mask[ao + s] : P[ao + s], vo = (b * T + s) * C + h * D;
      for (let d = 0; d < D; d++) out[oo + d] += w * v[vo + d];
    }
  }
}

/** dP (B, NH, T, T) WRITTEN = (dout v^T) * mask for s <= t (0 above); dv += (P * mask)^T dout. */
export function attentionValuesBackward(dP: F, dv: F, dout: F, P: F, v: F, mask: F | null,
  B: number, T: number, C: number, NH: number): void {
  const D = C / NH;
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const to = (b * T + t) * C + h * D, ao = ((b * NH + h) * T + t) * T;
    for (let s = 0; s <= t; s++) {
      const so = (b * T + s) * C + h * D, m = mask ? mask[ao + s] : 1;
      let dw = 0;
      for (let d = 0; d < D; d++) dw += dout[to + d] * v[so + d];
      const w = P[ao + s] * m;
      for (let d = 0; d < D; d++) dv[so + d] += w * dout[to + d];
      dP[ao + s] = dw * m;
    }
    for (let s = t + 1; s < T; s++) dP[ao + s] = 0;
  }
}

/** dq += dS k / sqrt(D), dk += dS^T q / sqrt(D) over s <= t. */
export function attentionScoresBackward(dq: F, dk: F, dS: F, q: F, k: F, B: number, T: number, C: number, NH: number): void {
  const D = C / NH, scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const to = (b * T + t) * C + h * D, ao = ((b * NH + h) * T + t) * T;
    for (let s = 0; s <= t; s++) {
      const so = (b * T + s) * C + h * D, ds = dS[ao + s] * scale;
      if (ds === 0) continue;
      for (let d = 0; d < D; d++) { dq[to + d] += ds * k[so + d]; dk[so + d] += ds * q[to + d]; }
    }
  }
}
