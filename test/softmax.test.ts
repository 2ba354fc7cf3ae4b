// Attention softmax variants (docs/softmax.md): float64 finite-difference gradients of every variant
// and every parameter under the flag combinations that change the math; hand-worked values for each
// correction of the framework's defects; masked entries exactly 0; refusals; the registry feeding
// the flags; the staged attention against the backend's softmax attention.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, FLAGS, MODEL_KEYS, SOFTMAX_CHOICES } from '../src/config/config.js';
import { Rng } from '../src/engine/rng.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { fillInit, MetricCtx } from '../src/nn/params.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { buildModel } from '../src/model/build.js';
import { Generator } from '../src/model/generate.js';
import { tinyConfig } from './helpers.js';
import { numel, problemsOf, type Params } from '../src/nn/variant.js';
import { softmaxes } from '../src/nn/softmax/softmax-registry.js';
import { decideCall, type Grads, type SoftmaxVariant } from '../src/nn/softmax/score.js';
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
  const NH = a.n_head, st = decideCall(v, a, S, { B: 1, NH, Tq: T, T });
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

// ---- values worked by hand, one per correction of the framework (docs/softmax.md) ----------------

/** P of one row S under variant name (params at their initial values). */
function row(name: string, over: Partial<ModelConfig>, S: number[], T = S.length): number[] {
  const v = softmaxes[name], a = cfgWith(over), { p } = paramsOf(v, a, null), P = new Float64Array(S.length);
  v.forward(P, Float64Array.from(S), 0, S.length, T, 0, p, a, decideCall(v, a, Float64Array.from(S), { B: 1, NH: 1, Tq: 1, T: S.length }));
  return [...P];
}
const near = (got: number, want: number, tol = 1e-12) => assert.ok(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)), `got ${got}, want ${want}`);

test('defect 1 corrected: squareplus is ln 2 / d at 0 (sqrt(4 ln^2 2) / 2) and masked entries are 0, not NaN', () => {
  near(row('squareplus', {}, [0])[0], Math.LN2 / 100);
  near(row('squareplus', {}, [3])[0], (3 + Math.sqrt(9 + 4 * Math.LN2 ** 2)) / 2 / 100);
  const res = gradcheck('squareplus', {}); // masked entries are NaN scores there: never read, P = 0
  assert.ok(res.maxErr < 1e-6);
});

test('defect 2 corrected: sigsoftmax base 2 on [0, 1] is [3/11, 8/11] (n = 2^S / (1 + 2^-S): 1/2 and 4/3)', () => {
  const P = row('sigsoftmax', { sigsoftmax_use_euler_base: false, sigsoftmax_base: 2 }, [0, 1]);
  near(P[0], 3 / 11); near(P[1], 8 / 11);
});

test('defect 3 corrected: exppolymax base 4, power 2: k = ln 4 / 2 = ln 2, f(0) = ln^2 2 + 1, f(-1) = 1/4 (over d = 1000)', () => {
  const P = row('exppolymax', { exppolymax_use_euler_base: false, exppolymax_base: 4 }, [0, -1, 1]);
  near(P[0], (Math.LN2 ** 2 + 1) / 1000); near(P[1], 0.25 / 1000); near(P[2], ((1 + Math.LN2) ** 2 + 1) / 1000);
});

test('defect 4 corrected: pfla_softmax --pfla_softmax_use_obo adds exp(obo) to the row sum (1 at the default obo 0)', () => {
  const base = { pfla_softmax_num_points: 4, pfla_softmax_left_bound: -3, pfla_softmax_right_bound: 3, pfla_softmax_init_activation: 'relu' as const };
  const plain = row('pfla_softmax', base, [0.5, 2]), obo = row('pfla_softmax', { ...base, pfla_softmax_use_obo: true }, [0.5, 2]);
  const sum = plain.reduce((x, y) => x + y, 0); // P = y / (Σy + 1e-6)
  const ySum = 1e-6 * sum / (1 - sum); // Σy back from Σ P = Σy / (Σy + 1e-6)
  near(obo[0] / plain[0], (ySum + 1e-6) / (ySum + 1e-6 + 1), 1e-9);
  const o3 = row('pfla_softmax', { ...base, pfla_softmax_use_obo: true, pfla_softmax_obo: Math.log(3) }, [0.5, 2]);
  near(o3[0] / plain[0], (ySum + 1e-6) / (ySum + 1e-6 + 3), 1e-9);
});

