// Node-API glue: checks every argument (Float32Array / Int32Array type, length against the sizes,
// index ranges) before handing raw pointers to the kernels, so a wrong call throws a JS error
// instead of corrupting memory. Typed-array data pointers already include the view's byteOffset,
// so subarray views work as they are.
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

#define MAX_ARGS 16

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

static int get_args(Args *a, napi_env env, napi_callback_info info, const char *fn, size_t want) {
  a->env = env; a->fn = fn; a->failed = 0; a->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok) { a->failed = 1; return 0; }
  if (a->argc < want) { fail(a, "T", "%s: expected more arguments (%g given)", "arguments", (double)a->argc); return 0; }
  return 1;
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

#define F32(i, need, what) ((float *)arg_array(&a, i, napi_float32_array, need, what, 0))
#define F32_OR_NULL(i, need, what) ((float *)arg_array(&a, i, napi_float32_array, need, what, 1))
#define F64(i, need, what) ((double *)arg_array(&a, i, napi_float64_array, need, what, 0))
#define U32_OR_NULL(i, need, what) ((uint32_t *)arg_array(&a, i, napi_uint32_array, need, what, 1))
#define I32(i, need, what) ((int32_t *)arg_array(&a, i, napi_int32_array, need, what, 0))

static napi_value undefined(napi_env env) { napi_value u; napi_get_undefined(env, &u); return u; }
static napi_value number(napi_env env, double x) { napi_value v; napi_create_double(env, x, &v); return v; }

// Every index must address a row of a table with `rows` rows.
static int check_indices(Args *a, const int32_t *idx, long n, long rows, const char *what) {
  if (a->failed) return 0;
  for (long i = 0; i < n; i++) if (idx[i] < 0 || idx[i] >= rows) {
    char w[96];
    snprintf(w, sizeof w, "%s[%ld] = %d is outside [0, %ld)", what, i, idx[i], rows);
    fail(a, "R", "%s", w, 0);
    return 0;
  }
  return 1;
}

static napi_value Matmul(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "matmul", 7)) return NULL;
  long M = arg_size(&a, 3, "M"), N = arg_size(&a, 4, "N"), K = arg_size(&a, 5, "K");
  int flags = (int)arg_size(&a, 6, "flags");
  float *out = F32(0, M * N, "out"), *A = F32(1, M * K, "a"), *B = F32(2, K * N, "b");
  if (a.failed) return NULL;
  nl_matmul(out, A, B, (int)M, (int)N, (int)K, flags & 1, (flags >> 1) & 1, (flags >> 2) & 1);
  return undefined(env);
}

static napi_value AddBias(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "addBias", 4)) return NULL;
  long N = arg_size(&a, 2, "N"), C = arg_size(&a, 3, "C");
  float *out = F32(0, N * C, "out"), *bias = F32(1, C, "bias");
  if (a.failed) return NULL;
  nl_add_bias(out, bias, N, C);
  return undefined(env);
}

static napi_value BiasBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "biasBackward", 4)) return NULL;
  long N = arg_size(&a, 2, "N"), C = arg_size(&a, 3, "C");
  float *dbias = F32(0, C, "dbias"), *dout = F32(1, N * C, "dout");
  if (a.failed) return NULL;
  nl_bias_backward(dbias, dout, N, C);
  return undefined(env);
}

static napi_value EmbeddingForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "embeddingForward", 7)) return NULL;
  long B = arg_size(&a, 4, "B"), T = arg_size(&a, 5, "T"), C = arg_size(&a, 6, "C");
  float *out = F32(0, (double)B * T * C, "out");
  int32_t *idx = I32(1, (double)B * T, "idx");
  float *wte = F32(2, 0, "wte"), *wpe = F32(3, T * C, "wpe");
  if (a.failed) return NULL;
  size_t len; napi_get_typedarray_info(env, a.argv[2], NULL, &len, NULL, NULL, NULL);
  if (C > 0 && !check_indices(&a, idx, B * T, (long)len / C, "idx")) return NULL; // C = 0: nothing is read
  nl_embedding_forward(out, idx, wte, wpe, B, T, C);
  return undefined(env);
}

