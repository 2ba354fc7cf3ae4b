#!/usr/bin/env node
// Training speed in Chromium against Node, in one run: `normlab bench`'s preset (default small) on
// the ts and native backends in Node, then the wasm and ts backends in the playground's worker in
// headless Chromium (the page served by the dashboard, cross-origin isolated: wasm on one thread per
// core), then wasm in Node. Prints ms per iteration and the ratios the WebAssembly backend is
// judged by. Needs a build (npm install) and /usr/bin/chromium.
//   node tools/bench_browser.mjs [--preset small] [--iters 20] [--ts_iters 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboard } from '../dist/src/dashboard/server.js';
import { benchOnce, PRESETS } from '../dist/src/cli/bench.js';
import { defaultConfig } from '../dist/src/config/config.js';
import { openPage } from '../dist/test/browser.js';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const preset = arg('preset', 'small'), iters = Number(arg('iters', 20)), tsIters = Number(arg('ts_iters', 3)), warmup = 2;
const { iters: _i, ...shape } = PRESETS[preset];
const cfg = { ...defaultConfig(), ...shape, dropout: 0 };

const rows = [];
const node = (backend, n) => {
  const r = benchOnce(cfg, backend, n, warmup, 0, `node ${backend}`);
  rows.push({ where: 'node', backend, ms: r.ms_per_iter });
  console.log(`node ${backend}: ${r.ms_per_iter.toFixed(1)} ms/iter`);
};
// ts first, in a fresh process: after the other runs (threads, Chromium, the dashboard in this
// process) it measured up to twice as slow as `normlab bench`'s ts.
node('ts', tsIters);
node('native', iters);

const tmp = mkdtempSync(join(tmpdir(), 'normlab-bench-browser-'));
const dash = await startDashboard({ root: tmp, port: 0 });
const browser = await openPage(`${dash.url}playground/`);
try {
  const page = browser.page;
  for (const [backend, n] of [['wasm', iters], ['ts', tsIters]]) {
    const r = await page.evaluate(([config, backend, n, warmup]) => new Promise((resolve, reject) => {
      const w = new Worker('worker.js', { type: 'module' });
      w.onmessage = (e) => { if (e.data.type === 'bench') { w.terminate(); resolve(e.data); } else if (e.data.type === 'error') reject(new Error(e.data.message)); };
      w.postMessage({ type: 'bench', config, backend, iters: n, warmup });
    }), [cfg, backend, n, warmup]);
    rows.push({ where: 'chromium', backend, ms: r.msPerIter, threads: r.threads });
    console.log(`chromium ${backend}: ${r.msPerIter.toFixed(1)} ms/iter (${r.threads} thread${r.threads > 1 ? 's' : ''})`);
  }
} finally {
  await browser.close();
  await dash.close();
  rmSync(tmp, { recursive: true, force: true });
}
node('wasm', iters);

const ms = (where, backend) => rows.find((r) => r.where === where && r.backend === backend).ms;
const nat = ms('node', 'native');
console.log(`\npreset ${preset}: ${cfg.n_layer} layers, ${cfg.n_embd} wide, block ${cfg.block_size}, batch ${cfg.batch_size}`);
for (const where of ['node', 'chromium']) {
  const w = ms(where, 'wasm'), t = ms(where, 'ts');
  console.log(`${where.padEnd(8)}  wasm ${w.toFixed(1)} ms/iter = ${(w / nat).toFixed(2)}x native (node); ts ${t.toFixed(1)} ms/iter = ${(t / w).toFixed(1)}x wasm`);
}
