// The statistics of repeated runs (seeds): mean, sample standard deviation, the Student t
// interval of the mean, and the paired comparison of two combinations trained on the same seeds.
// Formulas are in docs/sweep.md ("Seeds and intervals"):
//   mean  m = sum x / n,   sd s = sqrt(sum (x - m)^2 / (n - 1)),
//   95% interval  m -/+ t(0.975, n - 1) * s / sqrt(n),
// where t(p, df) is the Student t quantile, computed here from the t distribution function
//   F(t) = 1 - I_{df / (df + t^2)}(df / 2, 1 / 2) / 2   (t >= 0; I is the regularized incomplete beta)
// by bisection. A paired comparison takes d_i = x_i - baseline_i over the seeds both finished and
// reports the interval of mean(d); when it excludes zero the difference is larger than the seed noise.
// Pure functions of numbers: the inspect command and the dashboard's server both call them.

/** Arithmetic mean; NaN for no values. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (divides by n - 1); NaN for fewer than two values. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** ln Gamma(x) for x > 0: Lanczos approximation (g = 7, 9 terms), relative error ~1e-15. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const z = x - 1;
  let a = c[0];
  for (let k = 1; k < 9; k++) a += c[k] / (z + k);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Regularized incomplete beta I_x(a, b) = B(x; a, b) / B(a, b), by its continued fraction
 * (modified Lentz), using the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
 */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(x >= 0 && x <= 1) || !(a > 0) || !(b > 0)) return NaN;
  if (x === 0 || x === 1) return x;
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x)) / a;
  const TINY = 1e-300;
  let f = 1, c = 1, d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    // Coefficients of the fraction 1 / (1 + d1 / (1 + d2 / (1 + ...))).
    const num = i === 0 ? 1
      : i % 2 === 0 ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m))
      : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-15) break;
  }
  return front * (f - 1);
}

/** Student t distribution function P(T <= t) with df degrees of freedom (df > 0). */
export function tCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5); // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

/**
 * Student t quantile: the t with P(T <= t) = p (0 < p < 1, df > 0), by bisection on tCdf
 * (monotone), to the last bits of a double. t(0.975, 1) = 12.706, t(0.975, 2) = 4.303, t(0.975, 30) = 2.042.
 */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0, hi = 1;
  while (tCdf(hi, df) < p) { lo = hi; hi *= 2; if (hi > 1e300) return Infinity; }
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (tCdf(mid, df) < p) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** The summary of repeated measurements; lo/hi/half/sd are null with fewer than two values. */
export interface Estimate {
  n: number;
  mean: number | null;
  sd: number | null;
  /** Half width of the interval: t(1 - (1 - level) / 2, n - 1) * sd / sqrt(n). */
  half: number | null;
  lo: number | null;
  hi: number | null;
}

/** Mean, sd and the two-sided t interval of the mean at `level` (default 95%) of the finite values. */
export function estimate(values: readonly (number | null | undefined)[], level = 0.95): Estimate {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { n, mean: null, sd: null, half: null, lo: null, hi: null };
  const m = mean(xs);
  if (n < 2) return { n, mean: m, sd: null, half: null, lo: null, hi: null };
  const s = sd(xs);
  const half = tQuantile(1 - (1 - level) / 2, n - 1) * s / Math.sqrt(n);
  return { n, mean: m, sd: s, half, lo: m - half, hi: m + half };
}

export type Verdict = 'lower' | 'higher' | 'within noise' | 'too few seeds';

export interface Paired extends Estimate {
  /** 'lower' / 'higher': the interval of the mean difference excludes zero (other minus baseline). */
  verdict: Verdict;
}

/**
 * Paired comparison: d_i = other_i - base_i over the keys (seeds) present with a finite value in
 * both maps; the t interval of mean(d) decides the verdict. Needs two common seeds.
 */
export function pairedComparison(base: ReadonlyMap<string, number>, other: ReadonlyMap<string, number>, level = 0.95): Paired {
  const d: number[] = [];
  for (const [k, b] of base) {
    const o = other.get(k);
    if (o !== undefined && Number.isFinite(o) && Number.isFinite(b)) d.push(o - b);
  }
  const e = estimate(d, level);
  let verdict: Verdict = 'too few seeds';
  if (e.lo !== null && e.hi !== null) verdict = e.hi < 0 ? 'lower' : e.lo > 0 ? 'higher' : 'within noise';
  return { ...e, verdict };
}
