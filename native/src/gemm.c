// Single-precision matrix products without any BLAS library: the BLIS design (Van Zee and van de
// Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS Functionality", ACM TOMS 2015).
//
//   for jc in N step nc:            B block (kc x nc) packed once, reused for all of M
//     for pc in K step kc:
//       pack B[pc:, jc:] into nr-wide micro-panels
//       for ic in M step mc:        A block (mc x kc) packed into mr-tall micro-panels (stays in L2)
//         for jr in nc step nr:     one B micro-panel (kc x nr) stays in L1 ...
//           for ir in mc step mr:   ... while the micro-kernel runs over the A micro-panels
//             C[ic+ir:, jc+jr:] (mr x nr) (+)= alpha * Apanel * Bpanel
//
// Packing copies the operands into contiguous, aligned, zero-padded panels, so the micro-kernel
// (gemm_x86.c, gemm_neon.c, or the portable one below) handles any transpose, row stride or size the same way;
// edge tiles are computed into a scratch tile and only their valid part is written. Each element
// of C is one running sum per kc block (in k order), so results do not depend on how the product
// is split over threads. nl_matmul splits the output over the addon's pool.
#include "gemm.h"
#include "kernels.h"
#include "pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif
#ifdef NL_OPENBLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

// The single-row product (gemm_row) gets an AVX2+FMA clone picked at load time; the default clone
// is the portable x86-64-v2 build (the CI machine may lack AVX2). Not under ThreadSanitizer, whose
// instrumented clone resolvers would run before it has started (test/native/gemm_check.c built
// with --tsan). The kernels outside the GEMM have a clone per SIMD level, switchable at run time
// (SIMD_FN, vmath.h).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT
#endif

// ---- portable micro-kernel: MR = 4, NR = 8, with GCC/clang vector extensions ----------------
// 4-wide float vectors: SSE on any x86-64, NEON on ARM64, plain scalar code elsewhere. 8 vector
// accumulators, two B vectors and a broadcast fit in 16 registers.

typedef float v4f __attribute__((vector_size(16), aligned(16), may_alias));
typedef float v4u __attribute__((vector_size(16), aligned(4), may_alias)); // for C, unaligned

static void ukr_generic(long kc, const float *a, const float *b, float *c, long ldc, float alpha, int acc) {
  v4f t0[4] = {{0}}, t1[4] = {{0}};
  for (long k = 0; k < kc; k++) {
    const v4f b0 = *(const v4f *)b, b1 = *(const v4f *)(b + 4);
    for (int r = 0; r < 4; r++) {
      const v4f ar = {a[r], a[r], a[r], a[r]};
      t0[r] += ar * b0;
      t1[r] += ar * b1;
    }
    a += 4; b += 8;
  }
  for (int r = 0; r < 4; r++) {
    v4u *cr = (v4u *)(c + r * ldc);
    v4f x0 = t0[r] * alpha, x1 = t1[r] * alpha;
    if (acc) { x0 += (v4f)cr[0]; x1 += (v4f)cr[1]; }
    cr[0] = x0; cr[1] = x1;
  }
}
static int always(void) { return 1; }
const GemmKernel gemm_kernel_generic = { "generic", 4, 8, 128, 384, 3072, ukr_generic, NULL, always, NULL, NULL };

// Best first.
static const GemmKernel *const KERNELS[] = { &gemm_kernel_avx512, &gemm_kernel_avx2,
#ifdef NL_GEMM_NEON
  &gemm_kernel_neon,
#endif
  &gemm_kernel_generic };
#define NKERNELS (int)(sizeof KERNELS / sizeof KERNELS[0])
#ifdef NL_OPENBLAS
static const GemmKernel kernel_openblas = { "openblas", 0, 0, 0, 0, 0, NULL, NULL, always, NULL, NULL }; // cblas_sgemm instead
#endif

// The selection: written by gemm_init (once) and gemm_select, read once by each product. The
// kernels are constants, so a product that reads the pointer needs nothing else synchronized.
static _Atomic(const GemmKernel *) kern;
static char available[64];       // gemm_available's list, written once by init_once
static pthread_key_t bufs_key;   // frees a thread's packing buffers when it exits (thread_bufs)

static int usable(const GemmKernel *g) { return g->ukr && g->supported(); }

