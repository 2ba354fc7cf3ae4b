// Hardware cost (src/nn/op-cost.ts, src/model/model-cost.ts): every variant's declared counts against hand
// counts made with the rules of docs/cost.md, at two widths and (where the variant has flags) two
// flag settings; derived parameters; the model table (slots by placement, per-layer variants, the
// matrix products); and `normlab cost` as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activations } from '../src/nn/activations/activation-registry.js';
import { norms } from '../src/nn/norms/norm-registry.js';
import { OP_CLASSES, pass, type Ops } from '../src/nn/op-cost.js';
import { modelCost, variantCost } from '../src/model/model-cost.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { cli, tinyConfig } from './helpers.js';

/** Forward (inference) and training (forward + backward) counts of one variant at width C. */
function counts(kind: 'norm' | 'activation', name: string, C: number, over: Partial<ModelConfig> = {}) {
  const v = (kind === 'norm' ? norms : activations)[name];
  const c = variantCost(v, C, tinyConfig(over));
  const train = pass(c.training.forward, c.training.backward);
  const red = (p: { reductions?: { length: number; bits: number }[] }) => (p.reductions ?? []).map((r) => `${r.length}@${r.bits}`);
  return { fwd: c.inference.forward.ops, train: train.ops, fwdRed: red(c.inference.forward), trainRed: red(train), params: c.training.params };
}

/** Drops zero entries so that {} equals { mul: 0 }. */
function clean(o: Ops): Ops {
  const out: Ops = {};
  for (const k of OP_CLASSES) if (o[k]) out[k] = o[k];
  return out;
}

test('every registered norm and activation declares its cost, in whole non-negative counts', () => {
  for (const [kind, reg] of [['norm', norms], ['activation', activations]] as const) {
    for (const name of Object.keys(reg)) {
      assert.ok(reg[name].cost, `${kind} ${name} declares no cost (docs/cost.md)`);
      for (const C of [8, 24]) {
        const c = counts(kind, name, C);
        for (const o of [c.fwd, c.train]) {
          for (const k of OP_CLASSES) assert.ok(Number.isInteger(o[k] ?? 0) && (o[k] ?? 0) >= 0, `${name} ${k} = ${o[k]}`);
        }
      }
    }
  }
});

