// Dynamic activation used in place of a norm (dact, a DyT-style layer):
//   y = gamma * act(alpha * x) + beta,
// act = activations[dact_activation], built from the same config (its own flags: pfla_*, ...) and
// given the same ctx (rrelu's training/eval behaviour). Its parameters and saved buffers are nested
// under `activation.` (activation.x_vals). glu is refused: it would halve the width.
// alpha [1]: init dact_alpha_init; learned with dact_use_alpha, else the constant dact_alpha_init
//   (spec correction: the reference ignores the init then). A constant alpha is learned:false and
//   persistent:false, because the reference keeps it as a plain Python float outside its state_dict.
// gamma [C] ones with dact_use_gamma, else the constant 1; beta [C] zeros with dact_use_beta, else 0:
//   constants 1 and 0 need no array, so they are simply absent (the reference has them as floats too).
// Saved: ax (N, C) = alpha x, act (N, C) = act(alpha x) (for dgamma, and because the inner activation
// may be random, so backward cannot recompute it); backward scratch gdout (N, C) = dout * gamma (only
// with gamma) and dax (N, C) = dL/d(alpha x); activation.* = the inner activation's saved buffers.
import { drawsRandom, fusedKernels, problemsOf, type ConfigOf, type Params, type Variant, type VariantFlag, type VariantKernels } from '../variant.js';
import { UserError } from '../../util/errors.js';
import { activations, type ActivationRegistry } from '../activations/activation-registry.js';
import { pass } from '../op-cost.js';

const PREFIX = 'activation.';

const flags = [
  { name: 'dact_activation', type: 'str', default: 'tanh', choices: Object.keys(activations) as (keyof ActivationRegistry)[], help: 'dact: inner activation' },
  { name: 'dact_use_gamma', type: 'bool', default: true, help: 'dact: learnable per-channel gain gamma' },
  { name: 'dact_use_beta', type: 'bool', default: true, help: 'dact: learnable per-channel bias beta' },
  { name: 'dact_alpha_init', type: 'float', default: 1.0, help: 'dact: initial alpha' },
  { name: 'dact_use_alpha', type: 'bool', default: true, help: 'dact: learnable alpha' },
] as const satisfies readonly VariantFlag[];
type Config = ConfigOf<typeof flags>;

/** The inner activation's problems (its flags are read from the same config) and dact's own. */
function innerCheck(a: Config): string | null {
  const inner = activations[a.dact_activation];
  if (a.dact_activation === 'glu' || inner?.gated) {
    return `--dact_activation ${a.dact_activation} cannot be used inside dact: it halves the width; choose a non-gated activation such as tanh`;
  }
  if (!inner) {
    return `--dact_activation ${a.dact_activation} is not a known activation; choose one of: ${Object.keys(activations).join(', ')}`;
  }
  return problemsOf(inner, a).errors[0] ?? null;
}

function innerOf(a: Config): Variant<any> {
  const msg = innerCheck(a);
  if (msg) throw new UserError(msg);
  return activations[a.dact_activation];
}

/** The entries of `rec` whose names start with `activation.`, with that prefix removed. */
function nested<T>(rec: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key in rec) if (key.startsWith(PREFIX)) out[key.slice(PREFIX.length)] = rec[key];
  return out;
}

function prefixed<T>(rec: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key in rec) out[PREFIX + key] = rec[key];
  return out;
}