static const GemmKernel *find(const char *name) {
  if (!strcmp(name, "auto")) {
    for (int i = 0; i < NKERNELS; i++) if (usable(KERNELS[i])) return KERNELS[i];
    return &gemm_kernel_generic;
  }
#ifdef NL_OPENBLAS
  if (!strcmp(name, "openblas")) return &kernel_openblas;
#endif
  for (int i = 0; i < NKERNELS; i++) if (!strcmp(name, KERNELS[i]->name) && usable(KERNELS[i])) return KERNELS[i];
  return NULL;
}

static void free_bufs(void *p);

static void init_once(void) {
#ifdef NL_OPENBLAS
  openblas_set_num_threads(1); // our pool splits the products (nl_matmul)
#endif
  if (pthread_key_create(&bufs_key, free_bufs) != 0) abort();
  for (int i = 0; i < NKERNELS; i++)
    if (usable(KERNELS[i])) { strcat(available, KERNELS[i]->name); strcat(available, ","); }
#ifdef NL_OPENBLAS
  strcat(available, "openblas,");
#endif
  available[strlen(available) - 1] = 0;
  const char *env = getenv("NORMLAB_GEMM");
  const GemmKernel *g = env && *env ? find(env) : NULL;
  atomic_store(&kern, g ? g : find("auto"));
}

void gemm_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_once);
}

static const GemmKernel *selected(void) {
  gemm_init();
  return atomic_load_explicit(&kern, memory_order_acquire);
}

const GemmKernel *gemm_selected(void) { return selected(); }

int gemm_select(const char *name) {
  gemm_init();
  const GemmKernel *g = find(name);
  if (!g) return -1;
  atomic_store_explicit(&kern, g, memory_order_release);
  return 0;
}

const char *gemm_name(void) { return selected()->name; }

const char *gemm_available(void) {
  gemm_init();
  return available;
}

// ---- packing ----------------------------------------------------------------------------------

