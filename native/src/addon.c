// Node-API glue: checks every argument (Float32Array / Int32Array type, length against the sizes,
// index ranges) before handing raw pointers to the kernels, so a wrong call throws a JS error
// instead of corrupting memory. Each kernel entry point is one row of `entries` (its arguments'
// kinds and lengths, extra checks, the call); one function, Dispatch, unpacks and checks them all.
// Typed-array data pointers already include the view's byteOffset, so subarray views work as they are.
#define _GNU_SOURCE
#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kernels.h"
#include "gemm.h"
#include "vmath.h"

#define MAX_ARGS 24

typedef struct {
  napi_env env;
  const char *fn;
  size_t argc;
  napi_value argv[MAX_ARGS];
  int failed; // an exception is pending: later checks are skipped and the call returns
} Args;

static void fail(Args *a, const char *code, const char *fmt, const char *what, double x) {
  if (a->failed) return;
  char msg[256];
  char detail[160];
  snprintf(detail, sizeof detail, fmt, what, x);
  snprintf(msg, sizeof msg, "native %s: %s", a->fn, detail);
  if (code[0] == 'T') napi_throw_type_error(a->env, NULL, msg);
  else napi_throw_range_error(a->env, NULL, msg);
  a->failed = 1;
}

// A non-negative integer argument (a size).
static long arg_size(Args *a, size_t i, const char *what) {
  if (a->failed) return 0;
  double d;
  if (napi_get_value_double(a->env, a->argv[i], &d) != napi_ok) { fail(a, "T", "%s must be a number", what, 0); return 0; }
  if (!(d >= 0) || d != (double)(long)d || d > 2147483647.0) { fail(a, "R", "%s must be an integer in [0, 2^31), got %g", what, d); return 0; }
  return (long)d;
}

static double arg_num(Args *a, size_t i, const char *what) {
  if (a->failed) return 0;
  double d;
  if (napi_get_value_double(a->env, a->argv[i], &d) != napi_ok) { fail(a, "T", "%s must be a number", what, 0); return 0; }
  return d;
}

// `need` is a double so that a product of absurd sizes cannot overflow into a small number.
static void *arg_array(Args *a, size_t i, napi_typedarray_type want, double need, const char *what, int nullable) {
  if (a->failed) return NULL;
  napi_valuetype t;
  napi_typeof(a->env, a->argv[i], &t);
  if (nullable && (t == napi_null || t == napi_undefined)) return NULL;
  bool is_ta = false;
  napi_is_typedarray(a->env, a->argv[i], &is_ta);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (is_ta) napi_get_typedarray_info(a->env, a->argv[i], &type, &length, &data, NULL, NULL);
  if (!is_ta || type != want) {
    fail(a, "T", want == napi_float32_array ? "%s must be a Float32Array (the native backend is float32 only)"
      : want == napi_float64_array ? "%s must be a Float64Array"
      : want == napi_uint32_array ? "%s must be a Uint32Array" : "%s must be an Int32Array", what, 0);
    return NULL;
  }
  if ((double)length < need) {
    char w[96];
    snprintf(w, sizeof w, "%s has %zu elements", what, length);
    fail(a, "R", "%s, the sizes need %.0f", w, need);
    return NULL;
  }
  return data; // already offset by the view's byteOffset
}

static napi_value undefined(napi_env env) { napi_value u; napi_get_undefined(env, &u); return u; }
static napi_value number(napi_env env, double x) { napi_value v; napi_create_double(env, x, &v); return v; }

// Every index must address a row of a table with `rows` rows.
static void check_indices(Args *a, const int32_t *idx, long n, long rows, const char *what) {
  if (a->failed) return;
  for (long i = 0; i < n; i++) if (idx[i] < 0 || idx[i] >= rows) {
    char w[96];
    snprintf(w, sizeof w, "%s[%ld] = %d is outside [0, %ld)", what, i, idx[i], rows);
    fail(a, "R", "%s", w, 0);
    return;
  }
}

// ---- The entry points: one table row each ------------------------------------------------------
// A row lists the arguments in the order they are checked: first the scalars (sizes, numbers),
// then the row's `pre` checks on them, then the arrays, then its `post` checks (indices, selections,
// arguments that must come together). The first failed check throws and nothing runs.

enum {
  SIZE,  // a non-negative integer below 2^31
  NUM,   // any number
  KNOTS, // a size, at least `mult` (plus 1 when the argument f[0] is non-zero)
  F32, F32N, F64, U32N, I32 // typed arrays (N: null or undefined allowed)
};

typedef struct {
  unsigned char kind, i; // what and where (argument position)
  const char *what;      // its name in messages
  double mult, add;      // an array needs mult * (v[f[0]] * v[f[1]] * ... + add) elements
  signed char f[5];      // the size arguments of that product, -1 ending the list
} Spec;

typedef union { void *p; long l; double d; } Val; // an unpacked argument

typedef struct Entry Entry;
struct Entry {
  const char *name;
  const Spec *spec;
  int nspec;                          // = the number of arguments
  void (*pre)(Args *a, const Val *v); // or NULL
  void (*post)(Args *a, const Val *v);
  double (*call)(const Entry *e, const Val *v); // runs the kernel
  void (*fn)(void);                   // the kernel, for calls shared by several rows
  int number;                         // the kernel's result is returned (else undefined)
};

