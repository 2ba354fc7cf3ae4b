// /api/groups without a browser, on the 2 x 2 x 3-seed fixture: grouping, pooling and filtering,
// the paired comparison, mean curves with their band, labels, bad queries; and the reproduce command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboard, type Dashboard } from '../src/dashboard/server.js';
import { reproduceCommand } from '../src/dashboard/data.js';
import type { GroupsReply } from '../src/dashboard/groups-api.js';
import { defaultConfig } from '../src/config/config.js';
import { seedBest, seedRunName, writeSeedSweep } from '../tools/make-dashboard-fixtures.js';

let root = '';
let dash: Dashboard;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'normlab-groups-'));
  writeSeedSweep(root);
  dash = await startDashboard({ root, port: 0 });
});

after(async () => {
  await dash.close();
  rmSync(root, { recursive: true, force: true });
});

async function groups(query: string): Promise<{ status: number; body: GroupsReply & { error?: string } }> {
  const res = await fetch(new URL(`/api/groups?${query}`, dash.url));
  return { status: res.status, body: await res.json() as GroupsReply & { error?: string } };
}

const close = (a: number | null | undefined, b: number, what: string) => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test('default grouping: every varied flag but the seed, in the sweep\'s order, with curves and labels', async () => {
  const { status, body } = await groups('curves=1');
  assert.equal(status, 200);
  assert.deepEqual(body.varied, ['activation_variant', 'norm_variant_attn']);
  assert.equal(body.repeated, true);
  assert.deepEqual(body.groups.map((g) => [g.label, g.seeds, g.finished]), [
    ['relu · rmsnorm', 3, 3], ['relu · krmsnorm', 3, 3], ['gelu · rmsnorm', 3, 3], ['gelu · krmsnorm', 3, 3]]);
  const g = body.groups[0];
  const xs = [1, 2, 3].map((s) => seedBest('relu', 'rmsnorm', s));
  const m = (xs[0] + xs[1] + xs[2]) / 3, sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / 2);
  close(g.stats.best_val_loss.mean, m, 'mean');
  close(g.stats.best_val_loss.sd, sd, 'sd');
  close(g.stats.best_val_loss.half, 4.302652729911275 * sd / Math.sqrt(3), 'half width');
  close(g.stats.final_train_loss.mean, m - 0.05, 'final training loss');
  const val = g.curves!.val;
  assert.deepEqual(val.x, [0, 50, 100]);
  assert.deepEqual(val.n, [3, 3, 3]);
  close(val.mean[2], m, 'the mean curve ends at the mean best loss');
  close(val.hi[2]! - val.mean[2], 4.302652729911275 * sd / Math.sqrt(3), 'band: 95% interval');
  assert.equal(body.labels[`sweep/${seedRunName('gelu', 'krmsnorm', 2)}`], 'gelu · krmsnorm · seed 2');
});

test('grouping by one flag pools the other; where= filters; baseline= pairs by seed', async () => {
  let r = await groups('by=activation_variant');
  assert.deepEqual(r.body.groups.map((g) => [g.label, g.stats.best_val_loss.n]), [['relu', 6], ['gelu', 6]]);
  r = await groups('by=activation_variant&where=norm_variant_attn=krmsnorm');
  assert.deepEqual(r.body.groups.map((g) => [g.label, g.stats.best_val_loss.n]), [['relu', 3], ['gelu', 3]]);
  const all = (await groups('')).body;
  r = await groups(`baseline=${encodeURIComponent(all.groups[0].key)}&metric=final_val_loss`);
  assert.equal(r.body.baseline, all.groups[0].key);
  assert.equal(r.body.groups[0].paired, null, 'no comparison of the baseline with itself');
  const p = r.body.groups[2].paired!; // gelu · rmsnorm - relu · rmsnorm: +0.02, +0.02, +0.024
  close(p.mean, 0.064 / 3, 'mean paired difference');
  assert.equal(p.verdict, 'higher');
});

test('bad queries are 400 with a message naming the problem', async () => {
  let r = await groups('by=dropout');
  assert.equal(r.status, 400);
  assert.match(r.body.error!, /dropout is not a flag that varies here \(activation_variant, norm_variant_attn\)/);
  r = await groups('metric=accuracy');
  assert.equal(r.status, 400);
  assert.match(r.body.error!, /metric must be one of best_val_loss, final_val_loss, final_train_loss/);
  r = await groups('where=norm_variant_attn');
  assert.equal(r.status, 400);
  assert.match(r.body.error!, /not flag=value/);
});

test('reproduceCommand: flags that differ from the defaults, booleans as --flag / --no-flag, shell-safe words', () => {
  const d = defaultConfig() as unknown as Record<string, unknown>;
  const cfg = { ...d, n_layer: 2, bias: !d.bias, activation_variant: 'relu', krmsnorm_recompute_percentage: null, prmsnorm_pct: -0.5, out_dir: 'ignored', dataset: "it's mine" };
  const cmd = reproduceCommand(cfg, 'runs/my run', d);
  assert.match(cmd, /^normlab train /);
  assert.ok(cmd.endsWith(" --out_dir 'runs/my run'"), cmd);
  for (const part of [' --n_layer 2 ', ` --${d.bias ? 'no-' : ''}bias `, ' --activation_variant relu ', ' --prmsnorm_pct=-0.5 ', " --dataset 'it'\\''s mine' "]) {
    assert.ok(cmd.includes(part), `${part} in ${cmd}`);
  }
  assert.doesNotMatch(cmd, /krmsnorm_recompute|ignored|--dropout/, 'defaults and the config\'s own out_dir left out');
});
