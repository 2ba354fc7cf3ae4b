// End to end: the dashboard page in a real headless browser (Debian's chromium, driven by
// playwright-core) on a temp copy of test/fixtures/runs/: runs load, one curve per run is drawn,
// legend clicks toggle curves, the table sorts and filters, rows highlight curves, a run shows its
// learned pfla curves and kRMSNorm recompute share, the sample button shows text, a new run appears
// live. Screenshots go to test-output/ (git-ignored).
// Needs /usr/bin/chromium (test/browser.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { PFLA_RUN, RUNS, SWEEP, writePflaCheckpoint } from '../tools/make-dashboard-fixtures.js';
import { haveBrowser, openDashboard, OUTPUT, skip, type DashboardPage } from './browser.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/runs/', import.meta.url));

let root = '';
let browser: DashboardPage;
let page: Page;

before(async () => {
  if (!haveBrowser) return;
  root = mkdtempSync(join(tmpdir(), 'normlab-dash-e2e-'));
  cpSync(FIXTURES, root, { recursive: true });
  writePflaCheckpoint(join(root, SWEEP, PFLA_RUN));
  browser = await openDashboard(root, { sample: async (dir, o) => `sample of ${basename(dir)} seed=${o?.seed}` });
  page = browser.page;
  (globalThis as { pageErrors?: string[] }).pageErrors = browser.errors;
});

after(async () => {
  if (!haveBrowser) return;
  await browser?.close();
});

const attr = (sel: string, name: string): Promise<string | null> => page.locator(sel).getAttribute(name);

test('the page loads the runs and draws one curve per run', { skip }, async () => {
  await page.waitForSelector('#status[data-runs="3"]');
  await page.waitForSelector('#train-chart[data-series="3"] canvas');
  await page.waitForSelector('#val-chart[data-series="3"] canvas');
  // One legend for both charts: one entry per run, labelled with the values that vary.
  assert.equal(await page.locator('#legend .legend-item').count(), 3);
  assert.equal(await attr('#train-chart', 'data-points'), '20');
  assert.equal(await attr('#val-chart', 'data-points'), '5');
  assert.equal(await page.locator('#results tbody tr').count(), 3);
  assert.deepEqual((globalThis as { pageErrors?: string[] }).pageErrors, []);
});

test('clicking a legend entry hides and shows that run in both loss charts', { skip }, async () => {
  const entry = page.locator('#legend .legend-item').nth(1);
  await entry.click();
  await page.waitForSelector('#train-chart[data-visible="2"]');
  await page.waitForSelector('#val-chart[data-visible="2"]');
  await entry.click();
  await page.waitForSelector('#train-chart[data-visible="3"]');
  await page.waitForSelector('#val-chart[data-visible="3"]');
});

/** A column's cells as shown (the run column: the full run id, its cells' title; the text is the label). */
async function column(col: string): Promise<string[]> {
  const cols = await page.locator('#results thead th').evaluateAll((ths) => ths.map((th) => th.getAttribute('data-col')));
  const k = cols.indexOf(col);
  return page.locator('#results tbody tr').evaluateAll((trs, [k, run]) => trs.map((tr) => {
    const td = (tr as HTMLTableRowElement).cells[k as number];
    return (run ? td.title : td.textContent) ?? '';
  }), [k, col === 'run'] as const);
}

