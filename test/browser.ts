// Shared by the Chromium tests and tools/bench_browser.mjs, tools/playground_parity.mjs: Debian's
// chromium driven by playwright-core, headless, 1400 x 1000, with a throwaway profile; the page's
// errors collected. Screenshots go to test-output/ (git-ignored).
// Without /usr/bin/chromium (scripts/install-browser.sh) the tests are skipped, except under CI=true.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDashboard, type Dashboard, type DashboardOptions } from '../src/dashboard/server.js';

export const CHROMIUM = '/usr/bin/chromium';
export const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
export const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: run scripts/install-browser.sh`);
export const skip: string | false = haveBrowser ? false : `${CHROMIUM} not installed (run scripts/install-browser.sh)`;

export interface Browser { ctx: BrowserContext; page: Page; errors: string[]; close(): Promise<void> }

/** A headless page at `url`; `permissions` are granted to the url's origin (e.g. the clipboard). */
export async function openPage(url: string, permissions: string[] = []): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'normlab-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
  ctx.setDefaultTimeout(20000);
  if (permissions.length > 0) await ctx.grantPermissions(permissions, { origin: new URL(url).origin });
  const page = ctx.pages()[0] ?? await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  mkdirSync(OUTPUT, { recursive: true });
  await page.goto(url);
  return { ctx, page, errors, close: async () => { await ctx.close(); rmSync(profile, { recursive: true, force: true }); } };
}

export interface DashboardPage extends Browser { dash: Dashboard }

/**
 * The dashboard on `root` (any free port) open at ?poll=250 in a headless page; close() closes the
 * page, stops the server and removes `root` (also done here when the page fails to open).
 */
export async function openDashboard(root: string, opts: Omit<DashboardOptions, 'root' | 'port'> = {}, permissions: string[] = []): Promise<DashboardPage> {
  const dash = await startDashboard({ ...opts, root, port: 0 });
  const stop = async (): Promise<void> => { await dash.close(); rmSync(root, { recursive: true, force: true }); };
  let browser: Browser;
  try {
    browser = await openPage(`${dash.url}?poll=250`, permissions);
  } catch (e) {
    await stop();
    throw e;
  }
  return { ...browser, dash, close: async () => { await browser.close(); await stop(); } };
}