#define SZ(i, w) { SIZE, i, w, 0, 0, { -1 } }
#define NM(i, w) { NUM, i, w, 0, 0, { -1 } }
#define KN(i, min, cond) { KNOTS, i, "n", min, 0, { cond } }
#define ARR(kind, i, w, mult, add, ...) { kind, i, w, mult, add, { __VA_ARGS__, -1 } }
#define FA(i, w, ...) ARR(F32, i, w, 1, 0, __VA_ARGS__)   // a Float32Array of (product of sizes) elements
#define FAN(i, w, ...) ARR(F32N, i, w, 1, 0, __VA_ARGS__) // the same, or null

static napi_value Dispatch(napi_env env, napi_callback_info info) {
  Args a = { .env = env, .fn = "", .argc = MAX_ARGS };
  void *data = NULL;
  if (napi_get_cb_info(env, info, &a.argc, a.argv, NULL, &data) != napi_ok) return NULL;
  const Entry *e = data;
  a.fn = e->name;
  if (a.argc < (size_t)e->nspec) { fail(&a, "T", "%s: expected more arguments (%g given)", "arguments", (double)a.argc); return NULL; }
  Val v[MAX_ARGS] = { { 0 } };
  for (const Spec *s = e->spec; s < e->spec + e->nspec; s++) {
    if (s->kind == SIZE) v[s->i].l = arg_size(&a, s->i, s->what);
    else if (s->kind == NUM) v[s->i].d = arg_num(&a, s->i, s->what);
    else if (s->kind == KNOTS) {
      const long min = (long)s->mult + (s->f[0] >= 0 && v[s->f[0]].l != 0);
      v[s->i].l = arg_size(&a, s->i, s->what);
      if (!a.failed && v[s->i].l < min) fail(&a, "R", "%s must be at least %g", "n (knots)", (double)min);
    }
  }
  if (!a.failed && e->pre) e->pre(&a, v);
  static const napi_typedarray_type types[] = { [F32] = napi_float32_array, [F32N] = napi_float32_array,
    [F64] = napi_float64_array, [U32N] = napi_uint32_array, [I32] = napi_int32_array };
  for (const Spec *s = e->spec; s < e->spec + e->nspec; s++) if (s->kind >= F32) {
    double need = 1;
    for (const signed char *f = s->f; *f >= 0; f++) need *= (double)v[*f].l;
    need = s->mult * (need + s->add);
    v[s->i].p = arg_array(&a, s->i, types[s->kind], need, s->what, s->kind == F32N || s->kind == U32N);
  }
  if (!a.failed && e->post) e->post(&a, v);
  if (a.failed) return NULL;
  const double r = e->call(e, v);
  return e->number ? number(env, r) : undefined(env);
}

#define P(i) (v[i].p)
#define L(i) (v[i].l)
#define D(i) (v[i].d)
#define CALL(name) static double name(const Entry *e, const Val *v)

static void check_heads(Args *a, long C, long NH) {
  if (NH == 0 || C % NH != 0) fail(a, "R", "%s: C must be a multiple of NH (C = %g)", "attention", (double)C);
}
static void check_k(Args *a, long k, long C) {
  if (k < 1 || k > C) fail(a, "R", "%s must be in [1, C], got %g", "k", (double)k);
}
// sel holds k channel indices (chosen in TypeScript).
static void check_sel(Args *a, const float *sel, long k, long C) {
  for (long i = 0; i < k; i++) if (!(sel[i] >= 0 && sel[i] < C && sel[i] == (float)(long)sel[i])) {
    fail(a, "R", "%ssel[%g] is not a channel index", "", (double)i);
    return;
  }
}
// A parameter's gradient must be given with the parameter.
static void check_with(Args *a, const void *param, const void *grad, const char *fmt, const char *what) {
  if (param && !grad) fail(a, "T", fmt, what, 0);
}
// Token indices address rows of the (rows * C) table in argument `table` (C = 0: nothing is read).
static void check_tokens(Args *a, size_t table, const int32_t *idx, long n, long C) {
  size_t len;
  napi_get_typedarray_info(a->env, a->argv[table], NULL, &len, NULL, NULL, NULL);
  if (C > 0) check_indices(a, idx, n, (long)len / C, "idx");
}

static const Spec s_matmul[] = { SZ(3, "M"), SZ(4, "N"), SZ(5, "K"), SZ(6, "flags"), FA(0, "out", 3, 4), FA(1, "a", 3, 5), FA(2, "b", 5, 4) };
CALL(c_matmul) {
  const int flags = (int)L(6);
  nl_matmul_ex(P(0), P(1), P(2), (int)L(3), (int)L(4), (int)L(5), flags & 1, (flags >> 1) & 1, (flags >> 2) & 1, (flags >> 3) & 1);
  return 0;
}

static const Spec s_add_bias[] = { SZ(2, "N"), SZ(3, "C"), FA(0, "out", 2, 3), FA(1, "bias", 3) };
CALL(c_add_bias) { nl_add_bias(P(0), P(1), L(2), L(3)); return 0; }
static const Spec s_bias_bwd[] = { SZ(2, "N"), SZ(3, "C"), FA(0, "dbias", 3), FA(1, "dout", 2, 3) };
CALL(c_bias_bwd) { nl_bias_backward(P(0), P(1), L(2), L(3)); return 0; }

static const Spec s_emb_f[] = { SZ(4, "B"), SZ(5, "T"), SZ(6, "C"), FA(0, "out", 4, 5, 6), ARR(I32, 1, "idx", 1, 0, 4, 5),
  ARR(F32, 2, "wte", 0, 0, -1), FA(3, "wpe", 5, 6) };
