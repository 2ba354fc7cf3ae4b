// strongermax: softmax with its parts exposed (docs/softmax.md, "strongermax"):
//   1. a = S; with --strongermax_clamping a = min(S, c) (gradient 0 where clamped; CORRECTED,
//      defect 10: the framework writes the clamp into its input);
//   2. with --strongermax_use_xmax: with --strongermax_overflow_recompute, ONE decision per call over
//      every row: if max(a - g) > v then a -= rowmax(a) else a -= g; otherwise a -= g when a guess g
//      is set (0.0 included: CORRECTED, defect 9), else a -= rowmax(a). The row max is
//      differentiated (its gradient goes to the row's first maximal entry);
//   3. r = s^(a / τ);
//   4. with --strongermax_div_by_sum_of_terms: r / (o + Σ r) (o on the SHIFTED sum, kept);
//   5. / T with --div_by_seq_len; / D.
// Parameters: `obo_offset` [n_head,1,1] init o with --strongermax_use_learned_obo_per_head (wins),
// else [1] with --strongermax_use_learned_obo; `temperature_factor` [1] init τ with
// --strongermax_use_learned_temperature_factor (CORRECTED, defect 7: masked entries never enter the
// power, so its gradient is finite). Defaults = softmax exactly.
// Backward, with k = ln s, m the shift, Z = o + Σ r, c0 = 1/(D T'):
//   gr_i = dL/dr_i = (c0 / Z)(dP_i - Σ_j dP_j r_j / Z) (div by sum), else c0 dP_i;
//   da_i = gr_i r_i k / τ;  the row max m (when it is one) gets -Σ da_i, added to its entry;
//   dτ = -Σ da_i (a_i - m) / τ;  do = -(c0 / Z) Σ_j dP_j r_j / Z;  dS_i = da_i unless clamped.
import type { ConfigOf, Params, VariantFlag } from '../variant.js';
import type { SoftmaxVariant } from './score.js';
import { DIV_BY_SEQ_LEN, EXP_SUMS, SCORE_KIND, finiteFlag, positiveFlag } from './score.js';

const FLAGS = [
  { name: 'strongermax_strength', type: 'float', default: Math.E, help: 'strongermax: the base s of s^(a/τ)', check: positiveFlag() },
  { name: 'strongermax_div_by_sum_of_terms', type: 'bool', default: true, help: 'strongermax: divide by o + the row sum (without it the variant is elementwise unless the row max is subtracted)' },
  { name: 'strongermax_divisor', type: 'float', default: 1.0, help: 'strongermax: final divisor D', check: positiveFlag() },
  { name: 'strongermax_use_xmax', type: 'bool', default: true, help: 'strongermax: subtract the row max (or --strongermax_xmax_guess)' },
  { name: 'strongermax_xmax_guess', type: 'float', default: null, nullable: true, help: 'strongermax: a constant subtracted instead of the row max (saves the max pass); None: the row max', check: finiteFlag() },
  { name: 'strongermax_overflow_recompute', type: 'bool', default: false, help: 'strongermax: use the guess unless max(a - guess) > --strongermax_overflow_recompute_value over the call, then the row max (needs --strongermax_xmax_guess)' },
  { name: 'strongermax_overflow_recompute_value', type: 'float', default: 88.0, help: 'strongermax: v of the overflow test', check: finiteFlag() },
  { name: 'strongermax_clamping', type: 'bool', default: false, help: 'strongermax: clamp scores to at most --strongermax_clamp_value' },
  { name: 'strongermax_clamp_value', type: 'float', default: 88.0, help: 'strongermax: the clamp c', check: finiteFlag() },
  { name: 'strongermax_obo', type: 'float', default: 0.0, help: 'strongermax: off-by-one term o added to the row sum (needs --strongermax_div_by_sum_of_terms)', check: finiteFlag() },
  { name: 'strongermax_use_learned_obo', type: 'bool', default: false, help: 'strongermax: learn o (one, init --strongermax_obo)' },
  { name: 'strongermax_use_learned_obo_per_head', type: 'bool', default: false, help: 'strongermax: learn o per head (wins over --strongermax_use_learned_obo)' },
  { name: 'strongermax_temperature_factor', type: 'float', default: 1.0, help: 'strongermax: temperature τ in s^(a/τ)', check: positiveFlag() },
  { name: 'strongermax_use_learned_temperature_factor', type: 'bool', default: false, help: 'strongermax: learn τ (init --strongermax_temperature_factor)' },
  DIV_BY_SEQ_LEN,
] as const satisfies readonly VariantFlag[];

