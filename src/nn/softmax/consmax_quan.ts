// consmax_quan (ConSmaxQuan): P = exp(S - β̂) / γ̂ with β̂ = round(β·100)/100 and γ̂ = round(γ·10)/10
// (float32 multiply, round half to even, divide: torch.round), in training and evaluation alike.
// Straight-through: the gradient with respect to β̂ goes to β unchanged, the same for γ. The base is
// always e (the framework reads no base flag here, docs/softmax.md defect 13). Parameters `beta`,
// `gamma` [1], init --consmax_initial_beta, --consmax_initial_gamma.
// dS = dP P;  dβ = -Σ dP P;  dγ = -Σ dP P / γ̂.
import type { ConfigOf } from '../variant.js';
import { EXP_SUMS, SCORE_KIND, type SoftmaxVariant } from './score.js';
import { CONSMAX_BETA, CONSMAX_GAMMA } from './consmax.js';

const FLAGS = [CONSMAX_BETA, CONSMAX_GAMMA] as const;

/** torch.round: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** v quantized as the framework does it in float32: round(v·scale)/scale. */
export function quantizeConst(v: number, scale: number): number {
  return Math.fround(roundHalfEven(Math.fround(v * scale)) / scale);
}

export const consmax_quan: SoftmaxVariant<ConfigOf<typeof FLAGS>> = {
  name: 'consmax_quan',
  flags: FLAGS,
  kind: () => 'elem',
  params: (_NH, a) => ({ beta: { shape: [1], init: { fill: a.consmax_initial_beta } }, gamma: { shape: [1], init: { fill: a.consmax_initial_gamma } } }),
  // As consmax with b = e; the two roundings are per call.
  cost: () => ({ forward: { add: 1, exp: 1, mul: 1 }, backward: { mul: 1, add: 2 }, reductions: { forward: 0, backward: 0 } }),
  forward(P, S, o, n, _T, _h, p) {
    const beta = quantizeConst(p.beta[0], 100), inv = 1 / quantizeConst(p.gamma[0], 10);
    for (let i = o; i < o + n; i++) P[i] = Math.exp(S[i] - beta) * inv;
  },
  backward(dS, dP, _S, P, o, n, _T, _h, p, g) {
    let sum = 0;
    for (let i = o; i < o + n; i++) { const gp = dP[i] * P[i]; sum += gp; dS[i] = gp; }
    g.beta[0] -= sum;
    g.gamma[0] -= sum / quantizeConst(p.gamma[0], 10);
  },
  kernel(_a, p) {
    const beta = quantizeConst(p.beta[0], 100), gamma = quantizeConst(p.gamma[0], 10);
    return {
      kind: SCORE_KIND.exp, c: [1, EXP_SUMS.all], hp: (_h, put) => put(beta, Infinity, 1 / gamma, 0),
      grads(sums, g) { const s = sums.all(0); g.beta[0] -= s; g.gamma[0] -= s / gamma; },
    };
  },
  curve: (x, p) => Math.exp(x - quantizeConst(p.beta[0], 100)) / quantizeConst(p.gamma[0], 10),
};
