// Seeds as a sweep axis (--seeds N, or a seed list in the file), repeats grouped with their
// statistics (src/stats/groups.ts), and `normlab inspect`'s grouped view and paired comparison.
// Runs use test/fixtures/sweep/fake-train.mjs (its loss is a hash of the flags, seed included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandSweep, repeatSeeds } from '../src/sweep/grammar.js';
import { compareToBaseline, findGroup, groupLabel, groupRuns, type RunPoint } from '../src/stats/groups.js';
import { orderFlags, sweepOrder } from '../src/stats/order.js';
import { parseSweepArgs } from '../src/cli/sweep.js';
import { UserError } from '../src/util/errors.js';
import { cliFunction } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FAKE = [process.execPath, join(ROOT, 'test/fixtures/sweep/fake-train.mjs')];

function cli(module: 'sweep' | 'inspect', argv: string[]): { code: number; out: string } {
  return cliFunction(module, module === 'sweep' ? 'sweepCommand' : 'inspectCommand', argv, { ...process.env, NORMLAB_TRAIN_CMD: JSON.stringify(FAKE) });
}

test('repeatSeeds: every combination n times, seed last, from its own seed or the base', () => {
  const c = repeatSeeds(expandSweep({ activation_variant: ['relu', 'gelu'] }), 3, 1337);
  assert.deepEqual(c.map((x) => [x.activation_variant, x.seed]), [
    ['relu', 1337], ['relu', 1338], ['relu', 1339], ['gelu', 1337], ['gelu', 1338], ['gelu', 1339]]);
  assert.deepEqual(Object.keys(c[0]), ['activation_variant', 'seed']);
  assert.deepEqual(repeatSeeds([{ seed: '7', n_layer: 2 }], 2, 1337), [{ n_layer: 2, seed: 7 }, { n_layer: 2, seed: 8 }]);
  assert.throws(() => repeatSeeds(expandSweep({ seed: [1, 2] }), 2, 0), /already lists seeds/);
  assert.throws(() => repeatSeeds([{}], 0, 0), UserError);
  assert.equal(parseSweepArgs(['f.json', '--seeds', '3']).seeds, 3);
  assert.equal(parseSweepArgs(['f.json', '--seeds=2', '--max_iters', '5']).seeds, 2);
  assert.throws(() => parseSweepArgs(['f.json', '--seeds', 'x']), /--seeds needs a whole number/);
});

const pt = (id: string, act: string, norm: string, seed: number, loss: number | null, ok = true): RunPoint => ({
  id, flags: { activation_variant: act, norm_variant_attn: norm, seed, n_layer: 2 }, ok,
  best_val_loss: loss, final_val_loss: loss === null ? null : loss + 0.01, final_train_loss: null,
});

