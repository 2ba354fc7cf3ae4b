// A flag that a run does not use is not a factor of it (src/model/factors.ts): kRMSNorm's k in an
// rmsnorm run, the decay flags without --decay_lr, --norm_variant_attn under a per-layer list. The
// labels, CSV rows, inspect's tables and the dashboard's factor list (its heat-map selectors) follow.
// Runs use test/fixtures/sweep/fake-train.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { factorFlags, runFactors, unusedFlags } from '../src/model/factors.js';
import { dashboardGroups } from '../src/dashboard/groups-api.js';
import { readDashboard } from '../src/dashboard/data.js';
import { cliFunction } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FAKE = [process.execPath, join(ROOT, 'test/fixtures/sweep/fake-train.mjs')];
const cli = (module: 'sweep' | 'inspect', argv: string[]) =>
  cliFunction(module, module === 'sweep' ? 'sweepCommand' : 'inspectCommand', argv, { ...process.env, NORMLAB_TRAIN_CMD: JSON.stringify(FAKE) });

test('unusedFlags: variant flags of variants the run does not use, the replaced every-layer flag, the decay flags without --decay_lr', () => {
  const rms = unusedFlags({ norm_variant_attn: 'rmsnorm', norm_variant_output: 'rmsnorm', activation_variant: 'gelu' });
  for (const k of ['krmsnorm_num', 'krmsnorm_quantize_type', 'prmsnorm_pct', 'warmup_iters', 'min_lr']) assert.ok(rms.has(k), k);
  assert.ok(!rms.has('norm_variant_attn') && !rms.has('n_layer') && !rms.has('learning_rate'));
  const k = unusedFlags({ norm_variant_attn: 'krmsnorm', decay_lr: true });
  assert.ok(!k.has('krmsnorm_num') && k.has('prmsnorm_pct') && !k.has('warmup_iters'));
  // ln_f alone uses prmsnorm: its flag is used.
  assert.ok(!unusedFlags({ norm_variant_output: 'prmsnorm' }).has('prmsnorm_pct'));
  // A per-layer list replaces the every-layer flag, and its variants' flags count.
  const list = unusedFlags({ n_layer: 2, norm_variant_attn_layerlist: ['krmsnorm', 'rmsnorm'] });
  assert.ok(list.has('norm_variant_attn') && !list.has('krmsnorm_num'));
  assert.ok(unusedFlags({ use_pre_ln: false, use_post_ln: false, use_peri_ln: false }).has('norm_variant_attn'), 'no block norm at all');
  assert.deepEqual(Object.keys(runFactors({ norm_variant_attn: 'rmsnorm', krmsnorm_num: 10, seed: 1 })), ['norm_variant_attn', 'seed']);
});

test('factorFlags: a flag is a factor only where the runs that use it take two values', () => {
  const cfgs = [
    { norm_variant_attn: 'rmsnorm', krmsnorm_num: 10, prmsnorm_pct: 0.0625 },
    { norm_variant_attn: 'krmsnorm', krmsnorm_num: 16, prmsnorm_pct: 0.0625 },
    { norm_variant_attn: 'prmsnorm', krmsnorm_num: 10, prmsnorm_pct: 0.25 },
  ];
  assert.deepEqual(factorFlags(cfgs), ['norm_variant_attn']);
  assert.deepEqual(factorFlags([...cfgs, { norm_variant_attn: 'krmsnorm', krmsnorm_num: 32 }]), ['norm_variant_attn', 'krmsnorm_num']);
});

test('a sweep whose conditions set kRMSNorm\'s k for krmsnorm only: rmsnorm rows, labels, CSV and factors leave k out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-factors-'));
  try {
    const file = join(dir, 'norms.json');
    writeFileSync(file, JSON.stringify({
      max_iters: 20, norm_variant_attn: ['rmsnorm', 'krmsnorm', 'prmsnorm'], activation_variant: ['gelu', 'relu'],
      krmsnorm_num: { conditions: [['norm_variant_attn', 'krmsnorm']], options: [16] },
      prmsnorm_pct: { conditions: [['norm_variant_attn', 'prmsnorm']], options: [0.25] },
      // Full effective configs, as normlab train saves them: every run carries every flag.
      krmsnorm_quantize_type: 'int8',
    }));
    const sd = join(dir, 'sweep');
    let r = cli('sweep', [file, '--seeds', '2', '--sweep_dir', sd, '--quiet']);
    assert.equal(r.code, 0, r.out);
    const csv = readFileSync(join(sd, 'results.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const col = (name: string) => csv[0].indexOf(name);
    for (const row of csv.slice(1)) {
      const norm = row[col('norm_variant_attn')];
      if (col('krmsnorm_num') >= 0) assert.equal(row[col('krmsnorm_num')] === '', norm !== 'krmsnorm', row.join(','));
      if (col('prmsnorm_pct') >= 0) assert.equal(row[col('prmsnorm_pct')] === '', norm !== 'prmsnorm', row.join(','));
    }
    // The end-of-sweep table groups by the two factors.
    assert.match(r.out, /repeats grouped[^\n]*\nnorm_variant_attn\s+activation_variant\s+seeds\s/);

    r = cli('inspect', [sd]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /6 combinations of 12 runs under .* \(norm_variant_attn, activation_variant\)/);
    assert.doesNotMatch(r.out.split('\n')[0], /krmsnorm_num|prmsnorm_pct|quantize/);

    const g = dashboardGroups(readDashboard(sd), new URLSearchParams());
    assert.deepEqual(g.varied, ['norm_variant_attn', 'activation_variant'], 'the heat map offers these two selectors only');
    const labels = new Set(Object.values(g.labels).map((l) => l.replace(/ · seed \d+$/, '')));
    assert.deepEqual([...labels].sort(), ['krmsnorm · gelu', 'krmsnorm · relu', 'prmsnorm · gelu', 'prmsnorm · relu', 'rmsnorm · gelu', 'rmsnorm · relu']);
    assert.deepEqual(g.groups.map((x) => x.label), ['rmsnorm · gelu', 'rmsnorm · relu', 'krmsnorm · gelu', 'krmsnorm · relu', 'prmsnorm · gelu', 'prmsnorm · relu']);
    r = cli('inspect', [sd, '--baseline', 'rmsnorm,gelu']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /baseline \(rmsnorm · gelu\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
