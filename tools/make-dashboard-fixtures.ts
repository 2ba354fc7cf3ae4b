// Regenerates test/fixtures/runs/ (a 3-run sweep for the dashboard tests) from seeded fake curves:
//   npx tsc -p . && node dist/tools/make-dashboard-fixtures.js
// The pfla run's checkpoint is not committed: tests write it into their temp copy with
// writePflaCheckpoint() (a tiny safetensors file: two layers of pfla x_vals / y_vals, moved away
// from their gelu init so the learned curve differs visibly from the initial one).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/engine/rng.js';
import { erf } from '../src/engine/math.js';
import { defaultConfig, MODEL_KEYS } from '../src/config/config.js';

export const SWEEP = 'norm_sweep';
export const RUNS = [
  { name: 'norm-rmsnorm_act-gelu', norm: 'rmsnorm', act: 'gelu', rate: 60, floor: 1.62 },
  { name: 'norm-krmsnorm_act-gelu', norm: 'krmsnorm', act: 'gelu', rate: 75, floor: 1.71 },
  { name: 'norm-rmsnorm_act-pfla', norm: 'rmsnorm', act: 'pfla', rate: 50, floor: 1.55 },
] as const;
export const PFLA_RUN = RUNS[2].name;
const MAX_ITERS = 200, LOG_INTERVAL = 10, EVAL_INTERVAL = 50;

export function runConfig(r: (typeof RUNS)[number]): Record<string, unknown> {
  return {
    ...defaultConfig(),
    vocab_size: 65, n_layer: 2, n_head: 2, n_embd: 32, block_size: 32, batch_size: 8, max_iters: MAX_ITERS,
    eval_interval: EVAL_INTERVAL, eval_iters: 5, log_interval: LOG_INTERVAL, out_dir: `out/${SWEEP}/${r.name}`,
    norm_variant_attn: r.norm, activation_variant: r.act, pfla_num_points: 8, pfla_left_bound: -4, pfla_right_bound: 4,
    ...(r.norm === 'krmsnorm' ? { krmsnorm_recompute_percentage: 0.1 } : {}),
  };
}

const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** pfla parameters of layer l: the init grid, y moved off gelu by a layer-dependent wiggle. */
export function pflaParams(l: number): { x_vals: number[]; y_vals: number[] } {
  const n = 8, L = -4, R = 4;
  const x_vals = Array.from({ length: n }, (_, i) => L + ((R - L) * (i + 1)) / (n + 1));
  const y_vals = x_vals.map((x) => gelu(x) + 0.4 * Math.sin((l + 1) * x));
  return { x_vals, y_vals };
}

/** Minimal safetensors writer (F32 only): 8-byte LE header length, JSON header, raw data. */
export function writeSafetensors(path: string, tensors: Record<string, { shape: number[]; data: number[] }>, metadata: Record<string, string>): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + 4 * t.data.length] };
    off += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // data starts 8-byte aligned
  const buf = Buffer.alloc(8 + json.length + off);
  buf.writeBigUInt64LE(BigInt(json.length), 0);
  buf.write(json, 8, 'utf8');
  let p = 8 + json.length;
  for (const t of Object.values(tensors)) for (const v of t.data) { buf.writeFloatLE(v, p); p += 4; }
  writeFileSync(path, buf);
}

export function writePflaCheckpoint(runDir: string): void {
  const cfg = runConfig(RUNS[2]);
  const model: Record<string, unknown> = {};
  for (const k of MODEL_KEYS) model[k] = cfg[k];
  const tensors: Record<string, { shape: number[]; data: number[] }> = {};
  for (let l = 0; l < 2; l++) {
    const p = pflaParams(l);
    tensors[`transformer.h.${l}.mlp.activation_variant.x_vals`] = { shape: [8], data: p.x_vals };
    tensors[`transformer.h.${l}.mlp.activation_variant.y_vals`] = { shape: [8], data: p.y_vals };
  }
  tensors['transformer.ln_f.gain'] = { shape: [32], data: new Array(32).fill(1) };
  writeSafetensors(join(runDir, 'ckpt.safetensors'), tensors, { format: 'pt', normlab: '1', config: JSON.stringify(model), iter: '150' });
}

function blockLayout(norm: string, act: string): string {
  return `x = x + attn(${norm}(x))\nx = x + mlp[${act}](${norm}(x))\n(x 2 blocks) -> ln_f ${norm}`;
}