static void p_emb_f(Args *a, const Val *v) { check_tokens(a, 2, P(1), L(4) * L(5), L(6)); }
CALL(c_emb_f) { nl_embedding_forward(P(0), P(1), P(2), P(3), L(4), L(5), L(6)); return 0; }
static const Spec s_emb_b[] = { SZ(4, "B"), SZ(5, "T"), SZ(6, "C"), ARR(F32, 0, "dwte", 0, 0, -1), FA(1, "dwpe", 5, 6),
  FA(2, "dout", 4, 5, 6), ARR(I32, 3, "idx", 1, 0, 4, 5) };
static void p_emb_b(Args *a, const Val *v) { check_tokens(a, 0, P(3), L(4) * L(5), L(6)); }
CALL(c_emb_b) { nl_embedding_backward(P(0), P(1), P(2), P(3), L(4), L(5), L(6)); return 0; }

// Attention: n = B T C elements for q, k, v, out and their gradients, 2 B NH T for the row
// statistics; b is the position of B (then T, C, NH); the dropout probability and seed come before it.
#define ATT_N(i, w, b) FA(i, w, b, b + 1, b + 2)
#define ATT_S(i, b) ARR(F32, i, "stats", 2, 0, b, b + 3, b + 1)
static void check_drop(Args *a, double p, double seed) {
  if (!(p >= 0 && p < 1)) fail(a, "R", "%s: dropout p must be in [0, 1), got %g", "attention", p);
  else if (!(seed >= 0 && seed <= 4294967295.0 && seed == (double)(uint32_t)seed)) fail(a, "R", "%s: seed must be a uint32, got %g", "attention", seed);
}
static const Spec s_att_f[] = { NM(5, "p"), NM(6, "seed"), SZ(7, "B"), SZ(8, "T"), SZ(9, "C"), SZ(10, "NH"), ATT_N(0, "out", 7),
  ATT_S(1, 7), ATT_N(2, "q", 7), ATT_N(3, "k", 7), ATT_N(4, "v", 7), SZ(11, "bf16") };
static void h_att_f(Args *a, const Val *v) { check_heads(a, L(9), L(10)); check_drop(a, D(5), D(6)); }
CALL(c_att_f) { nl_attention_forward(P(0), P(1), P(2), P(3), P(4), D(5), (uint32_t)D(6), L(7), L(8), L(9), L(10), L(11) != 0); return 0; }
static const Spec s_att_b[] = { NM(9, "p"), NM(10, "seed"), SZ(11, "B"), SZ(12, "T"), SZ(13, "C"), SZ(14, "NH"),
  ATT_N(0, "dq", 11), ATT_N(1, "dk", 11), ATT_N(2, "dv", 11), ATT_N(3, "dout", 11), ATT_N(4, "out", 11), ATT_S(5, 11),
  ATT_N(6, "q", 11), ATT_N(7, "k", 11), ATT_N(8, "v", 11), SZ(15, "bf16") };
static void h_att_b(Args *a, const Val *v) { check_heads(a, L(13), L(14)); check_drop(a, D(9), D(10)); }
CALL(c_att_b) {
  nl_attention_backward(P(0), P(1), P(2), P(3), P(4), P(5), P(6), P(7), P(8), D(9), (uint32_t)D(10), L(11), L(12), L(13), L(14), L(15) != 0);
  return 0;
}

// Attention with a softmax variant and/or quantizers inside the strips (attention.c, softmax.h): kind,
// spec (8 constants, 4 per head, 2 nk knots), nk, state (32 doubles), and backward's sums (B NH G).
#include "softmax.h"
static void check_score(Args *a, long kind, long nk, long G, int backward) {
  if (kind >= SK_KINDS) fail(a, "R", "%s must be 0 to 11, got %g", "kind", (double)kind);
  else if (kind == SK_PFLA && nk < 2) fail(a, "R", "%s must be at least 2 for pfla_softmax, got %g", "nk", (double)nk);
  else if (backward && G != score_sums((int)kind, nk)) fail(a, "R", "%s does not match the kind's sums, got %g", "G", (double)G);
}
// spec holds 8 constants, 4 values per head and nk knots twice.
static void check_spec(Args *a, size_t i, long NH, long nk) {
  size_t len;
  napi_get_typedarray_info(a->env, a->argv[i], NULL, &len, NULL, NULL, NULL);
  const double need = SCORE_NC + 4.0 * NH + 2.0 * nk;
  if ((double)len < need) fail(a, "R", "%sspec has too few elements: the kind, heads and knots need %.0f", "", need);
}
static const Spec s_sc_f[] = { NM(5, "p"), NM(6, "seed"), SZ(7, "B"), SZ(8, "T"), SZ(9, "C"), SZ(10, "NH"), SZ(11, "bf16"), SZ(12, "kind"),
  SZ(14, "nk"), ATT_N(0, "out", 7), ATT_S(1, 7), ATT_N(2, "q", 7), ATT_N(3, "k", 7), ATT_N(4, "v", 7),
  ARR(F32, 13, "spec", SCORE_NC, 0, -1), ARR(F64, 15, "state", 32, 0, -1) };
