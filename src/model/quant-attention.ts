// Causal attention with fake quantization INSIDE it (docs/quantization.md, "Attention"): the
// scaled, masked scores before the softmax (--quantize_attn_act_softmax_input) and the
// probabilities before p v (--quantize_attn_act_pv_mult_p_input), each with one scale for the whole
// (B, NH, T, T) tensor taken over the causal lower triangle only (masked entries stay masked).
// Those global statistics need every score before any is quantized, so this path keeps S and P at
// T x T and is used only when one of the two points is on; every other model calls the backend's
// attention kernel. Same math as src/engine/kernels/ts/attention.ts otherwise:
//   S = (q k^T) / sqrt(D), masked above the diagonal;  S <- Q(S);  P = softmax(S);  P' = Q(P)
//   y = (P' * keep) v, keep[t, s] = 0 or 1/(1-p) from the attention kernels' own dropout hash
//   (attnKept, so a run drops the same entries whichever attention it uses).  Backward, straight
//   through both quantizers:
//   dP = (dy v^T) * mask;  dS = P (dP - rowsum(P dP)) / sqrt(D);  dq = dS k, dk = dS^T q, dv = (P' * mask)^T dy.
// The products run on the backend (be.matmul, one per batch row and head, on head-major copies).
import type { AttnDropout, Backend } from '../engine/backend.js';
import { attnKept, attnRowKey } from '../engine/kernels/ts/attention.js';
import type { F } from '../engine/types.js';
import type { Ctx } from '../nn/variant.js';
import type { QSpec, Quantizer } from '../nn/quant.js';

/** (B, T, C) with head h at channels h*D.. <-> (B, NH, T, D). */
function toHeads(dst: F, src: F, B: number, T: number, C: number, NH: number): void {
  const D = C / NH;
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const o = ((b * NH + h) * T + t) * D, s = (b * T + t) * C + h * D;
    for (let d = 0; d < D; d++) dst[o + d] = src[s + d];
  }
}
function addFromHeads(dst: F, src: F, B: number, T: number, C: number, NH: number, accumulate: boolean): void {
  const D = C / NH;
  for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const o = ((b * NH + h) * T + t) * D, s = (b * T + t) * C + h * D;
    if (accumulate) for (let d = 0; d < D; d++) dst[s + d] += src[o + d];
    else for (let d = 0; d < D; d++) dst[s + d] = src[o + d];
  }
}

export class QuantAttention {
  private qh: F; private kh: F; private vh: F; private yh: F; private gh: F;
  /** P (softmax of the possibly quantized scores), P' (quantized P, when pv_mult_p_input is on), W = P' * mask. */
  private P: F; private Pq: F | null; private W: F | null; private keep: F | null; private G: F;
  /** The weights of the last forward's p v: P, P' or (with dropout) W. */
  private Wused: F | null = null;

  constructor(maxB: number, maxT: number, C: number, readonly NH: number, readonly sQ: QSpec | null, readonly pQ: QSpec | null,
    dropout: boolean, mem: (n: number) => F) {
    const nc = maxB * maxT * C, na = maxB * NH * maxT * maxT;
    this.qh = mem(nc); this.kh = mem(nc); this.vh = mem(nc); this.yh = mem(nc); this.gh = mem(nc);
    this.P = mem(na); this.Pq = pQ ? mem(na) : null; this.W = dropout ? mem(na) : null;
    this.keep = dropout ? mem(na) : null; this.G = mem(na);
  }

  /** The dropout factors of `drop` into this.keep: 0 or 1/(1-p) below the diagonal, 0 above. */
  private keepOf(drop: AttnDropout, B: number, T: number): F {
    const keep = this.keep!, scale = 1 / (1 - drop.p);
    for (let i = 0; i < B * this.NH; i++) for (let t = 0; t < T; t++) {
      const rk = attnRowKey(drop.seed, i, t), o = (i * T + t) * T;
      for (let s = 0; s <= t; s++) keep[o + s] = attnKept(rk, s, drop.p) ? scale : 0;
      keep.fill(0, o + t + 1, o + T);
    }
    return keep;
  }

