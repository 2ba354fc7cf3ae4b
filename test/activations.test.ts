// Activation variants: values at known points (independent formulas, or reference values computed
// once to 17 digits with mpmath at 40 digits), gradients against finite differences for x and
// every parameter, continuity of the learned curves, knot-order handling, glu, rrelu, parameter
// names and shapes, the curve helper and `normlab activations`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTIVATION_CHOICES, defaultConfig } from '../src/config/config.js';
import { activationsCommand } from '../src/cli/activations.js';
import { Rng } from '../src/engine/rng.js';
import { UserError } from '../src/util/errors.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { activationCurve, initialParams } from '../src/nn/activations/curve.js';
import { geluScalar } from '../src/nn/activations/gelu.js';
import { activations } from '../src/nn/activations/activation-registry.js';
import { MetricCtx } from '../src/nn/params.js';
import { problemsOf, type Params, type Saved, type Variant } from '../src/nn/variant.js';
import { buildParams, checkVariant } from './gradcheck.js';

const cfgWith = (o: Partial<ModelConfig> = {}): ModelConfig => ({ ...defaultConfig(), ...o });
const SMALL = cfgWith({ pla_num_points: 5, pfla_num_points: 9, lsa_num_knots: 8, shifted_gelu_initial_shift: 0.3 });

/** Forward of v on one row of values (N = 1, C = xs.length), in Float64. */
function fwd(v: Variant, cfg: ModelConfig, xs: number[], p?: Params, training = false, rng = new Rng(5)): number[] {
  const C = xs.length, params = p ?? initialParams(v, cfg), s: Saved = {};
  for (const [k, n] of Object.entries(v.saved(1, C, cfg))) s[k] = new Float64Array(n);
  const out = new Float64Array(C);
  v.forward(out, Float64Array.from(xs), params, s, 1, C, cfg, new MetricCtx(training, rng));
  return Array.from(out);
}

function close(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)), `${what}: got ${got}, want ${want}`);
}

// ---- registry --------------------------------------------------------------------------------------

test('registry: the 23 activations of the user\'s document, each named by its key, each with a curve; they are the CLI choices', () => {
  const seed = ['celu', 'elu', 'gelu', 'gelu_shifted', 'glu', 'leaky_relu', 'learned_spline', 'mish', 'piecewise', 'pfla',
    'pfla_le', 'prelu', 'relu', 'relu6', 'rrelu', 'selu', 'sigmoid', 'silu', 'softplus', 'softsign', 'squared_relu', 'tanh', 'identity'];
  for (const n of seed) assert.ok(n in activations, n);
  assert.deepEqual([...ACTIVATION_CHOICES], Object.keys(activations));
  for (const [k, v] of Object.entries(activations)) {
    assert.equal(v.name, k);
    assert.equal(typeof v.curve, 'function', `${k} has no curve`);
  }
});

// ---- values at known points ----------------------------------------------------------------------

// [x, value] computed with mpmath (mp.dps = 40), rounded to 17 significant digits.
const GELU: [number, number][] = [
  [-6, -5.9195258702261888e-9], [-3, -0.0040496940948902836], [-1, -0.15865525393145705],
  [-0.5, -0.15426876936299345], [0.25, 0.14967658142073093], [1, 0.84134474606854295],
  [2.5, 2.4844758366855597], [4, 3.9998733150326675],
];
const SOFTPLUS: [number, number][] = [
  [-30, 9.3576229688397368e-14], [-5, 0.0067153484891180686], [-1, 0.31326168751822283],
  [0, 0.69314718055994531], [1, 1.3132616875182228], [5, 5.0067153484891181], [19.5, 19.500000003398268],
  [25, 25], [100, 100],
];
const MISH: [number, number][] = [
  [-5, -0.033576237730161705], [-1, -0.30340146137410892], [-0.25, -0.12992696367914101],
  [0.5, 0.3752452113048951], [2, 1.9439589595339945], [10, 9.9999999587806704], [30, 30],
];
const SELU: [number, number][] = [
  [-3, -1.6705687287671119], [-0.5, -0.69175818780287137], [1e-3, 0.0010507009873554805], [2, 2.101401974710961], [0, 0],
];

