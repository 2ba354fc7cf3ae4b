// out (M, N) = op(A) (M, K) * op(B) (K, N) [+ out], row-major, op = transpose when asked.
// Loop orders keep the innermost loop on contiguous memory for each of the four cases:
//   NN: i-k-j (axpy rows of B, four k at a time);  NT: i-j-k (dot of two rows);  TN: k-i-j;  TT: generic.
// Products are summed in float64 (JavaScript numbers) and rounded when stored into out.
import type { F } from '../../types.js';
import type { MatmulOptions } from '../../backend.js';
import { bf16Copy } from '../../bf16.js';

/** Longer than 60 lines: the four transposition cases of one product, each a plain loop nest, kept
 * side by side so that they can be checked against each other (one definition, four loop orders). */
export function matmul(out: F, a: F, b: F, M: number, N: number, K: number, opts: MatmulOptions = {}): void {
  const { transA = false, transB = false, accumulate = false, bf16 = false } = opts;
  // bfloat16 (docs/dtype.md): the same loops on rounded copies of the operands.
  if (bf16) { a = bf16Copy(a, M * K); b = bf16Copy(b, K * N); }
  if (!accumulate) out.fill(0, 0, M * N);
  if (!transA && !transB) {
    // Four rows of B per pass: out[i, :] is loaded and stored once for every four k.
    for (let i = 0; i < M; i++) {
      const oi = i * N, ai = i * K;
      let k = 0;
      for (; k + 3 < K; k += 4) {
        const a0 = a[ai + k], a1 = a[ai + k + 1], a2 = a[ai + k + 2], a3 = a[ai + k + 3];
        const b0 = k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
        for (let j = 0; j < N; j++) out[oi + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
      }
      for (; k < K; k++) {
        const aik = a[ai + k], bk = k * N;
        for (let j = 0; j < N; j++) out[oi + j] += aik * b[bk + j];
      }
    }
  } else if (!transA && transB) {
    // B stored (N, K): out[i, j] = A[i, :] . B[j, :]
    for (let i = 0; i < M; i++) {
      const ai = i * K, oi = i * N;
      for (let j = 0; j < N; j++) {
        const bj = j * K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
        for (; k + 3 < K; k += 4) {
          s0 += a[ai + k] * b[bj + k];
          s1 += a[ai + k + 1] * b[bj + k + 1];
          s2 += a[ai + k + 2] * b[bj + k + 2];
          s3 += a[ai + k + 3] * b[bj + k + 3];
        }
        for (; k < K; k++) s0 += a[ai + k] * b[bj + k];
        out[oi + j] += s0 + s1 + s2 + s3;
      }
    }
  } else if (transA && !transB) {
    // A stored (K, M): out[i, j] += A[k, i] * B[k, j], four k per pass as above.
    let k = 0;
    for (; k + 3 < K; k += 4) {
      const a0 = k * M, a1 = a0 + M, a2 = a1 + M, a3 = a2 + M;
      const b0 = k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
      for (let i = 0; i < M; i++) {
        const c0 = a[a0 + i], c1 = a[a1 + i], c2 = a[a2 + i], c3 = a[a3 + i];
        const oi = i * N;
        for (let j = 0; j < N; j++) out[oi + j] += c0 * b[b0 + j] + c1 * b[b1 + j] + c2 * b[b2 + j] + c3 * b[b3 + j];
      }
    }
    for (; k < K; k++) {
      const ak = k * M, bk = k * N;
      for (let i = 0; i < M; i++) {
        const aki = a[ak + i], oi = i * N;
        for (let j = 0; j < N; j++) out[oi + j] += aki * b[bk + j];
      }
    }
  } else {
    // A stored (K, M), B stored (N, K)
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[k * M + i] * b[j * K + k];
        out[i * N + j] += s;
      }
    }
  }
}