export const dact: Variant<Config> = {
  name: 'dact',
  flags,
  check: innerCheck,
  // Random when its inner activation is (rrelu).
  randomWhen: (a) => { const inner = activations[a.dact_activation]; return inner !== undefined && drawsRandom(inner, a); },
  params: (C, a) => ({
    alpha: {
      shape: [1],
      init: { fill: a.dact_alpha_init },
      ...(a.dact_use_alpha ? {} : { learned: false, persistent: false }),
    },
    ...(a.dact_use_gamma ? { gamma: { shape: [C], init: 'ones' as const } } : {}),
    ...(a.dact_use_beta ? { beta: { shape: [C], init: 'zeros' as const } } : {}),
    ...prefixed(innerOf(a).params(C, a)),
  }),
  // Forward: alpha x, the inner activation, gamma act, + beta. Backward: dout gamma, dgamma, dbeta,
  // the inner backward, dx = alpha dax, dalpha += dax x (when alpha is learned).
  cost(C, a, training) {
    const inner = innerOf(a).cost?.(C, a, training);
    const g = a.dact_use_gamma ? C : 0, b = a.dact_use_beta ? C : 0, al = a.dact_use_alpha ? C : 0;
    return {
      forward: pass({ mul: C + g, add: b }, inner?.forward ?? { ops: {} }),
      backward: pass({ mul: g + g + C + al, add: g + b + al }, inner?.backward ?? { ops: {} }),
      setup: inner?.setup,
    };
  },
  saved: (N, C, a) => ({
    ax: N * C,
    act: N * C,
    ...(a.dact_use_gamma ? { gdout: N * C } : {}),
    dax: N * C,
    ...prefixed(innerOf(a).saved(N, C, a)),
  }),
  forward(out, x, p, s, N, C, a, ctx) {
    const inner = innerOf(a), alpha = p.alpha[0], gamma = p.gamma, beta = p.beta, ax = s.ax, act = s.act;
    for (let i = 0; i < N * C; i++) ax[i] = alpha * x[i];
    inner.forward(act, ax, nested(p), nested(s), N, C, a, ctx);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const i = n * C + c;
        out[i] = (gamma ? gamma[c] : 1) * act[i] + (beta ? beta[c] : 0);
      }
    }
  },
  // Native: the scale, the affine and their gradients in C; the inner activation through its own
  // fused kernel when the backend has one (every activation has a native one), else its TypeScript code.
  wraps: { activation: (a) => a.dact_activation, prefix: PREFIX, scalars: ['alpha'] },
  fused(be) {
    const k = be.native;
    if (!k) return undefined;
    const kernels = new Map<string, VariantKernels<any>>();
    const inner = (a: Config): VariantKernels<any> => {
      let ik = kernels.get(a.dact_activation);
      if (!ik) { const v = innerOf(a); ik = fusedKernels(v, be) ?? v; kernels.set(a.dact_activation, ik); }
      return ik;
    };
    return {
      forward(out, x, p, s, N, C, a, ctx) {
        k.dactScale(s.ax, x, p.alpha[0], N * C);
        inner(a).forward(s.act, s.ax, nested(p), nested(s), N, C, a, ctx);
        k.dactAffineForward(out, s.act, p.gamma ?? null, p.beta ?? null, N, C);
      },
      backward(dx, dp, dout, x, p, s, N, C, a, ctx) {
        const gamma = p.gamma ?? null;
        k.dactAffineBackward(gamma ? s.gdout : null, dp.gamma ?? null, dp.beta ?? null, dout, s.act, gamma, N, C);
        s.dax.fill(0, 0, N * C);
        inner(a).backward(s.dax, nested(dp), gamma ? s.gdout : dout, s.ax, nested(p), nested(s), N, C, a, ctx);
        k.dactInputBackward(dx, dp.alpha ?? null, s.dax, x, p.alpha[0], N, C);
      },
    };
  },
  // dgamma = dout * act, dbeta = dout; the inner backward turns dout * gamma into dax = dL/d(alpha x);
  // then dx = alpha dax and dalpha = sum(dax x).
  backward(dx, dp, dout, x, p, s, N, C, a, ctx) {
    const inner = innerOf(a), alpha = p.alpha[0], gamma = p.gamma, act = s.act, dax = s.dax;
    let gd = dout;
    if (gamma) {
      gd = s.gdout;
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) gd[n * C + c] = dout[n * C + c] * gamma[c];
    }
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const i = n * C + c;
        if (dp.gamma) dp.gamma[c] += dout[i] * act[i];
        if (dp.beta) dp.beta[c] += dout[i];
      }
    }
    dax.fill(0, 0, N * C);
    const innerDp: Params = nested(dp);
    inner.backward(dax, innerDp, gd, s.ax, nested(p), nested(s), N, C, a, ctx);
    let dalpha = 0;
    for (let i = 0; i < N * C; i++) { dx[i] += alpha * dax[i]; dalpha += dax[i] * x[i]; }
    if (dp.alpha) dp.alpha[0] += dalpha;
  },
};