const pts = [-800, -30, -3, -1.25, -0.5, -1e-8, 0, 1e-8, 0.5, 1.25, 3, 5.5, 6, 7, 30, 800];
const KNOWN: Record<string, { table: [number, number][]; tol: number; cfg?: ModelConfig }> = {
  gelu: { table: GELU, tol: 1e-14 },
  softplus: { table: SOFTPLUS, tol: 1e-14 },
  mish: { table: MISH, tol: 1e-14 },
  selu: { table: SELU, tol: 1e-14 },
  // gelu(x - 0.5): shifted copies of the gelu table.
  gelu_shifted: { table: GELU.map(([x, y]) => [x + 0.5, y]), tol: 1e-14, cfg: cfgWith({ shifted_gelu_initial_shift: 0.5 }) },
  relu: { table: pts.map((x) => [x, x > 0 ? x : 0]), tol: 0 },
  relu6: { table: pts.map((x) => [x, x <= 0 ? 0 : x >= 6 ? 6 : x]), tol: 0 },
  leaky_relu: { table: [[-800, -8], [-3, -0.03], [0, 0], [2, 2]], tol: 1e-15 },
  prelu: { table: [[-800, -200], [-3, -0.75], [0, 0], [2, 2]], tol: 0 },
  rrelu: { table: [[-48, -11], [-3, -3 * 11 / 48], [0, 0], [2, 2]], tol: 1e-15 }, // evaluation: a = 11/48
  squared_relu: { table: pts.map((x) => [x, x > 0 ? x * x : 0]), tol: 0 },
  softsign: { table: [[-3, -0.75], [-1, -0.5], [0, 0], [1, 0.5], [4, 0.8], [800, 800 / 801]], tol: 1e-15 },
  identity: { table: pts.map((x) => [x, x]), tol: 0 },
  // exp(x) - 1 written out; relative tolerance since expm1 is the more accurate of the two.
  elu: { table: pts.map((x) => [x, x > 0 ? x : Math.exp(x) - 1]), tol: 1e-12 },
  celu: { table: pts.map((x) => [x, Math.max(0, x) + Math.min(0, Math.exp(x) - 1)]), tol: 1e-12 },
  sigmoid: {
    table: [[-800, 0], [-3, 1 / (1 + Math.exp(3))], [0, 0.5], [0.5, 1 / (1 + Math.exp(-0.5))], [800, 1]], tol: 1e-15,
  },
  silu: { table: [[-800, 0], [-3, -3 / (1 + Math.exp(3))], [0, 0], [2, 2 / (1 + Math.exp(-2))], [800, 800]], tol: 1e-15 },
  tanh: {
    table: [[-800, -1], [-1, (Math.exp(-2) - 1) / (Math.exp(-2) + 1)], [0, 0], [0.5, (Math.exp(1) - 1) / (Math.exp(1) + 1)], [800, 1]],
    tol: 1e-15,
  },
};

for (const [name, { table, tol, cfg }] of Object.entries(KNOWN)) {
  test(`values: ${name} at known points (forward and curve)`, () => {
    const c = cfg ?? cfgWith(), v = activations[name], p = initialParams(v, c);
    const got = fwd(v, c, table.map(([x]) => x), p);
    table.forEach(([x, y], i) => {
      close(got[i], y, tol, `${name}(${x}) forward`);
      close(v.curve!(x, p, c), y, tol, `${name}(${x}) curve`);
    });
  });
}

// Values computed outside normlab, with Python's math.erf: 0.5 x (1 + erf(x / sqrt(2))). Unlike a
// symmetry check (gelu(x) - gelu(-x) = x holds for any odd erf), a wrong erf fails here.
const GELU_PYTHON: [number, number][] = [
  [0.3, 0.18537342665668577], [1.7, 1.6242387133104768], [3.2, 3.1978011585986694], [-2.5, -0.015524163314440398],
  [-0.7, -0.1693745565561511], [-4.5, -1.5289529061324192e-05], [0.05, 0.025996940291918624], [6.5, 6.49999999973896],
];

test('values: gelu against Python math.erf at asymmetric points (relative 1e-14)', () => {
  for (const [x, y] of GELU_PYTHON) {
    const got = geluScalar(x);
    assert.ok(Math.abs(got - y) <= 1e-14 * Math.abs(y), `gelu(${x}) = ${got}, Python ${y}`);
  }
});

test('values: piecewise at its initial knots (linspace(-2, 2, 9) interior, y = gelu)', () => {
  const c = cfgWith(), v = activations.piecewise, p = initialParams(v, c);
  assert.deepEqual(Array.from(p.x_vals), [-1.5, -1, -0.5, 0, 0.5, 1, 1.5]);
  const g = (x: number) => GELU.find(([t]) => t === x)?.[1] ?? (x === 0.5 ? 0.5 + GELU[3][1] : NaN);
  const cases: [number, number][] = [
    [-5, 0], [-1.6, 0], [-1, g(-1)], [-0.5, g(-0.5)], [0, 0], [0.5, g(0.5)], [1, g(1)],
    [0.75, (g(0.5) + g(1)) / 2], [-0.75, (g(-1) + g(-0.5)) / 2],
    [1.75, (geluScalar(1.5) + 2) / 2], // halfway along the last segment, from (1.5, gelu(1.5)) to (2, 2)
    [2, 2], [3.5, 3.5],
  ];
  const got = fwd(v, c, cases.map(([x]) => x), p);
  cases.forEach(([x, y], i) => close(got[i], y, 1e-15, `piecewise(${x})`));
});

