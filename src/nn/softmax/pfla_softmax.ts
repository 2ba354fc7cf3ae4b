// pfla_softmax (the framework's PFLASoftmax): a learned piecewise-linear curve of the score, then a
// normalization (docs/softmax.md, "pfla_softmax").
//   Knots x_vals [n] (float32, as torch.linspace): linear density: the n interior points of
//   linspace(L, R, n + 2); quad / exp: u = the interior points of linspace(-1, 1, n + 2),
//   x = sign(u) u^2 or sign(u) (e^|u| - 1) / (e - 1), times M = max(|L|, R).
//   y_vals [n] = sqrt(max(act(x), 1e-6)), act = --pfla_softmax_init_activation (an activation of
//   this lab, built with its own flags, evaluation mode; glu refused: defect 12).
//   x_vals is learned with --pfla_softmax_learn_x, y_vals with --pfla_softmax_learn_y (default);
//   both are in the state dict either way (a constant is stored, never updated).
//   L(Y, x): linear interpolation of knot values Y on segment j = clamp(#{knots < x} - 1, 0, n - 2),
//   L = Y_j + (Y_{j+1} - Y_j) / max(x_{j+1} - x_j, 1e-6) (x - x_j); the end segments extend
//   linearly. CORRECTED (defect 5: the framework takes the next segment). Learned knots are used in
//   ascending order.
//   y_pos = L(y_vals^2, S) (linear mode) or S L(y_vals, S)^2 (quadratic mode).
//   Learned divisor: P = y_pos / (relu(_gamma_raw) + 1e-6) (elementwise); otherwise
//   P = y_pos / (Σ_row y_pos + 1e-6 [+ exp(obo)]), the bracket with --pfla_softmax_use_obo,
//   obo = `_obo_raw` [] (learned) or --pfla_softmax_obo (CORRECTED, defect 4: the framework crashes).
// Gradients: with t = (x - x_j) / w, s = (Y_{j+1} - Y_j) / w: dL/dx = s, dL/dY_j = 1 - t,
// dL/dY_{j+1} = t, dL/dx_j = s (t - 1), dL/dx_{j+1} = -s t (w > 1e-6; else -s and 0).
import type { F } from '../../engine/types.js';
import { UserError } from '../../util/errors.js';
import type { ConfigOf, Params, VariantConfig, VariantFlag } from '../variant.js';
import type { Grads, SoftmaxVariant } from './score.js';
import { finiteFlag, rowDot, SCORE_KIND } from './score.js';
import { activations, type ActivationRegistry } from '../activations/activation-registry.js';
import { initialParams } from '../activations/curve.js';

const ACT_CHOICES = Object.keys(activations).filter((k) => k !== 'glu') as (keyof ActivationRegistry)[];

const FLAGS = [
  { name: 'pfla_softmax_num_points', type: 'int', default: 30, help: 'pfla_softmax: number of knots n (>= 2)', check: (v, _c, name) => (typeof v === 'number' && !(v >= 2) ? `--${name} is ${v}; it must be >= 2 (a segment needs two knots)` : null) },
  { name: 'pfla_softmax_left_bound', type: 'float', default: -10.0, help: 'pfla_softmax: left bound L', check: finiteFlag() },
  { name: 'pfla_softmax_right_bound', type: 'float', default: 10.0, help: 'pfla_softmax: right bound R', check: finiteFlag() },
  { name: 'pfla_softmax_learn_x', type: 'bool', default: false, help: 'pfla_softmax: learn the knot positions' },
  { name: 'pfla_softmax_learn_y', type: 'bool', default: true, help: 'pfla_softmax: learn the knot values (sqrt y)' },
  {
    name: 'pfla_softmax_init_activation', type: 'str', default: 'gelu', choices: Object.keys(activations) as (keyof ActivationRegistry)[],
    help: 'pfla_softmax: activation whose sqrt initializes the knot values (any but glu)',
    check: (v, _c, name) => (v === 'glu' ? `--${name} glu is refused: glu halves its input and has no value at one point (the framework fails on it); choose one of ${ACT_CHOICES.join(', ')}` : null),
  },
  { name: 'pfla_softmax_density', type: 'str', default: 'linear', choices: ['linear', 'quad', 'exp'], help: 'pfla_softmax: how the knots are spread' },
  { name: 'pfla_softmax_use_learned_divisor', type: 'bool', default: false, help: 'pfla_softmax: divide by a learned relu(γ) + 1e-6 instead of the row sum (elementwise)' },
  { name: 'pfla_softmax_gamma_init', type: 'float', default: 1.0, help: 'pfla_softmax: initial γ of the learned divisor', check: finiteFlag() },
  { name: 'pfla_softmax_use_obo', type: 'bool', default: false, help: 'pfla_softmax: add exp(obo) to the row sum' },
  { name: 'pfla_softmax_use_learned_obo', type: 'bool', default: false, help: 'pfla_softmax: learn obo (needs --pfla_softmax_use_obo)' },
  { name: 'pfla_softmax_obo', type: 'float', default: 0.0, help: 'pfla_softmax: obo (log of the addend: 0 adds 1)', check: finiteFlag() },
  { name: 'pfla_softmax_mode', type: 'str', default: 'linear', choices: ['linear', 'quadratic'], help: 'pfla_softmax: linear (interpolate y) or quadratic (S times the interpolated sqrt y, squared)' },
] as const satisfies readonly VariantFlag[];

