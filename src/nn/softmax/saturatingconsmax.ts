// saturatingconsmax (SaturatingConSmax): P = b^(min(S, x_sat) - β) / γ, divided by T with
// --div_by_seq_len; x_sat = --consmax_saturation + the INITIAL β, fixed at construction (it does
// not follow the learned β, as in the framework). CORRECTED (docs/softmax.md, defect 8): the
// framework's flat piece is x_sat itself (a jump from b^(x_sat - β)/γ to x_sat/γ); here the value
// reached at x_sat is held, with gradient 0 in S where S >= x_sat.
// `beta` [1] is learned with --consmax_learnable_beta (default), else the constant β0 (no
// parameter); `gamma` likewise with --consmax_learnable_gamma.
// With k = ln b, c = 1/T or 1: dS = dP P k (S < x_sat), dβ = -k Σ dP P, dγ = -Σ dP P / γ.
import type { ConfigOf, Params, VariantFlag } from '../variant.js';
import type { SoftmaxVariant } from './score.js';
import { CONSMAX_FLAGS, consmaxLnBase } from './consmax.js';
import { DIV_BY_SEQ_LEN, EXP_SUMS, SCORE_KIND, finiteFlag } from './score.js';

const FLAGS = [
  ...CONSMAX_FLAGS,
  { name: 'consmax_saturation', type: 'float', default: 11.0, help: 'saturatingconsmax: x_sat = this + --consmax_initial_beta (the value is held past it)', check: finiteFlag() },
  { name: 'consmax_learnable_beta', type: 'bool', default: true, help: 'saturatingconsmax: learn β (else the constant --consmax_initial_beta)' },
  { name: 'consmax_learnable_gamma', type: 'bool', default: true, help: 'saturatingconsmax: learn γ (else the constant --consmax_initial_gamma)' },
  DIV_BY_SEQ_LEN,
] as const satisfies readonly VariantFlag[];

type A = ConfigOf<typeof FLAGS>;
const betaOf = (p: Params, a: A) => (a.consmax_learnable_beta ? p.beta[0] : a.consmax_initial_beta);
const gammaOf = (p: Params, a: A) => (a.consmax_learnable_gamma ? p.gamma[0] : a.consmax_initial_gamma);

export const saturatingconsmax: SoftmaxVariant<A> = {
  name: 'saturatingconsmax',
  flags: FLAGS,
  kind: () => 'elem',
  callDependent: (a) => a.div_by_seq_len,
  params: (_NH, a) => ({
    ...(a.consmax_learnable_beta ? { beta: { shape: [1], init: { fill: a.consmax_initial_beta } } } : {}),
    ...(a.consmax_learnable_gamma ? { gamma: { shape: [1], init: { fill: a.consmax_initial_gamma } } } : {}),
  }),
  cost: (a) => ({
    forward: { cmp: 1, add: 1, exp: 1, mul: a.consmax_use_euler_base ? 1 : 2 },
    backward: { cmp: 1, mul: a.consmax_use_euler_base ? 1 : 2, add: 2 },
    reductions: { forward: 0, backward: 0 },
  }),
  forward(P, S, o, n, T, _h, p, a) {
    const k = consmaxLnBase(a), beta = betaOf(p, a), xs = a.consmax_saturation + a.consmax_initial_beta;
    const c = 1 / (gammaOf(p, a) * (a.div_by_seq_len ? T : 1));
    for (let i = o; i < o + n; i++) P[i] = Math.exp(k * ((S[i] < xs ? S[i] : xs) - beta)) * c;
  },
  backward(dS, dP, S, P, o, n, _T, _h, p, g, a) {
    const k = consmaxLnBase(a), xs = a.consmax_saturation + a.consmax_initial_beta;
    let sum = 0;
    for (let i = o; i < o + n; i++) { const gp = dP[i] * P[i]; sum += gp; dS[i] = S[i] < xs ? gp * k : 0; }
    if (a.consmax_learnable_beta) g.beta[0] -= sum * k;
    if (a.consmax_learnable_gamma) g.gamma[0] -= sum / p.gamma[0];
  },
  kernel(a, p, _NH, T) {
    const k = consmaxLnBase(a), beta = betaOf(p, a), gamma = gammaOf(p, a), xs = a.consmax_saturation + a.consmax_initial_beta;
    return {
      kind: SCORE_KIND.exp, c: [k, a.consmax_learnable_beta || a.consmax_learnable_gamma ? EXP_SUMS.all : 0], hp: (_h, put) => put(beta, xs - beta, 1 / (gamma * (a.div_by_seq_len ? T : 1)), 0),
      grads(sums, g) {
        const s = sums.all(0);
        if (a.consmax_learnable_beta) g.beta[0] -= s * k;
        if (a.consmax_learnable_gamma) g.gamma[0] -= s / gamma;
      },
    };
  },
  curve(x, p, a) {
    const xs = a.consmax_saturation + a.consmax_initial_beta;
    return Math.exp(consmaxLnBase(a) * ((x < xs ? x : xs) - betaOf(p, a))) / gammaOf(p, a);
  },
};