test('values: pfla and pfla_le at their initial knots', () => {
  const c = cfgWith(), n = 50, step = 20 / 51;
  for (const name of ['pfla', 'pfla_le']) {
    const v = activations[name], p = initialParams(v, c);
    assert.equal(p.x_vals.length, n);
    for (let i = 0; i < n; i++) {
      close(p.x_vals[i], Math.fround(-10 + step * (i + 1)), 1e-15, `${name} x_vals[${i}]`);
      assert.equal(p.y_vals[i], geluScalar(p.x_vals[i]));
    }
    const xs = [-12, p.x_vals[0], p.x_vals[20], p.x_vals[49], 10, 12];
    const got = fwd(v, c, xs, p);
    close(got[1], p.y_vals[0], 1e-15, `${name} at the first knot`);
    close(got[2], p.y_vals[20], 1e-15, `${name} at knot 20`);
    close(got[3], p.y_vals[49], 1e-15, `${name} at the last knot`);
    if (name === 'pfla') {
      assert.deepEqual([got[0], got[4], got[5]], [0, 10, 12]);
    } else {
      close(got[0], p.y_vals[0], 0, 'left end'); // learned left end: the constant y_vals[0]
      const s = (p.y_vals[49] - p.y_vals[48]) / (p.x_vals[49] - p.x_vals[48]);
      close(got[5], p.y_vals[49] + s * (12 - p.x_vals[49]), 1e-14, 'pfla_le right extension');
    }
  }
});

test('values: learned_spline at init passes through (linspace(-5, 5, n), gelu)', () => {
  const c = cfgWith(), v = activations.learned_spline, p = initialParams(v, c);
  assert.equal(p.x_vals.length, 30);
  close(p.x_vals[0], -5, 0, 'x_vals[0]');
  close(p.x_vals[29], 5, 0, 'x_vals[29]');
  const got = fwd(v, c, Array.from(p.x_vals), p);
  for (let k = 0; k < 30; k++) close(got[k], geluScalar(p.x_vals[k]), 1e-13, `spline at knot ${k}`);
  // Between knots it is close to gelu (spacing 10/29): a sanity check of the interpolant.
  for (const x of [-2.2, -0.1, 0.6, 3.3]) close(fwd(v, c, [x], p)[0], geluScalar(x), 2e-3, `spline(${x}) ~ gelu`);
});

// ---- gradients vs finite differences --------------------------------------------------------------

/** Where each variant's derivative (in x or in a parameter) jumps, and a range that covers its regions. */
function inputSpec(name: string, cfg: ModelConfig): { lo: number; hi: number; kinks: (p: Params) => number[] } {
  switch (name) {
    case 'relu': case 'leaky_relu': case 'prelu': case 'rrelu': case 'squared_relu': case 'selu': case 'elu': case 'celu':
      return { lo: -4, hi: 4, kinks: () => [0] };
    case 'relu6': return { lo: -2, hi: 8, kinks: () => [0, 6] };
    case 'softplus': case 'mish': return { lo: -25, hi: 25, kinks: () => [20] };
    case 'piecewise': return { lo: cfg.pla_left_bound - 1, hi: cfg.pla_right_bound + 1, kinks: (p) => [...p.x_vals, cfg.pla_right_bound] };
    case 'pfla': return { lo: cfg.pfla_left_bound - 1, hi: cfg.pfla_right_bound + 1, kinks: (p) => [...p.x_vals, cfg.pfla_right_bound] };
    case 'pfla_le': return { lo: cfg.pfla_left_bound - 1, hi: cfg.pfla_right_bound + 1, kinks: (p) => [...p.x_vals] };
    case 'learned_spline': return { lo: -7, hi: 7, kinks: (p) => [...p.x_vals] };
    default: return { lo: -4, hi: 4, kinks: () => [] };
  }
}

const GAP = 1e-3; // >> 2h (h = 1e-5): no difference quotient straddles a kink

/** checkVariant with inputs drawn uniformly over the variant's range, GAP away from its kinks (the
 * kinks of the perturbed parameters that checkVariant will build: rebuilt here from the same seed). */
function gradcheck(v: Variant, cfg: ModelConfig, opts: { training?: boolean; seed?: number; perturb?: boolean; N?: number; C?: number } = {}) {
  const seed = opts.seed ?? 1, C = opts.C ?? 8, spec = inputSpec(v.name, cfg);
  const { p } = buildParams(v, C, cfg, new Rng(seed), opts.perturb ?? true);
  const kinks = spec.kinks(p);
  const input = (rng: Rng) => {
    for (;;) {
      const x = spec.lo + (spec.hi - spec.lo) * rng.uniform();
      if (kinks.every((k) => Math.abs(x - k) > GAP)) return x;
    }
  };
  return checkVariant(v, cfg, { ...opts, C, input });
}

const GRAD_CONFIGS: [string, ModelConfig][] = [
  ['default flags', cfgWith()],
  ['small (pla 5, pfla 9, lsa 8, shift 0.3)', SMALL],
];
for (const [name, v] of Object.entries(activations)) {
  for (const [label, cfg] of GRAD_CONFIGS) {
    test(`gradcheck: ${name}, ${label}`, () => {
      for (const training of name === 'rrelu' ? [true, false] : [true]) {
        for (const seed of [1, 2]) {
          const r = gradcheck(v, cfg, { training, seed });
          assert.ok(r.maxErr < 1e-6, `${name} (training ${training}, seed ${seed}): ${r.maxErr} at ${r.worst}`);
        }
      }
    });
  }
}