// dst[k w + r] = s[r ld + k] for r < w, k < kc: w rows of length kc, interleaved (the packing of
// a full panel from a transposed layout). On x86 and ARM64 in 4 x 4 blocks transposed in SSE or
// NEON registers, which halves the memory operations of a scalar copy; the remainder (and other
// CPUs) scalar.
static inline __attribute__((always_inline)) void pack_transposed(const float *s, long ld, long kc, const int w, float *dst) {
  long k = 0;
#if defined(__SSE__)
  if (w % 4 == 0)
    for (; k + 4 <= kc; k += 4)
      for (int r = 0; r < w; r += 4) {
        __m128 x0 = _mm_loadu_ps(s + r * ld + k), x1 = _mm_loadu_ps(s + (r + 1) * ld + k),
          x2 = _mm_loadu_ps(s + (r + 2) * ld + k), x3 = _mm_loadu_ps(s + (r + 3) * ld + k);
        _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
        _mm_storeu_ps(dst + k * w + r, x0);
        _mm_storeu_ps(dst + (k + 1) * w + r, x1);
        _mm_storeu_ps(dst + (k + 2) * w + r, x2);
        _mm_storeu_ps(dst + (k + 3) * w + r, x3);
      }
#elif defined(__ARM_NEON) && defined(__aarch64__)
  if (w % 4 == 0)
    for (; k + 4 <= kc; k += 4)
      for (int r = 0; r < w; r += 4) {
        const float32x4_t x0 = vld1q_f32(s + r * ld + k), x1 = vld1q_f32(s + (r + 1) * ld + k),
          x2 = vld1q_f32(s + (r + 2) * ld + k), x3 = vld1q_f32(s + (r + 3) * ld + k);
        // pairs of rows interleaved, then 64-bit halves: column c of x0..x3 in y_c
        const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(x0, x1)), t1 = vreinterpretq_f64_f32(vtrn2q_f32(x0, x1)),
          t2 = vreinterpretq_f64_f32(vtrn1q_f32(x2, x3)), t3 = vreinterpretq_f64_f32(vtrn2q_f32(x2, x3));
        vst1q_f32(dst + k * w + r, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
        vst1q_f32(dst + (k + 1) * w + r, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
        vst1q_f32(dst + (k + 2) * w + r, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
        vst1q_f32(dst + (k + 3) * w + r, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
      }
#endif
  for (; k < kc; k++) for (int r = 0; r < w; r++) dst[k * w + r] = s[r * ld + k];
}

// Rows [i0, i0 + mc), columns [p0, p0 + kc) of op(A) into mr-tall panels: panel p, step k holds
// op(A)[i0 + p mr + r][p0 + k] at dst[p mr kc + k mr + r], zero past row mc. Inlined with a
// constant mr (pack_a below), so that full panels copy in fixed-size vector moves.
static inline __attribute__((always_inline)) void pack_a_mr(int ta, const float *A, long lda, long i0, long mc,
  long p0, long kc, const int mr, float *dst) {
  for (long ir = 0; ir < mc; ir += mr, dst += mr * kc) {
    const long m = mc - ir < mr ? mc - ir : mr, i = i0 + ir;
    if (ta) { // A stored K x M: each step's mr values are contiguous
      const float *s = A + p0 * lda + i;
      if (m == mr) for (long k = 0; k < kc; k++, s += lda) for (int r = 0; r < mr; r++) dst[k * mr + r] = s[r];
      else for (long k = 0; k < kc; k++, s += lda) for (int r = 0; r < mr; r++) dst[k * mr + r] = r < m ? s[r] : 0;
    } else { // A stored M x K: mr row streams read in step, the panel written in order
      const float *s = A + i * lda + p0;
      if (m == mr) pack_transposed(s, lda, kc, mr, dst);
      else for (long k = 0; k < kc; k++) for (int r = 0; r < mr; r++) dst[k * mr + r] = r < m ? s[r * lda + k] : 0;
    }
  }
}

// Rows [p0, p0 + kc), columns [j0, j0 + nc) of op(B) into nr-wide panels, zero past column nc.
static inline __attribute__((always_inline)) void pack_b_nr(int tb, const float *B, long ldb, long p0, long kc,
  long j0, long nc, const int nr, float *dst) {
  for (long jr = 0; jr < nc; jr += nr, dst += nr * kc) {
    const long n = nc - jr < nr ? nc - jr : nr, j = j0 + jr;
    if (!tb) { // B stored K x N: each step's nr values are contiguous
      const float *s = B + p0 * ldb + j;
      if (n == nr) for (long k = 0; k < kc; k++, s += ldb) for (int c = 0; c < nr; c++) dst[k * nr + c] = s[c];
      else for (long k = 0; k < kc; k++, s += ldb) for (int c = 0; c < nr; c++) dst[k * nr + c] = c < n ? s[c] : 0;
    } else { // B stored N x K: a transpose, nr rows read in step
      const float *s = B + j * ldb + p0;
      if (n == nr) pack_transposed(s, ldb, kc, nr, dst);
      else for (long k = 0; k < kc; k++) for (int c = 0; c < nr; c++) dst[k * nr + c] = c < n ? s[c * ldb + k] : 0;
    }
  }
}

static void pack_a(int ta, const float *A, long lda, long i0, long mc, long p0, long kc, int mr, float *dst) {
  switch (mr) {
    case 12: pack_a_mr(ta, A, lda, i0, mc, p0, kc, 12, dst); break;
    case 8: pack_a_mr(ta, A, lda, i0, mc, p0, kc, 8, dst); break;
    case 6: pack_a_mr(ta, A, lda, i0, mc, p0, kc, 6, dst); break;
    case 4: pack_a_mr(ta, A, lda, i0, mc, p0, kc, 4, dst); break;
    default: pack_a_mr(ta, A, lda, i0, mc, p0, kc, mr, dst);
  }
}

static void pack_b(int tb, const float *B, long ldb, long p0, long kc, long j0, long nc, int nr, float *dst) {
  switch (nr) {
    case 32: pack_b_nr(tb, B, ldb, p0, kc, j0, nc, 32, dst); break;
    case 16: pack_b_nr(tb, B, ldb, p0, kc, j0, nc, 16, dst); break;
    case 12: pack_b_nr(tb, B, ldb, p0, kc, j0, nc, 12, dst); break;
    case 8: pack_b_nr(tb, B, ldb, p0, kc, j0, nc, 8, dst); break;
    default: pack_b_nr(tb, B, ldb, p0, kc, j0, nc, nr, dst);
  }
}

// Per-thread packing buffers, grown as needed. A thread's buffers are freed when it exits (a
// worker_threads Worker, or any other thread that ran a product): bufs_key's destructor.
typedef struct { float *a, *b; size_t cap_a, cap_b; } PackBufs;
static _Thread_local PackBufs *bufs;

static void free_bufs(void *p) {
  PackBufs *t = p;
  free(t->a); free(t->b); free(t);
  bufs = NULL; // runs on the exiting thread: a later product there (another destructor) starts anew
}

static PackBufs *thread_bufs(void) {
  if (!bufs) {
    if (!(bufs = calloc(1, sizeof *bufs)) || pthread_setspecific(bufs_key, bufs) != 0) abort();
  }
  return bufs;
}

static float *grow(float **p, size_t *cap, size_t n) {
  if (n > *cap) {
    free(*p);
    *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!*p) abort();
    *cap = n;
  }
  return *p;
}

float *gemm_pack_buf(int which, size_t n) {
  PackBufs *pb = thread_bufs();
  return which ? grow(&pb->b, &pb->cap_b, n) : grow(&pb->a, &pb->cap_a, n);
}

// ---- one thread's product ---------------------------------------------------------------------

// One row of C for M = 1 (sampling): dot products or row updates straight from the operands; a
// packed copy of B would cost more than the product.
HOT static void gemm_row(int ta, int tb, long N, long K, float alpha, const float *A, long lda,
  const float *B, long ldb, int accumulate, float *C) {
  const long as = ta ? lda : 1; // stride of A's single row
  if (tb) {
    for (long j = 0; j < N; j++) {
      const float *b = B + j * ldb;
      float s = 0;
      if (as == 1) {
        #pragma omp simd reduction(+ : s)
        for (long k = 0; k < K; k++) s += A[k] * b[k];
      } else {
        for (long k = 0; k < K; k++) s += A[k * as] * b[k];
      }
      C[j] = alpha * s + (accumulate ? C[j] : 0.0f);
    }
  } else {
    PackBufs *pb = thread_bufs();
    float *t = grow(&pb->a, &pb->cap_a, (size_t)N);
    memset(t, 0, (size_t)N * sizeof(float));
    for (long k = 0; k < K; k++) {
      const float ak = A[k * as], *b = B + k * ldb;
      for (long j = 0; j < N; j++) t[j] += ak * b[j];
    }
    for (long j = 0; j < N; j++) C[j] = alpha * t[j] + (accumulate ? C[j] : 0.0f);
  }
}

// Up to this many columns, a row-major A (no transpose) is not packed when the kernel can read it in
// place (ukr_rows): each of its values is used for few columns of C, so the copy costs more than it
// saves (measured against packing in docs/native.md, "Matrix products": 1.04-1.32x on products
// with 65 to 128 columns, 1.00-1.03x from 256 up). Results are the same bit for bit either way
// (same products, same order). bench/gemm-in-place.c switches it at run time.
#ifdef NL_GEMM_IN_PLACE_BENCH
extern long gemm_in_place_max_n;
#define IN_PLACE_MAX_N gemm_in_place_max_n
#else
#define IN_PLACE_MAX_N 256
#endif

// One tile with g's kernel: A packed (a: the micro-panel) or, in_place, read from row-major A (a:
// the tile's first row, row stride lda); half: the kernel for a last panel of at most nr / 2 columns.
static inline void tile_product(const GemmKernel *g, int half, int in_place, long kc, const float *a, long lda,
  const float *b, float *c, long ldc, float alpha, int acc) {
  if (in_place) (half ? g->ukr_rows_half : g->ukr_rows)(kc, a, lda, b, c, ldc, alpha, acc);
  else (half ? g->ukr_half : g->ukr)(kc, a, b, c, ldc, alpha, acc);
}

// gemm_st with kernel g (nl_matmul reads the selection once for all its slices).
static void gemm_with(const GemmKernel *g, int ta, int tb, long M, long N, long K, float alpha, const float *A,
  long lda, const float *B, long ldb, int accumulate, float *C, long ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) for (long i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    return;
  }
#ifdef NL_OPENBLAS
  if (g == &kernel_openblas) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
      alpha, A, (int)lda, B, (int)ldb, accumulate ? 1.0f : 0.0f, C, (int)ldc);
    return;
  }