type A = ConfigOf<typeof FLAGS>;

/** How the shift is chosen: 0 none, 1 the guess, 2 the row max, 3 decided per call (prepare). */
function shiftMode(a: A): 0 | 1 | 2 | 3 {
  if (!a.strongermax_use_xmax) return 0;
  if (a.strongermax_overflow_recompute) return 3;
  return a.strongermax_xmax_guess !== null ? 1 : 2;
}
const learnedObo = (a: A) => a.strongermax_use_learned_obo_per_head || a.strongermax_use_learned_obo;
const oboOf = (p: Params, a: A, h: number) =>
  (a.strongermax_use_learned_obo_per_head ? p.obo_offset[h] : a.strongermax_use_learned_obo ? p.obo_offset[0] : a.strongermax_obo);
const tauOf = (p: Params, a: A) => (a.strongermax_use_learned_temperature_factor ? p.temperature_factor[0] : a.strongermax_temperature_factor);
const clampOf = (x: number, a: A) => (a.strongermax_clamping && x > a.strongermax_clamp_value ? a.strongermax_clamp_value : x);

/** The shift m of a row and the index of the maximal entry when m is the row max (else -1). */
function shiftOf(S: ArrayLike<number>, o: number, n: number, a: A, st: number): [number, number] {
  const mode = shiftMode(a);
  if (mode === 0) return [0, -1];
  if (mode === 1 || (mode === 3 && st === 0)) return [a.strongermax_xmax_guess!, -1];
  let m = -Infinity, im = -1;
  for (let i = o; i < o + n; i++) { const x = clampOf(S[i], a); if (x > m) { m = x; im = i; } }
  return [m, im];
}