test('gradcheck: gelu_shifted with a constant shift still reports d/dshift', () => {
  const c = cfgWith({ shifted_gelu_learnable_shift: false, shifted_gelu_initial_shift: -0.7 });
  const r = gradcheck(activations.gelu_shifted, c);
  assert.ok(r.maxErr < 1e-6, r.worst);
});

test('gradcheck: learned_spline with many rows and non-uniform knots (the adjoint of the solve)', () => {
  const c = cfgWith({ lsa_num_knots: 12 });
  for (const seed of [3, 4, 5]) {
    const r = gradcheck(activations.learned_spline, c, { seed, N: 6, C: 10 });
    assert.ok(r.maxErr < 1e-6, `seed ${seed}: ${r.worst}`);
  }
});

// ---- continuity -----------------------------------------------------------------------------------

function perturbedParams(v: Variant, cfg: ModelConfig, seed: number): Params {
  return buildParams(v, 1, cfg, new Rng(seed), true).p;
}

test('continuity: piecewise / pfla / pfla_le are continuous at every knot (and pwl at R), y(x_k) = y_k', () => {
  for (const name of ['piecewise', 'pfla', 'pfla_le']) {
    const v = activations[name], c = SMALL, p = perturbedParams(v, c, 7);
    const xv = Array.from(p.x_vals), n = xv.length, le = name === 'pfla_le';
    for (let k = 1; k < n; k++) assert.ok(xv[k] > xv[k - 1], 'this seed keeps the knots ordered');
    const R = name === 'piecewise' ? c.pla_right_bound : c.pfla_right_bound;
    const e = 1e-9, at = (x: number) => v.curve!(x, p, c);
    for (let k = le ? 0 : 1; k < n; k++) {
      close(at(xv[k]), p.y_vals[k], 1e-12, `${name} at knot ${k}`);
      assert.ok(Math.abs(at(xv[k] - e) - at(xv[k] + e)) < 1e-7, `${name} jumps at knot ${k}`);
    }
    if (!le) {
      assert.ok(Math.abs(at(R - e) - R) < 1e-7, `${name} jumps at R`);
      assert.equal(at(R), R);
      assert.equal(at(xv[0] - e), 0); // the spec's left rule: 0 (a jump to y_vals[0] at x_vals[0])
    } else {
      assert.equal(at(xv[0] - 5), p.y_vals[0]);
    }
  }
});

test('continuity: learned_spline passes through every knot, is C1 and C2 at interior knots, S" = 0 at the ends', () => {
  for (const seed of [7, 8]) {
    const v = activations.learned_spline, c = SMALL, p = perturbedParams(v, c, seed);
    const xv = Array.from(p.x_vals), n = xv.length, S = (x: number) => v.curve!(x, p, c);
    for (let k = 1; k < n; k++) assert.ok(xv[k] - xv[k - 1] > 0.1, 'ordered, well separated knots');
    // One-sided stencils that are exact for cubics (each side of a knot is one cubic).
    const e = 1e-2;
    const d1 = (x: number, s: 1 | -1) => s * (-11 * S(x) + 18 * S(x + s * e) - 9 * S(x + 2 * s * e) + 2 * S(x + 3 * s * e)) / (6 * e);
    const d2 = (x: number, s: 1 | -1) => (2 * S(x) - 5 * S(x + s * e) + 4 * S(x + 2 * s * e) - S(x + 3 * s * e)) / (e * e);
    for (let k = 0; k < n; k++) close(S(xv[k]), p.y_vals[k], 1e-12, `through knot ${k}`);
    for (let k = 1; k < n - 1; k++) {
      close(d1(xv[k], -1), d1(xv[k], 1), 1e-8, `S' at knot ${k}`);
      close(d2(xv[k], -1), d2(xv[k], 1), 1e-6, `S" at knot ${k}`);
    }
    close(d2(xv[0], 1), 0, 1e-6, 'S" at the left end');
    close(d2(xv[n - 1], -1), 0, 1e-6, 'S" at the right end');
  }
});

// ---- knot order -----------------------------------------------------------------------------------

/** The reference's forward for piecewise/pfla and pfla_le, written as its chain of torch.where. */
function referencePwl(x: number, xv: number[], yv: number[], R: number, le: boolean): number {
  const n = xv.length;
  const line = (a: number, b: number, ya: number, yb: number) => {
    const s = (yb - ya) / (b - a);
    return s * x + (ya - s * a);
  };
  let r = le ? yv[0] : 0;
  for (let i = 0; i < n - 1; i++) if (x >= xv[i] && x < xv[i + 1]) r = line(xv[i], xv[i + 1], yv[i], yv[i + 1]);
  if (le) {
    if (x >= xv[n - 1]) r = line(xv[n - 2], xv[n - 1], yv[n - 2], yv[n - 1]);
  } else {
    if (x >= xv[n - 1] && x < R) r = line(xv[n - 1], R, yv[n - 1], R);
    if (x >= R) r = x;
  }
  return r;
}

