// bfloat16 products (--dtype bfloat16; docs/native.md, "bfloat16 products"): C = alpha op(A) op(B)
// (+ C) with every value of op(A) and op(B) rounded to bfloat16 (bf16.h) and float32 accumulation.
// Same BLIS blocking as gemm.c (kc = 384, mc = 192, nc = 3072), with the panels packed as bfloat16
// PAIRS: a 32-bit word holds steps k = 2p (low half) and 2p + 1 (high half) of one row of A or one
// column of B, zero-padded past K and past the panel's rows or columns. One 12 x 32 tile layout for
// every kernel:
//   - vdpbf16ps (AVX512_BF16): per pair and lane, acc += a1 b1, then acc += a0 b0 (each product of
//     two bfloat16 values is exact in float32; each addition rounds to nearest even), with
//     bfloat16 inputs and results below 2^-126 taken as zero (measured on AMD Zen 4 over 2M random
//     cases; Intel's pseudo-code says the same);
//   - without it, the same numbers from float32 FMAs in the same order, fma(a1, b1, acc) then
//     fma(a0, b0, acc), with MXCSR's flush-to-zero and denormals-are-zero set around the loop on
//     x86 (AVX2 + FMA, or portable C with fmaf).
// Each kc block is one running sum per element of C (in pair order) that starts at 0 and is then
// scaled by alpha and added to C, as in gemm.c: results are equal bit for bit for every kernel,
// tile split and thread count (test/native/gemm_check.c checks it).
#include "gemm.h"
#include "bf16.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NL_BF16_X86 1
#endif

#define MR 12
#define NR 32
#define KC 384
#define MC 192
#define NC 3072

typedef void (*bf16_ukr)(long kp, const uint32_t *a, const uint32_t *b, float *c, long ldc, float alpha, int acc, int half);

// ---- packing ----------------------------------------------------------------------------------

static inline uint32_t pair(float lo, float hi) { return (uint32_t)bf16_bits(lo) | (uint32_t)bf16_bits(hi) << 16; }

// Columns [c0, c0 + n) of a kc block (k from p0) of an operand X, k along X's rows when k_in_rows
// (A untransposed, B transposed), else along its columns; in panels of w (MR for A, NR for B): pair
// p, value c of a panel at dst[p w + c], zeros past n. pack_512's scalar twin.
static inline __attribute__((always_inline)) void pack_pairs(int k_in_rows, const float *X, long ld, long p0, long kc,
  long c0, long n, const int w, uint32_t *dst) {
  const long kp = (kc + 1) / 2;
  for (long jr = 0; jr < n; jr += w, dst += w * kp) {
    const long m = n - jr < w ? n - jr : w, j = c0 + jr;
    for (long p = 0; p < kp; p++) {
      const long k = p0 + 2 * p, odd = 2 * p + 1 < kc;
      uint32_t *d = dst + p * w;
      if (!k_in_rows && odd && m == w) { // the common case, two contiguous rows: vectorizes
        const float *s0 = X + k * ld + j, *s1 = s0 + ld;
        for (long c = 0; c < w; c++) d[c] = pair(s0[c], s1[c]);
        continue;
      }
      for (long c = 0; c < w; c++) {
        if (c >= m) { d[c] = 0; continue; }
        const float lo = k_in_rows ? X[(j + c) * ld + k] : X[k * ld + j + c];
        const float hi = odd ? (k_in_rows ? X[(j + c) * ld + k + 1] : X[(k + 1) * ld + j + c]) : 0.0f;
        d[c] = pair(lo, hi);
      }
    }
  }
}

// Rows [i0, i0 + mc), columns [p0, p0 + kc) of op(A) in panels of MR rows.
static void pack_a(int ta, const float *A, long lda, long i0, long mc, long p0, long kc, uint32_t *dst) {
  pack_pairs(!ta, A, lda, p0, kc, i0, mc, MR, dst);
}

// Rows [p0, p0 + kc), columns [j0, j0 + nc) of op(B) in panels of NR columns.
static void pack_b(int tb, const float *B, long ldb, long p0, long kc, long j0, long nc, uint32_t *dst) {
  pack_pairs(tb, B, ldb, p0, kc, j0, nc, NR, dst);
}