test('defect 5 corrected: pfla_softmax interpolates on the segment that holds x (positive near -0.3 with the gelu init; the framework gives -0.381)', () => {
  // Default knots: the 30 interior points of linspace(-10, 10, 32), step 20/31; -0.3 lies between
  // knot 14 (-10/31) and knot 15 (10/31). Values y^2 = max(gelu(x), 1e-6) (stored as sqrt in float32).
  const a = cfgWith(), v = softmaxes.pfla_softmax, { p } = paramsOf(v, a, null);
  const x0 = Math.fround(-10 / 31), x1 = Math.fround(10 / 31);
  const y0 = Math.fround(Math.sqrt(1e-6)) ** 2, y1 = Math.fround(Math.sqrt(Math.fround(0.5 * x1 * (1 + erfApprox(x1 / Math.SQRT2))))) ** 2;
  near(v.curve!(-0.3, p, a, 0), y0 + (y1 - y0) / (x1 - x0) * (-0.3 - x0), 1e-6);
  assert.ok(v.curve!(-0.3, p, a, 0) > 0);
  // beyond the ends the end segments extend linearly
  const xs = p.x_vals, ys = p.y_vals, n = xs.length;
  const s = (ys[n - 1] ** 2 - ys[n - 2] ** 2) / (xs[n - 1] - xs[n - 2]);
  near(v.curve!(12, p, a, 0), ys[n - 1] ** 2 + s * (12 - xs[n - 1]), 1e-9);
});

/** erf by its series (independent of the lab's erf), enough digits for the test above. */
function erfApprox(x: number): number {
  let sum = 0, term = x;
  for (let n = 0; n < 60; n++) { sum += term / (2 * n + 1); term *= -x * x / (n + 1); }
  return 2 / Math.sqrt(Math.PI) * sum;
}

test('defect 6 corrected: polymax 1.5 and exppolymax 2.5 give finite gradients at negative scores (each piece only where selected)', () => {
  for (const [name, over] of [['polymax', { polymax_power: 1.5 }], ['exppolymax', { exppolymax_power: 2.5 }]] as const) {
    const v = softmaxes[name], a = cfgWith(over), { p, g } = paramsOf(v, a, null);
    const S = Float64Array.from([-3, -0.5, 0.7, 200]), P = new Float64Array(4), dS = new Float64Array(4);
    v.forward(P, S, 0, 4, 4, 0, p, a, 0);
    v.backward(dS, Float64Array.from([1, 1, 1, 1]), S, P, 0, 4, 4, 0, p, g, a, 0);
    for (const d of dS) assert.ok(Number.isFinite(d), `${name}: ${[...dS]}`);
  }
  near(row('polymax', { polymax_power: 1.5 }, [0.7])[0], (0.7 ** 1.5 + 1) / 1000);
  near(row('polymax', {}, [-50])[0], (1 - 50 / 100) / 1000); // linear piece: 0 at -100, 1 at 0
  near(row('vpolymax', {}, [-50])[0], (1 + 50 / 100) / 1000); // v shape: 2 at -100, 1 at 0
  near(row('polymax', {}, [-150])[0], 0);
});

test('defect 7 corrected: strongermax\'s learned temperature has a finite gradient with masked keys present', () => {
  const res = gradcheck('strongermax', { strongermax_use_learned_temperature_factor: true, strongermax_temperature_factor: 0.5 });
  assert.ok(res.maxErr < 1e-6, res.worst);
});

test('defect 8 corrected: saturatingconsmax holds e^(x_sat - β) / γ past x_sat = 11 + 2.5 (598.74 at the defaults), with zero gradient there', () => {
  const want = Math.exp(11) / 100;
  near(row('saturatingconsmax', {}, [20])[0], want);
  near(row('saturatingconsmax', {}, [13.5 - 1e-9])[0], want, 1e-8); // continuous at x_sat
  const v = softmaxes.saturatingconsmax, a = cfgWith(), { p, g } = paramsOf(v, a, null);
  const S = Float64Array.from([20, 1]), P = new Float64Array(2), dS = new Float64Array(2);
  v.forward(P, S, 0, 2, 2, 0, p, a, 0);
  v.backward(dS, Float64Array.from([1, 1]), S, P, 0, 2, 2, 0, p, g, a, 0);
  assert.equal(dS[0], 0); near(dS[1], P[1]);
});

test('defect 9 corrected: strongermax subtracts a guess of 0.0 (row [1, 2] with obo 1: e / (1 + e + e^2), e^2 / (1 + e + e^2))', () => {
  const P = row('strongermax', { strongermax_xmax_guess: 0, strongermax_obo: 1 }, [1, 2]), Z = 1 + Math.E + Math.E ** 2;
  near(P[0], Math.E / Z); near(P[1], Math.E ** 2 / Z);
  const Pmax = row('strongermax', { strongermax_obo: 1 }, [1, 2]); // unset guess: the row max, so obo is 1 in e^-2 units
  near(Pmax[1], 1 / (Math.exp(-1) + 1 + 1));
});

