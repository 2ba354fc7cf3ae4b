// A synthetic study on disk, shaped like the researcher's (issue 25): 3 norms x 2 activations x 3
// seeds, each run a folder with log.jsonl (training lines with lr, evaluations), summary.json with
// the full effective config, and the sweep's sweep.json. Losses start at 4.2 at iteration 0 and fall
// to about 2.2, with a small offset per combination (0.08 across them) and per seed, and every run's
// best at its last evaluation, as in the study. Fast: no training.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig } from '../src/config/config.js';

export const NORMS = ['rmsnorm', 'krmsnorm', 'prmsnorm'] as const;
export const ACTS = ['gelu', 'relu'] as const;
export const SEEDS = [1337, 1338, 1339] as const;

/** Writes the study into `dir` (a sweep folder); returns the run folder names. */
export function writeStudy(dir: string, opts: { iters?: number; evalInterval?: number } = {}): string[] {
  const iters = opts.iters ?? 600, ei = opts.evalInterval ?? 100;
  mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  NORMS.forEach((norm, ni) => ACTS.forEach((act, ai) => SEEDS.forEach((seed, si) => {
    const name = `norm_variant_attn-${norm}_activation_variant-${act}_seed-${seed}`;
    names.push(name);
    const out = join(dir, name);
    mkdirSync(out, { recursive: true });
    const config: Record<string, unknown> = {
      ...defaultConfig(), n_layer: 4, n_embd: 128, n_head: 4, block_size: 64, max_iters: iters, eval_interval: ei,
      decay_lr: true, warmup_iters: 50, lr_decay_iters: iters, learning_rate: 1e-3, min_lr: 1e-4,
      norm_variant_attn: norm, activation_variant: act, seed, out_dir: out,
      krmsnorm_num: norm === 'krmsnorm' ? 16 : 10, krmsnorm_quantize_type: norm === 'krmsnorm' ? 'int8' : 'none',
      prmsnorm_pct: norm === 'prmsnorm' ? 0.125 : 0.0625,
    };
    const offset = 0.03 * ni + 0.02 * ai + 0.006 * ((si * 7 + ni * 3 + ai) % 3);
    const lossAt = (it: number) => 2.2 + offset + 2.0 * Math.exp(-it / (iters / 6)) + 0.05 * (1 - it / iters);
    const lines: string[] = [];
    let best = Infinity, bestIter = 0;
    for (let it = 0; it <= iters; it += 10) {
      if (it % ei === 0 || it === iters) {
        const v = lossAt(it);
        if (v < best) { best = v; bestIter = it; }
        lines.push(JSON.stringify({ iter: it, train_loss: v - 0.05, val_loss: v }));
      }
      const lr = it < 50 ? 1e-3 * (it + 1) / 51 : 1e-4 + 0.5 * (1 + Math.cos(Math.PI * (it - 50) / (iters - 50))) * 9e-4;
      lines.push(JSON.stringify({ iter: it, loss: lossAt(it) - 0.04 + 0.01 * Math.sin(it), lr, ms: 12 }));
    }
    writeFileSync(join(out, 'log.jsonl'), lines.join('\n') + '\n');
    writeFileSync(join(out, 'summary.json'), JSON.stringify({
      status: 'ok', best_val_loss: best, best_iter: bestIter, final_train_loss: lossAt(iters) - 0.05, final_val_loss: lossAt(iters),
      iters, params: 800000, wall_s: 60, tokens_per_s: 5000, krmsnorm_recompute: null, config, block_layout: 'block',
    }));
  })));
  writeFileSync(join(dir, 'sweep.json'), JSON.stringify({ varied: ['norm_variant_attn', 'activation_variant', 'seed'], runs: names.map((name) => ({ name })) }));
  return names;
}