static void h_sc_f(Args *a, const Val *v) { check_heads(a, L(9), L(10)); check_drop(a, D(5), D(6)); check_score(a, L(12), L(14), 0, 0); }
static void p_sc_f(Args *a, const Val *v) { check_spec(a, 13, L(10), L(14)); }
CALL(c_sc_f) {
  nl_attention_score_forward(P(0), P(1), P(2), P(3), P(4), D(5), (uint32_t)D(6), L(7), L(8), L(9), L(10), L(11) != 0, (int)L(12), P(13), L(14), P(15));
  return 0;
}
static const Spec s_sc_b[] = { NM(9, "p"), NM(10, "seed"), SZ(11, "B"), SZ(12, "T"), SZ(13, "C"), SZ(14, "NH"), SZ(15, "bf16"),
  SZ(16, "kind"), SZ(18, "nk"), SZ(21, "G"), ATT_N(0, "dq", 11), ATT_N(1, "dk", 11), ATT_N(2, "dv", 11), ATT_N(3, "dout", 11),
  ATT_N(4, "out", 11), ATT_S(5, 11), ATT_N(6, "q", 11), ATT_N(7, "k", 11), ATT_N(8, "v", 11),
  ARR(F32, 17, "spec", SCORE_NC, 0, -1), ARR(F64, 19, "state", 32, 0, -1), ARR(F64, 20, "sums", 1, 0, 11, 14, 21) };
static void h_sc_b(Args *a, const Val *v) { check_heads(a, L(13), L(14)); check_drop(a, D(9), D(10)); check_score(a, L(16), L(18), L(21), 1); }
static void p_sc_b(Args *a, const Val *v) { check_spec(a, 17, L(14), L(18)); }
CALL(c_sc_b) {
  nl_attention_score_backward(P(0), P(1), P(2), P(3), P(4), P(5), P(6), P(7), P(8), D(9), (uint32_t)D(10), L(11), L(12), L(13), L(14),
    L(15) != 0, (int)L(16), P(17), L(18), P(19), P(20), L(21));
  return 0;
}

static const Spec s_ce_f[] = { SZ(4, "N"), SZ(5, "V"), FA(0, "losses", 4), FA(1, "probs", 4, 5), FA(2, "logits", 4, 5),
  ARR(I32, 3, "targets", 1, 0, 4) };
static void p_ce_f(Args *a, const Val *v) { check_indices(a, P(3), L(4), L(5), "targets"); }
CALL(c_ce_f) { return nl_cross_entropy_forward(P(0), P(1), P(2), P(3), L(4), L(5)); }
static const Spec s_ce_b[] = { NM(3, "scale"), SZ(4, "N"), SZ(5, "V"), FA(0, "dlogits", 4, 5), FA(1, "probs", 4, 5),
  ARR(I32, 2, "targets", 1, 0, 4) };
static void p_ce_b(Args *a, const Val *v) { check_indices(a, P(2), L(4), L(5), "targets"); }
CALL(c_ce_b) { nl_cross_entropy_backward(P(0), P(1), P(2), D(3), L(4), L(5)); return 0; }

static const Spec s_add[] = { SZ(3, "n"), FA(0, "out", 3), FA(1, "a", 3), FA(2, "b", 3) };
CALL(c_add) { nl_add(P(0), P(1), P(2), L(3)); return 0; }
static const Spec s_add_into[] = { SZ(2, "n"), FA(0, "dst", 2), FA(1, "src", 2) };
CALL(c_add_into) { nl_add_into(P(0), P(1), L(2)); return 0; }
static const Spec s_mul[] = { SZ(3, "n"), FA(0, "out", 3), FA(1, "x", 3), FA(2, "mask", 3) };
CALL(c_mul) { nl_mul(P(0), P(1), P(2), L(3)); return 0; }
static const Spec s_scale[] = { NM(1, "s"), SZ(2, "n"), FA(0, "x", 2) };
CALL(c_scale) { nl_scale(P(0), D(1), L(2)); return 0; }
static const Spec s_sum_squares[] = { SZ(1, "n"), FA(0, "x", 1) };
CALL(c_sum_squares) { return nl_sum_squares(P(0), L(1)); }
static const Spec s_adamw[] = { SZ(4, "n"), NM(5, "lr"), NM(6, "beta1"), NM(7, "beta2"), NM(8, "eps"), NM(9, "weightDecay"),
  NM(10, "step"), FA(0, "param", 4), FA(1, "grad", 4), FA(2, "m", 4), FA(3, "v", 4) };
CALL(c_adamw) { nl_adamw(P(0), P(1), P(2), P(3), L(4), D(5), D(6), D(7), D(8), D(9), D(10)); return 0; }

// fakeQuant(out, x, u, n, T, method, bits, level): T = 0 or n a multiple of T T; u: n uniforms for method 2.
static const Spec s_fquant[] = { SZ(3, "n"), SZ(4, "T"), SZ(5, "method"), SZ(6, "bits"), NM(7, "level"), FA(0, "out", 3),
  FA(1, "x", 3), FAN(2, "u", 3) };
static void p_fquant(Args *a, const Val *v) {
  if (L(5) > 3) fail(a, "R", "%s must be 0..3 (symmetric, affine, stochastic, ternary)", "method", 0);
  else if (L(6) < 1 || L(6) > 16) fail(a, "R", "%s must be 1..16, got %g", "bits", (double)L(6));
  else if (L(5) == 2 && !P(2)) fail(a, "T", "%s: stochastic_quant needs n uniforms", "u", 0);
  else if (L(4) > 0 && L(3) % (L(4) * L(4)) != 0) fail(a, "R", "%s: n must be a multiple of T*T", "T", 0);
}
CALL(c_fquant) { nl_fake_quant(P(0), P(1), P(2), L(3), L(4), (int)L(5), (int)L(6), D(7)); return 0; }

