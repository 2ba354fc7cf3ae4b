// End to end: the playground (dist/playground, served by the dashboard at /playground/) in headless
// Chromium. The form refuses what the CLI refuses, with the CLI's message; a run trains in the tab's
// worker on the wasm backend (worker threads on shared memory), is stopped and resumed, and its losses fall and equal those of
// `normlab train` given the command line the page shows (same seed, same backend: same numbers);
// a learned activation (pfla) shows its curves; the downloaded checkpoint samples with
// `normlab sample`. Needs /usr/bin/chromium (scripts/install-browser.sh): skipped without it,
// except under CI=true where it fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDashboard, type Dashboard } from '../src/dashboard/server.js';
import { checkTrainConfig, defaultConfig, FLAGS, parseFlags } from '../src/config/config.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin/normlab.js');
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: run scripts/install-browser.sh`);
const skip = haveBrowser ? false : `${CHROMIUM} not installed (run scripts/install-browser.sh)`;

let tmp = '';
let dash: Dashboard;
let ctx: BrowserContext;
let page: Page;
const errors: string[] = [];

before(async () => {
  if (!haveBrowser) return;
  tmp = mkdtempSync(join(tmpdir(), 'normlab-playground-'));
  dash = await startDashboard({ root: join(tmp, 'runs'), port: 0 });
  ctx = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: CHROMIUM, headless: true, acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1300, height: 1000 },
  });
  ctx.setDefaultTimeout(30000);
  page = ctx.pages()[0] ?? await ctx.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${dash.url}playground/`);
});

