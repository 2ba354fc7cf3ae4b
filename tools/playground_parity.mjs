#!/usr/bin/env node
// The playground trains like the CLI: trains the page's default model (2 layers, 64 wide, block 64,
// batch 12, 300 iterations, eval every 100 over 20 batches, seed 1337) in the playground's worker in
// headless Chromium (served by the dashboard, cross-origin isolated: wasm on one thread per core),
// then with `normlab train` and the same flags and backend, and prints both final losses and
// speeds; exits 1 when the losses differ. Needs a build (npm install) and /usr/bin/chromium.
//   node tools/playground_parity.mjs [--backend wasm|ts] [--max_iters 300]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboard } from '../dist/src/dashboard/server.js';
import { defaultConfig } from '../dist/src/config/config.js';
import { openPage } from '../dist/test/browser.js';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const backend = arg('backend', 'wasm');
const flags = { n_layer: 2, n_head: 4, n_embd: 64, block_size: 64, batch_size: 12, max_iters: Number(arg('max_iters', 300)), eval_interval: 100, eval_iters: 20 };
const tmp = mkdtempSync(join(tmpdir(), 'normlab-playground-parity-'));
try {
  const dash = await startDashboard({ root: tmp, port: 0 });
  const browser = await openPage(`${dash.url}playground/`);
  let page;
  try {
    page = await browser.page.evaluate(([config, backend]) => new Promise((resolve, reject) => {
      const w = new Worker('worker.js', { type: 'module' });
      let last = null, threads = 1;
      w.onmessage = (e) => {
        const m = e.data;
        if (m.type === 'ready') threads = m.threads;
        else if (m.type === 'eval') last = m;
        else if (m.type === 'done') { w.terminate(); resolve({ train: last.train, val: last.val, msPerIter: m.msPerIter, tokPerS: m.tokPerS, threads }); }
        else if (m.type === 'error') reject(new Error(m.message));
      };
      w.postMessage({ type: 'start', config, backend });
    }), [{ ...defaultConfig(), ...flags }, backend]);
  } finally {
    await browser.close();
    await dash.close();
  }
  const out = join(tmp, 'run');
  const args = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const r = spawnSync(process.execPath, ['bin/normlab.js', 'train', ...args, '--backend', backend, '--out_dir', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`normlab train failed: ${r.stderr || r.stdout}`);
  const cli = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  console.log(`normlab train ${args.join(' ')} --backend ${backend}`);
  console.log(`page (Chromium, ${page.threads} thread${page.threads > 1 ? 's' : ''}): val ${page.val} train ${page.train}; ${page.msPerIter.toFixed(1)} ms/iter, ${page.tokPerS.toFixed(0)} tok/s`);
  console.log(`CLI  (Node):                val ${cli.final_val_loss} train ${cli.final_train_loss}; ${cli.tokens_per_s.toFixed(0)} tok/s`);
  const same = page.val === cli.final_val_loss && page.train === cli.final_train_loss;
  console.log(same ? 'same losses, bit for bit' : 'LOSSES DIFFER');
  process.exitCode = same ? 0 : 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