test('groupRuns: repeats grouped, only finished runs counted, labels from the varied values', () => {
  const pts = [
    pt('a1', 'relu', 'rmsnorm', 1, 2.40), pt('a2', 'relu', 'rmsnorm', 2, 2.50), pt('a3', 'relu', 'rmsnorm', 3, 2.60),
    pt('b1', 'gelu', 'rmsnorm', 1, 2.39), pt('b2', 'gelu', 'rmsnorm', 2, 2.49), pt('b3', 'gelu', 'rmsnorm', 3, 9, false),
    pt('c1', 'relu', 'krmsnorm', 1, 2.30), pt('c2', 'relu', 'krmsnorm', 2, 2.60),
  ];
  const by = ['activation_variant', 'norm_variant_attn'];
  const g = groupRuns(pts, by);
  assert.deepEqual(g.map((x) => x.label), ['relu · rmsnorm', 'gelu · rmsnorm', 'relu · krmsnorm']);
  assert.deepEqual(g.map((x) => [x.seeds, x.finished]), [[3, 3], [3, 2], [2, 2]]);
  assert.ok(Math.abs(g[0].stats.best_val_loss.mean! - 2.5) < 1e-12);
  assert.ok(Math.abs(g[0].stats.best_val_loss.half! - 4.3026527297 * 0.1 / Math.sqrt(3)) < 1e-9);
  assert.ok(Math.abs(g[1].stats.best_val_loss.mean! - 2.44) < 1e-12, 'the failed run is left out');
  assert.equal(groupLabel({ n_layer: 2, bias: true, activation_variant: 'relu' }, ['n_layer', 'bias', 'activation_variant']), 'n_layer=2 · bias=true · relu');
  assert.equal(groupLabel({ norm_variant_attn: 'rmsnorm', krmsnorm_num: null }, ['norm_variant_attn', 'krmsnorm_num']), 'rmsnorm', 'unset values left out');
  // One flag, the other pooled; or filtered.
  assert.deepEqual(groupRuns(pts, ['activation_variant']).map((x) => [x.label, x.seeds]), [['relu', 5], ['gelu', 3]]);
  assert.deepEqual(groupRuns(pts, ['activation_variant'], { norm_variant_attn: 'krmsnorm' }).map((x) => [x.label, x.seeds]), [['relu', 2]]);

  const base = findGroup(g, by, 'activation_variant=relu,norm_variant_attn=rmsnorm');
  assert.equal(base, g[0]);
  assert.equal(findGroup(g, by, 'gelu'), g[1]);
  assert.equal(findGroup(g, by, 'relu · krmsnorm'), g[2]);
  assert.throws(() => findGroup(g, by, 'relu'), /matches 2 combinations/);
  assert.throws(() => findGroup(g, by, 'tanh'), /matches no combination; the combinations are:\n {2}activation_variant=relu,norm_variant_attn=rmsnorm/);
  const cmp = compareToBaseline(pts, g, base);
  assert.equal(cmp.get(g[0].key)!.mean, 0);
  const gelu = cmp.get(g[1].key)!;
  assert.equal(gelu.n, 2, 'seed 3 of gelu failed: two pairs');
  assert.ok(Math.abs(gelu.mean! + 0.01) < 1e-12);
  assert.equal(gelu.verdict, 'lower', 'a constant -0.01 on both seeds (sd 0) is beyond the noise');
  assert.equal(cmp.get(g[2].key)!.verdict, 'within noise', 'differences -0.10 and +0.10');
});