/** v with its initial parameters replaced (checkVariant then perturbs nothing: perturb false). */
function withInit(v: Variant, values: Record<string, number[]>): Variant {
  return {
    ...v,
    params: (C, a) => {
      const ps = v.params(C, a);
      for (const [k, vals] of Object.entries(values)) ps[k] = { ...ps[k], init: { values: vals } };
      return ps;
    },
  };
}

test('knot order: piecewise / pfla_le with unordered and duplicate knots follow the reference, no NaN', () => {
  const c = cfgWith(); // piecewise: 7 points, R = 2; pfla_le uses pfla flags but only n matters here
  const xv = [-1.5, -0.5, -1.0, 0.3, 0.3, 1.2, 0.9], yv = [0.1, -0.2, 0.4, 0.05, 0.7, 1.1, 0.6];
  const cle = cfgWith({ pfla_num_points: 7 });
  for (const [name, cc, le] of [['piecewise', c, false], ['pfla_le', cle, true]] as const) {
    const v = activations[name], p: Params = { x_vals: Float64Array.from(xv), y_vals: Float64Array.from(yv) };
    const xs = Array.from({ length: 601 }, (_, i) => -3 + i * 0.01);
    const got = fwd(v, cc, xs, p);
    xs.forEach((x, i) => close(got[i], referencePwl(x, xv, yv, 2, le), 1e-12, `${name}(${x})`));
    const r = checkVariant(withInit(v, { x_vals: xv, y_vals: yv }), cc, {
      perturb: false, C: 16,
      input: (rng) => { for (;;) { const x = -3 + 6 * rng.uniform(); if ([...xv, 2].every((k) => Math.abs(x - k) > GAP)) return x; } },
    });
    assert.ok(r.maxErr < 1e-6, `${name}: ${r.worst}`);
  }
});

test('knot order: pfla_le with its last two knots equal has a flat right end y_vals[n-1], finite gradients', () => {
  const c = cfgWith({ pfla_num_points: 4 }), v = activations.pfla_le;
  const p: Params = { x_vals: Float64Array.from([-1, 0, 1, 1]), y_vals: Float64Array.from([0.5, 0, 1, 2]) };
  assert.deepEqual(fwd(v, c, [1, 3, 50], p), [2, 2, 2]);
  const dp: Params = { x_vals: new Float64Array(4), y_vals: new Float64Array(4) }, dx = new Float64Array(3);
  const s = { slope: new Float64Array(4) };
  const x = Float64Array.from([1, 3, -0.5]), out = new Float64Array(3), ctx = new MetricCtx(true, new Rng(1));
  v.forward(out, x, p, s, 1, 3, c, ctx);
  v.backward(dx, dp, Float64Array.from([1, 1, 1]), x, p, s, 1, 3, c, ctx);
  for (const a of [dx, dp.x_vals, dp.y_vals]) assert.ok(a.every(Number.isFinite));
  assert.equal(dp.y_vals[3], 2); // the two right-end elements
});

test('knot order: learned_spline sorts unordered knots (with their y values) and stays differentiable', () => {
  const c = cfgWith({ lsa_num_knots: 6 }), v = activations.learned_spline;
  const xv = [0.5, -2, 3, -0.7, 1.6, -4], yv = [0.3, -0.1, 2.9, -0.2, 1.4, 0.05];
  const order = xv.map((_, i) => i).sort((a, b) => xv[a] - xv[b]);
  const sorted: Params = { x_vals: Float64Array.from(order.map((i) => xv[i])), y_vals: Float64Array.from(order.map((i) => yv[i])) };
  const p: Params = { x_vals: Float64Array.from(xv), y_vals: Float64Array.from(yv) };
  for (let x = -6; x <= 6; x += 0.37) close(v.curve!(x, p, c), v.curve!(x, sorted, c), 1e-13, `spline(${x})`);
  const r = checkVariant(withInit(v, { x_vals: xv, y_vals: yv }), c, {
    perturb: false, C: 16,
    input: (rng) => { for (;;) { const x = -6 + 12 * rng.uniform(); if (xv.every((k) => Math.abs(x - k) > GAP)) return x; } },
  });
  assert.ok(r.maxErr < 1e-6, r.worst);
});

test('knot order: learned_spline knots closer than 1e-4 are pushed 1e-4 apart: finite, gradient-checked', () => {
  const c = cfgWith({ lsa_num_knots: 5 }), v = activations.learned_spline;
  // Knot 2 sits 5e-5 right of knot 1: it is placed at 1e-4 (and stays there under +-h).
  const xv = [-2, 0, 5e-5, 1, 3], yv = [0.1, 0.2, 0.25, 0.9, 2.8];
  const p: Params = { x_vals: Float64Array.from(xv), y_vals: Float64Array.from(yv) };
  for (let x = -4; x <= 4; x += 0.01) assert.ok(Number.isFinite(v.curve!(x, p, c)));
  close(v.curve!(0, p, c), 0.2, 1e-12, 'the first of the pair keeps its place');
  close(v.curve!(1e-4, p, c), 0.25, 1e-12, 'the second sits 1e-4 to its right');
  const r = checkVariant(withInit(v, { x_vals: xv, y_vals: yv }), c, {
    perturb: false, C: 16,
    input: (rng) => { for (;;) { const x = -4 + 8 * rng.uniform(); if ([...xv, 1e-4].every((k) => Math.abs(x - k) > GAP)) return x; } },
  });
  assert.ok(r.maxErr < 1e-6, r.worst);
});