static napi_value EmbeddingBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "embeddingBackward", 7)) return NULL;
  long B = arg_size(&a, 4, "B"), T = arg_size(&a, 5, "T"), C = arg_size(&a, 6, "C");
  float *dwte = F32(0, 0, "dwte"), *dwpe = F32(1, T * C, "dwpe"), *dout = F32(2, (double)B * T * C, "dout");
  int32_t *idx = I32(3, (double)B * T, "idx");
  if (a.failed) return NULL;
  size_t len; napi_get_typedarray_info(env, a.argv[0], NULL, &len, NULL, NULL, NULL);
  if (C > 0 && !check_indices(&a, idx, B * T, (long)len / C, "idx")) return NULL; // C = 0: nothing is read
  nl_embedding_backward(dwte, dwpe, dout, idx, B, T, C);
  return undefined(env);
}

static int check_heads(Args *a, long C, long NH) {
  if (a->failed) return 0;
  if (NH == 0 || C % NH != 0) { fail(a, "R", "%s: C must be a multiple of NH (C = %g)", "attention", (double)C); return 0; }
  return 1;
}

static napi_value AttentionForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "attentionForward", 10)) return NULL;
  long B = arg_size(&a, 6, "B"), T = arg_size(&a, 7, "T"), C = arg_size(&a, 8, "C"), NH = arg_size(&a, 9, "NH");
  if (!check_heads(&a, C, NH)) return NULL;
  const double n = (double)B * T * C, na = (double)B * NH * T * T;
  float *out = F32(0, n, "out"), *att = F32(1, na, "att"), *q = F32(2, n, "q"), *k = F32(3, n, "k"),
    *v = F32(4, n, "v"), *mask = F32_OR_NULL(5, na, "mask");
  if (a.failed) return NULL;
  nl_attention_forward(out, att, q, k, v, mask, B, T, C, NH);
  return undefined(env);
}

static napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "attentionBackward", 14)) return NULL;
  long B = arg_size(&a, 10, "B"), T = arg_size(&a, 11, "T"), C = arg_size(&a, 12, "C"), NH = arg_size(&a, 13, "NH");
  if (!check_heads(&a, C, NH)) return NULL;
  const double n = (double)B * T * C, na = (double)B * NH * T * T;
  float *dq = F32(0, n, "dq"), *dk = F32(1, n, "dk"), *dv = F32(2, n, "dv"), *scratch = F32(3, na, "scratch"),
    *dout = F32(4, n, "dout"), *att = F32(5, na, "att"), *q = F32(6, n, "q"), *k = F32(7, n, "k"),
    *v = F32(8, n, "v"), *mask = F32_OR_NULL(9, na, "mask");
  if (a.failed) return NULL;
  nl_attention_backward(dq, dk, dv, scratch, dout, att, q, k, v, mask, B, T, C, NH);
  return undefined(env);
}

static napi_value CrossEntropyForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "crossEntropyForward", 6)) return NULL;
  long N = arg_size(&a, 4, "N"), V = arg_size(&a, 5, "V");
  float *losses = F32(0, N, "losses"), *probs = F32(1, N * V, "probs"), *logits = F32(2, N * V, "logits");
  int32_t *targets = I32(3, N, "targets");
  if (!check_indices(&a, targets, N, V, "targets")) return NULL;
  return number(env, nl_cross_entropy_forward(losses, probs, logits, targets, N, V));
}

static napi_value CrossEntropyBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "crossEntropyBackward", 6)) return NULL;
  double scale = arg_num(&a, 3, "scale");
  long N = arg_size(&a, 4, "N"), V = arg_size(&a, 5, "V");
  float *dlogits = F32(0, N * V, "dlogits"), *probs = F32(1, N * V, "probs");
  int32_t *targets = I32(2, N, "targets");
  if (!check_indices(&a, targets, N, V, "targets")) return NULL;
  nl_cross_entropy_backward(dlogits, probs, targets, scale, N, V);
  return undefined(env);
}

static napi_value Add(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "add", 4)) return NULL;
  long n = arg_size(&a, 3, "n");
  float *out = F32(0, n, "out"), *x = F32(1, n, "a"), *y = F32(2, n, "b");
  if (a.failed) return NULL;
  nl_add(out, x, y, n);
  return undefined(env);
}