// ---- norms (norms.c) ----

static const Spec s_rms_f[] = { SZ(4, "N"), SZ(5, "C"), FA(0, "out", 4, 5), FA(1, "rrms", 4), FA(2, "x", 4, 5), FA(3, "gain", 5) };
CALL(c_rms_f) { nl_rmsnorm_forward(P(0), P(1), P(2), P(3), L(4), L(5)); return 0; }
static const Spec s_rms_b[] = { SZ(6, "N"), SZ(7, "C"), FA(0, "dx", 6, 7), FA(1, "dgain", 7), FA(2, "dout", 6, 7),
  FA(3, "x", 6, 7), FA(4, "gain", 7), FA(5, "rrms", 6) };
CALL(c_rms_b) { nl_rmsnorm_backward(P(0), P(1), P(2), P(3), P(4), P(5), L(6), L(7)); return 0; }
static const Spec s_ln_f[] = { SZ(6, "N"), SZ(7, "C"), FA(0, "out", 6, 7), FA(1, "mean", 6), FA(2, "rstd", 6),
  FA(3, "x", 6, 7), FA(4, "weight", 7), FAN(5, "bias", 7) };
CALL(c_ln_f) { nl_layernorm_forward(P(0), P(1), P(2), P(3), P(4), P(5), L(6), L(7)); return 0; }
static const Spec s_ln_b[] = { SZ(8, "N"), SZ(9, "C"), FA(0, "dx", 8, 9), FA(1, "dweight", 9), FAN(2, "dbias", 9),
  FA(3, "dout", 8, 9), FA(4, "x", 8, 9), FA(5, "weight", 9), FA(6, "mean", 8), FA(7, "rstd", 8) };
CALL(c_ln_b) { nl_layernorm_backward(P(0), P(1), P(2), P(3), P(4), P(5), P(6), P(7), L(8), L(9)); return 0; }

static const Spec s_prms_f[] = { SZ(4, "N"), SZ(5, "C"), SZ(6, "k"), FA(0, "out", 4, 5), FA(1, "rrms", 4), FA(2, "x", 4, 5),
  FA(3, "gain", 5) };
static void h_prms_f(Args *a, const Val *v) { if (L(5) > 0) check_k(a, L(6), L(5)); }
CALL(c_prms_f) { nl_prmsnorm_forward(P(0), P(1), P(2), P(3), L(4), L(5), L(6)); return 0; }
static const Spec s_prms_b[] = { SZ(6, "N"), SZ(7, "C"), SZ(8, "k"), FA(0, "dx", 6, 7), FA(1, "dgain", 7), FA(2, "dout", 6, 7),
  FA(3, "x", 6, 7), FA(4, "gain", 7), FA(5, "rrms", 6) };
static void h_prms_b(Args *a, const Val *v) { if (L(7) > 0) check_k(a, L(8), L(7)); }
CALL(c_prms_b) { nl_prmsnorm_backward(P(0), P(1), P(2), P(3), P(4), P(5), L(6), L(7), L(8)); return 0; }

static const Spec s_hs_f[] = { NM(4, "radius"), SZ(5, "N"), SZ(6, "C"), FA(0, "out", 5, 6), FA(1, "rnorm", 5), FA(2, "x", 5, 6),
  FAN(3, "gain", 6) };
CALL(c_hs_f) { nl_hyperspherenorm_forward(P(0), P(1), P(2), P(3), D(4), L(5), L(6)); return 0; }
static const Spec s_hs_b[] = { NM(6, "radius"), SZ(8, "N"), SZ(9, "C"), FA(0, "dx", 8, 9), FAN(1, "dgain", 9),
  ARR(F32N, 2, "dradius", 1, 0, -1), FA(3, "dout", 8, 9), FA(4, "x", 8, 9), FAN(5, "gain", 9), FA(7, "rnorm", 8) };
static void p_hs_b(Args *a, const Val *v) { check_with(a, P(5), P(1), "%s must be given with gain", "dgain"); }
CALL(c_hs_b) {
  nl_hyperspherenorm_backward(P(0), P(5) ? P(1) : NULL, P(2), P(3), P(4), P(5), D(6), P(7), L(8), L(9));
  return 0;
}

// krmsnorm: qtype 0 half, 1 int8, 2 int16; pct NaN for no recomputation. Forward returns the
// number of recomputed rows.
static const Spec s_krms_f[] = { SZ(7, "N"), SZ(8, "C"), SZ(9, "k"), SZ(10, "qtype"), NM(11, "pct"), FA(0, "out", 7, 8),
  FA(1, "vq", 7, 9), FA(2, "rrms", 7), FA(3, "full", 7), FA(4, "x", 7, 8), FAN(5, "gain", 8), FA(6, "sel", 9) };
static void h_krms_f(Args *a, const Val *v) {
  if (L(9) < 1 || L(9) > L(8) || (int)L(10) > 2)
    fail(a, "R", "%s: k must be in [1, C] and qtype in 0..2 (k = %g)", "arguments", (double)L(9));
}
static void p_krms_f(Args *a, const Val *v) { check_sel(a, P(6), L(9), L(8)); }
CALL(c_krms_f) {
  return (double)nl_krmsnorm_forward(P(0), P(1), P(2), P(3), P(4), P(5), P(6), L(7), L(8), L(9), (int)L(10), D(11));
}
static const Spec s_krms_b[] = { SZ(9, "N"), SZ(10, "C"), SZ(11, "k"), FA(0, "dx", 9, 10), FAN(1, "dgain", 10),
  FA(2, "dout", 9, 10), FA(3, "x", 9, 10), FAN(4, "gain", 10), FA(5, "sel", 11), FA(6, "vq", 9, 11), FA(7, "rrms", 9),
  FA(8, "full", 9) };