#endif
  if (M == 1) { gemm_row(ta, tb, N, K, alpha, A, lda, B, ldb, accumulate, C); return; }
  const int mr = g->mr, nr = g->nr;
  const long kcmax = K < g->kc ? K : g->kc;
  const long ncmax = N < g->nc ? (N + nr - 1) / nr * nr : g->nc;
  const long mcmax = M < g->mc ? (M + mr - 1) / mr * mr : g->mc;
  PackBufs *pb = thread_bufs();
  float *bp = grow(&pb->b, &pb->cap_b, (size_t)kcmax * ncmax);
  float *ap = grow(&pb->a, &pb->cap_a, (size_t)kcmax * mcmax);
  float tile[32 * 32] __attribute__((aligned(64))); // mr * nr <= 1024
  const int rows = !ta && g->ukr_rows && N <= IN_PLACE_MAX_N; // full tiles read A in place
  for (long jc = 0; jc < N; jc += g->nc) {
    const long nc = N - jc < g->nc ? N - jc : g->nc;
    for (long pc = 0; pc < K; pc += g->kc) {
      const long kc = K - pc < g->kc ? K - pc : g->kc;
      const int acc = accumulate || pc > 0;
      pack_b(tb, B, ldb, pc, kc, jc, nc, nr, bp);
      for (long ic = 0; ic < M; ic += g->mc) {
        const long mc = M - ic < g->mc ? M - ic : g->mc, full = rows ? mc / mr * mr : 0;
        if (full < mc) pack_a(ta, A, lda, ic + full, mc - full, pc, kc, mr, ap + full * kc);
        for (long jr = 0; jr < nc; jr += nr) {
          const long n = nc - jr < nr ? nc - jr : nr;
          const float *bpanel = bp + jr * kc;
          for (long ir = 0; ir < mc; ir += mr) {
            const long m = mc - ir < mr ? mc - ir : mr;
            const int in_place = ir < full;
            const float *a = in_place ? A + (ic + ir) * lda + pc : ap + ir * kc;
            float *c = C + (ic + ir) * ldc + jc + jr;
            if (m == mr && n == nr) { tile_product(g, 0, in_place, kc, a, lda, bpanel, c, ldc, alpha, acc); continue; }
            const int half = g->ukr_half && 2 * n <= nr;
            if (half && m == mr && 2 * n == nr) { tile_product(g, 1, in_place, kc, a, lda, bpanel, c, ldc, alpha, acc); continue; }
            tile_product(g, half, in_place, kc, a, lda, bpanel, tile, nr, alpha, 0);
            for (long r = 0; r < m; r++)
              for (long j = 0; j < n; j++) c[r * ldc + j] = tile[r * nr + j] + (acc ? c[r * ldc + j] : 0.0f);
          }
        }
      }
    }
  }
}

