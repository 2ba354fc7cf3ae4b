// The researcher's study (test/study.ts: 3 norms x 2 activations x 3 seeds, every run's best at its
// last evaluation, kRMSNorm's k and prmsnorm's fraction set only where used) in headless Chromium:
// the loss charts open on the range after the first evaluation past iteration 0 (a toggle shows all),
// a learning-rate chart, the heat map greys the cells the seeds cannot tell from the best, the runs
// still improving are marked, main effects per factor, the factors (not k) label the runs and go
// into the default CSV export, and the header counts "1 run" right.
// Screenshots: test-output/dashboard-study-charts.png, dashboard-study-factors.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveBrowser, openDashboard, OUTPUT, skip, type DashboardPage } from './browser.js';
import { writeStudy } from './study.js';

let browser: DashboardPage;

before(async () => {
  if (!haveBrowser) return;
  const root = mkdtempSync(join(tmpdir(), 'normlab-dash-study-'));
  writeStudy(join(root, 'study'));
  browser = await openDashboard(root);
});

after(async () => {
  if (!haveBrowser) return;
  await browser?.close();
});

test('the study in the dashboard: differences visible, lr chart, greyed ties, still-improving marks, main effects, factors only', { skip }, async () => {
  const page = browser.page;
  await page.waitForSelector('#status[data-runs="18"]', { timeout: 60_000 });
  assert.match(await page.locator('#status').textContent() ?? '', /^18 runs/);
  await page.waitForSelector('#val-chart[data-series="6"]', { timeout: 60_000 });

  // The y axis opens on the losses from iteration 100 (the first evaluation past 0) on: not 4.2.
  const ymax = Number(await page.locator('#val-chart').getAttribute('data-ymax'));
  assert.ok(ymax > 2.3 && ymax < 3.3, `val chart y max ${ymax}`);
  const scale = await page.evaluate(() => (window as unknown as { normlabPage: { yScale(n: string): number[] } }).normlabPage.yScale('val'));
  assert.ok(scale[1] < 3.3, `the drawn scale ${scale}`);
  const trainMax = await page.evaluate(() => (window as unknown as { normlabPage: { yScale(n: string): number[] } }).normlabPage.yScale('train')[1]);
  assert.ok(trainMax < 3.3, `train chart y max ${trainMax}`);

  // The learning rate: one curve per combination, not 0 at iteration 0.
  assert.equal(await page.locator('#lr-chart').getAttribute('data-series'), '6');
  const lr = await page.evaluate(() => (window as unknown as { normlabPage: { chartData(n: string): number[][] } }).normlabPage.chartData('lr'));
  assert.ok(lr[1][0] > 0 && lr[1].some((v) => v > 9e-4));

  // Still improving: every run's best was at its last evaluation.
  await page.waitForSelector('#improving-note[data-count="18"]');
  await page.locator('.charts').screenshot({ path: join(OUTPUT, 'dashboard-study-charts.png') });

  // Labels are the factors: no k, no fraction.
  const legend = await page.locator('#legend .legend-item').allTextContents();
  assert.deepEqual(legend, ['rmsnorm · gelu', 'rmsnorm · relu', 'krmsnorm · gelu', 'krmsnorm · relu', 'prmsnorm · gelu', 'prmsnorm · relu']);
  assert.deepEqual(await page.locator('#factor-rows option').allTextContents(), ['norm_variant_attn', 'activation_variant']);
  assert.equal(await page.locator('#factor-rest select').count(), 0, 'no extra selectors for k or the fraction');

  // Heat map: the best cell outlined; a cell is grey exactly when its interval reaches the best's.
  await page.waitForSelector('#heatmap td[data-best="1"]');
  const cells = await page.locator('#heatmap td[data-mean]').evaluateAll((tds) => tds.map((td) => ({
    mean: Number(td.getAttribute('data-mean')), lo: Number(td.getAttribute('data-lo')), hi: Number(td.getAttribute('data-hi')),
    best: td.getAttribute('data-best') === '1', grey: td.getAttribute('data-overlaps-best') === '1' })));
  assert.equal(cells.length, 6);
  const best = cells.find((c) => c.best)!;
  assert.equal(best.mean, Math.min(...cells.map((c) => c.mean)));
  for (const c of cells) if (!c.best) assert.equal(c.grey, c.lo <= best.hi, JSON.stringify(c));
  assert.ok(cells.some((c) => c.grey), 'rmsnorm · relu is within the noise of rmsnorm · gelu');

  // Combinations table: still improving 3/3; main effects of the norm against rmsnorm.
  assert.equal(await page.locator('#groups td.improving', { hasText: '↓ 3/3' }).count(), 6);
  await page.waitForSelector('#effects[data-rows="6"]');
  const eff = await page.locator('#effects tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-level'), tr.getAttribute('data-within')]));
  assert.deepEqual(eff, [['krmsnorm', 'all'], ['krmsnorm', 'gelu'], ['krmsnorm', 'relu'], ['prmsnorm', 'all'], ['prmsnorm', 'gelu'], ['prmsnorm', 'relu']]);
  assert.match(await page.locator('#effects tbody tr').first().textContent() ?? '', /higher: beyond seed noise \(n=3\)/);
  await page.selectOption('#effect-flag', 'activation_variant');
  await page.waitForSelector('#effects tbody tr[data-level="relu"][data-within="all"]');
  await page.locator('#factors').screenshot({ path: join(OUTPUT, 'dashboard-study-factors.png') });

  // The y toggle: every iteration, the untrained 4.2 included.
  await page.locator('#yall').check();
  await page.waitForFunction(() => document.getElementById('val-chart')!.dataset.ymax === '');
  const all = await page.evaluate(() => (window as unknown as { normlabPage: { yScale(n: string): number[] } }).normlabPage.yScale('val'));
  assert.ok(all[1] >= 4.2, `all iterations: ${all}`);

  // Results table: the best iteration marked; the default CSV export names the factors of each run.
  assert.equal(await page.locator('#results td[data-col="best_iter"][data-improving="1"]').count(), 18);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
  const csv = readFileSync((await download.path())!, 'utf8').trim().split('\n');
  const head = csv[0].split(',');
  assert.ok(head.includes('norm_variant_attn') && head.includes('activation_variant'), csv[0]);
  assert.ok(!head.includes('krmsnorm_num'), csv[0]);
  assert.deepEqual(browser.errors, []);
});

test('one run: the header says "1 run"', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'normlab-dash-one-'));
  mkdirSync(join(root, 'r'));
  writeFileSync(join(root, 'r', 'log.jsonl'), '{"iter":0,"loss":4.2,"lr":0.001}\n');
  const one = await openDashboard(root);
  try {
    await one.page.waitForSelector('#status[data-runs="1"]', { timeout: 60_000 });
    assert.match(await one.page.locator('#status').textContent() ?? '', /^1 run[,· ]/);
  } finally {
    await one.close();
  }
});