// AVX-512 packing for the vdpbf16ps kernel: the same words as pack_a/pack_b, rounded by
// vcvtne2ps2bf16 (AVX512_BF16), which is bf16_bits exactly: round to nearest even, NaN quieted,
// subnormal inputs to a zero of the same sign (Intel's definition of the instruction; checked on
// AMD Zen 4 against bf16_bits for all 2^32 float32 bit patterns). gemm_check compares this
// kernel with the others, which pack in scalar code, bit for bit.
#ifdef NL_BF16_X86
#define X512P __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))
static inline __mmask16 first(long n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

// 16 pairs of consecutive values: lane q = (x[2q], x[2q + 1]); values from n on (n < 32) read as 0.
X512P static inline __m512i pairs_adjacent(const float *x, long n) {
  if (n >= 32) return (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(x));
  return (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(first(n - 16), x + 16), _mm512_maskz_loadu_ps(first(n), x));
}
// Lane j: the pair (lo[j], hi[j]) (two rows of the same 16 columns).
X512P static inline __m512i pairs_rows(__m512 lo, __m512 hi) {
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
    23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

// r[c] lane j = old r[j] lane c: a 16 x 16 transpose of 32-bit lanes (pairs within 128-bit lanes,
// then 64-bit halves, then 128-bit lanes).
X512P static inline void transpose16(__m512i r[16]) {
  __m512i u[16];
  for (int g = 0; g < 16; g += 4) { // rows g..g+3: u[g + c] lane L = their column 4L + c
    const __m512i t0 = _mm512_unpacklo_epi32(r[g], r[g + 1]), t1 = _mm512_unpackhi_epi32(r[g], r[g + 1]),
      t2 = _mm512_unpacklo_epi32(r[g + 2], r[g + 3]), t3 = _mm512_unpackhi_epi32(r[g + 2], r[g + 3]);
    u[g] = _mm512_unpacklo_epi64(t0, t2); u[g + 1] = _mm512_unpackhi_epi64(t0, t2);
    u[g + 2] = _mm512_unpacklo_epi64(t1, t3); u[g + 3] = _mm512_unpackhi_epi64(t1, t3);
  }
  for (int c = 0; c < 4; c++) { // column 4L + c: 128-bit lane L of u[c], u[4 + c], u[8 + c], u[12 + c]
    const __m512i x0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44), x1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xee),
      x2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44), x3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xee);
    r[c] = _mm512_shuffle_i32x4(x0, x2, 0x88); r[4 + c] = _mm512_shuffle_i32x4(x0, x2, 0xdd);
    r[8 + c] = _mm512_shuffle_i32x4(x1, x3, 0x88); r[12 + c] = _mm512_shuffle_i32x4(x1, x3, 0xdd);
  }
}

// Rows r < w of s (row stride ld, k contiguous) as pairs at dst[p w + r]; rows from `valid` on are
// zeros (w = 12 or 32). Each row is converted in order into a row-major scratch (so A is read as
// one stream), then 16 pairs of 16 rows at a time are transposed in registers from there and
// stored as whole pair rows.
X512P static inline __attribute__((always_inline)) void pack_rows(const float *s, long ld, long kc, const int w, long valid,
  uint32_t *dst) {
  const long kp = (kc + 1) / 2, kq = (kp + 15) / 16 * 16; // kq: a scratch row, whole steps of 16 pairs
  uint32_t tmp[32 * (KC / 2)] __attribute__((aligned(64)));
  const long rows = valid < w ? valid : w;
  for (long r = 0; r < rows; r++)
    for (long p0 = 0; p0 < kp; p0 += 16) _mm512_store_si512(tmp + r * kq + p0, pairs_adjacent(s + r * ld + 2 * p0, kc - 2 * p0));
  for (long p0 = 0; p0 < kp; p0 += 16) {
    const long q1 = kp - p0 < 16 ? kp - p0 : 16;
    for (int h = 0; h < w; h += 16) {
      __m512i v[16];
      for (int r = 0; r < 16; r++) v[r] = h + r < rows ? _mm512_load_si512(tmp + (h + r) * kq + p0) : _mm512_setzero_si512();
      transpose16(v);
      const __mmask16 m = first(w - h);
      for (int q = 0; q < q1; q++) _mm512_mask_storeu_epi32(dst + (p0 + q) * w + h, m, v[q]);
    }
  }
}

// Rows read across (pairs_rows) one pair at a time: n values of each of the two rows PF_ROWS
// rows below s are asked into L2 now. The hardware's own prefetch keeps too few of these
// strided rows in flight: a weight gradient (K = 16384 rows of A and B, each read once) waited on
// memory for a fifth of its time. 16 rows, into L2, measured best (8 or 24 into L1: no gain).
// always_inline: as a plain inline function GCC dropped its prefetches once the packing loops that
// call it were themselves inlined.
#define PF_ROWS 16
X512P static inline __attribute__((always_inline)) void prefetch_rows(const float *s, long ld, long n) {
  for (long x = 0; x < n; x += 16) {
    _mm_prefetch((const char *)(s + PF_ROWS * ld + x), _MM_HINT_T1);
    _mm_prefetch((const char *)(s + (PF_ROWS + 1) * ld + x), _MM_HINT_T1);
  }
}

