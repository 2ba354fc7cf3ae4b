// exp, erf, expm1 and log1p over float arrays. glibc's libmvec has vector versions of libm's
// expf, erff, expm1f and log1pf
// (4-lane SSE and 8-lane AVX2 variants, at most 4 ulp apart from the scalar ones); we call them
// directly, because the compiler only substitutes them under -ffast-math. Without libmvec
// (non-glibc, or glibc before 2.35) the scalar libm functions run.
#ifndef NORMLAB_VMATH_H
#define NORMLAB_VMATH_H

// y[i] = expf(x[i]) and y[i] = erff(x[i]) for i < n; y may alias x.
void vexpf(float *y, const float *x, long n);
void verff(float *y, const float *x, long n);
void vexpm1f(float *y, const float *x, long n);
void vlog1pf(float *y, const float *x, long n);
void vmath_init(void);

#endif
