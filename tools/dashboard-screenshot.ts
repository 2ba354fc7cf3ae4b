// Screenshot of the dashboard for a folder of runs (for notes and reports), in headless chromium:
//   npx tsc -p . && node dist/tools/dashboard-screenshot.js out/sweeps/norms test-output/dashboard.png [run-id]
// With a run id (a folder relative to the given one), that run is selected first, so its activation
// curves and flags are in the picture. `--section cost` (or any section id: factors, cost) shoots that
// section alone, e.g. the README's loss-against-cost picture:
//   node dist/tools/dashboard-screenshot.js sweeps/norm_cost docs/img/loss-vs-cost.png --section cost --measure cost_reduction_bits
// Needs /usr/bin/chromium (scripts/install-browser.sh).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { startDashboard } from '../src/dashboard/server.js';

async function shoot(folder: string, png: string, runId: string | undefined, section: string | undefined, measure: string | undefined): Promise<void> {
  const dash = await startDashboard({ root: folder, port: 0 });
  const profile = mkdtempSync(join(tmpdir(), 'normlab-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = ctx.pages()[0] ?? await ctx.newPage();
    await page.goto(dash.url);
    await page.waitForSelector('#status[data-version]');
    // Charts, and the factors picture when runs differ in some flag, come from /api/groups after the data.
    await page.waitForFunction(() => document.querySelector('#train-chart canvas') &&
      (document.querySelector('#heatmap td[data-mean], #barchart .bar') || (document.querySelector('#factors') as HTMLElement).hidden));
    if (runId) {
      await page.locator(`#results tbody tr[data-run="${runId}"]`).click();
      await page.waitForSelector(`#details[data-run="${runId}"]`);
      await page.waitForFunction(() => document.querySelector('#act-charts')?.hasAttribute('data-groups') || document.querySelector('#act-charts p'));
    }
    mkdirSync(dirname(resolve(png)), { recursive: true });
    if (section === 'cost') await page.waitForSelector('#cost-plot g.combo', { timeout: 60_000 });
    if (measure) {
      await page.selectOption('#cost-measure', measure);
      await page.waitForSelector(`#cost-plot[data-measure="${measure}"]`);
    }
    if (section) await page.locator(`#${section}`).screenshot({ path: png });
    else await page.screenshot({ path: png, fullPage: true });
  } finally {
    await ctx.close();
    await dash.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
const at = args.indexOf('--section');
const section = at >= 0 ? args.splice(at, 2)[1] : undefined;
const mi = args.indexOf('--measure');
const measure = mi >= 0 ? args.splice(mi, 2)[1] : undefined;
const [folder, png, runId] = args;
if (!folder || !png) {
  console.error('usage: node dist/tools/dashboard-screenshot.js FOLDER OUT.png [RUN_ID] [--section cost|factors] [--measure cost_reduction_bits]');
  process.exitCode = 1;
} else {
  shoot(folder, png, runId, section, measure).then(() => console.log(`wrote ${png}`), (e: unknown) => { console.error(e); process.exitCode = 1; });
}