test('knot order: learned_spline with exactly coinciding knots stays finite (forward and backward)', () => {
  // At an exact tie the curve is discontinuous in those two x_vals (which y comes first flips under
  // any perturbation), so only finiteness is checked here.
  const c = cfgWith({ lsa_num_knots: 5 }), v = activations.learned_spline, n = 5;
  const p: Params = { x_vals: Float64Array.from([-2, 0, 0, 1, 0]), y_vals: Float64Array.from([0.1, 0.2, 0.25, 0.9, 2.8]) };
  const N = 1, C = 801, x = Float64Array.from({ length: C }, (_, i) => -4 + i * 0.01);
  const s: Saved = {};
  for (const [k, m] of Object.entries(v.saved(N, C, c))) s[k] = new Float64Array(m);
  const out = new Float64Array(C), dx = new Float64Array(C), ctx = new MetricCtx(true, new Rng(1));
  const dp: Params = { x_vals: new Float64Array(n), y_vals: new Float64Array(n) };
  v.forward(out, x, p, s, N, C, c, ctx);
  v.backward(dx, dp, new Float64Array(C).fill(1), x, p, s, N, C, c, ctx);
  for (const a of [out, dx, dp.x_vals, dp.y_vals]) assert.ok(a.every(Number.isFinite));
});

// ---- glu, rrelu ----------------------------------------------------------------------------------

test('glu: gated, reads (N, 2C) = [a | b] per row, writes (N, C) = a * sigmoid(b), dx is (N, 2C)', () => {
  const v = activations.glu, c = cfgWith(), N = 2, C = 3;
  assert.equal(v.gated, true);
  assert.deepEqual(v.params(C, c), {});
  const x = Float64Array.from([1, -2, 3, 0, 1, -1, /* row 2 */ 0.5, 4, -1, 2, -3, 0.25]);
  const out = new Float64Array(N * C), ctx = new MetricCtx(true, new Rng(1));
  v.forward(out, x, {}, {}, N, C, c, ctx);
  const sg = (t: number) => 1 / (1 + Math.exp(-t));
  const want = [1 * sg(0), -2 * sg(1), 3 * sg(-1), 0.5 * sg(2), 4 * sg(-3), -1 * sg(0.25)];
  want.forEach((w, i) => close(out[i], w, 1e-15, `glu out[${i}]`));
  const dx = new Float64Array(N * 2 * C);
  v.backward(dx, {}, new Float64Array(N * C).fill(1), x, {}, {}, N, C, c, ctx);
  close(dx[0], sg(0), 1e-15, 'd/da');
  close(dx[3], 1 * sg(0) * (1 - sg(0)), 1e-15, 'd/db');
});

test('rrelu: training draws a ~ U(1/8, 1/3) per element per call from ctx.rng; evaluation uses 11/48', () => {
  const v = activations.rrelu, c = cfgWith(), N = 4, C = 50;
  const x = new Float64Array(N * C).fill(-1);
  for (let i = 0; i < N * C; i += 7) x[i] = 2; // positive entries pass unchanged
  const run = (training: boolean, rng: Rng) => {
    const out = new Float64Array(N * C), s = { slope: new Float64Array(N * C) };
    v.forward(out, x, {}, s, N, C, c, new MetricCtx(training, rng));
    const dx = new Float64Array(N * C);
    v.backward(dx, {}, new Float64Array(N * C).fill(1), x, {}, s, N, C, c, new MetricCtx(training, rng));
    return { out, dx };
  };
  const ev = run(false, new Rng(3));
  for (let i = 0; i < N * C; i++) {
    assert.equal(ev.out[i], x[i] > 0 ? 2 : -11 / 48);
    assert.equal(ev.dx[i], x[i] > 0 ? 1 : 11 / 48);
  }
  const rng = new Rng(3), a = run(true, rng), b = run(true, rng), a2 = run(true, new Rng(3));
  const slopes = Array.from(a.out).filter((_, i) => x[i] < 0).map((o) => -o);
  assert.ok(slopes.every((s) => s >= 1 / 8 && s < 1 / 3));
  assert.ok(new Set(slopes).size > slopes.length * 0.9, 'slopes differ per element');
  const mean = slopes.reduce((t, s) => t + s, 0) / slopes.length;
  assert.ok(Math.abs(mean - 11 / 48) < 0.02, `mean slope ${mean}`);
  for (let i = 0; i < N * C; i++) {
    if (x[i] > 0) assert.equal(a.out[i], 2);
    else assert.equal(a.dx[i], -a.out[i]); // backward uses the drawn slope
  }
  assert.deepEqual(a.out, a2.out, 'same seed, same draws');
  assert.notDeepEqual(a.out, b.out, 'a new call draws new slopes');
});

// ---- parameters, checks ---------------------------------------------------------------------------

