// Sweep tests: the exploration grammar, validation, run naming, results files, resume and retry.
// Runs use test/fixtures/sweep/fake-train.mjs in place of `normlab train` (milliseconds per run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandRange, expandSweep, expandSweeps, loadSweepFile, parseSweepText, type Combo } from '../src/sweep/grammar.js';
import { comboArgv, planSweep } from '../src/sweep/plan.js';
import { runNames, variedFlags } from '../src/sweep/naming.js';
import { runSweep } from '../src/sweep/runner.js';
import { withoutFlag, runChild } from '../src/sweep/child.js';
import { decideAction } from '../src/sweep/folders.js';
import { resultsTable } from '../src/sweep/results.js';
import { inspectDir, inspectTable } from '../src/sweep/runs.js';
import { parseSweepArgs } from '../src/cli/sweep.js';
import { UserError } from '../src/util/errors.js';
import { cliFunction, tinyData } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)); // dist/test -> package root
const FIX = join(ROOT, 'test/fixtures/sweep');
const FAKE = [process.execPath, join(FIX, 'fake-train.mjs')];
const quiet = () => {};

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'normlab-sweep-'));
}

function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

function calls(dir: string): string[][] {
  return readFileSync(join(dir, 'calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
}

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 2000 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(existsSync(path), `${path} never appeared`);
}

function plan(sweep: Record<string, unknown>[], opts: Parameters<typeof planSweep>[1] = {}) {
  return planSweep(expandSweeps(sweep), opts);
}

// ---------------------------------------------------------------- grammar

test('lists form a Cartesian product, first key slowest; scalars are fixed', () => {
  const c = expandSweep({ n_layer: [2, 4], activation_variant: ['gelu', 'relu'], n_embd: 64 });
  assert.deepEqual(c, [
    { n_layer: 2, activation_variant: 'gelu', n_embd: 64 }, { n_layer: 2, activation_variant: 'relu', n_embd: 64 },
    { n_layer: 4, activation_variant: 'gelu', n_embd: 64 }, { n_layer: 4, activation_variant: 'relu', n_embd: 64 },
  ]);
  assert.equal(expandSweeps([{ n_layer: [2, 3] }, { n_layer: [5] }]).length, 3);
});

test('ranges include the end, also for float steps; bad ranges are refused', () => {
  assert.deepEqual(expandRange('n', { start: 1, end: 5, step: 2 }), [1, 3, 5]);
  assert.deepEqual(expandRange('n', { start: 1, end: 6, step: 2 }), [1, 3, 5]);
  assert.deepEqual(expandRange('n', { start: 3, end: 1, step: -1 }), [3, 2, 1]);
  assert.deepEqual(expandRange('n', { start: '8', end: '10' }), [8, 9, 10]);
  assert.deepEqual(expandRange('x', { start: 0.1, end: 0.5, step: 0.1 }), [0.1, 0.2, 0.3, 0.4, 0.5]);
  assert.deepEqual(expandRange('x', { start: 0, end: 1, step: 0.25 }), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(expandSweep({ prmsnorm_pct: { range: { start: 0.05, end: 0.15, step: 0.05 } } }),
    [{ prmsnorm_pct: 0.05 }, { prmsnorm_pct: 0.1 }, { prmsnorm_pct: 0.15 }]);
  // a range inside a list is flattened
  assert.deepEqual(expandSweep({ n_layer: [1, { range: { start: 4, end: 5, step: 1 } }] }).map((c) => c.n_layer), [1, 4, 5]);
  assert.throws(() => expandRange('n', { start: 1, end: 5, step: 0 }), UserError);
  assert.throws(() => expandRange('n', { start: 5, end: 1, step: 1 }), /empty/);
  assert.throws(() => expandRange('n', { start: 'a', end: 1 }), UserError);
});

test('parameter_groups: one sweep per group, the group overriding the outer keys', () => {
  const c = expandSweep({ n_layer: 2, norm_variant_attn: 'rmsnorm', parameter_groups: [{ n_head: [1, 2] }, { norm_variant_attn: 'layernorm', n_layer: 3 }] });
  assert.deepEqual(c, [
    { n_layer: 2, norm_variant_attn: 'rmsnorm', n_head: 1 },
    { n_layer: 2, norm_variant_attn: 'rmsnorm', n_head: 2 },
    { n_layer: 3, norm_variant_attn: 'layernorm' },
  ]);
  assert.throws(() => expandSweep({ parameter_groups: [] }), /parameter_groups/);
});

test('conditions: a flag varies only where its conditions hold, else it is left out', () => {
  const c = expandSweep({
    norm_variant_attn: ['rmsnorm', 'krmsnorm'],
    krmsnorm_num: { conditions: [['norm_variant_attn', 'krmsnorm']], options: [8, 16] },
    // depends on an earlier conditional flag, compared by type ("16" == 16)
    krmsnorm_selection_type: { conditions: [['krmsnorm_num', '16']], options: ['first', 'last'] },
  });
  assert.deepEqual(c, [
    { norm_variant_attn: 'rmsnorm' },
    { norm_variant_attn: 'krmsnorm', krmsnorm_num: 8 },
    { norm_variant_attn: 'krmsnorm', krmsnorm_num: 16, krmsnorm_selection_type: 'first' },
    { norm_variant_attn: 'krmsnorm', krmsnorm_num: 16, krmsnorm_selection_type: 'last' },
  ]);
  // a flag the combination does not set is compared at its default (norm_variant_attn defaults to rmsnorm)
  assert.equal(expandSweep({ prmsnorm_pct: { conditions: [['norm_variant_attn', 'rmsnorm']], options: [0.5, 1] } }).length, 2);
  assert.throws(() => expandSweep({ krmsnorm_num: { conditions: 'x', options: [1] } }), /conditions/);
  assert.throws(() => expandSweep({ krmsnorm_num: { foo: 1 } }), /object value/);
});

test('groups and conditions together (fixture), YAML documents are separate sweeps', () => {
  const g = expandSweeps(loadSweepFile(join(FIX, 'groups_conditions.json')));
  assert.equal(g.length, 2 + 2 * (1 + 2));
  assert.equal(g.filter((c) => c.krmsnorm_num !== undefined).length, 4);
  const y = expandSweeps(loadSweepFile(join(FIX, 'two_docs.yaml')));
  assert.deepEqual(y.map((c) => [c.norm_variant_attn, c.krmsnorm_num ?? null, c.use_post_ln ?? null]), [
    ['rmsnorm', null, null], ['layernorm', null, null],
    ['krmsnorm', 8, true], ['krmsnorm', 8, false], ['krmsnorm', 16, true], ['krmsnorm', 16, false],
  ]);
  // the reference's YAML style: a comment, '---', block lists of conditions, quoted numbers
  const ref = parseSweepText([
    '# header comment', '---', 'max_iters: 100', 'norm_variant_attn: [krmsnorm, rmsnorm]', 'krmsnorm_num:',
    '  conditions:', '    - ["norm_variant_attn", "krmsnorm"]', '  options: ["8", "16"]', '',
  ].join('\n'), 'yaml');
  assert.deepEqual(expandSweeps(ref), [
    { max_iters: 100, norm_variant_attn: 'krmsnorm', krmsnorm_num: '8' },
    { max_iters: 100, norm_variant_attn: 'krmsnorm', krmsnorm_num: '16' },
    { max_iters: 100, norm_variant_attn: 'rmsnorm' },
  ]);
  assert.throws(() => parseSweepText('[1, 2]', 'json'), /must be an object/);
  assert.throws(() => parseSweepText('{', 'json'), /not valid JSON/);
  assert.throws(() => parseSweepText('a: [1\n', 'yaml'), /not valid YAML/);
});

test('booleans become --flag / --no-flag; string numbers are typed by the flag', () => {
  const p = plan([{ use_post_ln: [true, 'False'], krmsnorm_num: '25', prmsnorm_pct: ['0.1250', '0.5'], pla_left_bound: '-3' }]);
  assert.equal(p.runs.length, 4);
  assert.deepEqual(p.runs[0].argv, ['--use_post_ln', '--krmsnorm_num', '25', '--prmsnorm_pct', '0.125', '--pla_left_bound=-3']);
  assert.equal(p.runs[2].argv[0], '--no-use_post_ln');
  assert.equal(p.runs[0].config.krmsnorm_num, 25);
  assert.equal(p.runs[2].config.use_post_ln, false);
  assert.equal(p.runs[0].config.pla_left_bound, -3);
  assert.deepEqual(comboArgv({ mlp_size: null, bias: false }), ['--mlp_size', 'None', '--no-bias']);
  // "0.125" and 0.125 are one value: the duplicate combination is dropped
  assert.equal(plan([{ prmsnorm_pct: ['0.125', 0.125, 0.25] }]).runs.length, 2);
});

// ---------------------------------------------------------------- validation

test('validation lists every bad combination and runs nothing', () => {
  const err = (() => {
    try { plan([{ n_layer: [2, 'two'], norm_variant_attn: ['rmsnorm', 'fancynorm'] }]); } catch (e) { return e as Error; }
    assert.fail('expected a UserError');
  })();
  assert.ok(err instanceof UserError);
  assert.match(err.message, /3 of 4 combinations are invalid/);
  assert.match(err.message, /n_layer-2_norm_variant_attn-fancynorm: .*fancynorm/);
  assert.match(err.message, /n_layer-two_norm_variant_attn-rmsnorm: .*two/);
  assert.match(err.message, /n_layer-two_norm_variant_attn-fancynorm: /);
  assert.doesNotMatch(err.message, /n_layer-2_norm_variant_attn-rmsnorm:/);
  // a whole-config check (checkTrainConfig) is applied to every combination too
  assert.throws(() => plan([{ n_head: [2, 3], n_embd: 64 }], {
    check: (c) => { if ((c.n_embd as number) % (c.n_head as number) !== 0) throw new UserError('n_head must divide n_embd'); },
  }), /1 of 2 combinations are invalid:\n {2}n_head-3: n_head must divide n_embd/);
});

test('unknown flags are named once; --ignore_unknown drops them', () => {
  assert.throws(() => plan([{ n_layer: [1, 2], compile: true, device: ['cuda', 'cpu'] }]),
    (e: Error) => e instanceof UserError && /no flag compile, device/.test(e.message) && /--ignore_unknown/.test(e.message));
  const p = plan([{ n_layer: [1, 2], compile: true, device: ['cuda', 'cpu'] }], { ignoreUnknown: true });
  assert.deepEqual(p.dropped, ['compile', 'device']);
  assert.equal(p.runs.length, 2);
  assert.equal(p.duplicates, 2);
  assert.deepEqual(p.varied, ['n_layer']);
  assert.throws(() => plan([{ out_dir: 'x' }]), /--sweep_dir/);
});

test('overrides after the file apply to every run and are validated', () => {
  const p = plan([{ n_layer: [1, 2] }], { overrides: ['--max_iters', '100', '--no-bias'] });
  assert.deepEqual(p.runs[1].argv, ['--n_layer', '2', '--max_iters', '100', '--no-bias']);
  assert.equal(p.runs[0].config.max_iters, 100);
  // a fixed flag of the file is replaced by the override
  assert.deepEqual(plan([{ n_layer: [1, 2], max_iters: 300 }], { overrides: ['--max_iters', '100'] }).runs[0].argv,
    ['--n_layer', '1', '--max_iters', '100']);
  assert.throws(() => plan([{ n_layer: [1, 2] }], { overrides: ['--max_iterz', '1'] }), /after the sweep file/);
  assert.throws(() => plan([{ n_layer: [1, 2] }], { overrides: ['--n_layer', '3'] }), /varies/);
  assert.throws(() => plan([{ n_layer: [1, 2] }], { overrides: ['--out_dir', 'x'] }), /sweep_dir/);
  const a = parseSweepArgs(['--max_iters', '100', 'x.yaml', '--sweep_dir', 'd', '--ignore_unknown', '--eval_interval=50']);
  assert.deepEqual([a.file, a.sweepDir, a.ignoreUnknown, a.overrides], ['x.yaml', 'd', true, ['--max_iters', '100', '--eval_interval=50']]);
});

// ---------------------------------------------------------------- naming

test('a "--" among the flags after the file is refused: the --out_dir the sweep adds would not be read as a flag', () => {
  assert.throws(() => plan([{ n_layer: [1, 2] }], { overrides: ['--max_iters', '1', '--'] }), /after the sweep file: "--" ends the flags, and the sweep adds --out_dir after them/);
});

test('run names: varied flags only, flag and value, unique and filesystem-safe', () => {
  const p = plan([{ n_layer: 2, norm_variant_attn: ['rmsnorm', 'prmsnorm'], prmsnorm_pct: [0.25, 0.5] }]);
  assert.deepEqual(p.runs.map((r) => r.name), [
    'norm_variant_attn-rmsnorm_prmsnorm_pct-0.25', 'norm_variant_attn-rmsnorm_prmsnorm_pct-0.5',
    'norm_variant_attn-prmsnorm_prmsnorm_pct-0.25', 'norm_variant_attn-prmsnorm_prmsnorm_pct-0.5',
  ]);
  // a flag set in only some combinations appears only in their names; one combination is 'default'
  const c: Combo[] = [{ a: 1 }, { a: 1, b: 'x/y' }, { a: 1, b: 'x:y' }];
  const v = variedFlags(c);
  assert.deepEqual(v, ['b']);
  const names = runNames(c, v);
  assert.equal(names[0], 'default');
  assert.match(names[1], /^b-x_y_[0-9a-f]{8}$/); // 'x/y' and 'x:y' both sanitize to x_y: hashes keep them apart
  assert.notEqual(names[1], names[2]);
  for (const n of names) assert.match(n, /^[A-Za-z0-9._+=-]+$/);
  const long = runNames([{ dataset: 'a'.repeat(300) }, { dataset: 'b' }], ['dataset']);
  assert.ok(long[0].length <= 150);
});

test('the reference exploration files expand unchanged', () => {
  const norm = expandSweeps(loadSweepFile(join(FIX, 'norm_sweep.json')));
  assert.equal(norm.length, 3 * 5 * 3);
  assert.throws(() => planSweep(norm), (e: Error) => /no flag n_kv_group, device, compile/.test(e.message) &&
    // the file asks for dtype float16, which normlab refuses (docs/dtype.md): named once, with why
    /normlab refuses dtype float16:\n {2}dtype float16: in 45 of 45 combinations: no float16 matrix product .* use --dtype bfloat16/.test(e.message));
  // --ignore_unknown drops it too (the runs take float32, as the framework's own do on a CPU); or the command line picks one
  const dropped = planSweep(norm, { ignoreUnknown: true });
  assert.deepEqual([dropped.runs.length, dropped.droppedValues, dropped.runs[0].config.dtype], [45, ['dtype float16'], 'float32']);
  assert.ok(!dropped.varied.includes('dtype'));
  const p = planSweep(norm, { ignoreUnknown: true, overrides: ['--dtype', 'float32'] });
  assert.deepEqual(p.droppedValues, []);
  assert.equal(planSweep(norm, { ignoreUnknown: true, overrides: ['--dtype', 'bfloat16'] }).runs[0].config.dtype, 'bfloat16');
  // a file that varies dtype: float16's combinations become float32's, which then run once
  const both = planSweep([{ n_layer: 1, dtype: 'float16' }, { n_layer: 1, dtype: 'float32' }, { n_layer: 1, dtype: 'bfloat16' }], { ignoreUnknown: true });
  assert.deepEqual([both.runs.map((r) => r.config.dtype), both.duplicates], [['float32', 'bfloat16'], 1]);
  assert.equal(p.runs.length, 45); // softmax_variant_attn (polymax, saturatingconsmax, softmax) is a flag of normlab too
  assert.deepEqual(p.varied, ['norm_variant_attn', 'prmsnorm_pct', 'softmax_variant_attn']);
  assert.equal(p.runs[0].config.max_iters, 3500);
  assert.equal(p.runs[0].config.norm_variant_output, 'prmsnorm');
  const k = planSweep(expandSweeps(loadSweepFile(join(FIX, 'krmsnorm.json'))));
  assert.equal(k.runs.length, 3 * 4 * 2 * 3);
  assert.equal(new Set(k.runs.map((r) => r.name)).size, k.runs.length);
  assert.ok(k.runs.some((r) => r.name === 'krmsnorm_quantize_type-int16_krmsnorm_num-100_krmsnorm_enable_gain-false_krmsnorm_selection_type-random'));
});

test('the shipped example explorations are valid', () => {
  const dir = join(ROOT, 'explorations');
  const files = readdirSync(dir).filter((f) => /\.(json|ya?ml)$/.test(f));
  assert.ok(files.length >= 4);
  for (const f of files) {
    const p = planSweep(expandSweeps(loadSweepFile(join(dir, f))));
    assert.ok(p.runs.length >= 2, f);
  }
});

// ---------------------------------------------------------------- running

const SMALL = [{ n_layer: 2, norm_variant_attn: ['rmsnorm', 'layernorm', 'krmsnorm'] }];

test('a sweep writes results.csv / results.jsonl; a failed run is retried, finished ones skipped', async () => {
  const dir = tmp();
  try {
    const p = plan(SMALL, { overrides: ['--max_iters', '20'] });
    const first = await runSweep(p, { sweepDir: dir, trainCmd: FAKE, env: { ...process.env, FAKE_FAIL: 'layernorm' }, print: quiet });
    assert.deepEqual(first.counts, { ok: 2, failed: 1, interrupted: 0, skipped: 0 });
    const csv = readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'name,norm_variant_attn,best_val_loss,best_iter,final_train_loss,final_val_loss,iters,params,wall_s,tokens_per_s,krmsnorm_recompute,status,error,out_dir,' +
      'cost_inference_ops,cost_training_ops,cost_reduction_len,cost_reduction_bits,cost_variant_params,cost_matmul_macs,cost_bit_macs,cost_weight_bits');
    assert.equal(csv.length, 4);
    const rows = readJsonl(join(dir, 'results.jsonl'));
    assert.deepEqual(rows.map((r) => [r.name, r.norm_variant_attn, r.status]), [
      ['norm_variant_attn-rmsnorm', 'rmsnorm', 'ok'], ['norm_variant_attn-layernorm', 'layernorm', 'failed'],
      ['norm_variant_attn-krmsnorm', 'krmsnorm', 'ok'],
    ]);
    assert.equal(rows[1].error, 'loss is NaN at iter 7');
    assert.equal(rows[2].krmsnorm_recompute, 0.25);
    assert.equal(rows[0].krmsnorm_recompute, null);
    assert.equal(rows[0].params, 1234);
    assert.equal(rows[0].best_iter, 20);
    assert.equal(typeof rows[0].best_val_loss, 'number');
    // each run got the combination, the overrides and its own out_dir
    assert.deepEqual(calls(join(dir, 'norm_variant_attn-rmsnorm'))[0],
      ['--n_layer', '2', '--norm_variant_attn', 'rmsnorm', '--max_iters', '20', '--out_dir', join(dir, 'norm_variant_attn-rmsnorm')]);
    // the table is sorted by validation loss, failures last
    const table = resultsTable(first.rows).split('\n');
    const okLosses = first.rows.filter((r) => r.status === 'ok').map((r) => r.best_val_loss!).sort((a, b) => a - b);
    assert.ok(table[2].includes(okLosses[0].toFixed(4)));
    assert.match(table[4], /failed: loss is NaN/);
    assert.match(table[0], /recompute/);

    const second = await runSweep(p, { sweepDir: dir, trainCmd: FAKE, env: process.env, print: quiet });
    assert.deepEqual(second.counts, { ok: 1, failed: 0, interrupted: 0, skipped: 2 });
    assert.equal(calls(join(dir, 'norm_variant_attn-rmsnorm')).length, 1); // skipped
    assert.equal(calls(join(dir, 'norm_variant_attn-layernorm')).length, 1); // retried from a cleared folder
    assert.ok(!calls(join(dir, 'norm_variant_attn-layernorm'))[0].includes('resume'));
    assert.deepEqual(readJsonl(join(dir, 'results.jsonl')).map((r) => r.status), ['ok', 'ok', 'ok']);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')).varied, ['norm_variant_attn']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a killed run is resumed from its checkpoint with --init_from resume', async () => {
  const dir = tmp();
  try {
    const p = plan(SMALL);
    const hung = join(dir, 'norm_variant_attn-layernorm');
    const sweep = runSweep(p, { sweepDir: dir, trainCmd: FAKE, env: { ...process.env, FAKE_HANG: 'layernorm' }, print: quiet });
    await waitFor(join(hung, 'pid'));
    process.kill(Number(readFileSync(join(hung, 'pid'), 'utf8')), 'SIGKILL'); // as if the machine died
    const first = await sweep;
    assert.deepEqual(first.counts, { ok: 2, failed: 1, interrupted: 0, skipped: 0 });
    assert.match(first.rows[1].error ?? '', /SIGKILL/);
    assert.equal(decideAction(hung), 'resume'); // summary says running, a checkpoint exists

    const second = await runSweep(p, { sweepDir: dir, trainCmd: FAKE, env: process.env, print: quiet });
    assert.deepEqual(second.counts, { ok: 1, failed: 0, interrupted: 0, skipped: 2 });
    const c = calls(hung);
    assert.equal(c.length, 2);
    assert.deepEqual(c[1].slice(-4), ['--out_dir', hung, '--init_from', 'resume']);
    assert.equal(readJsonl(join(dir, 'results.jsonl'))[1].status, 'ok');
    assert.deepEqual(withoutFlag(['--a', '1', '--init_from', 'x.safetensors', '--init_from=y', '--b'], 'init_from'), ['--a', '1', '--b']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C interrupts the current run, writes results and stops; rerun resumes it', async () => {
  const dir = tmp();
  try {
    const p = plan(SMALL);
    const hung = join(dir, 'norm_variant_attn-layernorm');
    const stop = new AbortController();
    const sweep = runSweep(p, { sweepDir: dir, trainCmd: FAKE, env: { ...process.env, FAKE_HANG: 'layernorm' }, signal: stop.signal, print: quiet });
    await waitFor(join(hung, 'pid'));
    stop.abort();
    const first = await sweep;
    assert.equal(first.interrupted, true);
    assert.deepEqual(first.counts, { ok: 1, failed: 0, interrupted: 1, skipped: 0 });
    assert.ok(!existsSync(join(dir, 'norm_variant_attn-krmsnorm'))); // never started
    assert.deepEqual(readJsonl(join(dir, 'results.jsonl')).map((r) => r.status), ['ok', 'interrupted']);
    assert.equal(JSON.parse(readFileSync(join(hung, 'summary.json'), 'utf8')).status, 'interrupted');

    const second = await runSweep(p, { sweepDir: dir, trainCmd: FAKE, env: process.env, print: quiet });
    assert.deepEqual(second.counts, { ok: 2, failed: 0, interrupted: 0, skipped: 1 });
    assert.deepEqual(calls(hung)[1].slice(-2), ['--init_from', 'resume']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sweep refuses to start while another sweep or an orphaned run uses its folder', async () => {
  const dir = tmp();
  try {
    const p = plan(SMALL);
    const livePid = String(process.ppid); // a process that surely runs: our parent
    mkdirSync(join(dir, 'norm_variant_attn-layernorm'), { recursive: true });
    writeFileSync(join(dir, 'norm_variant_attn-layernorm', '.train.pid'), livePid);
    await assert.rejects(runSweep(p, { sweepDir: dir, trainCmd: FAKE, print: quiet }), /still being trained by process/);
    writeFileSync(join(dir, '.normlab.lock'), JSON.stringify({ pid: Number(livePid), host: hostname(), command: 'sweep', started: 'now' }));
    await assert.rejects(runSweep(p, { sweepDir: dir, trainCmd: FAKE, print: quiet }), /in use by another normlab sweep/);
    assert.ok(!existsSync(join(dir, 'norm_variant_attn-rmsnorm'))); // nothing ran
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- inspect and the commands

test('inspect finds every run with the flags that differ, sorted by loss', async () => {
  const dir = tmp();
  try {
    await runSweep(plan(SMALL, { overrides: ['--max_iters', '20'] }), { sweepDir: join(dir, 's'), trainCmd: FAKE, env: process.env, print: quiet });
    const { runs, flags } = inspectDir(dir);
    assert.equal(runs.length, 3);
    assert.deepEqual(flags, ['norm_variant_attn']);
    const losses = runs.map((r) => r.best_val_loss!);
    assert.deepEqual(losses, [...losses].sort((a, b) => a - b));
    assert.deepEqual(inspectDir(dir, 'name').runs.map((r) => r.path), [
      join('s', 'norm_variant_attn-krmsnorm'), join('s', 'norm_variant_attn-layernorm'), join('s', 'norm_variant_attn-rmsnorm')]);
    assert.match(inspectTable(runs, flags).split('\n')[0], /run\s+norm_variant_attn\s+best val\s+ops\/tok\s+iter/);
    assert.throws(() => inspectDir(join(dir, 'nothing')), UserError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs a command function in a child node process (so its terminal output can be read). */
function cli(module: 'sweep' | 'inspect', argv: string[]): { code: number; out: string } {
  return cliFunction(module, module === 'sweep' ? 'sweepCommand' : 'inspectCommand', argv, { ...process.env, NORMLAB_TRAIN_CMD: JSON.stringify(FAKE) });
}

test('normlab sweep and inspect: refuse unknown flags, run with --ignore_unknown, print the tables', () => {
  const dir = tmp();
  try {
    const f = join(FIX, 'norm_sweep.json');
    let r = cli('sweep', [f, '--sweep_dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.out, /no flag n_kv_group/);
    assert.equal(readdirSync(dir).length, 0); // nothing ran
    r = cli('sweep', [f, '--sweep_dir', dir, '--ignore_unknown', '--dry_run']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /ignoring values normlab refuses; those runs take the flag's default: dtype float16 -> float32\n/);
    r = cli('sweep', [f, '--sweep_dir', dir, '--ignore_unknown', '--dry_run', '--dtype', 'float32']);
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.out, /ignoring values/);
    assert.match(r.out, /ignoring flags that only say where or how the framework runs: device, compile\n/);
    assert.match(r.out, /warning: ignoring flags normlab train does not have, which may change the model or its training in the framework: n_kv_group;/);
    assert.match(r.out, /45 runs would go to/);
    r = cli('sweep', [join(FIX, 'two_docs.yaml'), '--sweep_dir', dir, '--max_iters', '20']);
    assert.equal(r.code, 0, r.out);
    assert.equal(readJsonl(join(dir, 'results.jsonl')).length, 6);
    assert.match(r.out, /\[6\/6\] norm_variant_attn-krmsnorm_krmsnorm_num-16_use_post_ln-false {2}elapsed \S+ {2}ETA \S+/);
    assert.match(r.out, /fake train/); // the child's output is shown
    assert.match(r.out, /6 ok \(0 from earlier\)/);
    r = cli('sweep', [join(FIX, 'two_docs.yaml'), '--sweep_dir', dir, '--max_iters', '20']);
    assert.match(r.out, /6 ok \(6 from earlier\)/);
    r = cli('inspect', [dir, '--sort', 'name']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /6 runs under .*; they differ in norm_variant_attn, krmsnorm_num, use_post_ln/);
    r = cli('inspect', [dir, '--sort', 'bogus']);
    assert.equal(r.code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- a real run: progress bar, Ctrl-C, resume

test('a sweep shows the run\'s progress bar in place; Ctrl-C saves the run where it stopped and the next sweep continues it there', async () => {
  const data = tinyData();
  const flags = { dataset: 'tiny', data_dir: data, n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, batch_size: 4, eval_iters: 2,
    log_interval: 1, max_iters: 1500, eval_interval: 500, tensorboard_log: false, dropout: 0.1 };
  const p = plan([{ ...flags, activation_variant: ['gelu'] }]);
  const dir = tmp();
  const lines: string[] = [], bars: string[] = [];
  const stop = new AbortController();
  const first = await runSweep(p, {
    sweepDir: dir, signal: stop.signal, print: (l) => lines.push(l),
    live: (bar) => { bars.push(bar); if (Number(/ (\d+)\/1500 /.exec(bar)?.[1]) > 600) stop.abort(); },
  });
  assert.ok(first.interrupted, lines.join("\n") + bars.slice(-3).join("\n"));
  assert.match(bars[0], /^\[[#.]{24}\] \d+\/1500 loss \d+\.\d{4} \d+ tok\/s ETA /);
  assert.ok([...lines, ...bars].every((l) => !l.includes('\x1b')), 'no terminal escapes in lines or bars');
  const run = join(dir, p.runs[0].name);
  const stoppedAt = JSON.parse(readFileSync(join(run, 'resume.state.json'), 'utf8')).iter as number;
  assert.ok(stoppedAt > 600 && stoppedAt < 1500, `stopped at ${stoppedAt}`);

  const second = await runSweep(p, { sweepDir: dir, print: (l) => lines.push(l) });
  assert.equal(second.counts.ok, 1);
  assert.ok(lines.some((l) => l.includes(`resuming ${run} at iter ${stoppedAt}`)), lines.join("\n"));
  const straight = tmp();
  assert.equal(cliFunction('train', 'trainCommand', [...p.runs[0].argv, '--out_dir', straight]).code, 0);
  const noMs = (d: string) => readFileSync(join(d, 'log.jsonl'), 'utf8').replace(/,"ms":[0-9.e-]+/g, '');
  assert.equal(noMs(run), noMs(straight));
  assert.ok(readFileSync(join(run, 'final.safetensors')).equals(readFileSync(join(straight, 'final.safetensors'))));
});

test('a child\'s progress bar goes to the redraws, never into its lines or its last error, even when it ends on one', async () => {
  const script = "const w = (s) => process.stderr.write(s); w('\\r[bar] 1/3 '); w('\\r\\x1b[Kerror: boom\\n'); w('\\r[bar] 3/3  ');";
  const lines: string[] = [], bars: string[] = [];
  const res = await runChild([process.execPath, '-e', script], [], {}, (l) => lines.push(l), (b) => bars.push(b), () => {});
  assert.deepEqual(lines, ['error: boom']);
  assert.equal(res.lastErr, 'error: boom');
  assert.equal(bars[bars.length - 1], '[bar] 3/3');
  assert.ok(bars.every((b) => b.startsWith('[bar]')), JSON.stringify(bars));
});