static napi_value AddInto(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "addInto", 3)) return NULL;
  long n = arg_size(&a, 2, "n");
  float *dst = F32(0, n, "dst"), *src = F32(1, n, "src");
  if (a.failed) return NULL;
  nl_add_into(dst, src, n);
  return undefined(env);
}

static napi_value Mul(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "mul", 4)) return NULL;
  long n = arg_size(&a, 3, "n");
  float *out = F32(0, n, "out"), *x = F32(1, n, "x"), *mask = F32(2, n, "mask");
  if (a.failed) return NULL;
  nl_mul(out, x, mask, n);
  return undefined(env);
}

static napi_value Scale(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "scale", 3)) return NULL;
  double s = arg_num(&a, 1, "s");
  long n = arg_size(&a, 2, "n");
  float *x = F32(0, n, "x");
  if (a.failed) return NULL;
  nl_scale(x, s, n);
  return undefined(env);
}

static napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "sumSquares", 2)) return NULL;
  long n = arg_size(&a, 1, "n");
  float *x = F32(0, n, "x");
  if (a.failed) return NULL;
  return number(env, nl_sum_squares(x, n));
}

static napi_value Adamw(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "adamw", 11)) return NULL;
  long n = arg_size(&a, 4, "n");
  double lr = arg_num(&a, 5, "lr"), b1 = arg_num(&a, 6, "beta1"), b2 = arg_num(&a, 7, "beta2"),
    eps = arg_num(&a, 8, "eps"), wd = arg_num(&a, 9, "weightDecay"), step = arg_num(&a, 10, "step");
  float *param = F32(0, n, "param"), *grad = F32(1, n, "grad"), *m = F32(2, n, "m"), *v = F32(3, n, "v");
  if (a.failed) return NULL;
  nl_adamw(param, grad, m, v, n, lr, b1, b2, eps, wd, step);
  return undefined(env);
}

static napi_value RmsnormForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "rmsnormForward", 6)) return NULL;
  long N = arg_size(&a, 4, "N"), C = arg_size(&a, 5, "C");
  float *out = F32(0, N * C, "out"), *rrms = F32(1, N, "rrms"), *x = F32(2, N * C, "x"), *gain = F32(3, C, "gain");
  if (a.failed) return NULL;
  nl_rmsnorm_forward(out, rrms, x, gain, N, C);
  return undefined(env);
}

static napi_value RmsnormBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "rmsnormBackward", 8)) return NULL;
  long N = arg_size(&a, 6, "N"), C = arg_size(&a, 7, "C");
  float *dx = F32(0, N * C, "dx"), *dgain = F32(1, C, "dgain"), *dout = F32(2, N * C, "dout"),
    *x = F32(3, N * C, "x"), *gain = F32(4, C, "gain"), *rrms = F32(5, N, "rrms");
  if (a.failed) return NULL;
  nl_rmsnorm_backward(dx, dgain, dout, x, gain, rrms, N, C);
  return undefined(env);
}

static napi_value LayernormForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "layernormForward", 8)) return NULL;
  long N = arg_size(&a, 6, "N"), C = arg_size(&a, 7, "C");
  float *out = F32(0, N * C, "out"), *mean = F32(1, N, "mean"), *rstd = F32(2, N, "rstd"), *x = F32(3, N * C, "x"),
    *w = F32(4, C, "weight"), *b = F32_OR_NULL(5, C, "bias");
  if (a.failed) return NULL;
  nl_layernorm_forward(out, mean, rstd, x, w, b, N, C);
  return undefined(env);
}

static napi_value LayernormBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "layernormBackward", 10)) return NULL;
  long N = arg_size(&a, 8, "N"), C = arg_size(&a, 9, "C");
  float *dx = F32(0, N * C, "dx"), *dw = F32(1, C, "dweight"), *db = F32_OR_NULL(2, C, "dbias"),
    *dout = F32(3, N * C, "dout"), *x = F32(4, N * C, "x"), *w = F32(5, C, "weight"), *mean = F32(6, N, "mean"),
    *rstd = F32(7, N, "rstd");
  if (a.failed) return NULL;
  nl_layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);
  return undefined(env);
}