// Hand counts, per token. Norms: literal figures at two widths and two flag settings, worked out from
// the rules (e.g. rmsnorm forward at C = 8: sum of squares 8 mul + 7 add, mean 1 mul, + eps 1 add,
// 1 reciprocal root, x r gain 16 mul: 25 mul, 8 add, 1 sqrt).
const NORM_CASES: { name: string; C: number; over?: Partial<ModelConfig>; fwd: Ops; train: Ops; fwdRed: string[]; trainRed: string[]; params: number }[] = [
  // rmsnorm: forward dot(C) (C mul, C-1 add) + mean, eps, root (1 mul, 1 add, 1 sqrt) + x r gain (2C mul);
  // backward dot(C) + dgain, dg, m, dx (5C + 1 mul, 2C add). Training = forward + backward.
  //   C = 8:  fwd 8+17 = 25 mul, 7+1 = 8 add; bwd 8+41 = 49 mul, 7+16 = 23 add; train 74 mul, 31 add.
  //   C = 16: fwd 16+33 = 49 mul, 15+1 = 16 add; bwd 16+81 = 97 mul, 15+32 = 47 add; train 146 mul, 63 add.
  { name: 'rmsnorm', C: 8, fwd: { mul: 25, add: 8, sqrt: 1 }, train: { mul: 74, add: 31, sqrt: 1 }, fwdRed: ['8@32'], trainRed: ['8@32', '8@32'], params: 8 },
  { name: 'rmsnorm', C: 16, fwd: { mul: 49, add: 16, sqrt: 1 }, train: { mul: 146, add: 63, sqrt: 1 }, fwdRed: ['16@32'], trainRed: ['16@32', '16@32'], params: 16 },
  // layernorm (b = C with --bias, else 0): forward sum(C) + dot(C) + (2 + 2C mul, C + 1 + b add, 1 sqrt);
  // backward sum(C) + dot(C) + (5C + 2 mul, 4C + b add).
  //   C = 8, no bias: fwd 8+18 = 26 mul, 7+7+9 = 23 add; bwd 8+42 = 50 mul, 7+7+32 = 46 add; train 76, 69.
  //   C = 16, bias:   fwd 16+34 = 50 mul, 15+15+33 = 63 add; bwd 16+82 = 98 mul, 15+15+80 = 110 add; train 148, 173.
  { name: 'layernorm', C: 8, fwd: { mul: 26, add: 23, sqrt: 1 }, train: { mul: 76, add: 69, sqrt: 1 }, fwdRed: ['8@32', '8@32'], trainRed: ['8@32', '8@32', '8@32', '8@32'], params: 8 },
  { name: 'layernorm', C: 16, over: { bias: true }, fwd: { mul: 50, add: 63, sqrt: 1 }, train: { mul: 148, add: 173, sqrt: 1 }, fwdRed: ['16@32', '16@32'], trainRed: ['16@32', '16@32', '16@32', '16@32'], params: 32 },
  // prmsnorm: k = ceil(C pct); the forward reduction shrinks to k, backward's S still runs over C:
  // forward dot(k) + (1 + 2C mul, 1 add, 1 sqrt); backward dot(C) + (4C + 4 + k mul, C + k add).
  //   C = 16, k = 1 (default pct): fwd 1+33 = 34 mul, 0+1 = 1 add; bwd 16+69 = 85 mul, 15+17 = 32 add; train 119, 33.
  //   C = 16, k = 8: fwd 8+33 = 41 mul, 7+1 = 8 add; bwd 16+76 = 92 mul, 15+24 = 39 add; train 133, 47.
  //   C = 8, k = 4:  fwd 4+17 = 21 mul, 3+1 = 4 add; bwd 8+40 = 48 mul, 7+12 = 19 add; train 69, 23.
  { name: 'prmsnorm', C: 16, fwd: { mul: 34, add: 1, sqrt: 1 }, train: { mul: 119, add: 33, sqrt: 1 }, fwdRed: ['1@32'], trainRed: ['1@32', '16@32'], params: 16 },
  { name: 'prmsnorm', C: 16, over: { prmsnorm_pct: 0.5 }, fwd: { mul: 41, add: 8, sqrt: 1 }, train: { mul: 133, add: 47, sqrt: 1 }, fwdRed: ['8@32'], trainRed: ['8@32', '16@32'], params: 16 },
  { name: 'prmsnorm', C: 8, over: { prmsnorm_pct: 0.5 }, fwd: { mul: 21, add: 4, sqrt: 1 }, train: { mul: 69, add: 23, sqrt: 1 }, fwdRed: ['4@32'], trainRed: ['4@32', '8@32'], params: 8 },
  // krmsnorm: k = min(C, krmsnorm_num); 'none' rounds k entries to half (k compares), the sum of
  // squares runs on 16-bit operands. Forward: rounding + dot(k) + (1 mul, 1 add, 1 sqrt) + x r gain
  // (C + g mul, g = C with the gain); backward: dot(C) + (3g + C + 4 + k mul, g + k add).
  //   C = 8, k = 4, gain:   fwd 4+1+16 = 21 mul, 3+1 = 4 add, 4 cmp; bwd 8+40 = 48 mul, 7+12 = 19 add; train 69, 23, 4 cmp.
  //   C = 16, k = 10, gain: fwd 10+1+32 = 43 mul, 9+1 = 10 add, 10 cmp; bwd 16+78 = 94 mul, 15+26 = 41 add; train 137, 51.
  { name: 'krmsnorm', C: 8, over: { krmsnorm_num: 4 }, fwd: { mul: 21, add: 4, sqrt: 1, cmp: 4 }, train: { mul: 69, add: 23, sqrt: 1, cmp: 4 }, fwdRed: ['4@16'], trainRed: ['4@16', '8@32'], params: 8 },
  { name: 'krmsnorm', C: 16, fwd: { mul: 43, add: 10, sqrt: 1, cmp: 10 }, train: { mul: 137, add: 51, sqrt: 1, cmp: 10 }, fwdRed: ['10@16'], trainRed: ['10@16', '16@32'], params: 16 },
  // int8, recompute 0.1, no gain, k = 4 of C = 16: quantization (min/max 6 + 1 compares, scale,
  // 1/scale, zp; per entry 2 mul 2 add 3 cmp), the 8-bit sum of squares, the full RMS and its band.
  //   quantization 2+8 = 10 mul, 2+8 = 10 add, 1 div, 6+1+12 = 19 cmp; dot(4) 4 mul, 3 add; root 1 mul, 1 add,
  //   1 sqrt; full RMS dot(16) 16 mul, 15 add + 3 mul, 1 add, 1 sqrt, 3 cmp; x r 16 mul.
  //   fwd: 10+4+1+16+3+16 = 50 mul, 10+3+1+15+1 = 30 add, 1 div, 2 sqrt, 19+3 = 22 cmp.
  //   bwd (the full-row correction, m = C): dot(16) + 16+4+16 = 36 mul, 16 add, 1 cmp: 52 mul, 31 add, 1 cmp.
  //   train: 102 mul, 61 add, 1 div, 2 sqrt, 23 cmp. No gain: 0 parameters.
  {
    name: 'krmsnorm', C: 16, over: { krmsnorm_num: 4, krmsnorm_quantize_type: 'int8', krmsnorm_recompute_percentage: 0.1, krmsnorm_enable_gain: false },
    fwd: { mul: 50, add: 30, div: 1, sqrt: 2, cmp: 22 }, train: { mul: 102, add: 61, div: 1, sqrt: 2, cmp: 23 },
    fwdRed: ['4@8', '16@32'], trainRed: ['4@8', '16@32', '16@32'], params: 0,
  },
  // hyperspherenorm (g = C with hsnorm_gain, r = 1 with a learned radius): forward dot(C) + (1 + C + g mul,
  // 1 add, 1 sqrt); backward dot(C) + (3g + 2C + 4 + r mul, g + C + r add).
  //   C = 8:  fwd 8+9 = 17 mul, 7+1 = 8 add; bwd 8+20 = 28 mul, 7+8 = 15 add; train 45, 23; the radius is a constant: 0 parameters.
  //   C = 16, gain, radius learned: fwd 16+33 = 49 mul, 16 add; bwd 16+85 = 101 mul, 15+33 = 48 add; train 150, 64; 16 + 1 parameters.
  { name: 'hyperspherenorm', C: 8, fwd: { mul: 17, add: 8, sqrt: 1 }, train: { mul: 45, add: 23, sqrt: 1 }, fwdRed: ['8@32'], trainRed: ['8@32', '8@32'], params: 0 },
  { name: 'hyperspherenorm', C: 16, over: { hsnorm_gain: true, hsnorm_radius_learning: true }, fwd: { mul: 49, add: 16, sqrt: 1 }, train: { mul: 150, add: 64, sqrt: 1 }, fwdRed: ['16@32'], trainRed: ['16@32', '16@32'], params: 17 },
  // dact around tanh with gamma, beta, alpha: alpha x, gamma act, + beta; tanh's own counts inside.
  //   C = 8: fwd 8 + 8 = 16 mul, 8 add, + tanh 8; bwd dout gamma, dgamma, dx, dalpha 32 mul, 24 add + tanh's
  //   backward (8 tanh, 16 mul, 8 add): train 16+48 = 64 mul, 8+32 = 40 add, 16 tanh; 8 + 8 + 1 parameters.
  //   C = 16 around relu, nothing learned: fwd alpha x 16 mul + relu 16 cmp; bwd dx 16 mul + 16 cmp: train 32, 32.
  { name: 'dact', C: 8, fwd: { mul: 16, add: 8, tanh: 8 }, train: { mul: 64, add: 40, tanh: 16 }, fwdRed: [], trainRed: [], params: 17 },
  { name: 'dact', C: 16, over: { dact_activation: 'relu', dact_use_gamma: false, dact_use_beta: false, dact_use_alpha: false }, fwd: { mul: 16, cmp: 16 }, train: { mul: 32, cmp: 32 }, fwdRed: [], trainRed: [], params: 0 },
  { name: 'identity', C: 8, fwd: {}, train: {}, fwdRed: [], trainRed: [], params: 0 },
  { name: 'identity', C: 16, fwd: {}, train: {}, fwdRed: [], trainRed: [], params: 0 },
];

