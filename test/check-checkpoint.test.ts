// The PyTorch route (tools/check_checkpoint.py with Debian's /usr/bin/python3 and its torch, no
// safetensors package): a checkpoint with per-layer variant lists loads into the reference model,
// which gives the same loss as normlab on the same batches; final.safetensors and a bare file path
// work too. Skipped where /usr/bin/python3 has no torch (docs/readme/50-development.md says how to
// install it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ROOT, TINY_MODEL, tinyData, tmpDir } from './helpers.js';

const PY = '/usr/bin/python3';
const haveTorch = spawnSync(PY, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
const skip = haveTorch ? false : `${PY} has no torch (apt install python3-torch python3-numpy)`;

function check(args: string[]): { code: number; out: string } {
  const r = spawnSync(PY, [join(ROOT, 'tools/check_checkpoint.py'), ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

test('check_checkpoint.py loads a per-layer-list checkpoint into PyTorch and agrees with normlab on the same batches', { skip }, () => {
  const data = tinyData(), dir = tmpDir();
  try {
    const out = join(dir, 'run');
    const r = cli(['train', ...TINY_MODEL, '--data_dir', data, '--out_dir', out, '--max_iters', '3', '--eval_interval', '3', '--backend', 'ts',
      '--norm_variant_attn_layerlist', 'krmsnorm rmsnorm', '--activation_variant_layerlist', 'relu gelu', '--krmsnorm_num', '4']);
    assert.equal(r.code, 0, r.stderr);
    let c = check([out, '--batches', '2', '--batch_size', '2', '--data_dir', data, '--backend', 'ts']);
    assert.equal(c.code, 0, c.out);
    assert.doesNotMatch(c.out, /KeyError|Traceback/);
    assert.match(c.out, /norm \['krmsnorm', 'rmsnorm'\]\/rmsnorm, activation \['relu', 'gelu'\]/);
    assert.match(c.out, /normlab float32 loss, ts\s+backend, same batches:\s+\d\.\d{6}\s+\(normlab - torch32 = [+-]\d\.\d\de-\d\d\)/);
    c = check([out, '--ckpt', 'final.safetensors', '--batches', '1', '--batch_size', '2', '--data_dir', data, '--no-node']);
    assert.equal(c.code, 0, c.out);
    // A file on its own (a playground download, a copied checkpoint): the path is enough.
    mkdirSync(join(dir, 'loose'));
    copyFileSync(join(out, 'ckpt.safetensors'), join(dir, 'loose', 'weights.safetensors'));
    c = check([join(dir, 'loose', 'weights.safetensors'), '--dataset', 'tiny', '--batches', '1', '--batch_size', '2', '--data_dir', data, '--backend', 'ts']);
    assert.equal(c.code, 0, c.out);
    c = check([join(dir, 'nothing-here')]);
    assert.equal(c.code, 1);
    assert.match(c.out, /error: no checkpoint at /);
    assert.doesNotMatch(c.out, /Traceback/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
});
