// out (M, N) = op(A) (M, K) * op(B) (K, N) [+ out], row-major, op = transpose when asked.
// Loop orders keep the innermost loop on contiguous memory for each of the four cases:
//   NN: i-k-j (axpy rows of B);  NT: i-j-k (dot of two rows);  TN: k-i-j;  TT: generic.
import type { F } from '../../types.js';
import type { MatmulOptions } from '../../backend.js';

export function matmul(out: F, a: F, b: F, M: number, N: number, K: number, opts: MatmulOptions = {}): void {
  const { transA = false, transB = false, accumulate = false } = opts;
  if (!accumulate) out.fill(0, 0, M * N);
  if (!transA && !transB) {
    for (let i = 0; i < M; i++) {
      const oi = i * N, ai = i * K;
      for (let k = 0; k < K; k++) {
        const aik = a[ai + k];
        if (aik === 0) continue;
        const bk = k * N;
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
    // A stored (K, M): out[i, j] += A[k, i] * B[k, j]
    for (let k = 0; k < K; k++) {
      const ak = k * M, bk = k * N;
      for (let i = 0; i < M; i++) {
        const aki = a[ak + i];
        if (aki === 0) continue;
        const oi = i * N;
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
