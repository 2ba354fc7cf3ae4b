// End to end through the CLI: training, resume after a kill, fine-tuning, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sampleText } from '../src/sampling.js';
import { cli, cliAsync, readLog, tinyData, tmpDir, TINY_MODEL } from './helpers.js';

const data = tinyData();
const base = [...TINY_MODEL, '--data_dir', data];

/** Drop the timing field, which differs from run to run. */
const noMs = (rows: Record<string, number>[]) => rows.map(({ ms, ...r }) => r);

test('train writes checkpoints, logs and a summary; losses fall; sample reads the checkpoint', async () => {
  const out = tmpDir();
  const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '40', '--eval_interval', '20']);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['ckpt.safetensors', 'final.safetensors', 'optim.safetensors', 'state.json', 'log.jsonl', 'log.csv', 'summary.json']) {
    assert.ok(fs.existsSync(path.join(out, f)), f);
  }
  const log = readLog(out);
  const evals = log.filter((r) => 'val_loss' in r);
  assert.deepEqual(evals.map((r) => r.iter), [0, 20, 40]);
  assert.ok(evals[2].val_loss < evals[0].val_loss - 0.3);
  const train = log.filter((r) => 'loss' in r);
  assert.deepEqual(train.map((r) => r.iter), Array.from({ length: 40 }, (_, i) => i));
  for (const row of train) for (const k of ['loss', 'lr', 'ms']) assert.equal(typeof row[k], 'number');
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.status, 'ok');
  assert.equal(summary.best_iter, 40);
  const csv = fs.readFileSync(path.join(out, 'log.csv'), 'utf8').split('\n');
  assert.match(csv[0], /^iter,train_loss,val_loss,loss,lr,ms/);
  const s = cli(['sample', '--out_dir', out, '--num_samples', '1', '--max_new_tokens', '30', '--start', 'ROMEO']);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(s.stdout.startsWith('ROMEO') && s.stdout.length >= 35);
  // the dashboard's sample button calls sampleText: the same text for the same checkpoint and options
  const text = await sampleText(out, { start: 'ROMEO', maxNewTokens: 30 });
  assert.equal(s.stdout.split('\n---------------')[0], text);
});

test('the same seed gives the same run; another seed another', () => {
  const runs = [1, 1, 2].map((seed) => {
    const out = tmpDir();
    assert.equal(cli(['train', ...base, '--out_dir', out, '--max_iters', '5', '--eval_interval', '5', '--seed', String(seed)]).code, 0);
    return noMs(readLog(out));
  });
  assert.deepEqual(runs[0], runs[1]);
  assert.notDeepEqual(runs[0], runs[2]);
});

test('resume after SIGKILL reproduces the uninterrupted run', async () => {
  const args = [...base, '--max_iters', '60', '--eval_interval', '10', '--always_save_checkpoint', '--dropout', '0.1'];
  const full = tmpDir();
  assert.equal(cli(['train', ...args, '--out_dir', full]).code, 0);

  const cut = tmpDir();
  const child = cliAsync(['train', ...args, '--out_dir', cut]);
  // kill once a checkpoint past iter 20 exists, mid-run
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      try {
        const st = JSON.parse(fs.readFileSync(path.join(cut, 'state.json'), 'utf8'));
        if (st.iter >= 20) { clearInterval(poll); child.kill('SIGKILL'); resolve(); }
      } catch { /* not yet */ }
    }, 5);
    child.on('exit', () => { clearInterval(poll); resolve(); });
  });
  await new Promise((r) => child.exitCode !== null || child.signalCode !== null ? r(null) : child.on('exit', r));
  assert.equal(child.signalCode, 'SIGKILL', 'the run was killed mid-way');
  assert.ok(JSON.parse(fs.readFileSync(path.join(cut, 'state.json'), 'utf8')).iter < 60);
  assert.ok(!fs.existsSync(path.join(cut, 'final.safetensors')));
  const resumed = cli(['train', '--out_dir', cut, '--init_from', 'resume', '--data_dir', data, '--no-progress']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(noMs(readLog(cut)), noMs(readLog(full)));
  const a = fs.readFileSync(path.join(full, 'final.safetensors')), b = fs.readFileSync(path.join(cut, 'final.safetensors'));
  assert.ok(a.equals(b), 'final weights identical');
});

/** Sends `signal` to a training child once `ready(log rows)` holds; resolves with its exit code and output. */
async function stopWhen(args: string[], out: string, ready: (rows: Record<string, number>[]) => boolean, signal: NodeJS.Signals) {
  const child = cliAsync(args);
  let stdout = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stdout += d; });
  const poll = setInterval(() => {
    let rows: Record<string, number>[] = [];
    try { rows = readLog(out); } catch { /* not yet, or a line half written */ }
    if (ready(rows)) { clearInterval(poll); child.kill(signal); }
  }, 5);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => { clearInterval(poll); r(c); }));
  return { code, stdout };
}

