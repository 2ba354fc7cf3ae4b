// Shared by the Chromium tests: Debian's chromium driven by playwright-core, headless, 1400 x 1000,
// with a throwaway profile; the page's errors collected. Screenshots go to test-output/ (git-ignored).
// Without /usr/bin/chromium (scripts/install-browser.sh) the tests are skipped, except under CI=true.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

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