void gemm_st(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
  const float *B, long ldb, int accumulate, float *C, long ldc) {
  gemm_with(selected(), ta, tb, M, N, K, alpha, A, lda, B, ldb, accumulate, C, ldc);
}

void gemm_bf16_st(int ta, int tb, long M, long N, long K, float alpha, const float *A, long lda,
  const float *B, long ldb, int accumulate, float *C, long ldc) {
  gemm_bf16_with(selected(), ta, tb, M, N, K, alpha, A, lda, B, ldb, accumulate, C, ldc);
}

// ---- the Backend's matmul, split over the pool ------------------------------------------------

// Slices of output rows (split along M) or columns (along N, when N > M), each one gemm_st on the
// matching part of A or B with the full strides (no copies). A few slices per thread (one for deep
// products, below), so a descheduled thread delays little; slices are multiples of 48 rows or 32
// columns (whole tiles).
typedef struct {
  const GemmKernel *g;
  float *out;
  const float *a, *b;
  long M, N, K, slice;
  int ta, tb, acc, split_n, bf16;
} MatmulJob;

static void matmul_slices(void *p, long s0, long s1, int tid) {
  (void)tid;
  const MatmulJob *j = p;
  const long len = j->split_n ? j->N : j->M, lda = j->ta ? j->M : j->K, ldb = j->tb ? j->K : j->N;
  void (*const mm)(const GemmKernel *, int, int, long, long, long, float, const float *, long, const float *, long, int,
    float *, long) = j->bf16 ? gemm_bf16_with : gemm_with;
  for (long s = s0; s < s1; s++) {
    const long lo = s * j->slice, hi = lo + j->slice < len ? lo + j->slice : len;
    if (lo >= hi) continue;
    if (j->split_n)
      mm(j->g, j->ta, j->tb, j->M, hi - lo, j->K, 1.0f, j->a, lda, j->b + (j->tb ? lo * j->K : lo), ldb, j->acc,
        j->out + lo, j->N);
    else
      mm(j->g, j->ta, j->tb, hi - lo, j->N, j->K, 1.0f, j->a + (j->ta ? lo : lo * j->K), lda, j->b, ldb, j->acc,
        j->out + lo * j->N, j->N);
  }
}