after(async () => {
  if (!haveBrowser) return;
  await ctx?.close();
  await dash?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Waits for a condition on the page; a timeout reports the page's errors (a worker that failed to load). */
async function waitFor(what: () => Promise<unknown>): Promise<void> {
  try {
    await what();
  } catch (e) {
    throw new Error(`${(e as Error).message.split('\n')[0]}; page errors: ${JSON.stringify(errors)}`);
  }
}

async function setFlag(name: string, value: string): Promise<void> {
  const sel = page.locator(`label[data-flag=${name}] select`);
  if (await sel.count()) await sel.selectOption(value);
  else {
    const input = page.locator(`label[data-flag=${name}] input`);
    await input.fill(value);
    await input.dispatchEvent('change');
  }
}

/** The command line the page shows, as argv after `normlab train`. */
async function shownArgv(): Promise<string[]> {
  const cmd = (await page.locator('#command').textContent()) ?? '';
  const words = cmd.trim().split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ['normlab', 'train']);
  return words.slice(2);
}

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  assert.equal(r.status, 0, `normlab ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

test('the form refuses what the CLI refuses, with the same message', { skip }, async () => {
  await setFlag('n_head', '5');
  const shown = (await page.locator('#problems').textContent()) ?? '';
  const argv = await shownArgv();
  let cliMessage = '';
  try {
    checkTrainConfig(parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>).config);
  } catch (e) { cliMessage = (e as Error).message; }
  assert.match(shown, /--n_embd 64 is not divisible by --n_head 5/);
  assert.equal(shown, cliMessage);
  assert.equal(await page.locator('#train').isDisabled(), true);
  await setFlag('n_head', '4');
  assert.equal(await page.locator('#problems').textContent(), '');
});

test('a value changed, then a click straight into another field: that field keeps the focus and what is typed', { skip }, async () => {
  const a = page.locator('label[data-flag=max_iters] input'), b = page.locator('label[data-flag=eval_interval] input');
  await a.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('400');
  await b.click(); // the first field's change fires here
  await page.keyboard.press('Control+A');
  await page.keyboard.type('50');
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement).name), 'eval_interval', 'focus stayed in the clicked field');
  await page.keyboard.press('Tab'); // leave it: its change fires
  const argv = await shownArgv();
  assert.equal(argv[argv.indexOf('--max_iters') + 1], '400');
  assert.equal(argv[argv.indexOf('--eval_interval') + 1], '50', 'the second value is not lost');
  mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  await page.locator('#flags').screenshot({ path: join(ROOT, 'test-output', 'playground-form.png') });
});

test('a run trains in the tab, stops, resumes, and matches `normlab train` with the shown command', { skip }, async () => {
  await setFlag('max_iters', '16');
  await setFlag('eval_interval', '8');
  await setFlag('eval_iters', '4');
  const argv = await shownArgv();
  assert.ok(argv.includes('--backend') && argv[argv.indexOf('--backend') + 1] === 'wasm');
  await page.click('#train');
  await waitFor(() => page.waitForFunction(() => Number(document.getElementById('status')!.dataset.iter) >= 3));
  await page.click('#stop');
  await page.waitForSelector('#resume:not([disabled])');
  assert.match((await page.locator('#status').textContent()) ?? '', /stopped at iter \d+/);
  await page.click('#resume');
  await waitFor(() => page.waitForSelector('#status[data-done=true]', { timeout: 120000 }));
  const status = page.locator('#status');
  const pageVal = Number(await status.getAttribute('data-last-val'));
  const pageTrain = Number(await status.getAttribute('data-last-train'));
  assert.equal(await status.getAttribute('data-last-eval-iter'), '16');
  assert.ok(Number(await page.locator('#loss-chart').getAttribute('data-points')) === 16, 'one point per training step');
  // The dashboard serves the page cross-origin isolated: the wasm backend runs on one thread per core.
  const threads = Number(await status.getAttribute('data-threads'));
  assert.equal(threads, Math.min(availableParallelism(), 8));

  // The same run from the command line the page shows (data prepared as `normlab prepare` does).
  cli(['prepare', 'shakespeare_char', '--data_dir', join(tmp, 'data')]);
  cli(['train', ...argv, '--data_dir', join(tmp, 'data'), '--out_dir', join(tmp, 'cli'), '--no-progress', '--no-tensorboard_log']);
  const log = readFileSync(join(tmp, 'cli', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  const evals = log.filter((r) => 'val_loss' in r);
  assert.deepEqual(evals.map((r) => r.iter), [0, 8, 16]);
  // The CLI logs losses rounded to 6 decimals; the page's numbers are the unrounded same ones.
  assert.ok(Math.abs(evals[2].val_loss - pageVal) <= 1e-6, `val loss at 16: CLI ${evals[2].val_loss} vs page ${pageVal}`);
  assert.ok(Math.abs(evals[2].train_loss - pageTrain) <= 1e-6, `train loss at 16: CLI ${evals[2].train_loss} vs page ${pageTrain}`);
  assert.ok(evals[2].val_loss < evals[0].val_loss - 0.3, `the loss falls: ${evals[0].val_loss} -> ${evals[2].val_loss}`);
  assert.ok(((await page.locator('#sample').textContent()) ?? '').length > 100, 'a sample is shown');
});

test('the downloaded checkpoint samples with `normlab sample`', { skip }, async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const dir = join(tmp, 'downloaded');
  mkdirSync(dir, { recursive: true });
  await download.saveAs(join(dir, 'ckpt.safetensors'));
  const out = cli(['sample', '--out_dir', dir, '--num_samples', '1', '--max_new_tokens', '40', '--backend', 'wasm']);
  assert.ok(out.trim().length >= 20, `sample output: ${JSON.stringify(out)}`);
});

test('a learned activation (pfla) shows its curves, one per layer beside the initial one', { skip }, async () => {
  assert.equal(await page.locator('#act-figure').isHidden(), true, 'gelu has no learned curve');
  await setFlag('activation_variant', 'pfla');
  assert.ok(await page.locator('label[data-flag=pfla_num_points]').count() === 1, "pfla's own flags appear");
  await setFlag('max_iters', '4');
  await setFlag('eval_interval', '2');
  await page.click('#train');
  await waitFor(() => page.waitForSelector('#status[data-done=true]', { timeout: 120000 }));
  assert.equal(await page.locator('#act-figure').isHidden(), false);
  assert.equal(await page.locator('#act-chart').getAttribute('data-layers'), '2');
  assert.match((await page.locator('#command').textContent()) ?? '', /--activation_variant pfla/);
  mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'test-output', 'playground.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
