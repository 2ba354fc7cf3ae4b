// Finite-difference gradient checks. Any variant (norm or activation) can be put through
// checkVariant; any function "params -> scalar loss with analytic gradients" through checkFunction.
//
// Method (docs/variants.md, "How the math is checked"): L = sum(out * r) for a fixed random r; backward with dout = r gives the
// analytic gradients; each is compared with the central difference (L(p+h) - L(p-h)) / 2h,
// in Float64Array with h = 1e-5.
import { Rng } from '../src/engine/rng.js';
import type { F } from '../src/engine/types.js';
import { fillInit, MetricCtx } from '../src/nn/params.js';
import type { Params, Saved, Variant } from '../src/nn/variant.js';
import { numel } from '../src/nn/variant.js';
import type { ModelConfig } from '../src/config/config-types.js';

export interface GradcheckResult {
  /** Largest |analytic - numeric| / max(1, |numeric|) over every checked entry. */
  maxErr: number;
  worst: string;
}

export interface VariantCheckOptions {
  N?: number;
  C?: number;
  seed?: number;
  /** Draws the inputs; default standard normal. */
  input?: (rng: Rng, i: number) => number;
  /** Adds a small random perturbation to every parameter after its init (default true), so that
   * gain-like parameters are not all ones and their gradients are really tested. */
  perturb?: boolean;
  training?: boolean;
  h?: number;
  /** Parameters to leave out of the finite-difference check (e.g. learned knot positions near kinks). */
  skipParams?: string[];
}

export function buildParams(v: Variant, C: number, cfg: ModelConfig, rng: Rng, perturb: boolean): { p: Params; dp: Params } {
  const p: Params = {}, dp: Params = {};
  for (const [name, spec] of Object.entries(v.params(C, cfg))) {
    const n = numel(spec.shape);
    p[name] = new Float64Array(n);
    fillInit(p[name], spec.init);
    if (perturb) for (let i = 0; i < n; i++) p[name][i] += 0.1 * rng.normal();
    dp[name] = new Float64Array(n);
  }
  return { p, dp };
}

export function checkVariant(v: Variant, cfg: ModelConfig, opts: VariantCheckOptions = {}): GradcheckResult {
  const N = opts.N ?? 3, C = opts.C ?? 8, seed = opts.seed ?? 1, h = opts.h ?? 1e-5;
  const rng = new Rng(seed);
  const Cin = v.gated ? 2 * C : C;
  const { p, dp } = buildParams(v, C, cfg, rng, opts.perturb ?? true);
  const x = new Float64Array(N * Cin);
  for (let i = 0; i < x.length; i++) x[i] = opts.input ? opts.input(rng, i) : rng.normal();
  const r = new Float64Array(N * C);
  for (let i = 0; i < r.length; i++) r[i] = rng.normal();
  const sizes = v.saved(N, C, cfg);
  const s: Saved = {};
  for (const [k, n] of Object.entries(sizes)) s[k] = new Float64Array(n);
  const out = new Float64Array(N * C);
  const ctxSeed = seed + 1000;
  const loss = (): number => {
    v.forward(out, x, p, s, N, C, cfg, new MetricCtx(opts.training ?? true, new Rng(ctxSeed)));
    let L = 0;
    for (let i = 0; i < out.length; i++) L += out[i] * r[i];
    return L;
  };
  loss();
  const dx = new Float64Array(N * Cin);
  v.backward(dx, dp, r, x, p, s, N, C, cfg, new MetricCtx(opts.training ?? true, new Rng(ctxSeed)));
  const res: GradcheckResult = { maxErr: 0, worst: '' };
  compare(res, 'x', x, dx, loss, h);
  for (const name of Object.keys(p)) {
    if (opts.skipParams?.includes(name)) continue;
    compare(res, name, p[name], dp[name], loss, h);
  }
  return res;
}

/** Compare analytic grad g of L w.r.t. every entry of a against central differences. */
export function compare(res: GradcheckResult, name: string, a: F, g: F, loss: () => number, h: number): void {
  for (let i = 0; i < a.length; i++) {
    const old = a[i];
    a[i] = old + h; const lp = loss();
    a[i] = old - h; const lm = loss();
    a[i] = old;
    const num = (lp - lm) / (2 * h);
    const err = Math.abs(g[i] - num) / Math.max(1, Math.abs(num));
    if (err > res.maxErr || Number.isNaN(err)) {
      res.maxErr = Number.isNaN(err) ? Infinity : err;
      res.worst = `${name}[${i}]: analytic ${g[i]} vs numeric ${num}`;
    }
  }
  loss(); // leave forward state consistent with the unperturbed inputs
}
