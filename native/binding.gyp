{
  # Built by scripts/build-native.mjs (node-gyp rebuild -C native); see docs/native.md.
  # Needs only a C compiler and libc/libm: the matrix products are our own (src/gemm*.c). With
  # NORMLAB_OPENBLAS=1 in the environment (build-native.mjs --openblas) OpenBLAS is linked too and
  # selectable at run time (gemmSelect('openblas'), NORMLAB_GEMM=openblas), for comparison.
  "variables": { "openblas%": "<!(node -p \"process.env.NORMLAB_OPENBLAS === '1' ? 1 : 0\")" },
  "targets": [
    {
      "target_name": "normlab",
      "sources": ["src/addon.c", "src/pool.c", "src/vmath.c", "src/kernels.c", "src/attention.c", "src/norms.c", "src/activations.c", "src/knots.c", "src/quantize.c",
        "src/gemm.c", "src/gemm_x86.c", "src/gemm_bf16.c"],
      "cflags": ["-std=gnu11", "-O3", "-fopenmp-simd", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O2", "-O0", "-Os"],
      "conditions": [
        ["target_arch=='x64'", { "cflags": ["-march=x86-64-v2", "-mtune=generic"] }],
        # ARM64 only: the NEON micro-kernel (empty elsewhere, so left out).
        ["target_arch=='arm64'", { "sources": ["src/gemm_neon.c"] }],
        ["openblas==1", {
          # Debian puts cblas.h of the pthread OpenBLAS here (and a cblas.h alternative one level up).
          "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
          "defines": ["NL_OPENBLAS"],
          "libraries": ["-lopenblas"],
        }],
      ],
      "libraries": ["-lmvec", "-lm", "-lpthread"],
      "defines": ["NAPI_VERSION=8"],
    },
  ],
}
