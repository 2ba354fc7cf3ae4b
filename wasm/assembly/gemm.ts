// out (M, N) = op(A) (M, K) op(B) (K, N) [+ out], float32, row-major.
//
// B is used as a (K, Np) row-major panel with Np = N rounded up to 8: when it is not already one
// (transposed, or N not a multiple of 8) matmulPack copies it into `work` first (O(K N), small next
// to the O(M N K) product); matmulRows then computes a range of rows (threads split the rows). A is read through strides (row i, column k at a + 4 (i rsA + k csA)), so both
// of its layouts need no copy. The product runs in tiles of 4 rows x 8 columns held in eight f32x4
// accumulators over the whole K (one rounding per partial product and sum, no FMA), then is added
// to or stored into out. Columns go in blocks of JB so that a (K, JB) slice of B stays in cache
// while every row of A passes over it.

const JB: i32 = 256; // columns per block: K x 256 floats (~256 KB at K = 256) in L2

// @ts-ignore: decorator
@inline
function storeTile(o: usize, acc0: v128, acc1: v128, cols: i32, accumulate: bool, tmp: usize): void {
  if (cols == 8) {
    if (accumulate) {
      acc0 = f32x4.add(v128.load(o), acc0);
      acc1 = f32x4.add(v128.load(o, 16), acc1);
    }
    v128.store(o, acc0);
    v128.store(o, acc1, 16);
    return;
  }
  v128.store(tmp, acc0);
  v128.store(tmp, acc1, 16);
  for (let j = 0; j < cols; j++) {
    const v = load<f32>(tmp + (<usize>j << 2));
    const p = o + (<usize>j << 2);
    store<f32>(p, accumulate ? load<f32>(p) + v : v);
  }
}

/**
 * The (K, Np) panel of B: b itself when it already is one (not transposed, N a multiple of 8), else
 * a copy in `work` (matmulWork floats). Returns its address.
 */
export function matmulPack(b: usize, N: i32, K: i32, flags: i32, work: usize): usize {
  const transB = (flags & 2) != 0;
  const Np = (N + 7) & ~7;
  if (!transB && Np == N) return b;
  for (let k = 0; k < K; k++) {
    const row = work + (<usize>k * <usize>Np << 2);
    if (transB) {
      for (let j = 0; j < N; j++) store<f32>(row + (<usize>j << 2), load<f32>(b + ((<usize>j * <usize>K + <usize>k) << 2)));
    } else {
      memory.copy(row, b + (<usize>k * <usize>N << 2), <usize>N << 2);
    }
    for (let j = N; j < Np; j++) store<f32>(row + (<usize>j << 2), 0);
  }
  return work;
}

/**
 * Rows of out for chunk `chunk` of nChunks (groups of 4 rows split evenly; each row is computed the
 * same way whatever the split, so threads do not change results). bp from matmulPack; tmp: 8 floats
 * per chunk.
 */
export function matmulRows(out: usize, a: usize, bp: usize, M: i32, N: i32, K: i32, flags: i32, tmp0: usize, chunk: i32, nChunks: i32): void {
  const transA = (flags & 1) != 0, accumulate = (flags & 4) != 0;
  const G = (M + 3) >> 2;
  const i0 = (<i32>(<i64>G * chunk / nChunks)) << 2, i1 = min(M, (<i32>(<i64>G * (chunk + 1) / nChunks)) << 2);
  if (i1 <= i0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) memory.fill(out + (<usize>i0 * <usize>N << 2), 0, <usize>(i1 - i0) * <usize>N * 4);
    return;
  }
  const Np = (N + 7) & ~7;
  const tmp = tmp0 + (<usize>chunk << 5);
  const rsA: usize = transA ? 1 : <usize>K, csA: usize = transA ? <usize>M : 1;
  const ldb: usize = <usize>Np << 2, csA4 = csA << 2, rsA4 = rsA << 2;
  for (let j0 = 0; j0 < Np; j0 += JB) {
    const j1 = min(j0 + JB, Np);
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const a0 = a + (<usize>i * rsA << 2);
      for (let j = j0; j < j1; j += 8) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let pa = a0, pb = bp + (<usize>j << 2);
        for (let k = 0; k < K; k++) {
          const b0 = v128.load(pb), b1 = v128.load(pb, 16);
          const x0 = v128.load32_splat(pa), x1 = v128.load32_splat(pa + rsA4);
          const x2 = v128.load32_splat(pa + 2 * rsA4), x3 = v128.load32_splat(pa + 3 * rsA4);
          c00 = f32x4.add(c00, f32x4.mul(x0, b0)); c01 = f32x4.add(c01, f32x4.mul(x0, b1));
          c10 = f32x4.add(c10, f32x4.mul(x1, b0)); c11 = f32x4.add(c11, f32x4.mul(x1, b1));
          c20 = f32x4.add(c20, f32x4.mul(x2, b0)); c21 = f32x4.add(c21, f32x4.mul(x2, b1));
          c30 = f32x4.add(c30, f32x4.mul(x3, b0)); c31 = f32x4.add(c31, f32x4.mul(x3, b1));
          pa += csA4; pb += ldb;
        }
        const cols = min(8, N - j);
        const o = out + ((<usize>i * <usize>N + <usize>j) << 2), on = <usize>N << 2;
        storeTile(o, c00, c01, cols, accumulate, tmp);
        storeTile(o + on, c10, c11, cols, accumulate, tmp);
        storeTile(o + 2 * on, c20, c21, cols, accumulate, tmp);
        storeTile(o + 3 * on, c30, c31, cols, accumulate, tmp);
      }
    }
    for (; i < i1; i++) {
      const a0 = a + (<usize>i * rsA << 2);
      for (let j = j0; j < j1; j += 8) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
        let pa = a0, pb = bp + (<usize>j << 2);
        for (let k = 0; k < K; k++) {
          const x0 = v128.load32_splat(pa);
          c00 = f32x4.add(c00, f32x4.mul(x0, v128.load(pb)));
          c01 = f32x4.add(c01, f32x4.mul(x0, v128.load(pb, 16)));
          pa += csA4; pb += ldb;
        }
        storeTile(out + ((<usize>i * <usize>N + <usize>j) << 2), c00, c01, min(8, N - j), accumulate, tmp);
      }
    }
  }
}

/** Floats of `work` matmulPack needs for these sizes. */
export function matmulWork(N: i32, K: i32): i32 {
  return K * ((N + 7) & ~7);
}