type A = ConfigOf<typeof FLAGS>;
const f32 = Math.fround;

/** torch.linspace in float32: step = (end - start) / (steps - 1) rounded, the first half start + i step,
 * the second half end - (steps - 1 - i) step, each product and sum rounded to float32. */
export function linspaceF32(start: number, end: number, steps: number): number[] {
  const step = f32((end - start) / (steps - 1)), half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) => (i < half ? f32(start + f32(step * i)) : f32(end - f32(step * (steps - 1 - i)))));
}

/** The initial knot positions (float32 as torch computes them). */
export function pflaKnots(a: A): number[] {
  const n = a.pfla_softmax_num_points, L = a.pfla_softmax_left_bound, R = a.pfla_softmax_right_bound;
  if (a.pfla_softmax_density === 'linear') return linspaceF32(L, R, n + 2).slice(1, -1);
  const M = Math.max(Math.abs(L), R), u = linspaceF32(-1, 1, n + 2).slice(1, -1);
  const shape = a.pfla_softmax_density === 'quad'
    ? (v: number) => f32(Math.sign(v) * f32(v * v))
    : (v: number) => f32(f32(Math.sign(v) * f32(f32(Math.exp(Math.abs(v))) - 1)) / f32(Math.E - 1));
  return u.map((v) => f32(shape(v) * M));
}

/** The initial sqrt-y knot values. */
export function pflaInitY(xs: number[], a: VariantConfig<A>): number[] {
  const act = activations[a.pfla_softmax_init_activation];
  if (!act.curve) throw new UserError(`--pfla_softmax_init_activation ${a.pfla_softmax_init_activation} has no curve to initialize from`);
  const cfg = a as never, p = initialParams(act, cfg);
  return xs.map((x) => f32(Math.sqrt(Math.max(f32(act.curve!(x, p, cfg)), 1e-6))));
}

/** The knots in ascending order (a permutation when learned knots crossed), reused per call. */
class Knots {
  xs = new Float64Array(0); ys = new Float64Array(0); idx = new Int32Array(0);
  load(p: Params, n: number): this {
    if (this.xs.length !== n) { this.xs = new Float64Array(n); this.ys = new Float64Array(n); this.idx = new Int32Array(n); }
    const xv = p.x_vals, yv = p.y_vals;
    let sorted = true;
    for (let i = 0; i < n; i++) { this.idx[i] = i; if (i > 0 && !(xv[i - 1] <= xv[i])) sorted = false; }
    if (!sorted) Array.prototype.sort.call(this.idx, (i: number, j: number) => xv[i] - xv[j] || i - j);
    for (let i = 0; i < n; i++) { this.xs[i] = xv[this.idx[i]]; this.ys[i] = yv[this.idx[i]]; }
    return this;
  }
  /** Segment j of x: clamp(#{knots < x} - 1, 0, n - 2). */
  segment(x: number): number {
    const xs = this.xs, n = xs.length;
    let lo = 0, hi = n; // first index with xs[i] >= x
    while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid + 1; else hi = mid; }
    return Math.min(Math.max(lo - 1, 0), n - 2);
  }
}
const knots = new Knots();