// Rows k and k + 1 of X (row stride ld), its n values from column c0 on, read across pair by pair
// into panels of w (12 or 32) words per pair: pair p, value r of the panel at dst[p w + r], zeros past n.
X512P static inline __attribute__((always_inline)) void pack_across(const float *X, long ld, long p0, long kc, long c0,
  long n, const int w, uint32_t *dst) {
  const long kp = (kc + 1) / 2;
  for (long p = 0; p < kp; p++) {
    const float *s0 = X + (p0 + 2 * p) * ld + c0, *s1 = s0 + ld;
    const int odd = 2 * p + 1 < kc;
    prefetch_rows(s0, ld, n);
    for (long r = 0; r < n; r += w) {
      #pragma GCC unroll 2
      for (int h = 0; h < w; h += 16) {
        const long left = n - r - h;
        const __mmask16 m = first(left < w - h ? left : w - h);
        const __m512 lo = _mm512_maskz_loadu_ps(m, s0 + r + h), hi = odd ? _mm512_maskz_loadu_ps(m, s1 + r + h) : _mm512_setzero_ps();
        _mm512_mask_storeu_epi32(dst + r * kp + p * w + h, first(w - h), pairs_rows(lo, hi));
      }
    }
  }
}

// Columns [c0, c0 + n) of a kc block of an operand in panels of w: k contiguous along X's rows
// (A untransposed, B transposed: pack_rows per panel), or along its columns (pack_across).
X512P static inline __attribute__((always_inline)) void pack_512(int k_in_rows, const float *X, long ld, long p0, long kc,
  long c0, long n, const int w, uint32_t *dst) {
  if (!k_in_rows) { pack_across(X, ld, p0, kc, c0, n, w, dst); return; }
  const long kp = (kc + 1) / 2;
  for (long r = 0; r < n; r += w, dst += w * kp) pack_rows(X + (c0 + r) * ld + p0, ld, kc, w, n - r, dst);
}

X512P static void pack_a_512(int ta, const float *A, long lda, long i0, long mc, long p0, long kc, uint32_t *dst) {
  pack_512(!ta, A, lda, p0, kc, i0, mc, MR, dst);
}

X512P static void pack_b_512(int tb, const float *B, long ldb, long p0, long kc, long j0, long nc, uint32_t *dst) {
  pack_512(tb, B, ldb, p0, kc, j0, nc, NR, dst);
}
#endif

// ---- micro-kernels: one MR x NR tile (with half: its first 16 columns) ------------------------

static inline float lo_f(uint32_t w) { return bf16_float((uint16_t)w); }
static inline float hi_f(uint32_t w) { return bf16_float((uint16_t)(w >> 16)); }

#ifdef NL_BF16_X86
#define FTZ_DAZ 0x8040u
#define ENTER_FTZ() const unsigned csr_ = _mm_getcsr(); _mm_setcsr(csr_ | FTZ_DAZ)
#define LEAVE_FTZ() _mm_setcsr(csr_)
#else
#define ENTER_FTZ() (void)0
#define LEAVE_FTZ() (void)0
#endif

// Portable: fmaf in vdpbf16ps's order.
static void ukr_generic(long kp, const uint32_t *a, const uint32_t *b, float *c, long ldc, float alpha, int acc, int half) {
  float t[MR][NR];
  const int nr = half ? NR / 2 : NR;
  ENTER_FTZ();
  for (int r = 0; r < MR; r++) for (int j = 0; j < nr; j++) t[r][j] = 0;
  for (long p = 0; p < kp; p++, a += MR, b += NR)
    for (int r = 0; r < MR; r++) {
      const float a0 = lo_f(a[r]), a1 = hi_f(a[r]);
      for (int j = 0; j < nr; j++) t[r][j] = fmaf(a0, lo_f(b[j]), fmaf(a1, hi_f(b[j]), t[r][j]));
    }
  LEAVE_FTZ();
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < nr; j++) {
      float v = t[r][j];
      if (alpha != 1.0f) v *= alpha;
      c[r * ldc + j] = acc ? v + c[r * ldc + j] : v;
    }
}

#ifdef NL_BF16_X86
#define X256 __attribute__((target("avx2,fma")))
#define X512BF __attribute__((target("avx512f,avx512vl,avx512bw,avx512bf16,avx2,fma")))