// (out, x, n) and (dx, dout, x, n) activations.
#define ACTIVATION(Name, fwd, bwd)                                                              \
  static napi_value Name##Forward(napi_env env, napi_callback_info info) {                      \
    Args a;                                                                                     \
    if (!get_args(&a, env, info, #Name "Forward", 3)) return NULL;                              \
    long n = arg_size(&a, 2, "n");                                                              \
    float *out = F32(0, n, "out"), *x = F32(1, n, "x");                                         \
    if (a.failed) return NULL;                                                                  \
    fwd(out, x, n);                                                                             \
    return undefined(env);                                                                      \
  }                                                                                             \
  static napi_value Name##Backward(napi_env env, napi_callback_info info) {                     \
    Args a;                                                                                     \
    if (!get_args(&a, env, info, #Name "Backward", 4)) return NULL;                             \
    long n = arg_size(&a, 3, "n");                                                              \
    float *dx = F32(0, n, "dx"), *dout = F32(1, n, "dout"), *x = F32(2, n, "x");                \
    if (a.failed) return NULL;                                                                  \
    bwd(dx, dout, x, n);                                                                        \
    return undefined(env);                                                                      \
  }
ACTIVATION(gelu, nl_gelu_forward, nl_gelu_backward)
ACTIVATION(relu, nl_relu_forward, nl_relu_backward)
ACTIVATION(identity, nl_identity_forward, nl_identity_backward)
ACTIVATION(leakyRelu, nl_leaky_relu_forward, nl_leaky_relu_backward)
ACTIVATION(relu6, nl_relu6_forward, nl_relu6_backward)
ACTIVATION(squaredRelu, nl_squared_relu_forward, nl_squared_relu_backward)
ACTIVATION(softsign, nl_softsign_forward, nl_softsign_backward)
ACTIVATION(elu, nl_elu_forward, nl_elu_backward)
ACTIVATION(selu, nl_selu_forward, nl_selu_backward)
ACTIVATION(sigmoid, nl_sigmoid_forward, nl_sigmoid_backward)
ACTIVATION(silu, nl_silu_forward, nl_silu_backward)
ACTIVATION(tanh, nl_tanh_forward, nl_tanh_backward)
ACTIVATION(softplus, nl_softplus_forward, nl_softplus_backward)
ACTIVATION(mish, nl_mish_forward, nl_mish_backward)

// (out, x, p, N, C) and (dx, dp | null, dout, x, p, N, C): activations with one scalar parameter.
#define SCALAR_ACTIVATION(Name, fwd, bwd)                                                       \
  static napi_value Name##Forward(napi_env env, napi_callback_info info) {                      \
    Args a;                                                                                     \
    if (!get_args(&a, env, info, #Name "Forward", 5)) return NULL;                              \
    double p = arg_num(&a, 2, "p");                                                             \
    long N = arg_size(&a, 3, "N"), C = arg_size(&a, 4, "C");                                    \
    float *out = F32(0, N * C, "out"), *x = F32(1, N * C, "x");                                 \
    if (a.failed) return NULL;                                                                  \
    fwd(out, x, p, N * C);                                                                      \
    return undefined(env);                                                                      \
  }                                                                                             \
  static napi_value Name##Backward(napi_env env, napi_callback_info info) {                     \
    Args a;                                                                                     \
    if (!get_args(&a, env, info, #Name "Backward", 7)) return NULL;                             \
    double p = arg_num(&a, 4, "p");                                                             \
    long N = arg_size(&a, 5, "N"), C = arg_size(&a, 6, "C");                                    \
    float *dx = F32(0, N * C, "dx"), *dp = F32_OR_NULL(1, 1, "dp"), *dout = F32(2, N * C, "dout"), \
      *x = F32(3, N * C, "x");                                                                  \
    if (a.failed) return NULL;                                                                  \
    bwd(dx, dp, dout, x, p, N, C);                                                              \
    return undefined(env);                                                                      \
  }
SCALAR_ACTIVATION(prelu, nl_prelu_forward, nl_prelu_backward)
SCALAR_ACTIVATION(geluShifted, nl_gelu_shifted_forward, nl_gelu_shifted_backward)

// rrelu: state is the generator's four words (Uint32Array, advanced in place), or null in evaluation.
static napi_value RreluForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "rreluForward", 5)) return NULL;
  long n = arg_size(&a, 4, "n");
  float *out = F32(0, n, "out"), *slope = F32(1, n, "slope"), *x = F32(2, n, "x");
  uint32_t *state = U32_OR_NULL(3, 4, "state");
  if (a.failed) return NULL;
  nl_rrelu_forward(out, slope, x, state, n);
  return undefined(env);
}

static napi_value RreluBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "rreluBackward", 5)) return NULL;
  long n = arg_size(&a, 4, "n");
  float *dx = F32(0, n, "dx"), *dout = F32(1, n, "dout"), *x = F32(2, n, "x"), *slope = F32(3, n, "slope");
  if (a.failed) return NULL;
  nl_rrelu_backward(dx, dout, x, slope, n);
  return undefined(env);
}