  /** y (B, T, C) from q, k, v, with attention dropout `drop` (or none). */
  forward(be: Backend, y: F, q: F, k: F, v: F, drop: AttnDropout | null, B: number, T: number, C: number,
    quant: Quantizer, level: number, ctx: Ctx): void {
    const NH = this.NH, D = C / NH, TT = T * T, n = B * NH * TT, TD = T * D, P = this.P;
    toHeads(this.qh, q, B, T, C, NH); toHeads(this.kh, k, B, T, C, NH); toHeads(this.vh, v, B, T, C, NH);
    for (let i = 0; i < B * NH; i++) {
      be.matmul(P.subarray(i * TT, (i + 1) * TT), this.qh.subarray(i * TD, (i + 1) * TD), this.kh.subarray(i * TD, (i + 1) * TD), T, T, D, { transB: true });
    }
    be.scale(P, 1 / Math.sqrt(D), n);
    // Entries above the diagonal are masked: the quantizer (T x T blocks) and the softmax read s <= t only.
    if (this.sQ) quant.apply(be, P, P, n, this.sQ, level, ctx, T);
    // Softmax over s <= t of each row, in place (float64 sums); zeros above the diagonal.
    for (let r = 0; r < B * NH * T; r++) {
      const o = r * T, t = r % T;
      let max = -Infinity;
      for (let s = 0; s <= t; s++) if (P[o + s] > max) max = P[o + s];
      let sum = 0;
      for (let s = 0; s <= t; s++) { const e = Math.exp(P[o + s] - max); P[o + s] = e; sum += e; }
      const inv = 1 / sum;
      for (let s = 0; s <= t; s++) P[o + s] *= inv;
      P.fill(0, o + t + 1, o + T);
    }
    let W = P;
    if (this.pQ) { quant.apply(be, this.Pq!, P, n, this.pQ, level, ctx, T); W = this.Pq!; }
    if (drop) { be.mul(this.W!, W, this.keepOf(drop, B, T), n); W = this.W!; }
    this.Wused = W;
    for (let i = 0; i < B * NH; i++) {
      be.matmul(this.yh.subarray(i * TD, (i + 1) * TD), W.subarray(i * TT, (i + 1) * TT), this.vh.subarray(i * TD, (i + 1) * TD), T, D, T);
    }
    addFromHeads(y, this.yh, B, T, C, NH, false);
  }

  /** Accumulates into dq, dk, dv (straight-through gradients at both quantizers). Follows forward with
   * the same q, k, v, dropout, B, T. */
  backward(be: Backend, dq: F, dk: F, dv: F, dy: F, drop: AttnDropout | null, B: number, T: number, C: number): void {
    const g = this.G;
    const NH = this.NH, D = C / NH, TT = T * T, n = B * NH * TT, TD = T * D, P = this.P, scale = 1 / Math.sqrt(D);
    const gy = this.yh, gh = this.gh;
    toHeads(gy, dy, B, T, C, NH);
    const sl = (a: F, i: number, m: number) => a.subarray(i * m, (i + 1) * m);
    for (let i = 0; i < B * NH; i++) {
      be.matmul(sl(g, i, TT), sl(gy, i, TD), sl(this.vh, i, TD), T, T, D, { transB: true }); // dW = dy v^T
      be.matmul(sl(gh, i, TD), sl(this.Wused!, i, TT), sl(gy, i, TD), T, D, T, { transA: true }); // dv = W^T dy
    }
    addFromHeads(dv, gh, B, T, C, NH, true);
    if (drop) be.mul(g, g, this.keep!, n);
    for (let r = 0; r < B * NH * T; r++) {
      const o = r * T, t = r % T;
      let dot = 0;
      for (let s = 0; s <= t; s++) dot += P[o + s] * g[o + s];
      for (let s = 0; s <= t; s++) g[o + s] = P[o + s] * (g[o + s] - dot) * scale;
      g.fill(0, o + t + 1, o + T);
    }
    for (let i = 0; i < B * NH; i++) be.matmul(sl(gh, i, TD), sl(g, i, TT), sl(this.kh, i, TD), T, D, T); // dq = dS k
    addFromHeads(dq, gh, B, T, C, NH, true);
    for (let i = 0; i < B * NH; i++) be.matmul(sl(gh, i, TD), sl(g, i, TT), sl(this.qh, i, TD), T, D, T, { transA: true }); // dk = dS^T q
    addFromHeads(dk, gh, B, T, C, NH, true);
  }
}
