// The loss-versus-cost picture (src/dashboard/cost.ts, public/cost.js): the Pareto front, the points
// the server computes from each run's config (the same counts as `normlab cost`), and the picture in
// headless Chromium: one circle per run, the front marked, a click or Enter opens the run.
// Screenshot: test-output/dashboard-cost.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../src/config/index.js';
import { costReply, paretoFront } from '../src/dashboard/cost.js';
import { readDashboard } from '../src/dashboard/data.js';
import { COST_COLUMNS, costSummary } from '../src/model/cost.js';
import type { ModelConfig } from '../src/config/types.js';
import { haveBrowser, openDashboard, OUTPUT, skip, type DashboardPage } from './browser.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/runs/', import.meta.url));

test('paretoFront keeps the points no other point beats on both coordinates, by increasing x', () => {
  const pts = [
    { id: 'a', x: 1, y: 5 }, { id: 'b', x: 2, y: 3 }, { id: 'c', x: 3, y: 4 }, // c is beaten by b
    { id: 'd', x: 4, y: 1 }, { id: 'e', x: 4, y: 2 }, // e is beaten by d (same x, higher y)
    { id: 'f', x: 0.5, y: 9 },
  ];
  assert.deepEqual(paretoFront(pts), ['f', 'a', 'b', 'd']);
  assert.deepEqual(paretoFront([]), []);
  assert.deepEqual(paretoFront([{ id: 'x', x: 1, y: 1 }, { id: 'y', x: 1, y: 1 }]), ['x'], 'a tie is one point of the front');
});

test('costReply: one point per run with a loss, the costs of its config, fronts that nothing dominates', () => {
  const root = mkdtempSync(join(tmpdir(), 'normlab-dash-cost-'));
  try {
    cpSync(FIXTURES, root, { recursive: true });
    const data = readDashboard(root), reply = costReply(data);
    const withLoss = data.runs.filter((r) => typeof r.summary?.best_val_loss === 'number');
    assert.equal(reply.points.length, withLoss.length);
    assert.ok(reply.points.length >= 3);
    for (const p of reply.points) {
      const run = data.runs.find((r) => r.id === p.run)!;
      assert.deepEqual(p.cost, costSummary({ ...defaultConfig(), ...run.config } as ModelConfig));
    }
    for (const k of COST_COLUMNS) {
      const front = new Set(reply.pareto[k]);
      const beats = (a: typeof reply.points[number], b: typeof reply.points[number]) =>
        a.cost[k] <= b.cost[k] && a.best_val_loss <= b.best_val_loss && (a.cost[k] < b.cost[k] || a.best_val_loss < b.best_val_loss);
      for (const p of reply.points) {
        const beaten = reply.points.some((q) => beats(q, p));
        assert.equal(front.has(p.run), !beaten, `${k}: ${p.run} ${beaten ? 'is beaten but on' : 'is not beaten but off'} the front`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

let root = '';
let browser: DashboardPage;

before(async () => {
  if (!haveBrowser) return;
  root = mkdtempSync(join(tmpdir(), 'normlab-dash-cost-e2e-'));
  cpSync(FIXTURES, root, { recursive: true });
  browser = await openDashboard(root);
});

after(async () => {
  if (!haveBrowser) return;
  await browser?.close();
});

test('the page plots loss against cost with the Pareto front; a point opens its run', { skip }, async () => {
  const page = browser.page;
  const n = costReply(readDashboard(root)).points.length;
  // Drawn after the page's first poll (cost.js waits for the data version); on a loaded machine that
  // can take a while, so the first wait is long. Attached is enough: the counts are what is checked.
  await page.waitForSelector(`#cost-plot[data-points="${n}"] circle`, { state: 'attached', timeout: 60_000 });
  assert.equal(await page.locator('#cost-plot circle').count(), n);
  const onFront = await page.locator('#cost-plot circle[data-pareto="1"]').count();
  assert.ok(onFront >= 1 && onFront <= n);
  assert.equal(await page.locator('#cost-plot polyline').getAttribute('data-front'), String(onFront));
  // Another measure redraws from the same reply.
  await page.selectOption('#cost-measure', 'cost_training_ops');
  const xs = await page.locator('#cost-plot circle').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-x'))));
  assert.ok(xs.every((x) => x > 0));
  await page.locator('#cost').screenshot({ path: join(OUTPUT, 'dashboard-cost.png') });
  // Click opens the run; keyboard: focus and Enter.
  const first = page.locator('#cost-plot circle').first(), id = await first.getAttribute('data-run');
  await first.scrollIntoViewIfNeeded();
  await first.click();
  await page.waitForSelector(`#details[data-run="${id}"]:not([hidden])`);
  const second = page.locator('#cost-plot circle').nth(1), id2 = await second.getAttribute('data-run');
  await second.focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#details[data-run="${id2}"]`);
  assert.deepEqual(browser.errors, []);
});