// glu: x and dx are (N, 2C), out and dout (N, C).
static napi_value GluForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "gluForward", 4)) return NULL;
  long N = arg_size(&a, 2, "N"), C = arg_size(&a, 3, "C");
  float *out = F32(0, N * C, "out"), *x = F32(1, 2.0 * N * C, "x");
  if (a.failed) return NULL;
  nl_glu_forward(out, x, N, C);
  return undefined(env);
}

static napi_value GluBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "gluBackward", 5)) return NULL;
  long N = arg_size(&a, 3, "N"), C = arg_size(&a, 4, "C");
  float *dx = F32(0, 2.0 * N * C, "dx"), *dout = F32(1, N * C, "dout"), *x = F32(2, 2.0 * N * C, "x");
  if (a.failed) return NULL;
  nl_glu_backward(dx, dout, x, N, C);
  return undefined(env);
}

static napi_value PrmsnormForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "prmsnormForward", 7)) return NULL;
  long N = arg_size(&a, 4, "N"), C = arg_size(&a, 5, "C"), k = arg_size(&a, 6, "k");
  if (!a.failed && (k < 1 || k > C) && C > 0) fail(&a, "R", "%s must be in [1, C], got %g", "k", (double)k);
  float *out = F32(0, N * C, "out"), *rrms = F32(1, N, "rrms"), *x = F32(2, N * C, "x"), *gain = F32(3, C, "gain");
  if (a.failed) return NULL;
  nl_prmsnorm_forward(out, rrms, x, gain, N, C, k);
  return undefined(env);
}

static napi_value PrmsnormBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "prmsnormBackward", 9)) return NULL;
  long N = arg_size(&a, 6, "N"), C = arg_size(&a, 7, "C"), k = arg_size(&a, 8, "k");
  if (!a.failed && (k < 1 || k > C) && C > 0) fail(&a, "R", "%s must be in [1, C], got %g", "k", (double)k);
  float *dx = F32(0, N * C, "dx"), *dgain = F32(1, C, "dgain"), *dout = F32(2, N * C, "dout"),
    *x = F32(3, N * C, "x"), *gain = F32(4, C, "gain"), *rrms = F32(5, N, "rrms");
  if (a.failed) return NULL;
  nl_prmsnorm_backward(dx, dgain, dout, x, gain, rrms, N, C, k);
  return undefined(env);
}

static napi_value HyperspherenormForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "hyperspherenormForward", 7)) return NULL;
  double R = arg_num(&a, 4, "radius");
  long N = arg_size(&a, 5, "N"), C = arg_size(&a, 6, "C");
  float *out = F32(0, N * C, "out"), *rnorm = F32(1, N, "rnorm"), *x = F32(2, N * C, "x"),
    *gain = F32_OR_NULL(3, C, "gain");
  if (a.failed) return NULL;
  nl_hyperspherenorm_forward(out, rnorm, x, gain, R, N, C);
  return undefined(env);
}