export const strongermax: SoftmaxVariant<A> = {
  name: 'strongermax',
  flags: FLAGS,
  kind: (a) => (a.strongermax_div_by_sum_of_terms || shiftMode(a) >= 2 ? 'row' : 'elem'),
  callDependent: (a) => a.div_by_seq_len || a.strongermax_overflow_recompute,
  check(a) {
    if (a.strongermax_overflow_recompute && a.strongermax_xmax_guess === null) {
      return '--strongermax_overflow_recompute needs --strongermax_xmax_guess (the value it falls back from); give a guess or drop the flag';
    }
    return null;
  },
  params: (NH, a) => ({
    ...(a.strongermax_use_learned_obo_per_head ? { obo_offset: { shape: [NH, 1, 1], init: { fill: a.strongermax_obo } } }
      : a.strongermax_use_learned_obo ? { obo_offset: { shape: [1], init: { fill: a.strongermax_obo } } } : {}),
    ...(a.strongermax_use_learned_temperature_factor ? { temperature_factor: { shape: [1], init: { fill: a.strongermax_temperature_factor } } } : {}),
  }),
  cost(a) {
    const mode = shiftMode(a), max = mode >= 2 ? 1 : 0, div = a.strongermax_div_by_sum_of_terms;
    const clamp = a.strongermax_clamping ? 1 : 0;
    return {
      // clamp, shift, a/τ and ln s (multiplies), exp, the sum, the final multiply.
      forward: { cmp: clamp + max + (mode === 3 ? 1 : 0), add: (mode ? 1 : 0) + (div ? 1 : 0), mul: 2, exp: 1 },
      backward: { cmp: clamp, mul: div ? 5 : 3, add: div ? 3 : 1 },
      reductions: { forward: max + (div ? 1 : 0), backward: div ? 1 : 0 },
    };
  },
  // The kernels' form. Elementwise (no div by sum, a fixed shift): the exp kind with a = min(S - m, c - m),
  // k = ln s / τ, g = 1 / (D T'), dτ = -(k / τ) Σ dP P a. Otherwise exprow: x = min(S, c), the shift by
  // mode, r = e^(k (x - m)), P = r / (D T') / (o_h + Σ r) (div by sum), the row max differentiated.
  kernel(a, p, NH, T) {
    const mode = shiftMode(a), tau = tauOf(p, a), kt = Math.log(a.strongermax_strength) / tau;
    const c0 = 1 / (a.strongermax_divisor * (a.div_by_seq_len ? T : 1)), clamp = a.strongermax_clamping ? a.strongermax_clamp_value : Infinity;
    const learnTau = a.strongermax_use_learned_temperature_factor, perHead = a.strongermax_use_learned_obo_per_head;
    if (!a.strongermax_div_by_sum_of_terms && mode < 2) {
      const m = mode === 1 ? a.strongermax_xmax_guess! : 0;
      return {
        kind: SCORE_KIND.exp, c: [kt, learnTau ? EXP_SUMS.weighted : 0], hp: (_h, put) => put(m, clamp - m, c0, 0),
        grads: learnTau ? (sums, g) => { g.temperature_factor[0] -= kt / tau * sums.all(2); } : undefined,
      };
    }
    const div = a.strongermax_div_by_sum_of_terms;
    return {
      kind: SCORE_KIND.exprow,
      c: [kt, clamp, a.strongermax_xmax_guess ?? 0, mode, c0, div ? 1 : 0, a.strongermax_overflow_recompute_value, 1],
      hp: (h, put) => put(oboOf(p, a, h), 0, 0, 0),
      grads(sums, g) {
        if (learnTau) g.temperature_factor[0] -= sums.all(0) / tau;
        if (div && learnedObo(a)) {
          if (perHead) for (let h = 0; h < NH; h++) g.obo_offset[h] -= sums.head(1, h);
          else { let o = 0; for (let h = 0; h < NH; h++) o += sums.head(1, h); g.obo_offset[0] -= o; } // head by head, not all(1)'s order
        }
      },
    };
  },
  // For plots: the numerator s^((min(x, c) - g) / τ) / D at a score x (g: the guess, else 0); the
  // obo term and the row sum are not a function of one score.
  curve: (x, p, a) => Math.exp(Math.log(a.strongermax_strength) * (clampOf(x, a) - (a.strongermax_xmax_guess ?? 0)) / tauOf(p, a)) / a.strongermax_divisor,
  // The overflow test over every row of the call: max(min(S, c) - g) > v.
  callDecision(a) {
    if (shiftMode(a) !== 3) return null;
    const g = a.strongermax_xmax_guess!, v = a.strongermax_overflow_recompute_value;
    return {
      pre(S, o, n) { let m = -Infinity; for (let i = o; i < o + n; i++) { const x = clampOf(S[i], a) - g; if (x > m) m = x; } return m; },
      decide: (max) => (max > v ? 1 : 0),
    };
  },
  forward(P, S, o, n, T, h, p, a, st) {
    const [m] = shiftOf(S, o, n, a, st), kt = Math.log(a.strongermax_strength) / tauOf(p, a);
    let sum = 0;
    for (let i = o; i < o + n; i++) { const r = Math.exp(kt * (clampOf(S[i], a) - m)); P[i] = r; sum += r; }
    const c0 = 1 / (a.strongermax_divisor * (a.div_by_seq_len ? T : 1));
    const c = a.strongermax_div_by_sum_of_terms ? c0 / (oboOf(p, a, h) + sum) : c0;
    for (let i = o; i < o + n; i++) P[i] *= c;
  },
  backward(dS, dP, S, _P, o, n, T, h, p, g, a, st) {
    const [m, im] = shiftOf(S, o, n, a, st), tau = tauOf(p, a), kt = Math.log(a.strongermax_strength) / tau;
    const c0 = 1 / (a.strongermax_divisor * (a.div_by_seq_len ? T : 1)), div = a.strongermax_div_by_sum_of_terms;
    let Z = oboOf(p, a, h), dotr = 0;
    for (let i = o; i < o + n; i++) { const r = Math.exp(kt * (clampOf(S[i], a) - m)); Z += r; dotr += dP[i] * r; }
    const cz = c0 / Z, mean = dotr / Z;
    let dm = 0, dtau = 0;
    for (let i = o; i < o + n; i++) {
      const x = clampOf(S[i], a), r = Math.exp(kt * (x - m));
      const gr = div ? cz * (dP[i] - mean) : c0 * dP[i];
      const da = gr * r * kt;
      dm -= da; dtau -= da * (x - m) / tau;
      dS[i] = a.strongermax_clamping && S[i] > a.strongermax_clamp_value ? 0 : da;
    }
    if (im >= 0 && !(a.strongermax_clamping && S[im] > a.strongermax_clamp_value)) dS[im] += dm;
    if (a.strongermax_use_learned_temperature_factor) g.temperature_factor[0] += dtau;
    if (div && learnedObo(a)) g.obo_offset[a.strongermax_use_learned_obo_per_head ? h : 0] -= cz * mean;
  },
};
