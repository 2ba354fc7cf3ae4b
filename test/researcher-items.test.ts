// The smaller things a new user met in the study of issue 25, each as it should be now: a closed
// pipe ends `inspect --json` quietly; `sweep --help`'s example names a shipped file; `cost
// --compare`'s last column says what it is; a configured kRMSNorm shows its k and int8 in the cost
// table and the layout line; a folder holding only weights is not counted as a run; --ignore_unknown says which dropped flags change the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, cli, ROOT, TINY_MODEL, tinyData, tmpDir } from './helpers.js';
import { blockLayout } from '../src/model/block.js';
import { defaultConfig } from '../src/config/config.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { writeStudy } from './study.js';

test('inspect --json | head -1: the closed pipe ends the command quietly, every time', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-epipe-'));
  try {
    writeStudy(join(dir, 's'), { iters: 100, evalInterval: 50 });
    for (let i = 0; i < 6; i++) {
      const { code, err } = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const p = spawn('sh', ['-c', `"${process.execPath}" "${BIN}" inspect "${join(dir, 's')}" --runs --json | head -1 > /dev/null`], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
        p.on('close', (c) => resolve({ code: c, err }));
      });
      assert.equal(code, 0);
      assert.doesNotMatch(err, /EPIPE|Error|at /, err);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sweep --help's example names a file that ships; cost --compare's last column says what it is", () => {
  const help = cli(['sweep', '--help']).stdout;
  const files = [...help.matchAll(/explorations\/([\w.-]+\.(?:json|yaml))/g)].map((m) => m[1]);
  assert.ok(files.length > 0, help);
  for (const f of files) assert.ok(existsSync(join(ROOT, 'explorations', f)), `sweep --help names explorations/${f}, which does not exist`);
  const cmp = cli(['cost', '--compare', 'rmsnorm', 'krmsnorm']).stdout;
  assert.match(cmp, /ops \/ rmsnorm or gelu/);
  assert.doesNotMatch(cmp, /x infer base/);
});

test('a configured kRMSNorm shows its k and int8 in the cost table and the layout line', () => {
  const flags = ['--n_layer', '1', '--n_embd', '32', '--n_head', '2', '--norm_variant_attn', 'krmsnorm', '--krmsnorm_num', '16', '--krmsnorm_quantize_type', 'int8'];
  const out = cli(['cost', ...flags]).stdout;
  assert.match(out, /pre_ln_attn\s+krmsnorm\(num=16,quantize_type=int8\)/, out);
  const cfg = { ...defaultConfig(), vocab_size: 65, n_layer: 1, norm_variant_attn: 'krmsnorm', krmsnorm_num: 16, krmsnorm_quantize_type: 'int8' } as unknown as ModelConfig;
  assert.match(blockLayout(cfg), /pre_ln\[krmsnorm\(num=16,quantize_type=int8\)\]/);
  assert.match(blockLayout({ ...defaultConfig(), vocab_size: 65 } as unknown as ModelConfig), /pre_ln\[rmsnorm\]/, 'a variant at its defaults is its name');
});

test('inspect lists a weights-only folder (a playground download) apart, not as a run with every flag None', () => {
  const data = tinyData(), dir = tmpDir();
  try {
    for (const n of ['a', 'b']) {
      const r = cli(['train', ...TINY_MODEL, '--data_dir', data, '--out_dir', join(dir, n), '--max_iters', '2', '--eval_interval', '2', '--backend', 'ts',
        '--activation_variant', n === 'a' ? 'relu' : 'gelu']);
      assert.equal(r.code, 0, r.stderr);
    }
    mkdirSync(join(dir, 'playground'));
    copyFileSync(join(dir, 'a', 'ckpt.safetensors'), join(dir, 'playground', 'ckpt.safetensors'));
    const r = cli(['inspect', dir, '--runs']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 runs under .*; they differ in activation_variant/);
    assert.doesNotMatch(r.stdout.split('\n')[0], /n_layer|dataset|None/);
    assert.match(r.stdout, /weights only .*: playground/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
});

test('--ignore_unknown: flags that only say where the framework runs are dropped quietly, others with a warning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-ignore-'));
  try {
    const file = join(dir, 'ref.json');
    writeFileSync(file, JSON.stringify({ max_iters: 10, device: 'cpu', use_rotary_embeddings: false, activation_variant: ['relu', 'gelu'] }));
    const r = cli(['sweep', file, '--ignore_unknown', '--dry_run', '--sweep_dir', join(dir, 's')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ignoring flags that only say where or how the framework runs: device/);
    assert.match(r.stdout, /warning: ignoring flags normlab train does not have, which may change the model or its training in the framework: use_rotary_embeddings/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