// AVX2 + FMA, 8 columns at a time (12 ymm accumulators): the fallback where vdpbf16ps is missing.
X256 static void ukr_avx2(long kp, const uint32_t *a0p, const uint32_t *b0p, float *c, long ldc, float alpha, int acc, int half) {
  const __m256i himask = _mm256_set1_epi32((int)0xffff0000u);
  const __m256 al = _mm256_set1_ps(alpha);
  for (int g = 0; g < (half ? 2 : 4); g++) {
    __m256 t[MR];
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) t[r] = _mm256_setzero_ps();
    const uint32_t *a = a0p, *b = b0p + 8 * g;
    ENTER_FTZ();
    for (long p = 0; p < kp; p++, a += MR, b += NR) {
      const __m256i bv = _mm256_load_si256((const __m256i *)b);
      const __m256 b0 = _mm256_castsi256_ps(_mm256_slli_epi32(bv, 16)), b1 = _mm256_castsi256_ps(_mm256_and_si256(bv, himask));
      #pragma GCC unroll 12
      for (int r = 0; r < MR; r++) {
        const __m256i av = _mm256_set1_epi32((int)a[r]);
        t[r] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(av, himask)), b1, t[r]);
        t[r] = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(av, 16)), b0, t[r]);
      }
    }
    LEAVE_FTZ();
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      float *cr = c + r * ldc + 8 * g;
      __m256 v = t[r];
      if (alpha != 1.0f) v = _mm256_mul_ps(v, al);
      if (acc) v = _mm256_add_ps(v, _mm256_loadu_ps(cr));
      _mm256_storeu_ps(cr, v);
    }
  }
}

// vdpbf16ps: 24 zmm accumulators, per pair two B vectors and a 32-bit broadcast of A's pair.
X512BF static inline __attribute__((always_inline)) void dp_tile(long kp, const uint32_t *a, const uint32_t *b, float *c,
  long ldc, float alpha, int acc, const int half) {
  __m512 c0[MR], c1[MR];
  #pragma GCC unroll 12
  for (int r = 0; r < MR; r++) {
    c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps();
    _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    if (!half) _mm_prefetch((const char *)(c + r * ldc + 31), _MM_HINT_T0);
  }
  #pragma GCC unroll 2
  for (long p = 0; p < kp; p++) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = half ? b0 : (__m512bh)_mm512_load_si512(b + 16);
    #pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);
      c0[r] = _mm512_dpbf16_ps(c0[r], ar, b0);
      if (!half) c1[r] = _mm512_dpbf16_ps(c1[r], ar, b1);
    }
    a += MR; b += NR;
  }
  const __m512 al = _mm512_set1_ps(alpha);
  #pragma GCC unroll 12
  for (int r = 0; r < MR; r++) {
    float *cr = c + r * ldc;
    __m512 v0 = c0[r], v1 = c1[r];
    if (alpha != 1.0f) { v0 = _mm512_mul_ps(v0, al); v1 = _mm512_mul_ps(v1, al); }
    if (acc) { v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr)); if (!half) v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cr + 16)); }
    _mm512_storeu_ps(cr, v0);
    if (!half) _mm512_storeu_ps(cr + 16, v1);
  }
}

X512BF static void ukr_dp(long kp, const uint32_t *a, const uint32_t *b, float *c, long ldc, float alpha, int acc, int half) {
  if (half) dp_tile(kp, a, b, c, ldc, alpha, acc, 1);
  else dp_tile(kp, a, b, c, ldc, alpha, acc, 0);
}

// Register-only vdpbf16ps loop for the peak (gemm_fma_peak with GEMM_PEAK_BF16): 16 chains.
NL_PEAK_LOOP(dp_loop, X512BF, __m512, 16, _mm512_set1_ps, _mm512_add_ps, _mm512_reduce_add_ps,
  (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), (__m512bh)_mm512_set1_epi32(0x33d633d6), _mm512_dpbf16_ps)