static void h_krms_b(Args *a, const Val *v) { check_k(a, L(11), L(10)); }
static void p_krms_b(Args *a, const Val *v) {
  check_with(a, P(4), P(1), "%s must be given with gain", "dgain");
  if (!a->failed) check_sel(a, P(5), L(11), L(10));
}
CALL(c_krms_b) {
  nl_krmsnorm_backward(P(0), P(4) ? P(1) : NULL, P(2), P(3), P(4), P(5), P(6), P(7), P(8), L(9), L(10), L(11));
  return 0;
}

// dact's pieces around its inner activation.
static const Spec s_dact_scale[] = { NM(2, "alpha"), SZ(3, "n"), FA(0, "ax", 3), FA(1, "x", 3) };
CALL(c_dact_scale) { nl_dact_scale(P(0), P(1), D(2), L(3)); return 0; }
static const Spec s_dact_aff_f[] = { SZ(4, "N"), SZ(5, "C"), FA(0, "out", 4, 5), FA(1, "act", 4, 5), FAN(2, "gamma", 5),
  FAN(3, "beta", 5) };
CALL(c_dact_aff_f) { nl_dact_affine_forward(P(0), P(1), P(2), P(3), L(4), L(5)); return 0; }
static const Spec s_dact_aff_b[] = { SZ(6, "N"), SZ(7, "C"), FAN(0, "gdout", 6, 7), FAN(1, "dgamma", 7), FAN(2, "dbeta", 7),
  FA(3, "dout", 6, 7), FA(4, "act", 6, 7), FAN(5, "gamma", 7) };
static void p_dact_aff_b(Args *a, const Val *v) { check_with(a, P(5), P(0), "%s must be given with gamma", "gdout"); }
CALL(c_dact_aff_b) { nl_dact_affine_backward(P(0), P(1), P(2), P(3), P(4), P(5), L(6), L(7)); return 0; }
static const Spec s_dact_in_b[] = { NM(4, "alpha"), SZ(5, "N"), SZ(6, "C"), FA(0, "dx", 5, 6),
  ARR(F32N, 1, "dalpha", 1, 0, -1), FA(2, "dax", 5, 6), FA(3, "x", 5, 6) };
CALL(c_dact_in_b) { nl_dact_input_backward(P(0), P(1), P(2), P(3), D(4), L(5), L(6)); return 0; }

// ---- activations (activations.c) ----

// (out, x, n) and (dx, dout, x, n): the kernel is the row's fn.
typedef void (*act_fwd)(float *out, const float *x, long n);
typedef void (*act_bwd)(float *dx, const float *dout, const float *x, long n);
static const Spec s_act_f[] = { SZ(2, "n"), FA(0, "out", 2), FA(1, "x", 2) };
CALL(c_act_f) { ((act_fwd)e->fn)(P(0), P(1), L(2)); return 0; }
static const Spec s_act_b[] = { SZ(3, "n"), FA(0, "dx", 3), FA(1, "dout", 3), FA(2, "x", 3) };
CALL(c_act_b) { ((act_bwd)e->fn)(P(0), P(1), P(2), L(3)); return 0; }

// (out, x, p, N, C) and (dx, dp | null, dout, x, p, N, C): activations with one scalar parameter.
typedef void (*sact_fwd)(float *out, const float *x, double p, long n);
typedef void (*sact_bwd)(float *dx, float *dp, const float *dout, const float *x, double p, long N, long C);
static const Spec s_sact_f[] = { NM(2, "p"), SZ(3, "N"), SZ(4, "C"), FA(0, "out", 3, 4), FA(1, "x", 3, 4) };
CALL(c_sact_f) { ((sact_fwd)e->fn)(P(0), P(1), D(2), L(3) * L(4)); return 0; }
static const Spec s_sact_b[] = { NM(4, "p"), SZ(5, "N"), SZ(6, "C"), FA(0, "dx", 5, 6), ARR(F32N, 1, "dp", 1, 0, -1),
  FA(2, "dout", 5, 6), FA(3, "x", 5, 6) };
CALL(c_sact_b) { ((sact_bwd)e->fn)(P(0), P(1), P(2), P(3), D(4), L(5), L(6)); return 0; }

// glu: x and dx are (N, 2C), out and dout (N, C).
static const Spec s_glu_f[] = { SZ(2, "N"), SZ(3, "C"), FA(0, "out", 2, 3), ARR(F32, 1, "x", 2, 0, 2, 3) };
CALL(c_glu_f) { nl_glu_forward(P(0), P(1), L(2), L(3)); return 0; }
static const Spec s_glu_b[] = { SZ(3, "N"), SZ(4, "C"), ARR(F32, 0, "dx", 2, 0, 3, 4), FA(1, "dout", 3, 4),
  ARR(F32, 2, "x", 2, 0, 3, 4) };
CALL(c_glu_b) { nl_glu_backward(P(0), P(1), P(2), L(3), L(4)); return 0; }