test('sorting the table by clicking headers, filtering by the text box', { skip }, async () => {
  const byLoss = [...RUNS].map((r) => r.name); // expected order from the fixture results
  const losses = (await column('best_val_loss')).map(Number);
  assert.deepEqual(losses, [...losses].sort((a, b) => a - b), 'sorted by best_val_loss ascending at first');
  await page.locator('#results th[data-col="best_val_loss"]').click();
  assert.equal(await attr('#results th[data-col="best_val_loss"]', 'aria-sort'), 'descending');
  const desc = (await column('best_val_loss')).map(Number);
  assert.deepEqual(desc, [...losses].sort((a, b) => b - a));
  await page.locator('#results th[data-col="run"]').click();
  assert.equal(await attr('#results th[data-col="run"]', 'aria-sort'), 'ascending');
  assert.deepEqual(await column('run'), byLoss.map((n) => `${SWEEP}/${n}`).sort());
  await page.locator('#results th[data-col="tokens_per_s"]').click();
  assert.deepEqual((await column('tokens_per_s')).map((s) => Number(s.replace(/,/g, ''))), [13000, 14500, 16000]);

  await page.fill('#filter', 'krmsnorm');
  assert.equal(await page.locator('#results tbody tr').count(), 1);
  assert.equal(await attr('#results tbody tr', 'data-run'), `${SWEEP}/${RUNS[1].name}`);
  await page.fill('#filter', '');
  assert.equal(await page.locator('#results tbody tr').count(), 3);
});

test('hovering a row highlights its curves', { skip }, async () => {
  const id = `${SWEEP}/${RUNS[1].name}`;
  await page.locator(`#results tbody tr[data-run="${id}"]`).hover();
  assert.equal(await attr('#train-chart', 'data-focus'), id);
  assert.equal(await attr('#val-chart', 'data-focus'), id);
  await page.locator('header h1').hover();
  assert.equal(await attr('#train-chart', 'data-focus'), '');
});

test('clicking a run shows its flags, block layout and learned activation curves', { skip }, async () => {
  const id = `${SWEEP}/${PFLA_RUN}`;
  await page.locator(`#results tbody tr[data-run="${id}"]`).click();
  await page.waitForSelector(`#details[data-run="${id}"]`);
  await page.waitForSelector('.act-chart[data-variant="pfla"][data-curves="2"] canvas');
  assert.equal(await page.locator('.act-chart .u-legend .u-series').count(), 4); // x, initial, h.0, h.1
  assert.match(await page.locator('#layout').innerText(), /mlp\[pfla\]/);
  assert.match(await page.locator('#flags-changed').innerText(), /activation_variant\s+"pfla"/);
  assert.ok(await page.locator('#krms-box').isHidden());
  assert.match(await page.locator('#results tbody tr.selected').getAttribute('data-run') ?? '', /pfla/);
  await page.screenshot({ path: join(OUTPUT, 'dashboard-pfla.png'), fullPage: true });

  await page.locator('#sample-btn').click(); // seed left blank: the sampler's default
  await page.waitForSelector('#sample-text[data-state="done"]');
  assert.equal(await page.locator('#sample-text').innerText(), `sample of ${PFLA_RUN} seed=undefined`);
});

test('a kRMSNorm run shows its recompute share over training', { skip }, async () => {
  const id = `${SWEEP}/${RUNS[1].name}`;
  await page.locator(`#results tbody tr[data-run="${id}"]`).click();
  await page.waitForSelector('#metric-krmsnorm_recompute[data-points="5"] canvas');
  await page.waitForSelector(`#act-charts[data-run="${id}"]`); // the previous run's curves are replaced asynchronously
  assert.match(await page.locator('#act-charts').innerText(), /no checkpoint/);
  await page.screenshot({ path: join(OUTPUT, 'dashboard-krmsnorm.png'), fullPage: true });
});

test('a run that starts while the page is open appears live', { skip }, async () => {
  const dir = join(root, 'live_run');
  mkdirSync(dir);
  writeFileSync(join(dir, 'log.jsonl'), [0, 10, 20].map((it) => JSON.stringify({ iter: it, loss: 4 - it / 20, lr: 1e-3, ms: 10 })).join('\n') + '\n');
  await page.waitForSelector('#status[data-runs="4"]');
  await page.waitForSelector('#train-chart[data-series="4"]');
  assert.equal(await page.locator('#results tbody tr[data-run="live_run"]').count(), 1);
  assert.equal(await page.locator('#results tbody tr[data-run="live_run"] td.status-running').count(), 1, await page.locator('#results tbody tr[data-run="live_run"]').innerHTML());
  assert.deepEqual((globalThis as { pageErrors?: string[] }).pageErrors, []);
});