static napi_value HyperspherenormBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "hyperspherenormBackward", 10)) return NULL;
  double R = arg_num(&a, 6, "radius");
  long N = arg_size(&a, 8, "N"), C = arg_size(&a, 9, "C");
  float *dx = F32(0, N * C, "dx"), *dgain = F32_OR_NULL(1, C, "dgain"), *dradius = F32_OR_NULL(2, 1, "dradius"),
    *dout = F32(3, N * C, "dout"), *x = F32(4, N * C, "x"), *gain = F32_OR_NULL(5, C, "gain"),
    *rnorm = F32(7, N, "rnorm");
  if (!a.failed && gain && !dgain) fail(&a, "T", "%s must be given with gain", "dgain", 0);
  if (a.failed) return NULL;
  nl_hyperspherenorm_backward(dx, gain ? dgain : NULL, dradius, dout, x, gain, R, rnorm, N, C);
  return undefined(env);
}

// krmsnorm (variants.c): sel holds k channel indices (chosen in TypeScript); qtype 0 half, 1 int8, 2 int16;
// pct NaN for no recomputation. Forward returns the number of recomputed rows.
static int check_sel(Args *a, const float *sel, long k, long C) {
  if (a->failed) return 0;
  for (long i = 0; i < k; i++) if (!(sel[i] >= 0 && sel[i] < C && sel[i] == (float)(long)sel[i])) {
    fail(a, "R", "%ssel[%g] is not a channel index", "", (double)i);
    return 0;
  }
  return 1;
}

static napi_value KrmsnormForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "krmsnormForward", 12)) return NULL;
  long N = arg_size(&a, 7, "N"), C = arg_size(&a, 8, "C"), k = arg_size(&a, 9, "k");
  int qtype = (int)arg_size(&a, 10, "qtype");
  double pct = arg_num(&a, 11, "pct");
  if (!a.failed && (k < 1 || k > C || qtype > 2)) fail(&a, "R", "%s: k must be in [1, C] and qtype in 0..2 (k = %g)", "arguments", (double)k);
  float *out = F32(0, N * C, "out"), *vq = F32(1, N * k, "vq"), *rrms = F32(2, N, "rrms"), *full = F32(3, N, "full"),
    *x = F32(4, N * C, "x"), *gain = F32_OR_NULL(5, C, "gain"), *sel = F32(6, k, "sel");
  check_sel(&a, sel, k, C);
  if (a.failed) return NULL;
  return number(env, (double)nl_krmsnorm_forward(out, vq, rrms, full, x, gain, sel, N, C, k, qtype, pct));
}

static napi_value KrmsnormBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "krmsnormBackward", 12)) return NULL;
  long N = arg_size(&a, 9, "N"), C = arg_size(&a, 10, "C"), k = arg_size(&a, 11, "k");
  if (!a.failed && (k < 1 || k > C)) fail(&a, "R", "%s must be in [1, C], got %g", "k", (double)k);
  float *dx = F32(0, N * C, "dx"), *dgain = F32_OR_NULL(1, C, "dgain"), *dout = F32(2, N * C, "dout"),
    *x = F32(3, N * C, "x"), *gain = F32_OR_NULL(4, C, "gain"), *sel = F32(5, k, "sel"), *vq = F32(6, N * k, "vq"),
    *rrms = F32(7, N, "rrms"), *full = F32(8, N, "full");
  if (!a.failed && gain && !dgain) fail(&a, "T", "%s must be given with gain", "dgain", 0);
  check_sel(&a, sel, k, C);
  if (a.failed) return NULL;
  nl_krmsnorm_backward(dx, gain ? dgain : NULL, dout, x, gain, sel, vq, rrms, full, N, C, k);
  return undefined(env);
}

// dact's pieces around its inner activation (variants.c).
static napi_value DactScale(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "dactScale", 4)) return NULL;
  double alpha = arg_num(&a, 2, "alpha");
  long n = arg_size(&a, 3, "n");
  float *ax = F32(0, n, "ax"), *x = F32(1, n, "x");
  if (a.failed) return NULL;
  nl_dact_scale(ax, x, alpha, n);
  return undefined(env);
}

static napi_value DactAffineForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "dactAffineForward", 6)) return NULL;
  long N = arg_size(&a, 4, "N"), C = arg_size(&a, 5, "C");
  float *out = F32(0, N * C, "out"), *act = F32(1, N * C, "act"), *gamma = F32_OR_NULL(2, C, "gamma"),
    *beta = F32_OR_NULL(3, C, "beta");
  if (a.failed) return NULL;
  nl_dact_affine_forward(out, act, gamma, beta, N, C);
  return undefined(env);
}

