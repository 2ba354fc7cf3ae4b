#!/usr/bin/env node
// The README's first command (after `npm install`): prepare the shipped Shakespeare, train a small
// character-level GPT on the CPU, print a sample. With the native backend it trains the issue's
// reference configuration (4 layers, 128 wide, 2000 iterations: a few minutes on 2 cores); with
// only the TypeScript backend, a smaller model for 600 iterations, so it also ends in minutes.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'normlab.js');
const run = (args) => {
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const { selectBackend } = await import(path.join(root, 'dist/src/engine/select.js'));
const native = selectBackend('auto').backend.name === 'native';
const common = ['--out_dir', 'out/demo', '--overwrite', '--dataset', 'shakespeare_char', '--dropout', '0', '--eval_iters', '20', '--decay_lr'];
const model = native
  ? ['--n_layer', '4', '--n_head', '4', '--n_embd', '128', '--block_size', '64', '--batch_size', '12', '--max_iters', '2000', '--lr_decay_iters', '2000',
    '--norm_variant_attn', 'layernorm', '--norm_variant_output', 'layernorm']
  : ['--n_layer', '2', '--n_head', '4', '--n_embd', '64', '--block_size', '64', '--batch_size', '12', '--max_iters', '600', '--lr_decay_iters', '600',
    '--eval_interval', '200', '--warmup_iters', '50'];
if (!native) console.log('(TypeScript backend: a smaller demo model; build the native backend for the full one, see README)');
run(['prepare', 'shakespeare_char']);
run(['train', ...common, ...model]);
run(['sample', '--out_dir', 'out/demo', '--num_samples', '1', '--max_new_tokens', '500']);
