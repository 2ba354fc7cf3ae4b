// consmax (ConSmax): P = b^(S - β) / γ, elementwise: learned constants β and γ replace the row max
// and the row sum. Parameters `beta` [1] (init --consmax_initial_beta), `gamma` [1] (init
// --consmax_initial_gamma), always learned; [1] tensors get no weight decay. b = e, or
// --consmax_base with --no-consmax_use_euler_base.
// With k = ln b: dS = dP P k;  dβ = -Σ dP P k;  dγ = -Σ dP P / γ.
import type { ConfigOf, VariantFlag } from '../variant.js';
import type { SoftmaxVariant } from './score.js';
import { EXP_SUMS, SCORE_KIND, finiteFlag, positiveFlag } from './score.js';

/** Shared by consmax, consmax_v2, consmax_quan and saturatingconsmax (one declaration each flag). */
export const CONSMAX_BETA = { name: 'consmax_initial_beta', type: 'float', default: 2.5, help: 'consmax family: initial β (the constant that replaces the row max)', check: finiteFlag() } as const satisfies VariantFlag;
export const CONSMAX_GAMMA = { name: 'consmax_initial_gamma', type: 'float', default: 100.0, help: 'consmax family: initial γ (the constant that replaces the row sum)', check: positiveFlag() } as const satisfies VariantFlag;
export const CONSMAX_BASE_FLAGS = [
  { name: 'consmax_use_euler_base', type: 'bool', default: true, help: 'consmax, consmax_v2, saturatingconsmax: base e (else --consmax_base)' },
  { name: 'consmax_base', type: 'float', default: 2.0, help: 'consmax, consmax_v2, saturatingconsmax: base b without --consmax_use_euler_base', check: positiveFlag() },
] as const satisfies readonly VariantFlag[];
/** Accepted for the framework's files; read by nothing there either (docs/softmax.md, defect 13). */
export const CONSMAX_PER_HEAD = { name: 'consmax_per_head', type: 'bool', default: true, help: 'accepted, no effect (the framework reads it nowhere: consmax_v2 is always per head, consmax never)' } as const satisfies VariantFlag;
export const CONSMAX_FLAGS = [CONSMAX_BETA, CONSMAX_GAMMA, ...CONSMAX_BASE_FLAGS, CONSMAX_PER_HEAD] as const;

export type ConsmaxConfig = ConfigOf<typeof CONSMAX_FLAGS>;
export const consmaxLnBase = (a: ConsmaxConfig): number => (a.consmax_use_euler_base ? 1 : Math.log(a.consmax_base));

export const consmax: SoftmaxVariant<ConsmaxConfig> = {
  name: 'consmax',
  flags: CONSMAX_FLAGS,
  kind: () => 'elem',
  params: (_NH, a) => ({ beta: { shape: [1], init: { fill: a.consmax_initial_beta } }, gamma: { shape: [1], init: { fill: a.consmax_initial_gamma } } }),
  // Per score: S - β, exp (k (S - β): one multiply more unless b = e), times 1/γ (a per-call
  // reciprocal). Backward: dP P, times k, and the two parameter sums.
  cost: (a) => ({
    forward: { add: 1, exp: 1, mul: a.consmax_use_euler_base ? 1 : 2 },
    backward: { mul: a.consmax_use_euler_base ? 1 : 2, add: 2 },
    reductions: { forward: 0, backward: 0 },
  }),
  forward(P, S, o, n, _T, _h, p, a) {
    const k = consmaxLnBase(a), beta = p.beta[0], inv = 1 / p.gamma[0];
    for (let i = o; i < o + n; i++) P[i] = Math.exp(k * (S[i] - beta)) * inv;
  },
  backward(dS, dP, _S, P, o, n, _T, _h, p, g, a) {
    const k = consmaxLnBase(a);
    let sum = 0;
    for (let i = o; i < o + n; i++) { const gp = dP[i] * P[i]; sum += gp; dS[i] = gp * k; }
    g.beta[0] -= sum * k;
    g.gamma[0] -= sum / p.gamma[0];
  },
  curve: (x, p, a) => Math.exp(consmaxLnBase(a) * (x - p.beta[0])) / p.gamma[0],
  kernel(a, p) {
    const k = consmaxLnBase(a), gamma = p.gamma[0];
    return {
      kind: SCORE_KIND.exp, c: [k, EXP_SUMS.all], hp: (_h, put) => put(p.beta[0], Infinity, 1 / gamma, 0),
      grads(sums, g) { const s = sums.all(0); g.beta[0] -= s * k; g.gamma[0] -= s / gamma; },
    };
  },
};