static napi_value DactAffineBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "dactAffineBackward", 8)) return NULL;
  long N = arg_size(&a, 6, "N"), C = arg_size(&a, 7, "C");
  float *gd = F32_OR_NULL(0, N * C, "gdout"), *dgamma = F32_OR_NULL(1, C, "dgamma"), *dbeta = F32_OR_NULL(2, C, "dbeta"),
    *dout = F32(3, N * C, "dout"), *act = F32(4, N * C, "act"), *gamma = F32_OR_NULL(5, C, "gamma");
  if (!a.failed && gamma && !gd) fail(&a, "T", "%s must be given with gamma", "gdout", 0);
  if (a.failed) return NULL;
  nl_dact_affine_backward(gd, dgamma, dbeta, dout, act, gamma, N, C);
  return undefined(env);
}

static napi_value DactInputBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "dactInputBackward", 7)) return NULL;
  double alpha = arg_num(&a, 4, "alpha");
  long N = arg_size(&a, 5, "N"), C = arg_size(&a, 6, "C");
  float *dx = F32(0, N * C, "dx"), *dalpha = F32_OR_NULL(1, 1, "dalpha"), *dax = F32(2, N * C, "dax"),
    *x = F32(3, N * C, "x");
  if (a.failed) return NULL;
  nl_dact_input_backward(dx, dalpha, dax, x, alpha, N, C);
  return undefined(env);
}

// Knot activations (knots.c): the per-call setup (slopes, spline coefficients) comes from TypeScript.
static long arg_knots(Args *a, size_t i, long min) {
  long n = arg_size(a, i, "n");
  if (!a->failed && n < min) fail(a, "R", "%s must be at least %g", "n (knots)", (double)min);
  return n;
}

static napi_value PwlForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "pwlForward", 10)) return NULL;
  long count = arg_size(&a, 5, "count");
  int le = (int)arg_size(&a, 8, "le"), inc = (int)arg_size(&a, 9, "inc");
  long n = arg_knots(&a, 6, le ? 2 : 1);
  double R = arg_num(&a, 7, "R");
  float *out = F32(0, count, "out"), *x = F32(1, count, "x"), *xv = F32(2, n, "x_vals"), *yv = F32(3, n, "y_vals"),
    *slope = F32(4, n, "slope");
  if (a.failed) return NULL;
  nl_pwl_forward(out, x, xv, yv, slope, count, n, R, le, inc);
  return undefined(env);
}

static napi_value PwlBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "pwlBackward", 12)) return NULL;
  long count = arg_size(&a, 7, "count");
  int le = (int)arg_size(&a, 10, "le"), inc = (int)arg_size(&a, 11, "inc");
  long n = arg_knots(&a, 8, le ? 2 : 1);
  double R = arg_num(&a, 9, "R");
  float *dx = F32(0, count, "dx");
  double *acc = F64(1, 2.0 * n, "acc");
  float *dout = F32(2, count, "dout"), *x = F32(3, count, "x"), *xv = F32(4, n, "x_vals"), *yv = F32(5, n, "y_vals"),
    *slope = F32(6, n, "slope");
  if (a.failed) return NULL;
  nl_pwl_backward(dx, acc, dout, x, xv, yv, slope, count, n, R, le, inc);
  return undefined(env);
}

static napi_value SplineForward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "splineForward", 6)) return NULL;
  long count = arg_size(&a, 4, "count"), n = arg_knots(&a, 5, 2);
  float *out = F32(0, count, "out"), *x = F32(1, count, "x"), *knots = F32(2, n, "knots"),
    *coef = F32(3, 4.0 * (n - 1), "coef");
  if (a.failed) return NULL;
  nl_spline_forward(out, x, knots, coef, count, n);
  return undefined(env);
}

static napi_value SplineBackward(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(&a, env, info, "splineBackward", 8)) return NULL;
  long count = arg_size(&a, 6, "count"), n = arg_knots(&a, 7, 2);
  float *dx = F32(0, count, "dx");
  double *acc = F64(1, 5.0 * (n - 1), "acc");
  float *dout = F32(2, count, "dout"), *x = F32(3, count, "x"), *knots = F32(4, n, "knots"),
    *coef = F32(5, 4.0 * (n - 1), "coef");
  if (a.failed) return NULL;
  nl_spline_backward(dx, acc, dout, x, knots, coef, count, n);
  return undefined(env);
}

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
  return o;
}