test('parameters: names, shapes and learned flags per docs/variants.md', () => {
  const c = cfgWith({ pla_num_points: 6, pfla_num_points: 11, lsa_num_knots: 9 });
  const want: Record<string, Record<string, number[]>> = {
    gelu_shifted: { shift: [] },
    prelu: { 'activation.weight': [1] },
    piecewise: { x_vals: [6], y_vals: [6] },
    pfla: { x_vals: [11], y_vals: [11] },
    pfla_le: { x_vals: [11], y_vals: [11] },
    learned_spline: { x_vals: [9], y_vals: [9] },
  };
  for (const [name, v] of Object.entries(activations)) {
    const ps = v.params(64, c);
    const shapes = Object.fromEntries(Object.entries(ps).map(([k, s]) => [k, s.shape]));
    assert.deepEqual(shapes, want[name] ?? {}, name);
    for (const s of Object.values(ps)) if (name !== 'gelu_shifted') assert.notEqual(s.learned, false, name);
  }
  assert.deepEqual(activations.prelu.params(8, c)['activation.weight'].init, { fill: 0.25 });
  const learnedShift = activations.gelu_shifted.params(8, cfgWith()).shift;
  const constShift = activations.gelu_shifted.params(8, cfgWith({ shifted_gelu_learnable_shift: false })).shift;
  assert.equal(learnedShift.learned, true);
  assert.equal(constShift.learned, false);
  assert.notEqual(constShift.persistent, false, 'a constant shift is still in the checkpoint');
});

test('problemsOf: refuses impossible knot counts and bounds (flag checks and the variant check)', () => {
  const first = (v: Variant<any>, c: ModelConfig) => problemsOf(v, c).errors[0] ?? null;
  assert.match(first(activations.piecewise, cfgWith({ pla_num_points: 0 }))!, /--pla_num_points/);
  assert.match(first(activations.pfla, cfgWith({ pfla_left_bound: 3, pfla_right_bound: 3 }))!, /--pfla_left_bound/);
  assert.match(first(activations.pfla_le, cfgWith({ pfla_num_points: 1 }))!, />= 2/);
  assert.equal(first(activations.pfla, cfgWith({ pfla_num_points: 1 })), null);
  assert.match(first(activations.learned_spline, cfgWith({ lsa_num_knots: 1 }))!, /--lsa_num_knots/);
  for (const v of Object.values(activations)) assert.equal(first(v, cfgWith()), null, v.name);
});

// ---- curve helper and CLI --------------------------------------------------------------------------

test('activationCurve: initial parameters by default, equal to forward, errors are UserErrors', () => {
  const xs = [-6, -2.5, -0.3, 0.4, 1.9, 7];
  for (const [name, v] of Object.entries(activations)) {
    if (v.gated) continue;
    const c = SMALL;
    const curve = activationCurve(name, c, undefined, xs);
    assert.deepEqual(curve, fwd(v, c, xs), name);
  }
  assert.deepEqual(activationCurve('glu', SMALL, undefined, [0]), [0.5]);
  const p = { 'activation.weight': Float64Array.from([0.5]) };
  assert.deepEqual(activationCurve('prelu', SMALL, p, [-2, 2]), [-1, 2]);
  assert.throws(() => activationCurve('nope', SMALL, undefined, [0]), UserError);
  assert.throws(() => activationCurve('prelu', SMALL, {}, [0]), UserError);
  assert.throws(() => activationCurve('learned_spline', cfgWith({ lsa_num_knots: 1 }), undefined, [0]), UserError);
});

/** A minimal safetensors writer for the test (F32 tensors, string metadata). */
function writeSafetensors(path: string, tensors: Record<string, { shape: number[]; data: number[] }>, metadata: Record<string, string>): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  const blobs: Buffer[] = [];
  for (const [k, t] of Object.entries(tensors)) {
    const b = Buffer.from(Float32Array.from(t.data).buffer);
    header[k] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + b.length] };
    blobs.push(b); off += b.length;
  }
  let json = JSON.stringify(header);
  while (json.length % 8) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), ...blobs]));
}

async function quiet<T>(f: () => Promise<T>): Promise<T> {
  const log = console.log, write = process.stdout.write;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try { return await f(); } finally { console.log = log; process.stdout.write = write; }
}