// rrelu: state is the generator's four words (Uint32Array, advanced in place), or null in evaluation.
static const Spec s_rrelu_f[] = { SZ(4, "n"), FA(0, "out", 4), FA(1, "slope", 4), FA(2, "x", 4), ARR(U32N, 3, "state", 4, 0, -1) };
CALL(c_rrelu_f) { nl_rrelu_forward(P(0), P(1), P(2), P(3), L(4)); return 0; }
static const Spec s_rrelu_b[] = { SZ(4, "n"), FA(0, "dx", 4), FA(1, "dout", 4), FA(2, "x", 4), FA(3, "slope", 4) };
CALL(c_rrelu_b) { nl_rrelu_backward(P(0), P(1), P(2), P(3), L(4)); return 0; }

// Knot activations (knots.c): the per-call setup (slopes, spline coefficients) comes from TypeScript.
static const Spec s_pwl_f[] = { SZ(5, "count"), SZ(8, "le"), SZ(9, "inc"), KN(6, 1, 8), NM(7, "R"), FA(0, "out", 5),
  FA(1, "x", 5), FA(2, "x_vals", 6), FA(3, "y_vals", 6), FA(4, "slope", 6) };
CALL(c_pwl_f) { nl_pwl_forward(P(0), P(1), P(2), P(3), P(4), L(5), L(6), D(7), (int)L(8), (int)L(9)); return 0; }
static const Spec s_pwl_b[] = { SZ(7, "count"), SZ(10, "le"), SZ(11, "inc"), KN(8, 1, 10), NM(9, "R"), FA(0, "dx", 7),
  ARR(F64, 1, "acc", 2, 0, 8), FA(2, "dout", 7), FA(3, "x", 7), FA(4, "x_vals", 8), FA(5, "y_vals", 8), FA(6, "slope", 8) };
CALL(c_pwl_b) {
  nl_pwl_backward(P(0), P(1), P(2), P(3), P(4), P(5), P(6), L(7), L(8), D(9), (int)L(10), (int)L(11));
  return 0;
}
static const Spec s_spline_f[] = { SZ(4, "count"), KN(5, 2, -1), FA(0, "out", 4), FA(1, "x", 4), FA(2, "knots", 5),
  ARR(F32, 3, "coef", 4, -1, 5) };
CALL(c_spline_f) { nl_spline_forward(P(0), P(1), P(2), P(3), L(4), L(5)); return 0; }
static const Spec s_spline_b[] = { SZ(6, "count"), KN(7, 2, -1), FA(0, "dx", 6), ARR(F64, 1, "acc", 5, -1, 7),
  FA(2, "dout", 6), FA(3, "x", 6), FA(4, "knots", 7), ARR(F32, 5, "coef", 4, -1, 7) };
CALL(c_spline_b) { nl_spline_backward(P(0), P(1), P(2), P(3), P(4), P(5), L(6), L(7)); return 0; }

#define ROW(name, s, pre, post, call, fn, number) \
  { name, s, (int)(sizeof s / sizeof s[0]), pre, post, call, (void (*)(void))(fn), number }
#define PLAIN(name, s, call) ROW(name, s, NULL, NULL, call, NULL, 0)
#define ACT(Name, fwd, bwd) ROW(Name "Forward", s_act_f, NULL, NULL, c_act_f, fwd, 0), \
  ROW(Name "Backward", s_act_b, NULL, NULL, c_act_b, bwd, 0)
#define ELEMENTWISE_ROWS(name, addon, ...) ACT(addon, nl_##name##_forward, nl_##name##_backward),
#define SACT(Name, fwd, bwd) ROW(Name "Forward", s_sact_f, NULL, NULL, c_sact_f, fwd, 0), \
  ROW(Name "Backward", s_sact_b, NULL, NULL, c_sact_b, bwd, 0)

static const Entry entries[] = {
  PLAIN("matmul", s_matmul, c_matmul),
  PLAIN("addBias", s_add_bias, c_add_bias),
  PLAIN("biasBackward", s_bias_bwd, c_bias_bwd),
  ROW("embeddingForward", s_emb_f, NULL, p_emb_f, c_emb_f, NULL, 0),
  ROW("embeddingBackward", s_emb_b, NULL, p_emb_b, c_emb_b, NULL, 0),
  ROW("attentionForward", s_att_f, h_att_f, NULL, c_att_f, NULL, 0),
  ROW("attentionBackward", s_att_b, h_att_b, NULL, c_att_b, NULL, 0),
  ROW("attentionScoreForward", s_sc_f, h_sc_f, p_sc_f, c_sc_f, NULL, 0),
  ROW("attentionScoreBackward", s_sc_b, h_sc_b, p_sc_b, c_sc_b, NULL, 0),
  ROW("crossEntropyForward", s_ce_f, NULL, p_ce_f, c_ce_f, NULL, 1),
  ROW("crossEntropyBackward", s_ce_b, NULL, p_ce_b, c_ce_b, NULL, 0),
  PLAIN("add", s_add, c_add),
  PLAIN("addInto", s_add_into, c_add_into),
  PLAIN("mul", s_mul, c_mul),
  PLAIN("scale", s_scale, c_scale),
  ROW("sumSquares", s_sum_squares, NULL, NULL, c_sum_squares, NULL, 1),
  PLAIN("adamw", s_adamw, c_adamw),
  ROW("fakeQuant", s_fquant, NULL, p_fquant, c_fquant, NULL, 0),
  PLAIN("rmsnormForward", s_rms_f, c_rms_f),
  PLAIN("rmsnormBackward", s_rms_b, c_rms_b),
  PLAIN("layernormForward", s_ln_f, c_ln_f),
  PLAIN("layernormBackward", s_ln_b, c_ln_b),
  ACT("gelu", nl_gelu_forward, nl_gelu_backward),
  NL_ELEMENTWISE(ELEMENTWISE_ROWS) // elementwise.h: identity, relu, leakyRelu, ..., mish
  SACT("prelu", nl_prelu_forward, nl_prelu_backward),
  SACT("geluShifted", nl_gelu_shifted_forward, nl_gelu_shifted_backward),
  PLAIN("gluForward", s_glu_f, c_glu_f),
  PLAIN("gluBackward", s_glu_b, c_glu_b),
  ROW("prmsnormForward", s_prms_f, h_prms_f, NULL, c_prms_f, NULL, 0),
  ROW("prmsnormBackward", s_prms_b, h_prms_b, NULL, c_prms_b, NULL, 0),
  PLAIN("hyperspherenormForward", s_hs_f, c_hs_f),
  ROW("hyperspherenormBackward", s_hs_b, NULL, p_hs_b, c_hs_b, NULL, 0),
  ROW("krmsnormForward", s_krms_f, h_krms_f, p_krms_f, c_krms_f, NULL, 1),
  ROW("krmsnormBackward", s_krms_b, h_krms_b, p_krms_b, c_krms_b, NULL, 0),
  PLAIN("dactScale", s_dact_scale, c_dact_scale),
  PLAIN("dactAffineForward", s_dact_aff_f, c_dact_aff_f),
  ROW("dactAffineBackward", s_dact_aff_b, NULL, p_dact_aff_b, c_dact_aff_b, NULL, 0),
  PLAIN("dactInputBackward", s_dact_in_b, c_dact_in_b),
  PLAIN("pwlForward", s_pwl_f, c_pwl_f),
  PLAIN("rreluForward", s_rrelu_f, c_rrelu_f),
  PLAIN("rreluBackward", s_rrelu_b, c_rrelu_b),
  PLAIN("pwlBackward", s_pwl_b, c_pwl_b),
  PLAIN("splineForward", s_spline_f, c_spline_f),
  PLAIN("splineBackward", s_spline_b, c_spline_b),
};