test('defect 10 corrected: strongermax clamping leaves the scores it reads unchanged', () => {
  const v = softmaxes.strongermax, a = cfgWith({ strongermax_clamping: true, strongermax_clamp_value: 1 }), { p } = paramsOf(v, a, null);
  const S = Float64Array.from([0, 5]), P = new Float64Array(2);
  v.forward(P, S, 0, 2, 2, 0, p, a, 0);
  assert.deepEqual([...S], [0, 5]);
  near(P[1], Math.E / (1 + Math.E)); // 5 clamped to 1
});

test('defect 11 corrected: sigsoftmax on [0, 90] is finite: [0.5 e^-90 / (0.5 e^-90 + σ(90)), the rest]', () => {
  const P = row('sigsoftmax', {}, [0, 90]);
  const n0 = 0.5 * Math.exp(-90), n1 = 1 / (1 + Math.exp(-90));
  near(P[0], n0 / (n0 + n1)); near(P[1], n1 / (n0 + n1));
});

test('strongermax at its defaults is softmax; overflow recompute makes one decision per call', () => {
  const S = [0.3, -1.2, 2.5];
  row('strongermax', {}, S).forEach((x, i) => near(x, row('softmax', {}, S)[i], 1e-15));
  // guess 0, v = 2: max(a - 0) = 2.5 > 2 -> row max for every row of the call, else the guess
  const over = { strongermax_overflow_recompute: true, strongermax_xmax_guess: 0, strongermax_overflow_recompute_value: 2, strongermax_obo: 1 };
  const v = softmaxes.strongermax, a = cfgWith(over);
  assert.equal(decideCall(v, a, Float64Array.from(S), { B: 1, NH: 1, Tq: 1, T: 3 }), 1);
  assert.equal(decideCall(v, a, Float64Array.from([0.3, -1.2, 1.5]), { B: 1, NH: 1, Tq: 1, T: 3 }), 0);
});

test('div_by_seq_len divides by the key length T of the call, not the row\'s unmasked count', () => {
  const v = softmaxes.relumax, a = cfgWith({ div_by_seq_len: true }), P = new Float64Array(1);
  v.forward(P, Float64Array.from([2]), 0, 1, 8, 0, {}, a, 0); // first row of a T = 8 call: one unmasked key
  near(P[0], 2 / 256 / 8);
});

// ---- refusals, registry, parameters ----------------------------------------------------------------

test('refusals: polymax x-intercept >= 0, overflow recompute without a guess, glu init, learned obo without obo, ranges', () => {
  const err = (name: string, over: Partial<ModelConfig>) => problemsOf(softmaxes[name], cfgWith(over)).errors.join('; ');
  assert.match(err('polymax', { polymax_x_intercept: 0 }), /--polymax_x_intercept is 0; it must be < 0/);
  assert.match(err('vpolymax', { polymax_x_intercept: 3 }), /must be < 0/);
  assert.match(err('strongermax', { strongermax_overflow_recompute: true }), /needs --strongermax_xmax_guess/);
  assert.match(err('pfla_softmax', { pfla_softmax_init_activation: 'glu' }), /glu is refused/);
  assert.match(err('pfla_softmax', { pfla_softmax_use_learned_obo: true }), /needs --pfla_softmax_use_obo/);
  assert.match(err('pfla_softmax', { pfla_softmax_num_points: 1 }), /must be >= 2/);
  assert.match(err('relumax', { relumax_divisor: 0 }), /--relumax_divisor is 0; it must be > 0/);
  assert.match(err('consmax', { consmax_initial_gamma: -1 }), /must be > 0/);
  assert.match(err('strongermax', { strongermax_temperature_factor: 0 }), /must be > 0/);
  assert.equal(err('polymax', { relumax_divisor: 0 }), ''); // flags of another variant are not checked
});

test('registry: the framework\'s 17 variants are the choices of --softmax_variant_attn; each flag is in the train table under softmax and saved with checkpoints', () => {
  assert.deepEqual([...SOFTMAX_CHOICES].sort(), ['consmax', 'consmax_quan', 'consmax_v2', 'exppolymax', 'pfla_softmax', 'polymax', 'relu2max', 'relumax',
    'saturatingconsmax', 'sigmoidmax', 'sigsoftmax', 'softermax', 'softmax', 'softplus', 'squareplus', 'strongermax', 'vpolymax']);
  for (const v of Object.values(softmaxes)) {
    for (const f of v.flags ?? []) {
      const row = FLAGS.find((x) => x.name === f.name);
      assert.ok(row && row.group === 'softmax', `--${f.name}`);
      assert.ok(MODEL_KEYS.includes(f.name as never), `--${f.name} not in checkpoint metadata`);
    }
  }
  assert.equal(FLAGS.find((f) => f.name === 'softmax_variant_attn')!.choices!.length, 17);
  for (const name of ['softmax_io_logging', 'softmax_io_log_interval', 'consmax_beta_gamma_logging', 'softmax_variant_output']) assert.ok(FLAGS.some((f) => f.name === name), name);
});

