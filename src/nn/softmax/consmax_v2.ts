// consmax_v2 (ConSmaxV2): per head h, a = S - β0 · beta_factor[h]; with --consmax_v2_clamping
// a = min(a, c) (gradient 0 where clamped); P = b^a / (γ0 · gamma_factor[h]).
// Parameters `beta_factor`, `gamma_factor` [n_head,1,1], ones: three-dimensional, so weight decay
// applies to them (the rule for every parameter, docs/softmax.md). β0, γ0, b as consmax.
// The framework's constructor sets gamma = β0·gamma_factor until the first forward (defect 15):
// nothing here reads a gamma before a forward.
// With k = ln b, G = γ0 gf[h]: dS = dP P k (unclamped); dbf[h] -= β0 k Σ dP P (unclamped);
// dgf[h] -= Σ dP P / gf[h].
import type { ConfigOf, VariantFlag } from '../variant.js';
import type { SoftmaxVariant } from './score.js';
import { CONSMAX_FLAGS, consmaxLnBase } from './consmax.js';
import { EXP_SUMS, finiteFlag, SCORE_KIND } from './score.js';

const FLAGS = [
  ...CONSMAX_FLAGS,
  { name: 'consmax_v2_clamping', type: 'bool', default: false, help: 'consmax_v2: clamp S - β to at most --consmax_v2_clamp_value' },
  { name: 'consmax_v2_clamp_value', type: 'float', default: 80.0, help: 'consmax_v2: the clamp (c)', check: finiteFlag() },
] as const satisfies readonly VariantFlag[];

type A = ConfigOf<typeof FLAGS>;

export const consmax_v2: SoftmaxVariant<A> = {
  name: 'consmax_v2',
  flags: FLAGS,
  kind: () => 'elem',
  params: (NH) => ({ beta_factor: { shape: [NH, 1, 1], init: 'ones' }, gamma_factor: { shape: [NH, 1, 1], init: 'ones' } }),
  cost: (a) => ({
    forward: { add: 1, exp: 1, mul: a.consmax_use_euler_base ? 1 : 2, cmp: a.consmax_v2_clamping ? 1 : 0 },
    backward: { mul: a.consmax_use_euler_base ? 1 : 2, add: 2, cmp: a.consmax_v2_clamping ? 1 : 0 },
    reductions: { forward: 0, backward: 0 },
  }),
  forward(P, S, o, n, _T, h, p, a) {
    const k = consmaxLnBase(a), beta = a.consmax_initial_beta * p.beta_factor[h], inv = 1 / (a.consmax_initial_gamma * p.gamma_factor[h]);
    const clamp = a.consmax_v2_clamping, c = a.consmax_v2_clamp_value;
    for (let i = o; i < o + n; i++) {
      const x = S[i] - beta;
      P[i] = Math.exp(k * (clamp && x > c ? c : x)) * inv;
    }
  },
  backward(dS, dP, S, P, o, n, _T, h, p, g, a) {
    const k = consmaxLnBase(a), beta = a.consmax_initial_beta * p.beta_factor[h];
    const clamp = a.consmax_v2_clamping, c = a.consmax_v2_clamp_value;
    let sum = 0, sumFree = 0;
    for (let i = o; i < o + n; i++) {
      const gp = dP[i] * P[i];
      sum += gp;
      if (clamp && S[i] - beta > c) { dS[i] = 0; continue; }
      sumFree += gp; dS[i] = gp * k;
    }
    g.beta_factor[h] -= sumFree * k * a.consmax_initial_beta;
    g.gamma_factor[h] -= sum / p.gamma_factor[h];
  },
  kernel(a, p, NH) {
    const k = consmaxLnBase(a), b0 = a.consmax_initial_beta, c = a.consmax_v2_clamping ? a.consmax_v2_clamp_value : Infinity;
    return {
      kind: SCORE_KIND.exp, c: [k, EXP_SUMS.all | EXP_SUMS.unclamped], hp: (h, put) => put(b0 * p.beta_factor[h], c, 1 / (a.consmax_initial_gamma * p.gamma_factor[h]), 0),
      grads(sums, g) {
        for (let h = 0; h < NH; h++) { g.beta_factor[h] -= sums.head(1, h) * k * b0; g.gamma_factor[h] -= sums.head(0, h) / p.gamma_factor[h]; }
      },
    };
  },
  curve(x, p, a, h) {
    const beta = a.consmax_initial_beta * p.beta_factor[h], xa = x - beta;
    return Math.exp(consmaxLnBase(a) * (a.consmax_v2_clamping && xa > a.consmax_v2_clamp_value ? a.consmax_v2_clamp_value : xa)) /
      (a.consmax_initial_gamma * p.gamma_factor[h]);
  },
};