export function makeFixtures(root: string): void {
  rmSync(join(root, SWEEP), { recursive: true, force: true });
  const results: string[] = [];
  RUNS.forEach((r, k) => {
    const dir = join(root, SWEEP, r.name);
    mkdirSync(dir, { recursive: true });
    const rng = new Rng(100 + k);
    const noise = (): number => (rng.nextU32() / 2 ** 32 - 0.5) * 0.08;
    const curve = (it: number): number => r.floor + 2.6 * Math.exp(-it / r.rate);
    const lines: string[] = [];
    let best = Infinity, bestIter = 0, lastTrain = 0, lastVal = 0;
    for (let it = 0; it <= MAX_ITERS; it++) {
      if (it % EVAL_INTERVAL === 0) {
        const train_loss = +(curve(it) + noise()).toFixed(4), val_loss = +(curve(it) + 0.06 + noise()).toFixed(4);
        const ev: Record<string, unknown> = { iter: it, train_loss, val_loss };
        if (r.norm === 'krmsnorm') ev.krmsnorm_recompute = +(0.35 * Math.exp(-it / 90) + 0.04).toFixed(4);
        lines.push(JSON.stringify(ev));
        if (val_loss < best) { best = val_loss; bestIter = it; }
        lastVal = val_loss;
      }
      if (it % LOG_INTERVAL === 0 && it < MAX_ITERS) {
        lastTrain = +(curve(it) + 2 * noise()).toFixed(4);
        lines.push(JSON.stringify({ iter: it, loss: lastTrain, lr: 1e-3, ms: 12 + k }));
      }
    }
    writeFileSync(join(dir, 'log.jsonl'), lines.join('\n') + '\n');
    const cfg = runConfig(r);
    const params = 2 * 12 * 32 * 32 + 65 * 32 + 32 * 32 + (r.act === 'pfla' ? 32 : 0);
    const krms = r.norm === 'krmsnorm' ? 0.0809 : null;
    const summary = {
      status: 'ok', best_val_loss: best, best_iter: bestIter, final_train_loss: lastTrain, final_val_loss: lastVal,
      iters: MAX_ITERS, params, wall_s: 20 + 3 * k, tokens_per_s: 16000 - 1500 * k, krmsnorm_recompute: krms,
      config: cfg, block_layout: blockLayout(r.norm, r.act),
    };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, config: cfg, iter: MAX_ITERS, best_val_loss: best, best_iter: bestIter, rng: { s: [1, 2, 3, 4] }, params }, null, 2) + '\n');
    results.push(JSON.stringify({
      run: r.name, out_dir: `out/${SWEEP}/${r.name}`, norm_variant_attn: r.norm, activation_variant: r.act,
      best_val_loss: best, best_iter: bestIter, final_train_loss: lastTrain, params, wall_s: summary.wall_s,
      tokens_per_s: summary.tokens_per_s, krmsnorm_recompute: krms, status: 'ok',
    }));
  });
  writeFileSync(join(root, SWEEP, 'results.jsonl'), results.join('\n') + '\n');
}

// A 2 x 2 x 3-seed sweep (activation x norm x seed) for the grouped views, written by the tests into a
// temp folder. Best validation loss = a base per combination + a per-seed offset (+0.004 for gelu, seed 3),
// so means and intervals are known in closed form.
export const ACTS = ['relu', 'gelu'], NORMS = ['rmsnorm', 'krmsnorm'], SEEDS = [1, 2, 3];
export const BASE: Record<string, number> = { 'relu/rmsnorm': 2.40, 'relu/krmsnorm': 2.45, 'gelu/rmsnorm': 2.42, 'gelu/krmsnorm': 2.50 };
const SEED_OFFSET = [-0.01, 0, 0.02];
export const seedBest = (a: string, n: string, s: number) => BASE[`${a}/${n}`] + SEED_OFFSET[s - 1] + (a === 'gelu' && s === 3 ? 0.004 : 0);
export const seedRunName = (a: string, n: string, s: number) => `activation_variant-${a}_norm_variant_attn-${n}_seed-${s}`;

/** Writes <root>/sweep: 2 activations x 2 norms x 3 seeds, finished, best validation loss seedBest(). */
export function writeSeedSweep(root: string): void {
  const names: string[] = [];
  for (const a of ACTS) for (const n of NORMS) for (const s of SEEDS) {
    const dir = join(root, 'sweep', seedRunName(a, n, s));
    names.push(seedRunName(a, n, s));
    mkdirSync(dir, { recursive: true });
    const config = { ...defaultConfig(), n_layer: 2, n_head: 4, n_embd: 64, max_iters: 100, activation_variant: a, norm_variant_attn: n, seed: s, out_dir: dir };
    const b = seedBest(a, n, s);
    const lines: string[] = [];
    for (let it = 0; it <= 100; it += 10) {
      // A noisy decreasing training curve; evaluations every 50 iterations ending at the best loss.
      lines.push(JSON.stringify({ iter: it, loss: b + 1.5 * Math.exp(-it / 30) + 0.05 * Math.sin(it * s), lr: 1e-3 }));
      if (it % 50 === 0) lines.push(JSON.stringify({ iter: it, train_loss: b + Math.exp(-it / 30), val_loss: b + Math.exp(-it / 30) * (it === 100 ? 0 : 1) }));
    }
    writeFileSync(join(dir, 'log.jsonl'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ status: 'ok', best_val_loss: b, best_iter: 100, final_val_loss: b, final_train_loss: b - 0.05,
      iters: 100, params: 100000, wall_s: 3.2, tokens_per_s: 150000, config }));
  }
  // As the sweep runner writes it: the order of the flags and runs (walking the folder finds gelu first).
  writeFileSync(join(root, 'sweep', 'sweep.json'), JSON.stringify({ varied: ['activation_variant', 'norm_variant_attn', 'seed'], runs: names.map((name) => ({ name })) }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = fileURLToPath(new URL('../../test/fixtures/runs/', import.meta.url));
  makeFixtures(root);
  console.log(`wrote ${root}${SWEEP}`);
}