test('SIGTERM saves the run where it stopped (beside the checkpoint); resumed twice, it matches the uninterrupted run byte for byte', { timeout: 300_000 }, async () => {
  // Evaluations of 300 batches take long enough that the second stop lands inside the one at iter 40.
  const args = [...base, '--max_iters', '60', '--eval_interval', '20', '--eval_iters', '300', '--dropout', '0.1'];
  const full = tmpDir();
  assert.equal(cli(['train', ...args, '--out_dir', full]).code, 0);
  const cut = tmpDir();
  const trainRows = (rows: Record<string, number>[]) => rows.filter((r) => 'loss' in r);
  const resumeState = () => JSON.parse(fs.readFileSync(path.join(cut, 'resume.state.json'), 'utf8'));
  const ckptIter = () => fs.existsSync(path.join(cut, 'state.json')) ? JSON.parse(fs.readFileSync(path.join(cut, 'state.json'), 'utf8')).iter : null;

  // 1. Stopped between two updates, past the first evaluation.
  const first = await stopWhen(['train', ...args, '--out_dir', cut], cut, (rows) => trainRows(rows).length >= 3, 'SIGTERM');
  assert.equal(first.code, 130, first.stdout);
  const k1 = resumeState().iter;
  assert.ok(k1 >= 3 && k1 < 60, `stopped at ${k1}`);
  assert.match(first.stdout, new RegExp(`interrupted at iter ${k1}; its state is saved there`));
  // The checkpoint keeps its meaning: the weights of an evaluation, not of the stop.
  const c1 = ckptIter();
  assert.ok(c1 === null || (c1 % 20 === 0 && c1 <= k1), `checkpoint at ${c1}`);

  // 2. Resumed where it stopped, then stopped in the middle of the evaluation at iter 40.
  const second = await stopWhen(['train', '--out_dir', cut, '--init_from', 'resume', '--data_dir', data, '--no-progress'], cut,
    (rows) => trainRows(rows).some((r) => r.iter === 39), 'SIGINT');
  assert.equal(second.code, 130, second.stdout);
  assert.match(second.stdout, new RegExp(`resuming ${cut} at iter ${k1}, where it was stopped`));
  const s2 = resumeState();
  assert.deepEqual([s2.iter, s2.eval_pending], [40, true], 'stopped during the evaluation at 40, which is done again on resume');
  assert.ok(!readLog(cut).some((r) => r.iter === 40 && 'val_loss' in r));

  // 3. To the end: the same log (but timings), the same checkpoint and final weights; the resume state is gone.
  const last = cli(['train', '--out_dir', cut, '--init_from', 'resume', '--data_dir', data, '--no-progress']);
  assert.equal(last.code, 0, last.stderr);
  assert.match(last.stdout, /at iter 40, where it was stopped/);
  assert.deepEqual(noMs(readLog(cut)), noMs(readLog(full)));
  for (const f of ['final.safetensors', 'ckpt.safetensors', 'optim.safetensors']) {
    assert.ok(fs.readFileSync(path.join(full, f)).equals(fs.readFileSync(path.join(cut, f))), `${f} identical`);
  }
  assert.deepEqual(fs.readdirSync(cut).filter((f) => f.startsWith('resume.')), []);
});