void nl_matmul(float *out, const float *a, const float *b, int M, int N, int K, int transA, int transB, int accumulate) {
  nl_matmul_ex(out, a, b, M, N, K, transA, transB, accumulate, 0);
}

void nl_matmul_ex(float *out, const float *a, const float *b, int M, int N, int K, int transA, int transB, int accumulate,
  int bf16) {
  if (M == 0 || N == 0) return;
  MatmulJob j = { selected(), out, a, b, M, N, K, 0, transA, transB, accumulate, N > M, bf16 };
  const long len = j.split_n ? N : M, unit = j.split_n ? 32 : 48, threads = pool_threads();
  // Below ~2 MFLOP waking the pool costs more than it saves; one thread takes the product whole.
  // Each slice packs the other operand again: for a deep product (K over 4 times the split side:
  // a weight gradient, K = 16384 tokens) that packing is a large share of the slice's work, so it
  // gets one slice per thread instead of three (with two threads, 384 x 384 x 16384 packed its
  // 25 MB B six times: 151 -> 188 GFLOP/s per CPU second in bfloat16, docs/native.md).
  long parts = (double)M * N * K < 1e6 || threads == 1 ? 1 : K > 4 * len ? threads : threads * 3;
  if (parts > len / unit) parts = len / unit;
  if (parts < 1) parts = 1;
  j.slice = ((len + parts - 1) / parts + unit - 1) / unit * unit;
  parts = (len + j.slice - 1) / j.slice;
  pool_run(parts, 1, matmul_slices, &j);
}

// ---- FMA peak ---------------------------------------------------------------------------------

double gemm_fma_loop(int bits, long iters, double *flops); // gemm_x86.c

static int peak_cpu; // measure CPU time of the process instead of wall time
static double now(void) {
  struct timespec t;
  clock_gettime(peak_cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_loop(int bits, long iters, double *flops) {
  return bits == GEMM_PEAK_BF16 ? gemm_bf16_loop(iters, flops) : gemm_fma_loop(bits, iters, flops);
}

typedef struct { int bits; long iters; } PeakJob;

static void peak_chunk(void *p, long b, long e, int tid) {
  (void)tid;
  const PeakJob *j = p;
  double f;
  volatile double sink = 0; // per thread: the chunks run at once
  for (long i = b; i < e; i++) sink += peak_loop(j->bits, j->iters, &f);
}

double gemm_fma_peak(int bits, int threads, int cpu_time) {
  peak_cpu = cpu_time;
  double flops;
  peak_loop(bits, 1, &flops);
  if (flops == 0) return 0;
  if (threads < 1) threads = 1;
  // Calibrate to ~40 ms per thread, then take the best of 3 runs.
  PeakJob j = { bits, 1 << 16 };
  double t0 = now();
  peak_chunk(&j, 0, 1, 0);
  const double dt = now() - t0;
  j.iters = (long)(j.iters * (0.04 / (dt > 1e-6 ? dt : 1e-6)));
  if (j.iters < 1000) j.iters = 1000;
  peak_loop(bits, j.iters, &flops);
  double best_rate = 0;
  for (int rep = 0; rep < 3; rep++) {
    t0 = now();
    if (threads == 1) peak_chunk(&j, 0, 1, 0);
    else pool_run(threads, 1, peak_chunk, &j);
    // With CPU time, the threads' seconds add up: the rate per CPU second, times the threads.
    const double rate = flops * threads / (now() - t0) / 1e9 * (cpu_time ? threads : 1);
    if (rate > best_rate) best_rate = rate;
  }
  return best_rate;
}
