// out (M, N) = op(A) (M, K) op(B) (K, N) [+ out], float32, row-major.
//
// Both operands are packed so that the inner loop reads two sequential streams at constant offsets
// (V8 then keeps the whole tile in registers; strided addressing cost it a fifth of the speed):
// matmulPack copies B, once per call, into panels of 8 columns, each (K, 8) contiguous;
// matmulRows copies each group of 4 rows of op(A) into (K, 4) in its chunk's work area. Both
// copies are O(K N) and O(M K), small next to the O(M N K) product, and take either layout of A
// and B. The product runs in tiles of 4 rows x 8 columns held in eight f32x4 accumulators over
// the whole K (one rounding per partial product and sum in k order, no FMA, as the TypeScript
// kernel), then is added to or stored into out. Threads split the row groups.
// flags: 1 transA, 2 transB, 4 accumulate, 8 bfloat16 (docs/dtype.md: both packed copies are
// rounded to bfloat16, so the product is the float32 one of rounded operands; nothing else changes).
import { roundBf16InPlace } from './bf16';

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

/** dst rows 0..3 (32 bytes apart) = columns of the 4 x 4 block at src (rows ld bytes apart). */
// @ts-ignore: decorator
@inline
function transpose4(dst: usize, src: usize, ld: usize): void {
  const r0 = v128.load(src), r1 = v128.load(src + ld), r2 = v128.load(src + 2 * ld), r3 = v128.load(src + 3 * ld);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
  v128.store(dst, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
  v128.store(dst, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
}

/**
 * B packed as Np / 8 panels of 8 columns, each (K, 8) row-major and contiguous (panel p at
 * work + 32 K p bytes; columns past N are zeros), so that a tile reads its 8 columns of B as one
 * sequential stream. work: matmulWork floats. Returns its address.
 */
export function matmulPack(b: usize, N: i32, K: i32, flags: i32, work: usize): usize {
  const transB = (flags & 2) != 0;
  const panels = (N + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    const j0 = p << 3, w = min(8, N - j0);
    let dst = work + (<usize>p * <usize>K << 5);
    if (transB) { // B stored (N, K): column j of B is row j
      let k = 0;
      if (w == 8) { // 4 k at a time: two 4 x 4 blocks (columns j0.., j0 + 4..) transposed in registers
        const ld = <usize>K << 2;
        for (; k + 4 <= K; k += 4) {
          const src = b + ((<usize>j0 * <usize>K + <usize>k) << 2);
          transpose4(dst, src, ld);
          transpose4(dst + 16, src + 4 * ld, ld);
          dst += 128;
        }
      }
      for (; k < K; k++) {
        let j = 0;
        for (; j < w; j++) store<f32>(dst + (<usize>j << 2), load<f32>(b + ((<usize>(j0 + j) * <usize>K + <usize>k) << 2)));
        for (; j < 8; j++) store<f32>(dst + (<usize>j << 2), 0);
        dst += 32;
      }
    } else if (w == 8) {
      let src = b + (<usize>j0 << 2);
      const ld = <usize>N << 2;
      for (let k = 0; k < K; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32; src += ld;
      }
    } else {
      for (let k = 0; k < K; k++) {
        const src = b + ((<usize>k * <usize>N + <usize>j0) << 2);
        let j = 0;
        for (; j < w; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
        for (; j < 8; j++) store<f32>(dst + (<usize>j << 2), 0);
        dst += 32;
      }
    }
  }
  if ((flags & 8) != 0) roundBf16InPlace(work, panels * K * 8);
  return work;
}

/**
 * Rows of out for chunk `chunk` of nChunks (groups of 4 rows split evenly; each element is the same
 * sum in the same order whatever the split, so threads do not change results). bp from matmulPack;
 * work0: matmulChunkWork(K) floats per chunk, where each group of 4 rows of A is packed as (K, 4)
 * (rows past M are zeros) so that the inner loop reads A and B as two sequential streams at
 * constant offsets. The loop over K is unrolled 4 times (V8 then spends one loop test and
 * interrupt check per 4 k instead of one per k); every accumulator still adds its products in k
 * order.
 */
export function matmulRows(out: usize, a: usize, bp: usize, M: i32, N: i32, K: i32, flags: i32, work0: usize, chunk: i32, nChunks: i32): void {
  const transA = (flags & 1) != 0, accumulate = (flags & 4) != 0, bf = (flags & 8) != 0;
  const G = (M + 3) >> 2;
  const i0 = (<i32>(<i64>G * chunk / nChunks)) << 2, i1 = min(M, (<i32>(<i64>G * (chunk + 1) / nChunks)) << 2);
  if (i1 <= i0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) memory.fill(out + (<usize>i0 * <usize>N << 2), 0, <usize>(i1 - i0) * <usize>N * 4);
    return;
  }
  const ap = work0 + <usize>chunk * (<usize>matmulChunkWork(K) << 2), tmp = ap + (<usize>K << 4);
  const panel: usize = <usize>K << 5, on = <usize>N << 2;
  for (let i = i0; i < i1; i += 4) {
    const rows = min(4, i1 - i);
    packRows(ap, a, i, rows, M, K, transA);
    if (bf) roundBf16InPlace(ap, 4 * K);
    for (let j = 0; j < N; j += 8) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let b0: v128, b1: v128, x: v128;
      let pa = ap, pb = bp + (<usize>(j >> 3) * panel);
      for (let k = 0; k < K; k++) {
        b0 = v128.load(pb, 0); b1 = v128.load(pb, 16);
        x = v128.load32_splat(pa, 0); c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
        x = v128.load32_splat(pa, 4); c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
        x = v128.load32_splat(pa, 8); c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
        x = v128.load32_splat(pa, 12); c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
        pa += 16; pb += 32;
      }
      const cols = min(8, N - j);
      const o = out + ((<usize>i * <usize>N + <usize>j) << 2);
      storeTile(o, c00, c01, cols, accumulate, tmp);
      if (rows > 1) storeTile(o + on, c10, c11, cols, accumulate, tmp);
      if (rows > 2) storeTile(o + 2 * on, c20, c21, cols, accumulate, tmp);
      if (rows > 3) storeTile(o + 3 * on, c30, c31, cols, accumulate, tmp);
    }
  }
}

/** dst (K, 4) = rows i..i+rows of op(A) transposed (rows past `rows` zero). */
function packRows(dst: usize, a: usize, i: i32, rows: i32, M: i32, K: i32, transA: bool): void {
  if (transA) { // A stored (K, M): row k holds op(A)[i.., k] contiguously
    const ld = <usize>M << 2;
    let src = a + (<usize>i << 2);
    if (rows == 4) {
      for (let k = 0; k < K; k++) { v128.store(dst, v128.load(src)); dst += 16; src += ld; }
    } else {
      for (let k = 0; k < K; k++) {
        for (let r = 0; r < 4; r++) store<f32>(dst + (<usize>r << 2), r < rows ? load<f32>(src + (<usize>r << 2)) : 0);
        dst += 16; src += ld;
      }
    }
    return;
  }
  const ld = <usize>K << 2, src = a + (<usize>i * ld);
  for (let r = 0; r < 4; r++) {
    const row = src + <usize>r * ld;
    let d = dst + (<usize>r << 2);
    if (r < rows) for (let k = 0; k < K; k++) { store<f32>(d, load<f32>(row + (<usize>k << 2))); d += 16; }
    else for (let k = 0; k < K; k++) { store<f32>(d, 0); d += 16; }
  }
}

/** Floats of `work` matmulPack needs for these sizes. */
export function matmulWork(N: i32, K: i32): i32 {
  return K * ((N + 7) & ~7);
}

/** Floats of `work` matmulRows needs per chunk: the packed rows of A and a tile's spill. */
export function matmulChunkWork(K: i32): i32 {
  return 4 * K + 8;
}