/** y_pos at x and its pieces: value, dy/dx, and the weights on knot values j, j+1 (in Y = y or y^2). */
function ypos(x: number, k: Knots, quadratic: boolean): { v: number; dv: number; j: number; t: number; w: number; s: number; Lq: number } {
  const j = k.segment(x), xs = k.xs, ys = k.ys;
  const wRaw = xs[j + 1] - xs[j], w = Math.max(wRaw, 1e-6), t = (x - xs[j]) / w;
  if (!quadratic) {
    const Y0 = ys[j] * ys[j], Y1 = ys[j + 1] * ys[j + 1], s = (Y1 - Y0) / w;
    return { v: Y0 + s * (x - xs[j]), dv: s, j, t, w: wRaw, s, Lq: 0 };
  }
  const s = (ys[j + 1] - ys[j]) / w, Lq = ys[j] + s * (x - xs[j]);
  return { v: x * Lq * Lq, dv: Lq * Lq + 2 * x * Lq * s, j, t, w: wRaw, s, Lq };
}

/** Adds dL/dy_pos = gy at x into the knot gradients (through the ascending order's permutation). */
function knotGrads(x: number, gy: number, k: Knots, quadratic: boolean, g: Grads, learnX: boolean, learnY: boolean): void {
  const q = ypos(x, k, quadratic), j = q.j, ia = k.idx[j], ib = k.idx[j + 1];
  // dy_pos/dL: 1 (linear), 2 x L (quadratic); dL/dY_j = 1 - t, dL/dY_{j+1} = t.
  const gl = quadratic ? gy * 2 * x * q.Lq : gy;
  if (learnY) {
    const dya = quadratic ? 1 : 2 * k.ys[j], dyb = quadratic ? 1 : 2 * k.ys[j + 1];
    g.y_vals[ia] += gl * (1 - q.t) * dya;
    g.y_vals[ib] += gl * q.t * dyb;
  }
  if (learnX) {
    if (q.w > 1e-6) { g.x_vals[ia] += gl * q.s * (q.t - 1); g.x_vals[ib] -= gl * q.s * q.t; }
    else g.x_vals[ia] -= gl * q.s;
  }
}

const gammaOf = (p: Params) => Math.max(p._gamma_raw[0], 0) + 1e-6;
const oboAdd = (p: Params, a: A) => (a.pfla_softmax_use_obo ? Math.exp(a.pfla_softmax_use_learned_obo ? p._obo_raw[0] : a.pfla_softmax_obo) : 0);