test('normlab sweep --seeds 3 on a 2 x 2 file, then inspect: grouped table, every run, paired comparison', () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-seeds-'));
  try {
    const file = join(dir, 'two_by_two.json');
    writeFileSync(file, JSON.stringify({ max_iters: 20, activation_variant: ['relu', 'gelu'], norm_variant_attn: ['rmsnorm', 'krmsnorm'] }));
    const sd = join(dir, 'sweep');
    let r = cli('sweep', [file, '--seeds', '3', '--sweep_dir', sd, '--quiet', '--seed', '5']);
    assert.equal(r.code, 0, r.out);
    const names = readdirSync(sd).filter((n) => n.startsWith('activation'));
    assert.equal(names.length, 12);
    assert.ok(names.includes('activation_variant-relu_norm_variant_attn-krmsnorm_seed-7'), names.join(' '));
    assert.match(r.out, /varied: activation_variant, norm_variant_attn, seed/);
    // The hint at the end works when followed literally (it named `norm_variant_attn=...`).
    const hint = /compare with a baseline: normlab inspect \S+ --baseline (\S+)/.exec(r.out);
    assert.ok(hint, r.out);
    assert.equal(cli('inspect', [sd, '--baseline', hint[1]]).code, 0, hint[1]);
    assert.match(r.out, /main effect of a factor: normlab inspect \S+ --effect activation_variant/);
    assert.match(r.out, /repeats grouped \(mean ± half width of the 95% t interval over seeds\):\nactivation_variant\s+norm_variant_attn\s+seeds\s+best val \(95%\)/);
    assert.equal((r.out.match(/ 3\/3 /g) ?? []).length, 4, r.out);

    r = cli('inspect', [sd]);
    assert.equal(r.code, 0, r.out);
    const lines = r.out.trim().split('\n');
    assert.match(lines[0], /^activation_variant\s+norm_variant_attn\s+seeds\s+ops\/tok\s+best val \(95%\)\s+interval\s+sd\s+final val \(95%\)(\s+improving)?$/);
    assert.equal(lines.length, 2 + 4 + 1, r.out);
    for (const l of lines.slice(2, 6)) assert.match(l, /3\/3\s+\d+\s+\d\.\d{4} ± \d\.\d{4}\s+\[\d\.\d{4}, \d\.\d{4}\]\s+\d\.\d{4}\s+\d\.\d{4} ± \d\.\d{4}(\s+↓ \d\/3)?$/);
    assert.match(lines[6], /4 combinations of 12 runs under .* \(activation_variant, norm_variant_attn\), repeated over seeds/);

    r = cli('inspect', [sd, '--runs']);
    assert.match(r.out, /12 runs under .*; they differ in activation_variant, norm_variant_attn, seed/);

    r = cli('inspect', [sd, '--baseline', 'activation_variant=relu,norm_variant_attn=rmsnorm']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Δ best val vs baseline\s+Δ interval\s+verdict/);
    assert.match(r.out, /relu\s+rmsnorm\s+3\/3 .*\(baseline\)/);
    assert.equal((r.out.match(/(within seed noise \(n=3\)|(lower|higher) \(beyond seed noise, n=3\))/g) ?? []).length, 3, r.out);

    // Main effects: each norm against rmsnorm, paired within each activation and overall.
    r = cli('inspect', [sd, '--effect', 'norm_variant_attn']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /norm_variant_attn\s+within \(activation_variant\)\s+Δ best val vs rmsnorm\s+Δ interval \(95%\)\s+verdict/);
    assert.match(r.out, /krmsnorm\s+all \(2 combinations, averaged per seed\)\s+[+-]\d\.\d{4}\s+\[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]\s+(within seed noise|lower|higher).*n=3/);
    assert.match(r.out, /krmsnorm\s+relu\s+[+-]\d\.\d{4}/);
    assert.match(r.out, /krmsnorm\s+gelu\s+[+-]\d\.\d{4}/);
    r = cli('inspect', [sd, '--effect', 'activation_variant', '--reference', 'gelu', '--json']);
    assert.equal(r.code, 0, r.out);
    const eff = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(eff.map((o) => [o.level, o.within]), [['relu', 'all'], ['relu', 'rmsnorm'], ['relu', 'krmsnorm']]);
    assert.equal(eff[0].reference, 'gelu');
    r = cli('inspect', [sd, '--effect', 'n_layer']);
    assert.equal(r.code, 1);
    assert.match(r.out, /--effect n_layer: not a factor that varies here; the factors are activation_variant, norm_variant_attn/);

    r = cli('inspect', [sd, '--baseline', 'relu', '--json']);
    assert.equal(r.code, 1);
    assert.match(r.out, /--baseline relu matches 2 combinations/);
    r = cli('inspect', [sd, '--baseline', 'gelu,krmsnorm', '--metric', 'final_val_loss', '--json']);
    assert.equal(r.code, 0, r.out);
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(rows.length, 4);
    const other = rows.find((o) => o.label === 'relu · rmsnorm')!;
    assert.equal((other.best_val_loss as { n: number }).n, 3);
    assert.ok(['lower', 'higher', 'within noise'].includes((other.paired_final_val_loss as { verdict: string }).verdict));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sweepOrder: runs and flags in the order sweep.json gives them; others after, as given', () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-order-'));
  try {
    mkdirSync(join(dir, 's'));
    writeFileSync(join(dir, 's', 'sweep.json'), JSON.stringify({ varied: ['activation_variant', 'norm_variant_attn', 'seed'], runs: [{ name: 'relu' }, { name: 'gelu' }] }));
    const runs = ['gelu', 'other', 'relu'].map((n) => ({ dir: join(dir, 's', n) }));
    const o = sweepOrder([...runs, { dir: join(dir, 'loose') }]);
    assert.deepEqual(o.runs.map((r) => r.dir.slice(dir.length + 1)), [join('s', 'relu'), join('s', 'gelu'), join('s', 'other'), 'loose']);
    assert.deepEqual(orderFlags(['norm_variant_attn', 'n_layer', 'activation_variant'], o.flags), ['activation_variant', 'norm_variant_attn', 'n_layer']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
