{
  # Built by scripts/build-native.mjs (node-gyp rebuild -C native); see docs/native.md.
  "targets": [
    {
      "target_name": "normlab",
      "sources": ["src/addon.c", "src/pool.c", "src/vmath.c", "src/kernels.c", "src/attention.c", "src/variants.c", "src/activations.c", "src/knots.c"],
      # Debian puts cblas.h of the pthread OpenBLAS here (and a cblas.h alternative one level up).
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
      "cflags": ["-std=gnu11", "-O3", "-fopenmp-simd", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O2", "-O0", "-Os"],
      "conditions": [
        ["target_arch=='x64'", { "cflags": ["-march=x86-64-v2", "-mtune=generic"] }],
      ],
      "libraries": ["-lopenblas", "-lmvec", "-lm", "-lpthread"],
      "defines": ["NAPI_VERSION=8"],
    },
  ],
}
