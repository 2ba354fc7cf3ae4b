// src/stats/stats.ts: values at known points (closed forms and published t tables), the paired
// comparison, and a coverage check: 95% intervals of 3-sample means cover the true mean ~95% of the
// time (a normal quantile in place of the t quantile would cover only 2 F(1.96; 2) - 1 = 81%).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimate, incompleteBeta, logGamma, mean, pairedComparison, sd, tCdf, tQuantile } from '../src/stats/stats.js';

const close = (a: number | null, b: number, tol: number, what = '') =>
  assert.ok(a !== null && Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

test('mean and sample standard deviation', () => {
  assert.equal(mean([2, 4, 4, 4, 5, 5, 7, 9]), 5);
  close(sd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7), 1e-15, 'sd divides by n - 1');
  assert.ok(Number.isNaN(mean([])));
  assert.ok(Number.isNaN(sd([3])));
});

test('log gamma and the regularized incomplete beta at closed forms', () => {
  close(logGamma(1), 0, 1e-14, 'lnG(1)');
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14, 'lnG(1/2)');
  close(logGamma(10), Math.log(362880), 1e-12, 'lnG(10) = ln 9!');
  for (const x of [0.01, 0.3, 0.5, 0.77, 0.999]) {
    close(incompleteBeta(x, 1, 1), x, 1e-14, `I_x(1,1) at ${x}`);
    close(incompleteBeta(x, 3, 1), x ** 3, 1e-14, `I_x(3,1) at ${x}`);
    close(incompleteBeta(x, 1, 4), 1 - (1 - x) ** 4, 1e-14, `I_x(1,4) at ${x}`);
    // I_x(1/2, 1/2) = (2 / pi) asin(sqrt(x)) (arcsine distribution)
    close(incompleteBeta(x, 0.5, 0.5), (2 / Math.PI) * Math.asin(Math.sqrt(x)), 1e-13, `I_x(1/2,1/2) at ${x}`);
  }
  assert.equal(incompleteBeta(0, 2, 3), 0);
  assert.equal(incompleteBeta(1, 2, 3), 1);
  assert.ok(Number.isNaN(incompleteBeta(1.5, 2, 3)));
});

test('t distribution function: Cauchy (df 1) and df 2 closed forms, symmetry', () => {
  for (const t of [-30, -2.5, -0.3, 0, 0.7, 4, 100]) {
    close(tCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-13, `F(${t}; 1)`);
    close(tCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-13, `F(${t}; 2)`);
    close(tCdf(t, 7) + tCdf(-t, 7), 1, 1e-14, `symmetry at ${t}`);
  }
  assert.equal(tCdf(0, 5), 0.5);
});

test('t quantiles at known points (two-sided 95% and others, from published tables)', () => {
  close(tQuantile(0.975, 1), 12.7062047362, 1e-8, 't(0.975, 1)');
  close(tQuantile(0.975, 1), Math.tan(Math.PI * 0.475), 1e-9, 't(0.975, 1) = tan(0.475 pi)');
  close(tQuantile(0.975, 2), 4.3026527297, 1e-9, 't(0.975, 2)');
  close(tQuantile(0.975, 3), 3.1824463053, 1e-9, 't(0.975, 3)');
  close(tQuantile(0.975, 5), 2.5705818366, 1e-9, 't(0.975, 5)');
  close(tQuantile(0.975, 30), 2.0422724563, 1e-9, 't(0.975, 30)');
  close(tQuantile(0.95, 10), 1.8124611228, 1e-9, 't(0.95, 10)');
  close(tQuantile(0.995, 3), 5.8409093097, 1e-8, 't(0.995, 3)');
  close(tQuantile(0.975, 1e7), 1.959963985, 1e-6, 'large df -> normal 1.959964');
  close(tQuantile(0.025, 4), -tQuantile(0.975, 4), 1e-12, 'odd symmetry');
  assert.equal(tQuantile(0.5, 3), 0);
  for (const df of [1, 2, 4, 9, 29]) for (const p of [0.6, 0.9, 0.99, 0.9995]) close(tCdf(tQuantile(p, df), df), p, 1e-12, `F(Q(${p}; ${df}))`);
  assert.ok(Number.isNaN(tQuantile(1, 3)) && Number.isNaN(tQuantile(0.9, 0)));
});

test('estimate: mean, sd and 95% t interval; none with one value; non-finite values ignored', () => {
  const e = estimate([1, 2, 3]);
  assert.equal(e.n, 3);
  close(e.mean, 2, 1e-15, 'mean');
  close(e.sd, 1, 1e-15, 'sd');
  close(e.half, 4.3026527297 / Math.sqrt(3), 1e-9, 'half width = t(0.975, 2) sd / sqrt(3)');
  close(e.lo, 2 - 4.3026527297 / Math.sqrt(3), 1e-9, 'lo');
  close(e.hi, 2 + 4.3026527297 / Math.sqrt(3), 1e-9, 'hi');
  assert.deepEqual(estimate([5, null, NaN]), { n: 1, mean: 5, sd: null, half: null, lo: null, hi: null });
  assert.deepEqual(estimate([]), { n: 0, mean: null, sd: null, half: null, lo: null, hi: null });
  close(estimate([1, 2, 3], 0.9).half, 2.9199855804 / Math.sqrt(3), 1e-9, '90% uses t(0.95, 2)');
});

test('paired comparison: differences on common seeds; a constant shift hidden in seed noise is found', () => {
  const base = new Map([['1', 2.40], ['2', 2.50], ['3', 2.60]]);
  // 0.01 lower on every seed: unpaired intervals overlap widely, paired differences are clear.
  const other = new Map([['1', 2.389], ['2', 2.490], ['3', 2.591], ['4', 1.0]]);
  const p = pairedComparison(base, other);
  assert.equal(p.n, 3, 'seed 4 has no baseline: left out');
  close(p.mean, -0.01, 1e-12, 'mean difference');
  assert.equal(p.verdict, 'lower');
  assert.ok(p.hi! < 0);
  const unpaired = [estimate([...base.values()]), estimate([2.389, 2.490, 2.591])];
  assert.ok(unpaired[0].lo! < unpaired[1].hi!, 'the unpaired intervals overlap');
  // Differences +0.1, +0.1, +0.2: mean 0.133, half width 4.303 * 0.0577 / 1.732 = 0.143 > mean.
  const noisy = pairedComparison(base, new Map([['1', 2.5], ['2', 2.6], ['3', 2.8]]));
  assert.equal(noisy.verdict, 'within noise');
  assert.ok(noisy.lo! < 0 && noisy.hi! > 0);
  assert.equal(pairedComparison(base, new Map([['2', 3]])).verdict, 'too few seeds');
  assert.equal(pairedComparison(base, new Map([['1', 2.5], ['2', 2.61], ['3', 2.72]])).verdict, 'higher');
});

test('coverage: 95% t intervals of 3 normal draws cover the true mean about 95% of the time', () => {
  let s = 12345;
  const uniform = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s + 0.5) / 4294967296; };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const trials = 4000;
  let covered = 0;
  for (let i = 0; i < trials; i++) {
    const e = estimate([normal(), normal(), normal()].map((z) => 2.5 + 0.03 * z));
    if (e.lo! <= 2.5 && 2.5 <= e.hi!) covered++;
  }
  // Binomial sd at 95%: sqrt(.95 * .05 / 4000) = 0.0034; z = 1.96 instead of t would give 0.81.
  assert.ok(Math.abs(covered / trials - 0.95) < 0.015, `coverage ${covered / trials}`);
});