test('norm counts equal the hand counts (two widths, two flag settings)', () => {
  for (const h of NORM_CASES) {
    const c = counts('norm', h.name, h.C, h.over);
    const what = `${h.name} C=${h.C} ${JSON.stringify(h.over ?? {})}`;
    assert.deepEqual(clean(c.fwd), h.fwd, `${what}: forward`);
    assert.deepEqual(clean(c.train), h.train, `${what}: training`);
    assert.deepEqual(c.fwdRed, h.fwdRed, `${what}: forward reductions`);
    assert.deepEqual(c.trainRed, h.trainRed, `${what}: training reductions`);
    assert.equal(c.params, h.params, `${what}: parameters`);
  }
});

// Activations: hand counts per element (forward, backward), checked at two widths (the cost is C times
// these), with flags where the variant has them. E.g. gelu forward: x / sqrt 2, erf, 1 +, 0.5 x, product.
const ACT_CASES: { name: string; over?: Partial<ModelConfig>; fwd: Ops; bwd: Ops; params: number; trainFwd?: Ops }[] = [
  { name: 'relu', fwd: { cmp: 1 }, bwd: { cmp: 1 }, params: 0 }, // x > 0 select; backward the same select on dout
  { name: 'relu6', fwd: { cmp: 2 }, bwd: { cmp: 2 }, params: 0 }, // two bounds; backward 0 < x < 6
  { name: 'leaky_relu', fwd: { cmp: 1, mul: 1 }, bwd: { cmp: 1, mul: 1 }, params: 0 }, // select, 0.01 x; backward select, 0.01 dout
  { name: 'prelu', fwd: { cmp: 1, mul: 1 }, bwd: { cmp: 1, mul: 2, add: 1 }, params: 1 }, // select, a x; backward a dout, da += x dout (1 mul 1 add); 1 slope
  { name: 'rrelu', fwd: { cmp: 1, mul: 1 }, bwd: { cmp: 1, mul: 1 }, params: 0, trainFwd: { rand: 1, mul: 2, add: 1, cmp: 1 } }, // eval: fixed a, a x by the sign; training: a = 1/8 + (1/3 - 1/8) u (1 rand, 1 mul, 1 add), then a x
  { name: 'gelu', fwd: { mul: 3, add: 1, erf: 1 }, bwd: { mul: 7, add: 2, erf: 1, exp: 1 }, params: 0 }, // x / sqrt 2 (mul), erf, 1 + (add), 0.5 x, product; backward Phi and x phi (exp), 7 mul, 2 add
  { name: 'gelu_shifted', fwd: { mul: 3, add: 2, erf: 1 }, bwd: { mul: 7, add: 4, erf: 1, exp: 1 }, params: 1 }, // gelu's + x - shift; backward + dshift -= g (2 add); 1 shift
  { name: 'gelu_shifted', over: { shifted_gelu_learnable_shift: false }, fwd: { mul: 3, add: 2, erf: 1 }, bwd: { mul: 7, add: 4, erf: 1, exp: 1 }, params: 0 }, // the same counts; the shift is a constant: 0 parameters
  { name: 'glu', fwd: { tanh: 1, mul: 1 }, bwd: { tanh: 1, mul: 4, add: 1 }, params: 0 }, // per output a sigmoid(b): sigmoid as tanh (1 tanh), 1 mul; backward g s, g a s (1 - s)
  { name: 'sigmoid', fwd: { tanh: 1 }, bwd: { tanh: 1, mul: 2, add: 1 }, params: 0 }, // sigmoid as 0.5 + 0.5 tanh(x/2) counted as 1 tanh; backward dout y (1 - y): 2 mul, 1 add
  { name: 'tanh', fwd: { tanh: 1 }, bwd: { tanh: 1, mul: 2, add: 1 }, params: 0 }, // backward recomputes t: dout (1 - t^2) 2 mul, 1 add
  { name: 'silu', fwd: { tanh: 1, mul: 1 }, bwd: { tanh: 1, mul: 3, add: 2 }, params: 0 }, // x s; backward s (1 + x (1 - s)) dout: 3 mul, 2 add
  { name: 'softsign', fwd: { cmp: 1, add: 1, div: 1 }, bwd: { cmp: 1, add: 1, mul: 1, div: 1 }, params: 0 }, // |x|, 1 + |x|, x / d; backward dout / d^2 (1 mul, 1 div)
  { name: 'squared_relu', fwd: { cmp: 1, mul: 1 }, bwd: { cmp: 1, mul: 2 }, params: 0 }, // select, x x; backward 2 x dout
  { name: 'elu', fwd: { cmp: 1, exp: 1 }, bwd: { cmp: 1, exp: 1, mul: 1 }, params: 0 }, // select, expm1; backward exp(x) dout
  { name: 'celu', fwd: { cmp: 1, exp: 1 }, bwd: { cmp: 1, exp: 1, mul: 1 }, params: 0 }, // elu's counts (alpha = 1)
  { name: 'selu', fwd: { cmp: 1, exp: 1, mul: 2 }, bwd: { cmp: 1, exp: 1, mul: 3 }, params: 0 }, // both branches, scale x and scale alpha expm1(x) (2 mul), a select; backward also times dout
  { name: 'softplus', fwd: { cmp: 1, exp: 2 }, bwd: { cmp: 1, tanh: 1, mul: 1 }, params: 0 }, // threshold select, log1p(exp) (2 exp class); backward sigmoid (1 tanh) dout
  { name: 'mish', fwd: { cmp: 1, exp: 2, tanh: 1, mul: 1 }, bwd: { cmp: 1, exp: 2, tanh: 2, mul: 4, add: 2 }, params: 0 }, // x tanh(softplus x): 2 exp, 1 tanh, 1 mul; backward t, sigmoid: dout (t + x (1 - t^2) s)
  { name: 'identity', fwd: {}, bwd: {}, params: 0 }, // wiring only
  // Piecewise: a binary search among m boundaries takes ceil(log2(m + 1)) compares. piecewise (n = 7
  // knots and R: m = 8) 4; with 15 knots (m = 16) 5. pfla (n = 50, m = 51) 6; with 3 knots 3.
  // pfla_le (no R: m = n) 6 at n = 50, 2 at n = 3. learned_spline searches the n - 2 interior knots:
  // 5 at n = 30, 4 at n = 10. Then per element one look-up (lut) of the segment: pwl y + slope (x - x_i)
  // (1 mul, 2 add); backward the search and look-up again, dx = g slope, t = (x - x_a) / w and the four
  // knot gradients (6 mul, 6 add). The spline: u = x - knot and Horner a + u (b + u (c + u d)) (3 mul,
  // 4 add); backward S'(u) = b + u (2c + 3 u d), dx = g S' and five per-segment sums (8 mul, 8 add).
  // Parameters: x_vals and y_vals, n each (7 -> 14, 15 -> 30, 50 -> 100, 3 -> 6, 30 -> 60, 10 -> 20).
  { name: 'piecewise', fwd: { cmp: 4, lut: 1, mul: 1, add: 2 }, bwd: { cmp: 4, lut: 1, mul: 6, add: 6 }, params: 14 },
  { name: 'piecewise', over: { pla_num_points: 15 }, fwd: { cmp: 5, lut: 1, mul: 1, add: 2 }, bwd: { cmp: 5, lut: 1, mul: 6, add: 6 }, params: 30 },
  { name: 'pfla', fwd: { cmp: 6, lut: 1, mul: 1, add: 2 }, bwd: { cmp: 6, lut: 1, mul: 6, add: 6 }, params: 100 },
  { name: 'pfla', over: { pfla_num_points: 3 }, fwd: { cmp: 3, lut: 1, mul: 1, add: 2 }, bwd: { cmp: 3, lut: 1, mul: 6, add: 6 }, params: 6 },
  { name: 'pfla_le', fwd: { cmp: 6, lut: 1, mul: 1, add: 2 }, bwd: { cmp: 6, lut: 1, mul: 6, add: 6 }, params: 100 },
  { name: 'pfla_le', over: { pfla_num_points: 3 }, fwd: { cmp: 2, lut: 1, mul: 1, add: 2 }, bwd: { cmp: 2, lut: 1, mul: 6, add: 6 }, params: 6 },
  { name: 'learned_spline', fwd: { cmp: 5, lut: 1, mul: 3, add: 4 }, bwd: { cmp: 5, lut: 1, mul: 8, add: 8 }, params: 60 },
  { name: 'learned_spline', over: { lsa_num_knots: 10 }, fwd: { cmp: 4, lut: 1, mul: 3, add: 4 }, bwd: { cmp: 4, lut: 1, mul: 8, add: 8 }, params: 20 },
];

