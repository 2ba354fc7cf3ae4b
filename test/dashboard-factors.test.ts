// The dashboard on a 2 x 2 x 3-seed sweep (activation x norm x seed), in headless Chromium: runs
// grouped over seeds, labels made of the varied values, the heat map's numbers and intervals
// (checked against values computed here from the fixture, not by the server's code), the bar chart
// with the other flag averaged or filtered, the paired comparison, TensorBoard-style smoothing, log
// scale, a table that fits 1400 px, CSV export, the copy-command button, keyboard use.
// Screenshots: test-output/dashboard-heatmap.png, dashboard-bars.png, dashboard-runs.png (git-ignored).
// Needs /usr/bin/chromium (test/browser.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ACTS, NORMS, SEEDS, seedBest as best, seedRunName as runName, writeSeedSweep as writeSweep } from '../tools/make-dashboard-fixtures.js';
import { haveBrowser, openDashboard, OUTPUT, skip, type DashboardPage } from './browser.js';

const T975_2 = 4.302652729911275; // Student t quantile, 0.975, 2 degrees of freedom (tables)

/** Mean and 95% t interval of three numbers, written out (the check on the server's numbers). */
function interval3(xs: number[]): { mean: number; lo: number; hi: number } {
  const m = (xs[0] + xs[1] + xs[2]) / 3;
  const s = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / 2);
  return { mean: m, lo: m - T975_2 * s / Math.sqrt(3), hi: m + T975_2 * s / Math.sqrt(3) };
}

let root = '';
let browser: DashboardPage;
let page: Page;
let errors: string[] = [];

before(async () => {
  if (!haveBrowser) return;
  root = mkdtempSync(join(tmpdir(), 'normlab-dash-seeds-'));
  writeSweep(root);
  browser = await openDashboard(root, {}, ['clipboard-read', 'clipboard-write']);
  ({ page, errors } = browser);
  await page.waitForSelector('#status[data-runs="12"]');
});

after(async () => {
  if (!haveBrowser) return;
  await browser?.close();
});

test('repeats are drawn as one mean curve with a band per combination; legend labels are the varied values', { skip }, async () => {
  await page.waitForSelector('#train-chart[data-series="4"][data-bands="4"] canvas');
  await page.waitForSelector('#val-chart[data-series="4"][data-bands="4"] canvas');
  const labels = await page.locator('#legend .legend-item').allInnerTexts();
  assert.deepEqual(labels.map((s) => s.trim()), ['relu · rmsnorm', 'relu · krmsnorm', 'gelu · rmsnorm', 'gelu · krmsnorm']);
  const title = await page.locator('#legend .legend-item').nth(1).getAttribute('title');
  for (const s of SEEDS) assert.ok(title!.includes(`sweep/${runName('relu', 'krmsnorm', s)}`), `full names on hover: ${title}`);
  // The validation curve's last point is the mean of the three seeds' best losses.
  const val = await page.evaluate(() => (window as unknown as { normlabPage: { chartData(n: string): (number | null)[][] } }).normlabPage.chartData('val'));
  const expect = interval3(SEEDS.map((s) => best('relu', 'rmsnorm', s)));
  const last = val[0].length - 1;
  assert.ok(Math.abs(val[1][last]! - expect.mean) < 1e-9, `mean line ${val[1][last]} vs ${expect.mean}`);
  assert.ok(Math.abs(val[2][last]! - expect.lo) < 1e-9 && Math.abs(val[3][last]! - expect.hi) < 1e-9, 'band = 95% interval');

  // Legend entries are buttons: keyboard toggles a combination in both charts.
  await page.locator('#legend .legend-item').first().focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#train-chart[data-visible="3"]');
  await page.waitForSelector('#val-chart[data-visible="3"]');
  await page.locator('#legend .legend-item').first().press('Space');
  await page.waitForSelector('#train-chart[data-visible="4"]');

  // One curve per run on demand, labelled with the seed.
  await page.locator('#group-seeds').uncheck();
  await page.waitForSelector('#train-chart[data-series="12"][data-bands="0"]');
  assert.equal((await page.locator('#legend .legend-item').first().innerText()).trim(), 'relu · rmsnorm · seed 1');
  await page.screenshot({ path: join(OUTPUT, 'dashboard-runs.png'), fullPage: true });
  await page.locator('#group-seeds').check();
  await page.waitForSelector('#train-chart[data-series="4"]');
});

