// softmax variants end to end: `normlab train` refuses bad flags in one line before any work, trains
// and saves the learned parameters under the framework's names; the dashboard's run page gets them
// (values per layer and the weight curve per layer and head); --help lists the softmax group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tinyData, tmpDir, TINY_MODEL } from './helpers.js';
import { runActivations } from '../src/dashboard/curves.js';
import type { RunInfo } from '../src/dashboard/data.js';
import { loadTensors } from '../src/train/checkpoint.js';

test('refusals are one line, before any work: polymax x-intercept, overflow recompute without a guess, glu init, learned obo without obo', () => {
  const data = tinyData(), out = tmpDir();
  try {
    for (const [flags, msg] of [
      [['--softmax_variant_attn', 'polymax', '--polymax_x_intercept', '0'], /--polymax_x_intercept is 0; it must be < 0/],
      [['--softmax_variant_attn', 'strongermax', '--strongermax_overflow_recompute'], /needs --strongermax_xmax_guess/],
      [['--softmax_variant_attn', 'pfla_softmax', '--pfla_softmax_init_activation', 'glu'], /glu is refused/],
      [['--softmax_variant_attn', 'pfla_softmax', '--pfla_softmax_use_learned_obo'], /needs --pfla_softmax_use_obo/],
      [['--softmax_variant_attn', 'nosuchmax'], /softmax_variant_attn/],
    ] as [string[], RegExp][]) {
      const r = cli(['train', ...TINY_MODEL, '--data_dir', data, '--out_dir', join(out, 'run'), '--max_iters', '2', ...flags]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, msg);
      assert.ok(!r.stderr.includes('    at '), `no stack trace: ${r.stderr}`);
      assert.ok(!existsSync(join(out, 'run', 'ckpt.safetensors')), 'nothing written');
    }
  } finally {
    rmSync(data, { recursive: true, force: true }); rmSync(out, { recursive: true, force: true });
  }
});

test('consmax_v2 trains; its factors are in the checkpoint under softmax_layer_attn; the run page plots them per layer and head', () => {
  const data = tinyData(), out = tmpDir();
  try {
    const dir = join(out, 'run');
    const r = cli(['train', ...TINY_MODEL, '--data_dir', data, '--out_dir', dir, '--max_iters', '4', '--eval_interval', '4',
      '--always_save_checkpoint', '--softmax_variant_attn', 'consmax_v2', '--consmax_initial_gamma', '3', '--softmax_io_logging',
      '--consmax_beta_gamma_logging', '--softmax_variant_output', 'relumax']);
    assert.equal(r.code, 0, r.stderr);
    const { tensors } = loadTensors(join(dir, 'ckpt.safetensors'));
    assert.deepEqual([...tensors.keys()].filter((k) => k.includes('softmax_layer_attn')).sort(), [
      'transformer.h.0.attn.softmax_layer_attn.beta_factor', 'transformer.h.0.attn.softmax_layer_attn.gamma_factor',
      'transformer.h.1.attn.softmax_layer_attn.beta_factor', 'transformer.h.1.attn.softmax_layer_attn.gamma_factor']);
    const run = { id: 'run', dir, name: 'run', sweep: null, status: 'done', summary: null, config: null,
      train: { iter: [], loss: [], lr: [] }, evals: { iter: [], train_loss: [], val_loss: [], krmsnorm_recompute: [] },
      checkpoint: { file: 'ckpt.safetensors', mtime: 0 }, command: null } as RunInfo;
    const a = runActivations(run);
    const g = a.groups.find((x) => x.variant === 'consmax_v2')!;
    assert.deepEqual(g.curves.map((c) => c.label), ['h.0 head 0', 'h.0 head 1', 'h.1 head 0', 'h.1 head 1']);
    assert.deepEqual(a.softmax_params.map((p) => `${p.layer} ${p.name} ${p.values.length}`),
      ['0 beta_factor 2', '0 gamma_factor 2', '1 beta_factor 2', '1 gamma_factor 2']);
    // the learned factors moved from their initial ones
    assert.ok(a.softmax_params.some((p) => p.values.some((x) => Math.abs(x - 1) > 1e-4)));
    const help = cli(['train', '--help']).stdout;
    assert.match(help, /\nsoftmax:\n/);
    assert.match(help.replace(/\s+/g, ' '), /--softmax_variant_output NAME .*`normlab sample` keeps softmax/);
  } finally {
    rmSync(data, { recursive: true, force: true }); rmSync(out, { recursive: true, force: true });
  }
});