function scaled(o: Ops, C: number): Ops {
  const out: Ops = {};
  for (const k of OP_CLASSES) if (o[k]) out[k] = o[k]! * C;
  return out;
}

test('activation counts equal the hand counts per element, at two widths and two flag settings', () => {
  for (const h of ACT_CASES) {
    for (const C of [8, 24]) {
      const c = counts('activation', h.name, C, h.over);
      const what = `${h.name} C=${C} ${JSON.stringify(h.over ?? {})}`;
      assert.deepEqual(clean(c.fwd), scaled(h.fwd, C), `${what}: forward`);
      const trainFwd = h.trainFwd ?? h.fwd;
      const train: Ops = {};
      for (const k of OP_CLASSES) if ((trainFwd[k] ?? 0) + (h.bwd[k] ?? 0)) train[k] = ((trainFwd[k] ?? 0) + (h.bwd[k] ?? 0)) * C;
      assert.deepEqual(clean(c.train), train, `${what}: training`);
      assert.deepEqual(c.fwdRed, [], `${what}: an activation has no reduction`);
      assert.equal(c.params, h.params, `${what}: parameters`);
    }
  }
});

test('model table: slots by placement, per-layer variants, matrix products (glu doubles c_fc)', () => {
  const base = tinyConfig({ n_layer: 3, n_embd: 8, n_head: 2, block_size: 5, vocab_size: 7, use_peri_ln: true });
  const mc = modelCost(base);
  // pre + peri: four norm slots, the activation and the attention's softmax per block, then ln_f.
  assert.deepEqual(mc.slots.filter((s) => s.layer === 0).map((s) => s.slot),
    ['pre_ln_attn', 'out_ln_attn', 'pre_ln_mlp', 'out_ln_mlp', 'activation', 'attn.softmax_layer_attn']);
  assert.equal(mc.slots.at(-1)!.slot, 'ln_f');
  assert.equal(mc.slots.length, 3 * 6 + 1);
  // Matrix products per token: 3C^2 + C^2 + C(T+1) + C H + H C at C = 8, H = 32, T = 5, then C V.
  const layer0 = mc.matmuls.filter((m) => m.layer === 0).reduce((n, m) => n + m.macs, 0);
  assert.equal(layer0, 3 * 64 + 64 + 8 * 6 + 8 * 32 + 32 * 8);
  assert.equal(mc.matmuls.at(-1)!.macs, 8 * 7);
  const glu = modelCost({ ...base, activation_variant: 'glu' });
  assert.equal(glu.matmuls.find((m) => m.layer === 0 && m.name === 'mlp.c_fc')!.macs, 2 * 8 * 32);

  // Per layer: relu, gelu, learned_spline; every norm slot of block 1 is layernorm.
  const per = modelCost({ ...base, activation_variant_layerlist: ['relu', 'gelu', 'learned_spline'], norm_variant_attn_layerlist: ['rmsnorm', 'layernorm'] });
  assert.deepEqual(per.slots.filter((s) => s.slot === 'activation').map((s) => s.variant), ['relu', 'gelu', 'learned_spline']);
  assert.deepEqual(per.slots.filter((s) => s.slot === 'pre_ln_attn').map((s) => s.variant), ['rmsnorm', 'layernorm', 'rmsnorm']);
  // relu on H = 32, four rmsnorms at C = 8, softmax on 2 heads x 3 scores (cmp, 2 add, exp, mul each)
  assert.deepEqual(per.layers[0].inference, { cmp: 32 + 6, mul: 4 * 25 + 6, add: 4 * 8 + 12, sqrt: 4, exp: 6 });
  // The totals are the sums of the slots.
  const sum = per.slots.reduce((n, s) => n + (s.inference.mul ?? 0), 0);
  assert.equal(per.total.inference.mul, sum);
  // identity costs nothing.
  const id = modelCost({ ...base, norm_variant_attn: 'identity', norm_variant_output: 'identity', activation_variant: 'identity' });
  for (const sl of id.slots.filter((x) => x.kind !== 'softmax')) assert.deepEqual(clean(sl.training), {}, sl.slot);
});