test('smoothing is TensorBoard\'s debiased EMA; log scale switches the axis', { skip }, async () => {
  type Win = { normlabPage: { smooth(y: (number | null)[], w: number): (number | null)[]; chartData(n: string): (number | null)[][] } };
  const sm = await page.evaluate(() => (window as unknown as Win).normlabPage.smooth([1, 2, null, 3], 0.5));
  // last: 0.5, 1.25, 2.125 divided by 1 - 0.5^k: 1, 1.6667, 2.4286; null stays null and does not count.
  assert.deepEqual(sm.map((v) => (v === null ? null : Number(v.toFixed(4)))), [1, 1.6667, null, 2.4286]);
  assert.deepEqual(await page.evaluate(() => (window as unknown as Win).normlabPage.smooth([2, 2, 2], 0.9)), [2, 2, 2]);

  await page.locator('#smoothing').fill('0');
  await page.waitForSelector('#train-chart[data-smoothing="0"]');
  const raw = (await page.evaluate(() => (window as unknown as Win).normlabPage.chartData('train')))[1] as number[];
  await page.locator('#smoothing').fill('0.9');
  await page.waitForSelector('#train-chart[data-smoothing="0.9"]');
  const smoothed = (await page.evaluate(() => (window as unknown as Win).normlabPage.chartData('train')))[1] as number[];
  let last = 0;
  raw.forEach((y, k) => {
    last = 0.9 * last + 0.1 * y;
    assert.ok(Math.abs(smoothed[k] - last / (1 - 0.9 ** (k + 1))) < 1e-12, `EMA at point ${k}`);
  });
  assert.equal(await page.locator('#smoothing-value').innerText(), '0.90');
  // Keyboard: the slider moves by its step with the arrow keys.
  await page.locator('#smoothing').focus();
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('#train-chart[data-smoothing="0.91"]');

  await page.locator('#logscale').check();
  await page.waitForSelector('#train-chart[data-log="true"] canvas');
  assert.equal(await page.evaluate(() => (window as unknown as { normlabPage: { yDistr(n: string): number } }).normlabPage.yDistr('train')), 3, 'uPlot log scale');
  await page.locator('#logscale').uncheck();
  await page.waitForSelector('#train-chart[data-log="false"]');
});

