// Randomized leaky ReLU (Xu et al. 2015; torch.nn.RReLU(1/8, 1/3)): y = x for x >= 0, else a x.
// Training: a ~ U(1/8, 1/3), drawn per element per call from ctx.rng. One slope is drawn for EVERY
// element, whatever its sign (torch draws only for x <= 0), so how far the run's generator
// advances does not depend on the data. Evaluation: a = (1/8 + 1/3) / 2 = 11/48.
// dy/dx = 1 for x > 0, else a (torch's convention at 0). Saved: slope (N*C), the a of each element.
import type { Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const RRELU_LOWER = 1 / 8;
export const RRELU_UPPER = 1 / 3;
export const RRELU_EVAL_SLOPE = (RRELU_LOWER + RRELU_UPPER) / 2;

export const rrelu: Variant = {
  name: 'rrelu',
  params: () => ({}),
  saved: (N, C) => ({ slope: N * C }),
  random: true,
  // Per element: in training one uniform draw scaled to [1/8, 1/3] (a multiply and an add), then
  // a x selected by the sign; in evaluation the fixed slope. Backward: a dout selected by the sign.
  cost: (C, _a, training) => elementwise(C,
    training ? { rand: 1, mul: 2, add: 1, cmp: 1 } : { mul: 1, cmp: 1 }, { mul: 1, cmp: 1 }),
  forward(out, x, _p, s, N, C, _a, ctx) {
    const slope = s.slope;
    for (let i = 0; i < N * C; i++) {
      const a = ctx.training ? RRELU_LOWER + (RRELU_UPPER - RRELU_LOWER) * ctx.rng.uniform() : RRELU_EVAL_SLOPE;
      slope[i] = a; // read back below so that forward and backward use the same (stored) a
      out[i] = x[i] >= 0 ? x[i] : slope[i] * x[i];
    }
  },
  backward(dx, _dp, dout, x, _p, s, N, C) {
    const slope = s.slope;
    for (let i = 0; i < N * C; i++) dx[i] += x[i] > 0 ? dout[i] : slope[i] * dout[i];
  },
  // Native: the training draws come from ctx.rng's own state, advanced in C exactly as Rng.uniform()
  // would (one draw per element); the same saved slopes.
  fused(be) {
    const k = be.native;
    return k && {
      forward(out, x, _p, s, N, C, _a, ctx) {
        if (!ctx.training) { k.rreluForward(out, s.slope, x, null, N * C); return; }
        const st = ctx.rng.getState(), words = Uint32Array.from(st.s);
        k.rreluForward(out, s.slope, x, words, N * C);
        ctx.rng.setState({ s: Array.from(words), spare: st.spare });
      },
      backward: (dx, _dp, dout, x, _p, s, N, C) => k.rreluBackward(dx, dout, x, s.slope, N * C),
    };
  },
  curve: (x) => (x >= 0 ? x : RRELU_EVAL_SLOPE * x),
};