test('init_from a safetensors file fine-tunes; a mismatched file is refused with the names', () => {
  const src = tmpDir();
  assert.equal(cli(['train', ...base, '--out_dir', src, '--max_iters', '10', '--eval_interval', '10']).code, 0);
  const ft = tmpDir();
  const ok = cli(['train', ...base, '--out_dir', ft, '--max_iters', '2', '--eval_interval', '2', '--init_from', path.join(src, 'ckpt.safetensors')]);
  assert.equal(ok.code, 0, ok.stderr);
  const first = readLog(ft)[0], orig = readLog(src).filter((r) => 'val_loss' in r).pop()!;
  assert.ok(Math.abs(first.val_loss - orig.val_loss) < 0.05, 'starts from the trained weights');
  const bad = cli(['train', ...base, '--out_dir', tmpDir(), '--n_embd', '32', '--use_post_ln', '--init_from', path.join(src, 'ckpt.safetensors')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /mis-shaped/);
  assert.match(bad.stderr, /missing.*post_ln_attn\.gain/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
});

test('bad input gets a clear message, exit code 1, no stack trace, and destroys nothing', () => {
  const out = tmpDir();
  assert.equal(cli(['train', ...base, '--out_dir', out, '--max_iters', '10', '--eval_interval', '10']).code, 0);
  const ckpt = fs.readFileSync(path.join(out, 'ckpt.safetensors'));
  const cases: [string[], RegExp][] = [
    [['train', '--norm_varient_attn', 'rmsnorm'], /unknown flag --norm_varient_attn.*did you mean --norm_variant_attn/],
    [['train', '--n_layer', 'two'], /--n_layer/],
    [['train', '--norm_variant_attn', 'batchnorm'], /batchnorm.*(layernorm|rmsnorm)/],
    [['train', '--n_embd', '30', '--n_head', '4'], /not divisible/],
    [['train', ...base, '--dataset', 'nope', '--out_dir', tmpDir()], /normlab prepare/],
    [['train', ...base, '--out_dir', out], /already holds a run/],
    [['train', '--out_dir', tmpDir(), '--init_from', 'resume', '--data_dir', data], /no state\.json/],
    [['sample', '--out_dir', tmpDir()], /no checkpoint/],
    [['frobnicate'], /unknown command/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.ok(fs.readFileSync(path.join(out, 'ckpt.safetensors')).equals(ckpt), 'existing checkpoint untouched');

  // a corrupt checkpoint is named, not crashed on
  const corrupt = tmpDir();
  fs.cpSync(out, corrupt, { recursive: true });
  fs.truncateSync(path.join(corrupt, 'ckpt.safetensors'), 100);
  const r = cli(['train', '--out_dir', corrupt, '--init_from', 'resume', '--data_dir', data, '--max_iters', '12']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ckpt\.safetensors is not a valid safetensors file/);
});

test('a diverging run stops with exit 2 and a message, keeping the last good checkpoint', () => {
  const out = tmpDir();
  const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '30', '--eval_interval', '1', '--learning_rate', '1e9', '--grad_clip', '0']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /diverged at iter \d+/);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.status, 'failed');
});

test('bench reports speed figures as JSON, and --variants times every norm and activation', () => {
  const out = path.join(tmpDir(), 'bench.json');
  const tiny = ['--data_dir', data, '--dataset', 'tiny', '--n_layer', '1', '--n_head', '2', '--n_embd', '16', '--block_size', '16',
    '--batch_size', '2', '--iters', '1', '--warmup', '0', '--backend', 'ts'];
  const r = cli(['bench', ...tiny, '--sample_tokens', '20', '--json', out]);
  assert.equal(r.code, 0, r.stderr);
  const row = JSON.parse(fs.readFileSync(out, 'utf8')).rows[0];
  for (const k of ['ms_per_iter', 'tokens_per_s', 'gflops', 'peak_rss_mb', 'sample_tokens_per_s']) assert.ok(row[k] > 0, k);
  const v = cli(['bench', ...tiny, '--variants', '--json', out]);
  assert.equal(v.code, 0, v.stderr);
  const labels = JSON.parse(fs.readFileSync(out, 'utf8')).rows.map((x: { label: string }) => x.label);
  assert.ok(labels.includes('norm krmsnorm') && labels.includes('act learned_spline') && labels.includes('act glu'));
  assert.equal(labels.length, 1 + 6 + 2 + 22);

  // A first bench on a fresh machine prepares the shipped shakespeare_char itself.
  const fresh = tmpDir();
  const f = cli(['bench', ...tiny.slice(4), '--data_dir', fresh, '--sample_tokens', '0']);
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout, /preparing shakespeare_char in .* \(from the text shipped with normlab\)/);
  assert.equal(fs.statSync(path.join(fresh, 'shakespeare_char', 'train.bin')).size, 2 * 1003854);
});

test('SIGINT stops after the current iteration with exit 130, status interrupted, and the run resumes', { timeout: 120_000 }, async () => {
  const out = tmpDir();
  const args = [...base, '--max_iters', '1000000', '--eval_interval', '10', '--always_save_checkpoint'];
  const child = cliAsync(['train', ...args, '--out_dir', out]);
  let stderr = '', stdout = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  child.stdout!.on('data', (d) => { stdout += d; });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (fs.existsSync(path.join(out, 'state.json'))) { clearInterval(poll); child.kill('SIGINT'); resolve(); }
    }, 5);
  });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, stderr);
  assert.match(stdout, /interrupted at iter \d+.*--init_from resume/);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).status, 'interrupted');
  const r = cli(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data, '--max_iters', '30']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).status, 'ok');
});

test('--overwrite replaces a run in out_dir: no stale TensorBoard events or final weights remain', () => {
  const out = tmpDir();
  const args = [...base.filter((a) => a !== '--no-tensorboard_log'), '--out_dir', out, '--max_iters', '4', '--eval_interval', '4'];
  assert.equal(cli(['train', ...args]).code, 0);
  assert.equal(cli(['train', ...args, '--max_iters', '2', '--eval_interval', '2', '--overwrite']).code, 0);
  const events = fs.readdirSync(out).filter((f) => f.startsWith('events.out.tfevents.'));
  assert.equal(events.length, 1);
  assert.equal(readLog(out).filter((r) => 'val_loss' in r).pop()!.iter, 2);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8')).iter, 2);
});