// ---- GEMM selection and measurement (gemm.h) -------------------------------------------------

static napi_value str(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_int32(env, kernels_threads(), &v);
  napi_set_named_property(env, o, "threads", v);
  napi_set_named_property(env, o, "gemm", str(env, gemm_name()));
  napi_set_named_property(env, o, "gemms", str(env, gemm_available()));
  napi_set_named_property(env, o, "gemmBf16", str(env, gemm_bf16_name(gemm_selected())));
  napi_set_named_property(env, o, "simd", str(env, simd_name()));
  napi_set_named_property(env, o, "simds", str(env, simd_available()));
  return o;
}

// gemmSelect(name) / simdSelect(name): the GEMM every later product uses (gemm_select), the SIMD
// level of the other kernels (simd_select, vmath.h); throws when unavailable here.
typedef struct { const char *fn, *what; int (*select)(const char *); const char *(*name)(void), *(*available)(void); } Selector;
static const Selector GEMM_SELECTOR = { "gemmSelect", "GEMM", gemm_select, gemm_name, gemm_available };
static const Selector SIMD_SELECTOR = { "simdSelect", "SIMD level", simd_select, simd_name, simd_available };

static napi_value Select(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[32] = "";
  size_t len = 0;
  void *data = NULL;
  char msg[160];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok || !data) return NULL;
  const Selector *sel = data;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    snprintf(msg, sizeof msg, "native %s: expected a kernel name (string)", sel->fn);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  if (sel->select(name) != 0) {
    snprintf(msg, sizeof msg, "native %s: unknown or unavailable %s '%s' (available here: %s)", sel->fn, sel->what, name, sel->available());
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  return str(env, sel->name());
}

// fmaPeak(bits, threads, cpuTime): GFLOP/s of a register-only FMA loop (gemm_fma_peak); 0 without that ISA.
static napi_value FmaPeak(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], v;
  int32_t bits = 0, threads = 1;
  bool cpu = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &bits) != napi_ok || napi_get_value_int32(env, argv[1], &threads) != napi_ok ||
      napi_get_value_bool(env, argv[2], &cpu) != napi_ok) {
    napi_throw_type_error(env, NULL, "native fmaPeak: expected (bits, threads, cpuTime)");
    return NULL;
  }
  napi_create_double(env, gemm_fma_peak(bits, threads, cpu), &v);
  return v;
}

// NORMLAB_THREADS, else the CPUs this process may run on.
static int thread_count(void) {
  const char *env = getenv("NORMLAB_THREADS");
  if (env && *env) {
    int n = atoi(env);
    if (n >= 1) return n > 256 ? 256 : n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n >= 1 ? (int)n : 1;
}

NAPI_MODULE_INIT() {
  kernels_init(thread_count());
#define FN(name, f, data) { name, NULL, f, NULL, NULL, NULL, napi_enumerable, data }
  const size_t n = sizeof entries / sizeof entries[0];
  napi_property_descriptor props[4 + sizeof entries / sizeof entries[0]] = {
    FN("info", Info, NULL),
    FN("gemmSelect", Select, (void *)&GEMM_SELECTOR),
    FN("simdSelect", Select, (void *)&SIMD_SELECTOR),
    FN("fmaPeak", FmaPeak, NULL),
  };
  for (size_t k = 0; k < n; k++) props[4 + k] = (napi_property_descriptor)FN(entries[k].name, Dispatch, (void *)&entries[k]);
#undef FN
  napi_define_properties(env, exports, 4 + n, props);
  return exports;
}
