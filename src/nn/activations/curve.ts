// TEMPORARY STUB (dashboard worktree only): the activations helper writes the real
// src/nn/activations/curve.ts; the merge takes that one. Contract signature only, with just enough
// math for the dashboard tests: piecewise-linear through (x_vals, y_vals) for the x_vals/y_vals
// variants, gelu(x - shift) for gelu_shifted, exact gelu otherwise.
import type { ModelConfig } from '../../model/config.js';
import { erf } from '../../engine/math.js';

const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (n === 1 ? a : a + ((b - a) * i) / (n - 1)));
}

export function activationCurve(name: string, cfg: ModelConfig, params: Record<string, Float32Array | Float64Array> | undefined, xs: number[]): number[] {
  if (name === 'gelu_shifted') {
    const shift = params?.shift?.[0] ?? cfg.shifted_gelu_initial_shift;
    return xs.map((x) => gelu(x - shift));
  }
  if (['piecewise', 'pfla', 'pfla_le', 'learned_spline'].includes(name)) {
    let xv: ArrayLike<number>, yv: ArrayLike<number>;
    if (params?.x_vals && params?.y_vals) { xv = params.x_vals; yv = params.y_vals; }
    else {
      const [n, L, R] = name === 'piecewise' ? [cfg.pla_num_points, cfg.pla_left_bound, cfg.pla_right_bound]
        : name === 'learned_spline' ? [cfg.lsa_num_knots, -5, 5] : [cfg.pfla_num_points, cfg.pfla_left_bound, cfg.pfla_right_bound];
      xv = name === 'learned_spline' ? linspace(L, R, n) : linspace(L, R, n + 2).slice(1, -1);
      yv = Array.from(xv, gelu);
    }
    return xs.map((x) => {
      const n = xv.length;
      if (x < xv[0]) return 0;
      if (x >= xv[n - 1]) return x;
      let i = 0;
      while (i < n - 2 && x >= xv[i + 1]) i++;
      const t = (x - xv[i]) / (xv[i + 1] - xv[i]);
      return yv[i] + t * (yv[i + 1] - yv[i]);
    });
  }
  if (name === 'tanh') return xs.map(Math.tanh);
  return xs.map(gelu);
}
