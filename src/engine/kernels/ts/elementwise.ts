// Small kernels: bias, embeddings, residual adds, dropout masks, norms of gradients.
import type { F } from '../../types.js';

export function addBias(out: F, bias: F, N: number, C: number): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) out[n * C + c] += bias[c];
}

export function biasBackward(dbias: F, dout: F, N: number, C: number): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) dbias[c] += dout[n * C + c];
}

export function embeddingForward(out: F, idx: Int32Array, wte: F, wpe: F, B: number, T: number, C: number): void {
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    const o = (b * T + t) * C, e = idx[b * T + t] * C, p = t * C;
    for (let c = 0; c < C; c++) out[o + c] = wte[e + c] + wpe[p + c];
  }
}

export function embeddingBackward(dwte: F, dwpe: F, dout: F, idx: Int32Array, B: number, T: number, C: number): void {
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    const o = (b * T + t) * C, e = idx[b * T + t] * C, p = t * C;
    for (let c = 0; c < C; c++) { dwte[e + c] += dout[o + c]; dwpe[p + c] += dout[o + c]; }
  }
}

export function add(out: F, a: F, b: F, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

export function addInto(dst: F, src: F, n: number): void {
  for (let i = 0; i < n; i++) dst[i] += src[i];
}

export function mul(out: F, x: F, mask: F, n: number): void {
  for (let i = 0; i < n; i++) out[i] = x[i] * mask[i];
}

export function scale(x: F, s: number, n: number): void {
  for (let i = 0; i < n; i++) x[i] *= s;
}

export function sumSquares(x: F, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}