test('parameters: framework names under transformer.h.<i>.attn.softmax_layer_attn, shapes, and weight decay for [n_head,1,1] only', () => {
  const names = (over: Partial<ModelConfig>) => {
    const m = buildModel({ ...tinyConfig({ n_head: 2 }), ...over } as ModelConfig, tsBackend, { maxB: 1, maxT: 5, seed: 1 });
    return m.store.params.filter((p) => p.name.includes('softmax_layer_attn')).map((p) => `${p.name} [${p.shape}] ${p.decay ? 'decay' : 'no-decay'}${p.learned ? '' : ' const'}`);
  };
  assert.deepEqual(names({ softmax_variant_attn: 'softmax' }), []);
  assert.deepEqual(names({ softmax_variant_attn: 'consmax' }).slice(0, 2), ['transformer.h.0.attn.softmax_layer_attn.beta [1] no-decay', 'transformer.h.0.attn.softmax_layer_attn.gamma [1] no-decay']);
  assert.deepEqual(names({ softmax_variant_attn: 'consmax_v2' }).slice(0, 2), ['transformer.h.0.attn.softmax_layer_attn.beta_factor [2,1,1] decay', 'transformer.h.0.attn.softmax_layer_attn.gamma_factor [2,1,1] decay']);
  assert.deepEqual(names({ softmax_variant_attn: 'strongermax', strongermax_use_learned_obo_per_head: true, strongermax_use_learned_temperature_factor: true }).slice(0, 2),
    ['transformer.h.0.attn.softmax_layer_attn.obo_offset [2,1,1] decay', 'transformer.h.0.attn.softmax_layer_attn.temperature_factor [1] no-decay']);
  assert.deepEqual(names({ softmax_variant_attn: 'pfla_softmax', pfla_softmax_use_learned_divisor: true }).slice(0, 3),
    ['transformer.h.0.attn.softmax_layer_attn.x_vals [30] no-decay const', 'transformer.h.0.attn.softmax_layer_attn.y_vals [30] no-decay', 'transformer.h.0.attn.softmax_layer_attn._gamma_raw [] no-decay']);
});

test('generation with the KV cache computes the same attention as a full forward, for a row and an elementwise variant', () => {
  for (const over of [{ softmax_variant_attn: 'consmax_v2', consmax_initial_gamma: 3 }, { softmax_variant_attn: 'strongermax', strongermax_use_learned_obo_per_head: true, strongermax_obo: 0.5, div_by_seq_len: true }] as Partial<ModelConfig>[]) {
    const cfg = { ...tinyConfig({ n_head: 2, block_size: 6 }), ...over } as ModelConfig;
    const m = buildModel(cfg, tsBackend, { maxB: 1, maxT: 6, seed: 4, dtype: 'float64' });
    const tokens = [1, 3, 0, 5, 2], ctx = new MetricCtx(false, new Rng(1)), V = cfg.vocab_size;
    m.forward(Int32Array.from(tokens), null, 1, tokens.length, ctx);
    const full = [...m.logitsAt(new Float64Array(V), tokens.length - 1)];
    const cached = [...new Generator(m).cachedLogits(tokens, ctx)];
    cached.forEach((x, i) => near(x, full[i], 1e-9));
  }
});

test('quantization inside attention composes with a variant: strongermax at its defaults with the scores and weights quantized = quantized softmax', () => {
  const q = { quantize_attn_act_softmax_input: true, quantize_attn_act_pv_mult_p_input: true } as Partial<ModelConfig>;
  const run = (over: Partial<ModelConfig>) => {
    const cfg = { ...tinyConfig({ n_head: 2, block_size: 6 }), ...q, ...over } as ModelConfig;
    const m = buildModel(cfg, tsBackend, { maxB: 2, maxT: 6, seed: 4, dtype: 'float64' });
    const rng = new Rng(9), idx = Int32Array.from({ length: 12 }, () => Math.floor(rng.uniform() * 7));
    const ctx = new MetricCtx(true, new Rng(1));
    m.store.grad.fill(0);
    const loss = m.forward(idx, idx, 2, 6, ctx);
    m.backward(1, ctx);
    return { loss, grad: Float64Array.from(m.store.grad) };
  };
  const a = run({}), b = run({ softmax_variant_attn: 'strongermax' });
  near(b.loss, a.loss, 1e-12);
  for (let i = 0; i < a.grad.length; i++) near(b.grad[i], a.grad[i], 1e-9);
  const plain = run({ quantize_attn_act_softmax_input: false, quantize_attn_act_pv_mult_p_input: false });
  assert.ok(Math.abs(plain.loss - a.loss) > 1e-6, 'the quantizers change the loss');
});