// gemmSelect(name): the GEMM every later product uses (gemm_select); throws when unavailable here.
static napi_value GemmSelect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[32] = "";
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "native gemmSelect: expected a kernel name (string)");
    return NULL;
  }
  if (gemm_select(name) != 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "native gemmSelect: unknown or unavailable GEMM '%s' (available here: %s)", name, gemm_available());
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  return str(env, gemm_name());
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
  napi_property_descriptor props[] = {
#define FN(name, f) { name, NULL, f, NULL, NULL, NULL, napi_enumerable, NULL }
    FN("info", Info),
    FN("gemmSelect", GemmSelect),
    FN("fmaPeak", FmaPeak),
    FN("matmul", Matmul),
    FN("addBias", AddBias),
    FN("biasBackward", BiasBackward),
    FN("embeddingForward", EmbeddingForward),
    FN("embeddingBackward", EmbeddingBackward),
    FN("attentionForward", AttentionForward),
    FN("attentionBackward", AttentionBackward),
    FN("crossEntropyForward", CrossEntropyForward),
    FN("crossEntropyBackward", CrossEntropyBackward),
    FN("add", Add),
    FN("addInto", AddInto),
    FN("mul", Mul),
    FN("scale", Scale),
    FN("sumSquares", SumSquares),
    FN("adamw", Adamw),
    FN("rmsnormForward", RmsnormForward),
    FN("rmsnormBackward", RmsnormBackward),
    FN("layernormForward", LayernormForward),
    FN("layernormBackward", LayernormBackward),
    FN("geluForward", geluForward),
    FN("geluBackward", geluBackward),
    FN("reluForward", reluForward),
    FN("reluBackward", reluBackward),
    FN("identityForward", identityForward),
    FN("identityBackward", identityBackward),
    FN("leakyReluForward", leakyReluForward),
    FN("leakyReluBackward", leakyReluBackward),
    FN("relu6Forward", relu6Forward),
    FN("relu6Backward", relu6Backward),
    FN("squaredReluForward", squaredReluForward),
    FN("squaredReluBackward", squaredReluBackward),
    FN("softsignForward", softsignForward),
    FN("softsignBackward", softsignBackward),
    FN("eluForward", eluForward),
    FN("eluBackward", eluBackward),
    FN("seluForward", seluForward),
    FN("seluBackward", seluBackward),
    FN("sigmoidForward", sigmoidForward),
    FN("sigmoidBackward", sigmoidBackward),
    FN("siluForward", siluForward),
    FN("siluBackward", siluBackward),
    FN("tanhForward", tanhForward),
    FN("tanhBackward", tanhBackward),
    FN("softplusForward", softplusForward),
    FN("softplusBackward", softplusBackward),
    FN("mishForward", mishForward),
    FN("mishBackward", mishBackward),
    FN("preluForward", preluForward),
    FN("preluBackward", preluBackward),
    FN("geluShiftedForward", geluShiftedForward),
    FN("geluShiftedBackward", geluShiftedBackward),
    FN("gluForward", GluForward),
    FN("gluBackward", GluBackward),
    FN("prmsnormForward", PrmsnormForward),
    FN("prmsnormBackward", PrmsnormBackward),
    FN("hyperspherenormForward", HyperspherenormForward),
    FN("hyperspherenormBackward", HyperspherenormBackward),
    FN("krmsnormForward", KrmsnormForward),
    FN("krmsnormBackward", KrmsnormBackward),
    FN("dactScale", DactScale),
    FN("dactAffineForward", DactAffineForward),
    FN("dactAffineBackward", DactAffineBackward),
    FN("dactInputBackward", DactInputBackward),
    FN("pwlForward", PwlForward),
    FN("rreluForward", RreluForward),
    FN("rreluBackward", RreluBackward),
    FN("pwlBackward", PwlBackward),
    FN("splineForward", SplineForward),
    FN("splineBackward", SplineBackward),
#undef FN
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
