// Our single-precision GEMM (gemm.c, gemm_x86.c, gemm_neon.c): the BLIS design, with packed panels,
// cache blocking and register-tiled micro-kernels for AVX-512, AVX2+FMA, ARM64 NEON and portable C,
// picked at load time from the CPU's features. With NL_OPENBLAS (build option, see docs/native.md) OpenBLAS's
// cblas_sgemm can be selected instead at run time, for comparison.
#ifndef NORMLAB_GEMM_H
#define NORMLAB_GEMM_H
#include <stddef.h>

// A micro-kernel computes one MR x NR tile of C from a packed A micro-panel (kc steps of MR values)
// and a packed B micro-panel (kc steps of NR values): C = alpha * A B (+ C when acc). The packed
// panels are 64-byte aligned.
typedef void (*gemm_ukr)(long kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc);
// The same with A read in place: row r of the tile at a + r lda, step k at + k (row-major A).
typedef void (*gemm_ukr_rows)(long kc, const float *a, long lda, const float *b, float *c, long ldc, float alpha, int acc);

typedef struct {
  const char *name;  // "avx512", "avx2", "neon", "generic"
  int mr, nr;        // register tile
  int mc, kc, nc;    // cache blocks (mc a multiple of mr, nc of nr)
  gemm_ukr ukr;
  gemm_ukr ukr_half; // optional: an mr x nr/2 tile from the same packed panels (narrow last panel)
  int (*supported)(void);
  gemm_ukr_rows ukr_rows, ukr_rows_half; // optional: ukr and ukr_half with A read in place (the
                                         // second needed when ukr_half and ukr_rows are set)
} GemmKernel;

extern const GemmKernel gemm_kernel_avx512, gemm_kernel_avx2, gemm_kernel_generic;
#if defined(__aarch64__) && defined(__ARM_NEON)
#define NL_GEMM_NEON 1
extern const GemmKernel gemm_kernel_neon; // gemm_neon.c, only compiled on ARM64
#endif

// The register-only loops of the peak probes (`normlab bench --gemm`: gemm_x86.c's float32 FMAs,
// gemm_bf16.c's vdpbf16ps): `n` independent chains x = step(x, m, s), their sum returned so that the
// compiler keeps them. VEC: the chains' register type; set1, add, reduce: its broadcast, addition and
// horizontal sum; M, S: the constant operands (their own type: bfloat16 pairs for vdpbf16ps).
#define NL_PRAGMA(x) _Pragma(#x)
#define NL_PEAK_LOOP(name, attr, VEC, n, set1, add, reduce, M, S, step) \
  attr static double name(long iters) {                                \
    VEC x[n];                                                          \
    const __typeof__(M) m = M;                                         \
    const __typeof__(S) s = S;                                         \
    NL_PRAGMA(GCC unroll n)                                            \
    for (int i = 0; i < n; i++) x[i] = set1((float)i);                 \
    for (long it = 0; it < iters; it++) {                              \
      NL_PRAGMA(GCC unroll n)                                          \
      for (int i = 0; i < n; i++) x[i] = step(x[i], m, s);             \
    }                                                                  \
    VEC t = x[0];                                                      \
    for (int i = 1; i < n; i++) t = add(t, x[i]);                      \
    return (double)reduce(t);                                          \
  }

// Single-threaded, with the selected GEMM: C (M x N, row stride ldc) = alpha op(A) op(B) (+ C when
// accumulate), row-major, op(A) = A (M x K, row stride lda) or, with ta, A stored K x M; likewise
// op(B) (K x N) with tb.
void gemm_st(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
  const float *B, long ldb, int accumulate, float *C, long ldc);

// Picks the kernel, once per process (NORMLAB_GEMM, if set, names one; see gemm_select): every
// worker_threads Worker that loads the addon calls it, possibly at the same time. The other
// functions here call it first, so it is optional.
void gemm_init(void);

// Picks the GEMM: "auto" (the best kernel this CPU supports), "avx512", "avx2", "neon", "generic",
// or "openblas" (only in a build with NL_OPENBLAS). Returns 0, or -1 when the name is unknown or
// not available here (the selection is then unchanged). Safe from any thread: a product reads the
// selection once when it starts, so one that is running finishes with the kernel it started with.
int gemm_select(const char *name);
const char *gemm_name(void);        // the selected one (a constant string)
const char *gemm_available(void);   // comma-separated names gemm_select accepts here (constant)

// Measured FMA throughput of this core in GFLOP/s: a loop of independent fused multiply-adds on
// registers only, with 512-bit (bits = 512) or 256-bit vectors; 0 when the CPU lacks them.
// threads > 1 runs the same loop on that many pool threads at once and returns their total. With
// cpu_time, time is the process's CPU time (what a shared, oversubscribed machine gives us), so the
// result is the rate per CPU second times threads: the peak of that many cores of our own.
// bits = GEMM_PEAK_BF16 measures vdpbf16ps (AVX512_BF16) instead: 4 flops per lane (two products
// of bfloat16 pairs and their two additions into float32), 0 without it.
#define GEMM_PEAK_BF16 16
double gemm_fma_peak(int bits, int threads, int cpu_time);

// bfloat16 products (gemm_bf16.c, docs/native.md "bfloat16 products"): as gemm_st, with every
// value of op(A) and op(B) rounded to bfloat16 (bf16.h) and float32 sums, equal bit for bit for any
// kernel and thread count. The float32 selection g picks the kernel: vdpbf16ps under avx512 when
// the CPU has AVX512_BF16, else float32 FMAs giving the same numbers (gemm_bf16_name).
void gemm_bf16_st(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
  const float *B, long ldb, int accumulate, float *C, long ldc);
void gemm_bf16_with(const GemmKernel *g, int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
  const float *B, long ldb, int accumulate, float *C, long ldc);
const char *gemm_bf16_name(const GemmKernel *g);
const GemmKernel *gemm_selected(void);
double gemm_bf16_loop(long iters, double *flops); // register-only vdpbf16ps loop (gemm_fma_peak)
// This thread's packing buffer 0 (A) or 1 (B), grown to n floats (64-byte aligned; freed with the thread).
float *gemm_pack_buf(int which, size_t n);

#endif