test('normlab cost: the table, --compare, --json and --csv; bad names refused', () => {
  const t = cli(['cost', '--n_layer', '2', '--n_embd', '16', '--n_head', '2', '--activation_variant_layerlist', 'relu', 'pfla']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^0 +activation +relu /m);
  assert.match(t.stdout, /^1 +activation +pfla /m);
  assert.match(t.stdout, /model total/);
  const j = cli(['cost', '--n_layer', '1', '--n_embd', '16', '--n_head', '2', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const parsed = JSON.parse(j.stdout);
  assert.equal(parsed.slots.length, 5); // pre_ln_attn, pre_ln_mlp, activation, attn.softmax_layer_attn, ln_f
  assert.equal(parsed.slots[0].inference.mul, 49); // rmsnorm at C = 16 (see the hand counts above)
  // The LM head is counted at the model's vocabulary, padded by --vocab_multiple as training pads it.
  const padded = cli(['cost', '--n_layer', '1', '--n_embd', '16', '--n_head', '2', '--vocab_multiple', '64', '--json']);
  assert.equal(padded.code, 0, padded.stderr);
  assert.equal(JSON.parse(padded.stdout).config.vocab_size, Math.ceil(parsed.config.vocab_size / 64) * 64);
  const cmp = cli(['cost', '--compare', '--n_embd', '16', '--n_head', '2', '--csv']);
  assert.equal(cmp.code, 0, cmp.stderr);
  const lines = cmp.stdout.trim().split('\n');
  assert.equal(lines.length, 1 + Object.keys(norms).length + Object.keys(activations).length);
  assert.match(lines.find((l) => l.startsWith('norm,rmsnorm,'))!, /,1\.00$/);
  const two = cli(['cost', '--compare', 'relu', 'prmsnorm', '--n_embd', '16', '--n_head', '2']);
  assert.equal(two.code, 0, two.stderr);
  assert.equal(two.stdout.trim().split('\n').length, 1 + 1 + 2);
  const bad = cli(['cost', '--compare', 'relux']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /relux is not a norm or an activation/);
  const long = cli(['cost', '--n_layer', '1', '--activation_variant_layerlist', 'relu', 'gelu']);
  assert.notEqual(long.code, 0);
  assert.match(long.stderr, /has 2 values for --n_layer 1/);
});

test('normlab cost with quantization flags: bit MACs per layer and in total (cost_bit_macs), cost_weight_bits; none without them', () => {
  // One layer, C = 16, H = 64, T = 8: q, k, v, attn c_proj 256 MACs each at 32 x 32; scores and values
  // C (T + 1) / 2 = 72 each; c_fc and the MLP's c_proj 1024 each at 8-bit activations x 4-bit weights,
  // so 1024 * 8 * 4 / 32^2 = 32 each; the LM head 16 V at 32 x 32 (docs/cost.md, "Bit widths").
  const flags = ['cost', '--n_layer', '1', '--n_embd', '16', '--n_head', '2', '--block_size', '8'];
  const quant = ['--quantize_mlp_act', '--quantize_mlp_act_bits', '8', '--linear_variant_mlp', 'quantized_linear', '--quantize_linear_bits', '4'];
  const j = cli([...flags, ...quant, '--json']);
  assert.equal(j.code, 0, j.stderr);
  const V = JSON.parse(j.stdout).config.vocab_size as number, head = 16 * V;
  const layerBits = 3 * 256 + 72 + 72 + 256 + 32 + 32, layerFloat = 3 * 256 + 72 + 72 + 256 + 1024 + 1024;
  // stored weights: 1024 attention weights, wte 16 V and wpe 16 * 8 at 32 bits, the two MLP matrices (2048) at 4
  const weightBits = ((1024 + head + 128) * 32 + 2048 * 4) / (1024 + head + 128 + 2048);
  const bits = JSON.parse(j.stdout).bits as { cost_bit_macs: number; cost_weight_bits: number };
  assert.equal(bits.cost_bit_macs, layerBits + head);
  assert.ok(Math.abs(bits.cost_weight_bits - weightBits) < 1e-12, `${bits.cost_weight_bits} != ${weightBits}`);

  const t = cli([...flags, ...quant]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /matmul MACs +bit MACs/);
  assert.match(t.stdout, new RegExp(`^0 +layer total .* ${layerFloat} +${layerBits}$`, 'm'));
  assert.match(t.stdout, new RegExp(`^all +model total .* ${layerFloat + head} +${layerBits + head}$`, 'm'));
  assert.match(t.stdout, new RegExp(`cost_bit_macs ${layerBits + head} bit-weighted MACs per token .*float32: ${layerFloat + head}\\), cost_weight_bits ${+weightBits.toFixed(2)} `));
  assert.match(t.stdout, /narrowed products \(activation x weight bits\): mlp\.c_fc 8x4, mlp\.c_proj 8x4$/m);
  const csv = cli([...flags, ...quant, '--csv']).stdout.trim().split('\n');
  assert.match(csv[0], /,matmul MACs,bit MACs$/);
  assert.match(csv[csv.length - 1], new RegExp(`^all,model total,.*,${layerFloat + head},${layerBits + head}$`));

  const plain = cli(flags);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stdout, /bit MACs|cost_bit_macs/, 'no bit columns without quantization');
});

test('attention softmax slot: per-score counts times n_head (T + 1) / 2 scores per token; row reductions per head for softmax, none for consmax', () => {
  const base = tinyConfig({ n_layer: 1, n_embd: 8, n_head: 2, block_size: 5, vocab_size: 7 });
  const slot = (over: Partial<ModelConfig>) => modelCost({ ...base, ...over }).slots.find((s) => s.slot === 'attn.softmax_layer_attn')!;
  const sm = slot({}), cm = slot({ softmax_variant_attn: 'consmax' });
  assert.equal(sm.width, 2 * 3); // 2 heads, (5 + 1) / 2 keys on average
  assert.deepEqual(clean(sm.inference), { cmp: 6, add: 12, exp: 6, mul: 6 }); // max, subtract, exp, sum, scale
  assert.deepEqual(sm.reductions.inference.map((r) => r.length), [3, 3, 3, 3]); // max and sum, per head
  assert.deepEqual(clean(cm.inference), { add: 6, exp: 6, mul: 6 }); // S - β, exp, times 1/γ
  assert.deepEqual(cm.reductions.inference, []);
  assert.equal(cm.params, 2); // β and γ
  assert.deepEqual(slot({ softmax_variant_attn: 'consmax_v2' }).params, 4); // factors [2, 1, 1] twice
});