test('heat map: rows x columns, each cell the mean, interval and seed count of that combination', { skip }, async () => {
  await page.waitForSelector('#heatmap td[data-mean]');
  assert.equal(await page.locator('#factor-rows').inputValue(), 'activation_variant');
  assert.equal(await page.locator('#factor-cols').inputValue(), 'norm_variant_attn');
  assert.deepEqual(await page.locator('#heatmap thead th').allInnerTexts(), ['', 'rmsnorm', 'krmsnorm']);
  assert.deepEqual(await page.locator('#heatmap tbody th').allInnerTexts(), ['relu', 'gelu']);
  assert.equal(await page.locator('#heatmap td[data-mean]').count(), 4);
  const colours = new Set<string>();
  for (const a of ACTS) for (const n of NORMS) {
    const td = page.locator(`#heatmap td[data-row="${a}"][data-col="${n}"]`);
    const want = interval3(SEEDS.map((s) => best(a, n, s)));
    for (const [k, v] of [['mean', want.mean], ['lo', want.lo], ['hi', want.hi]] as const) {
      assert.ok(Math.abs(Number(await td.getAttribute(`data-${k}`)) - v) < 1e-9, `${a} x ${n} ${k}`);
    }
    assert.equal(await td.getAttribute('data-n'), '3');
    const text = await td.innerText();
    assert.ok(text.includes(want.mean.toFixed(4)) && text.includes(`± ${((want.hi - want.lo) / 2).toFixed(4)}`), text);
    assert.ok(text.includes(`[${want.lo.toFixed(4)}, ${want.hi.toFixed(4)}] n=3`), text);
    if (await td.getAttribute('data-overlaps-best') !== '1') colours.add(await td.evaluate((e) => getComputedStyle(e).backgroundColor));
  }
  const greyed = await page.locator('#heatmap td[data-overlaps-best="1"]').count();
  assert.equal(colours.size, 4 - greyed, 'different means, different colours (cells the seeds cannot tell from the best are grey)');
  // The lowest mean is the darkest viridis end (68, 1, 84), the highest the yellow end unless greyed.
  assert.equal(await page.locator('#heatmap td[data-row="relu"][data-col="rmsnorm"]').evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(68, 1, 84)');
  const top = page.locator('#heatmap td[data-row="gelu"][data-col="krmsnorm"]');
  if (await top.getAttribute('data-overlaps-best') !== '1') assert.equal(await top.evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(253, 231, 37)');
  await page.locator('#factors').screenshot({ path: join(OUTPUT, 'dashboard-heatmap.png') });
});

test('one flag: bar chart with interval whiskers, the other flag averaged or filtered', { skip }, async () => {
  await page.locator('#factor-cols').selectOption('');
  await page.waitForSelector('#barchart .bar');
  assert.equal(await page.locator('#barchart .bar').count(), 2);
  const pooled = (a: string) => NORMS.flatMap((n) => SEEDS.map((s) => best(a, n, s)));
  const mean6 = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
  assert.ok(Math.abs(Number(await page.locator('#barchart .bar[data-label="relu"]').getAttribute('data-mean')) - mean6(pooled('relu'))) < 1e-9);
  assert.equal(await page.locator('#barchart .bar[data-label="gelu"]').getAttribute('data-n'), '6');
  assert.equal(await page.locator('#barchart .bar[data-label="gelu"] line.whisker').count(), 3);
  assert.match(await page.locator('#factor-note').innerText(), /seeds and norm_variant_attn averaged/);
  await page.locator('#factor-rest select[data-flag="norm_variant_attn"]').selectOption('krmsnorm');
  await page.waitForSelector('#barchart .bar[data-n="3"]');
  const want = interval3(SEEDS.map((s) => best('gelu', 'krmsnorm', s)));
  assert.ok(Math.abs(Number(await page.locator('#barchart .bar[data-label="gelu"]').getAttribute('data-hi')) - want.hi) < 1e-9);
  await page.locator('#factors').screenshot({ path: join(OUTPUT, 'dashboard-bars.png') });
  await page.locator('#factor-rest select[data-flag="norm_variant_attn"]').selectOption('');
  await page.locator('#factor-cols').selectOption('norm_variant_attn');
  await page.waitForSelector('#heatmap td[data-mean]');
});

test('paired comparison with a chosen baseline: differences beyond the seed noise', { skip }, async () => {
  const base = page.locator('#baseline');
  await base.selectOption({ label: 'relu · rmsnorm' });
  await page.waitForSelector('#groups th:has-text("verdict")');
  const row = (label: string) => page.locator('#groups tbody tr', { has: page.locator(`td:first-child:text-is("${label}")`) });
  // relu · krmsnorm is relu · rmsnorm + 0.05 on every seed: zero spread, clearly higher.
  assert.match(await row('relu · krmsnorm').innerText(), /\+0\.0500\s+\[\+0\.0500, \+0\.0500\]\s+higher: beyond seed noise \(n=3\)/);
  // gelu · rmsnorm: +0.02, +0.02, +0.024: mean +0.0213, interval excludes zero.
  assert.match(await row('gelu · rmsnorm').innerText(), /\+0\.0213\s.*higher: beyond seed noise/);
  assert.match(await row('relu · rmsnorm').innerText(), /baseline/);
  assert.equal(await row('relu · rmsnorm').locator('td').nth(1).innerText(), '3/3');
});

test('results table: labels, fits 1400 px without sideways scrolling, columns chosen, CSV export, copy command', { skip }, async () => {
  const wrap = page.locator('#results').locator('xpath=..');
  const [sw, cw] = await wrap.evaluate((e) => [e.scrollWidth, e.clientWidth]);
  assert.ok(sw <= cw, `table ${sw} px wide in ${cw} px`);
  const first = page.locator('#results tbody tr td.run').first();
  assert.match(await first.innerText(), /^(relu|gelu) · (rmsnorm|krmsnorm) · seed \d$/);
  assert.match(await first.getAttribute('title') ?? '', /^sweep\/activation_variant-/);
  // Choose columns: add params.
  await page.locator('#columns-menu summary').click();
  await page.locator('#columns-list input[data-col="params"]').check();
  await page.waitForSelector('#results th[data-col="params"]');
  const [sw2, cw2] = await wrap.evaluate((e) => [e.scrollWidth, e.clientWidth]);
  assert.ok(sw2 <= cw2, 'still fits with a column added');
  await page.locator('#columns-menu summary').click();

  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
  const csv = readFileSync((await download.path())!, 'utf8').trim().split('\n');
  assert.equal(csv.length, 13);
  const header = csv[0].split(',');
  assert.ok(header.includes('params') && header.includes('best_val_loss') && header.includes('seed'), csv[0]);
  const bi = header.indexOf('best_val_loss');
  const losses = csv.slice(1).map((l) => Number(l.split(',')[bi]));
  assert.deepEqual(losses, [...losses].sort((a, b) => a - b), 'rows in the table order (by best val loss)');

  // Keyboard: Tab reaches a row, Enter opens it; the command reproduces the run.
  const row = page.locator(`#results tbody tr[data-run="sweep/${runName('relu', 'krmsnorm', 2)}"]`);
  await row.focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#details[data-run="sweep/${runName('relu', 'krmsnorm', 2)}"]`);
  const cmd = await page.locator('#command').innerText();
  assert.match(cmd, /^normlab train .*--activation_variant relu/);
  assert.match(cmd, /--norm_variant_attn krmsnorm/);
  assert.match(cmd, /--seed 2 /);
  assert.match(cmd, /--out_dir \S+activation_variant-relu_norm_variant_attn-krmsnorm_seed-2$/);
  assert.doesNotMatch(cmd, /--dropout|--out_dir.*--out_dir/, 'flags at their default are left out; out_dir once');
  await page.locator('#copy-command').click();
  await page.waitForSelector('#copy-status[data-state="copied"]');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), cmd);
  assert.deepEqual(errors, []);
});