export const pfla_softmax: SoftmaxVariant<A> = {
  name: 'pfla_softmax',
  flags: FLAGS,
  kind: (a) => (a.pfla_softmax_use_learned_divisor ? 'elem' : 'row'),
  check(a) {
    if (a.pfla_softmax_use_learned_obo && !a.pfla_softmax_use_obo) {
      return '--pfla_softmax_use_learned_obo needs --pfla_softmax_use_obo (the learned value is the obo term it adds); add it or drop the learned obo';
    }
    if (a.pfla_softmax_density === 'linear' && !(a.pfla_softmax_left_bound < a.pfla_softmax_right_bound)) {
      return `--pfla_softmax_left_bound ${a.pfla_softmax_left_bound} must be smaller than --pfla_softmax_right_bound ${a.pfla_softmax_right_bound}`;
    }
    if (a.pfla_softmax_density !== 'linear' && !(Math.max(Math.abs(a.pfla_softmax_left_bound), a.pfla_softmax_right_bound) > 0)) {
      return `--pfla_softmax_density ${a.pfla_softmax_density} spreads knots over [-M, M], M = max(|L|, R); it is 0 here: give a nonzero bound`;
    }
    return null;
  },
  params(_NH, a) {
    const xs = pflaKnots(a);
    return {
      x_vals: { shape: [xs.length], init: { values: xs }, learned: a.pfla_softmax_learn_x },
      y_vals: { shape: [xs.length], init: { values: pflaInitY(xs, a) }, learned: a.pfla_softmax_learn_y },
      ...(a.pfla_softmax_use_learned_divisor ? { _gamma_raw: { shape: [], init: { fill: a.pfla_softmax_gamma_init } } } : {}),
      ...(a.pfla_softmax_use_obo && a.pfla_softmax_use_learned_obo ? { _obo_raw: { shape: [], init: { fill: a.pfla_softmax_obo } } } : {}),
    };
  },
  cost(a) {
    const search = Math.ceil(Math.log2(a.pfla_softmax_num_points + 1)), quad = a.pfla_softmax_mode === 'quadratic';
    const row = !a.pfla_softmax_use_learned_divisor;
    return {
      // Search, look-up of the segment, y + s (x - x_j) (quadratic: then x L^2), the sum, the multiply.
      forward: { cmp: search, lut: 1, mul: quad ? 3 : 2, add: 2 + (row ? 1 : 0) },
      backward: { cmp: search, lut: 1, mul: quad ? 10 : 7, add: 6 + (row ? 2 : 0) },
      reductions: { forward: row ? 1 : 0, backward: row ? 1 : 0 },
    };
  },
  forward(P, S, o, n, _T, _h, p, a) {
    const k = knots.load(p, a.pfla_softmax_num_points), quad = a.pfla_softmax_mode === 'quadratic';
    let sum = 0;
    for (let i = o; i < o + n; i++) { const v = ypos(S[i], k, quad).v; P[i] = v; sum += v; }
    const inv = 1 / (a.pfla_softmax_use_learned_divisor ? gammaOf(p) : sum + 1e-6 + oboAdd(p, a));
    for (let i = o; i < o + n; i++) P[i] *= inv;
  },
  backward(dS, dP, S, P, o, n, _T, _h, p, g, a) {
    const k = knots.load(p, a.pfla_softmax_num_points), quad = a.pfla_softmax_mode === 'quadratic';
    const learnX = a.pfla_softmax_learn_x, learnY = a.pfla_softmax_learn_y;
    let Z: number, mean = 0;
    if (a.pfla_softmax_use_learned_divisor) {
      Z = gammaOf(p);
      if (p._gamma_raw[0] > 0) g._gamma_raw[0] -= rowDot(dP, P, o, n) / Z;
    } else {
      let sum = 0;
      for (let i = o; i < o + n; i++) sum += ypos(S[i], k, quad).v;
      const add = oboAdd(p, a);
      Z = sum + 1e-6 + add;
      mean = rowDot(dP, P, o, n); // Σ dP P = Σ dP y / Z
      if (a.pfla_softmax_use_obo && a.pfla_softmax_use_learned_obo) g._obo_raw[0] -= mean / Z * add;
    }
    for (let i = o; i < o + n; i++) {
      const gy = (dP[i] - mean) / Z, q = ypos(S[i], k, quad);
      dS[i] = gy * q.dv;
      if (learnX || learnY) knotGrads(S[i], gy, k, quad, g, learnX, learnY);
    }
  },
  // The kernels' pfla kind: the knots in ascending order (their per-pair sums come back at sorted
  // indices and go to the parameters through the permutation), c = [mode, row, addend or γ, γ > 0, learn x, learn y].
  kernel(a, p, NH) {
    const k = new Knots().load(p, a.pfla_softmax_num_points), nk = a.pfla_softmax_num_points;
    const row = !a.pfla_softmax_use_learned_divisor, add = oboAdd(p, a), idx = k.idx; // k is this form's own
    return {
      kind: SCORE_KIND.pfla,
      c: [a.pfla_softmax_mode === 'quadratic' ? 1 : 0, row ? 1 : 0, row ? 1e-6 + add : gammaOf(p), 0, a.pfla_softmax_learn_x ? 1 : 0, a.pfla_softmax_learn_y ? 1 : 0],
      knots: { xs: k.xs, ys: k.ys },
      grads(sums, g) {
        for (let j = 0; j < nk; j++) {
          if (a.pfla_softmax_learn_x) g.x_vals[idx[j]] += sums.all(j);
          if (a.pfla_softmax_learn_y) g.y_vals[idx[j]] += sums.all(nk + j);
        }
        const dz = sums.all(2 * nk);
        if (row && a.pfla_softmax_use_obo && a.pfla_softmax_use_learned_obo) g._obo_raw[0] -= dz * add;
        if (!row && p._gamma_raw[0] > 0) g._gamma_raw[0] -= dz;
      },
    };
  },
  curve: (x, p, a) => ypos(x, knots.load(p, a.pfla_softmax_num_points), a.pfla_softmax_mode === 'quadratic').v,
};

/** For tests: y_pos of a row without normalization. */
export function pflaYpos(out: F, S: F, p: Params, a: A): void {
  const k = knots.load(p, a.pfla_softmax_num_points), quad = a.pfla_softmax_mode === 'quadratic';
  for (let i = 0; i < S.length; i++) out[i] = ypos(S[i], k, quad).v;
}