test('normlab activations: CSV of the initial curve, and of the learned one from a checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-act-'));
  const csv = join(dir, 'a.csv');
  assert.equal(await quiet(() => activationsCommand(['--activation_variant', 'pfla', '--pfla_num_points=10', '--xmin', '-12', '--xmax', '12', '--points', '5', '--csv', csv])), 0);
  const rows = readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(rows[0], 'x,initial');
  const init10 = activationCurve('pfla', cfgWith({ pfla_num_points: 10 }), undefined, [-12, -6, 0, 6, 12]);
  assert.deepEqual(init10.slice(0, 1).concat(init10.slice(4)), [0, 12]);
  assert.deepEqual(rows.slice(1).map((r) => r.split(',').map(Number)), [-12, -6, 0, 6, 12].map((x, i) => [x, Number(init10[i].toPrecision(12))]));

  // A checkpoint of a 2-layer model with learned_spline, 5 knots; layer 1's knots are moved.
  const config = { ...cfgWith({ activation_variant: 'learned_spline', lsa_num_knots: 5, n_layer: 2 }) };
  const xv = [-4, -1.5, 0.2, 2.5, 5], yv = [0, -0.3, 0.4, 2.2, 5.1];
  const ck = join(dir, 'ckpt.safetensors');
  writeSafetensors(ck, {
    'transformer.h.0.mlp.activation_variant.x_vals': { shape: [5], data: [-5, -2.5, 0, 2.5, 5] },
    'transformer.h.0.mlp.activation_variant.y_vals': { shape: [5], data: [0, 0, 0, 2.5, 5] },
    'transformer.h.1.mlp.activation_variant.x_vals': { shape: [5], data: xv },
    'transformer.h.1.mlp.activation_variant.y_vals': { shape: [5], data: yv },
  }, { config: JSON.stringify(config) });
  const csv2 = join(dir, 'b.csv');
  await quiet(() => activationsCommand(['--checkpoint', ck, '--layer', '1', '--points', '11', '--csv', csv2]));
  const rows2 = readFileSync(csv2, 'utf8').trim().split('\n');
  assert.equal(rows2[0], 'x,initial,learned');
  const learned = activationCurve('learned_spline', config, { x_vals: Float64Array.from(xv), y_vals: Float64Array.from(yv) }, [-5, -4, 0.2]);
  const initial = activationCurve('learned_spline', config, undefined, [-5]);
  close(Number(rows2[1].split(',')[1]), initial[0], 1e-11, 'initial at -5');
  close(Number(rows2[1].split(',')[2]), learned[0], 1e-6, 'learned at -5');
  close(Number(rows2[2].split(',')[2]), learned[1], 1e-6, 'learned at -4 (a knot)');
  close(learned[1], 0, 1e-6, 'through the knot');

  // User errors: a typo, a wrong layer, a flag that contradicts the checkpoint, a bad range.
  await assert.rejects(activationsCommand(['--activaton_variant', 'pfla']), (e: Error) => e instanceof UserError && /did you mean --activation_variant/.test(e.message));
  await assert.rejects(activationsCommand(['--checkpoint', ck, '--layer', '2']), (e: Error) => e instanceof UserError && /out of range/.test(e.message));
  await assert.rejects(activationsCommand(['--checkpoint', ck, '--lsa_num_knots', '7']), (e: Error) => e instanceof UserError && /disagrees/.test(e.message));
  await assert.rejects(activationsCommand(['--xmin', '3', '--xmax', '1']), UserError);
  await assert.rejects(activationsCommand(['--activation_variant', 'swish']), (e: Error) => e instanceof UserError && /--activation_variant/.test(e.message));
  assert.equal(await quiet(() => activationsCommand(['--help'])), 0);
});

// ---- float32 (the training dtype) ------------------------------------------------------------------

test('float32: every variant runs on Float32Array buffers (saved included) and agrees with float64', () => {
  const N = 4, C = 16;
  for (const [name, v] of Object.entries(activations)) {
    const cfg = SMALL, Cin = v.gated ? 2 * C : C, rng = new Rng(11);
    // |x| mostly < 6: far outside the knots the extended end cubics amplify the float32 rounding of
    // the parameters themselves (an ill-conditioned extrapolation, not a float32 defect of the code).
    const x64 = Float64Array.from({ length: N * Cin }, () => Math.fround(2 * rng.normal()));
    const dout64 = Float64Array.from({ length: N * C }, () => Math.fround(rng.normal()));
    const run = <T extends Float32Array | Float64Array>(mk: (n: number) => T) => {
      const p: Params = {}, dp: Params = {}, s: Saved = {};
      for (const [k, a] of Object.entries(initialParams(v, cfg))) { p[k] = mk(a.length); p[k].set(a); dp[k] = mk(a.length); }
      for (const [k, m] of Object.entries(v.saved(N, C, cfg))) s[k] = mk(m);
      const x = mk(N * Cin), dout = mk(N * C), out = mk(N * C), dx = mk(N * Cin);
      x.set(x64); dout.set(dout64);
      v.forward(out, x, p, s, N, C, cfg, new MetricCtx(false, new Rng(1)));
      v.backward(dx, dp, dout, x, p, s, N, C, cfg, new MetricCtx(false, new Rng(1)));
      return [out, dx, ...Object.values(dp)];
    };
    const a = run((n) => new Float32Array(n)), b = run((n) => new Float64Array(n));
    a.forEach((arr, j) => arr.forEach((val, i) => {
      assert.ok(Number.isFinite(val), `${name}: non-finite in output ${j}`);
      const ref = b[j][i], scale = j < 2 ? Math.max(1, Math.abs(ref)) : Math.max(1, ...Array.from(b[j], Math.abs));
      assert.ok(Math.abs(val - ref) <= 1e-5 * scale, `${name}: output ${j}[${i}] f32 ${val} vs f64 ${ref}`);
    }));
  }
});