static int has_bf16(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}
static int has_avx2(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

double gemm_bf16_loop(long iters, double *flops) {
  if (!has_bf16()) { *flops = 0; return 0; }
  *flops = (double)iters * 16 * 16 * 4; // 16 lanes, 2 products and 2 additions each
  return dp_loop(iters);
}
#else
double gemm_bf16_loop(long iters, double *flops) { (void)iters; *flops = 0; return 0; }
#endif

// The bfloat16 kernel for float32 selection g: avx512 -> vdpbf16ps (when the CPU has it, else the
// AVX2 one), avx2 -> the AVX2 FMA one, anything else (generic, neon, openblas) -> portable C,
// except openblas, which takes the best.
typedef struct {
  const char *name;
  bf16_ukr ukr;
  void (*pack_a)(int, const float *, long, long, long, long, long, uint32_t *);
  void (*pack_b)(int, const float *, long, long, long, long, long, uint32_t *);
} Bf16Kernel;
static const Bf16Kernel K_GENERIC = { "generic", ukr_generic, pack_a, pack_b };
#ifdef NL_BF16_X86
static const Bf16Kernel K_DP = { "avx512bf16", ukr_dp, pack_a_512, pack_b_512 }, K_AVX2 = { "avx2-fma", ukr_avx2, pack_a, pack_b };
#endif

static const Bf16Kernel *bf16_kernel(const GemmKernel *g) {
#ifdef NL_BF16_X86
  const int best = !strcmp(g->name, "avx512") || !strcmp(g->name, "openblas");
  if (best && has_bf16()) return &K_DP;
  if ((best || !strcmp(g->name, "avx2")) && has_avx2()) return &K_AVX2;
#else
  (void)g;
#endif
  return &K_GENERIC;
}

const char *gemm_bf16_name(const GemmKernel *g) { return bf16_kernel(g)->name; }

// ---- one thread's product ---------------------------------------------------------------------

// One kc block (kp pairs) of an mc x nc block of C from packed A (ap) and B (bp); edge tiles go
// through a scratch tile.
static void block(bf16_ukr ukr, long mc, long nc, long kp, const uint32_t *ap, const uint32_t *bp, float *C, long ldc,
  float alpha, int acc) {
  float tile[MR * NR] __attribute__((aligned(64)));
  for (long jr = 0; jr < nc; jr += NR) {
    const long n = nc - jr < NR ? nc - jr : NR;
    const uint32_t *bpanel = bp + jr * kp;
    const int half = 2 * n <= NR;
    for (long ir = 0; ir < mc; ir += MR) {
      const long m = mc - ir < MR ? mc - ir : MR;
      float *c = C + ir * ldc + jr;
      if (m == MR && (n == NR || 2 * n == NR)) { ukr(kp, ap + ir * kp, bpanel, c, ldc, alpha, acc, half); continue; }
      ukr(kp, ap + ir * kp, bpanel, tile, NR, alpha, 0, half);
      for (long r = 0; r < m; r++)
        for (long j = 0; j < n; j++) c[r * ldc + j] = tile[r * NR + j] + (acc ? c[r * ldc + j] : 0.0f);
    }
  }
}

void gemm_bf16_with(const GemmKernel *g, int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
  const float *B, long ldb, int accumulate, float *C, long ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) for (long i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    return;
  }
  const Bf16Kernel *bk = bf16_kernel(g);
  const long kpmax = ((K < KC ? K : KC) + 1) / 2;
  const long ncmax = N < NC ? (N + NR - 1) / NR * NR : NC;
  const long mcmax = M < MC ? (M + MR - 1) / MR * MR : MC;
  // B is packed a range of kc blocks at a time, and each block of rows of C takes every kc block of
  // the range in turn. The range is one kc block, or all of K when B is narrow (all its kc blocks fit
  // the buffer one block of nc = NC takes): then C's rows stay in cache across the kc blocks instead
  // of travelling to memory and back once per kc block. The same sums in the same order either way:
  // the results do not change.
  const long nblocks = (K + KC - 1) / KC, whole = nblocks * ncmax <= NC;
  const long span = whole ? K : KC, bstep = kpmax * ncmax; // k packed at a time; one kc block's words
  uint32_t *bp = (uint32_t *)gemm_pack_buf(1, (size_t)bstep * (whole ? nblocks : 1));
  uint32_t *ap = (uint32_t *)gemm_pack_buf(0, (size_t)kpmax * mcmax);
  for (long jc = 0; jc < N; jc += NC) {
    const long nc = N - jc < NC ? N - jc : NC;
    for (long g0 = 0; g0 < K; g0 += span) {
      const long g1 = K - g0 < span ? K : g0 + span;
      for (long pc = g0; pc < g1; pc += KC) bk->pack_b(tb, B, ldb, pc, K - pc < KC ? K - pc : KC, jc, nc, bp + (pc - g0) / KC * bstep);
      for (long ic = 0; ic < M; ic += MC) {
        const long mc = M - ic < MC ? M - ic : MC;
        for (long pc = g0; pc < g1; pc += KC) {
          const long kc = K - pc < KC ? K - pc : KC;
          bk->pack_a(ta, A, lda, ic, mc, pc, kc, ap);
          block(bk->ukr, mc, nc, (kc + 1) / 2, ap, bp + (pc - g0) / KC * bstep, C + ic * ldc + jc, ldc, alpha, accumulate || pc > 0);
        }
      }
    }
  }
}
