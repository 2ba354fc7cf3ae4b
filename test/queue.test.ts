// Sweeps over several machines (docs/queue.md): a real redis-server on a free loopback port (append-only file on,
// a password set), one follower (`normlab sweep --queue`) and three worker processes training real
// tiny runs; one worker is SIGKILLed and another SIGTERMed mid-run; the results table must list
// every run exactly once, with the numbers a local sweep of the same file gives: the SIGKILLed run
// resumes from its last checkpoint, the SIGTERMed one where it stopped (its state saved then).
// The server comes from test/redis-server.ts (skipped without redis-server, except under CI=true).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { followSweep } from '../src/sweep/queue.js';
import { checkQueueArgv, jobIdOf, QUEUES_KEY, queueNameOf } from '../src/sweep/jobs.js';
import { planSweep } from '../src/sweep/plan.js';
import { expandSweeps } from '../src/sweep/grammar.js';
import { parseRedisUrl, redactUrl } from '../src/sweep/redis.js';
import { inspectDir } from '../src/sweep/runs.js';
import { BIN, throwsUser, tinyData, tmpDir } from './helpers.js';
import { PW, RedisServer, skip, start, until, type Proc } from './redis-server.js';

const LOCK_MS = '2000'; // locks expire after 2 s (BullMQ's default is 30 s): quick takeover of a dead worker's run

let redis: RedisServer;
before(async () => { if (!skip) redis = await RedisServer.start(); });
after(async () => { await redis?.stop(); });

const data = tinyData();
const tiny = {
  dataset: 'tiny', n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, batch_size: 4, eval_iters: 2, log_interval: 10,
  tensorboard_log: false, progress: false, always_save_checkpoint: true,
};

function sweepFile(dir: string, name: string, body: Record<string, unknown>): string {
  const f = join(dir, `${name}.json`);
  writeFileSync(f, JSON.stringify({ ...tiny, ...body }));
  return f;
}

function csvRows(file: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const keys = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i], v])));
}

/** Processes whose command line mentions `text` (Linux /proc). */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try { if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) found.push(Number(pid)); } catch { /* gone */ }
  }
  return found;
}

test('4 runs, 3 workers, one SIGKILLed and one SIGTERMed mid-run: every run once, same numbers as a local sweep', { skip, timeout: 240000 }, async () => {
  const dir = tmpDir('normlab-queue-');
  const file = sweepFile(dir, 'acts', { max_iters: 1000, eval_interval: 100, activation_variant: ['gelu', 'relu'], norm_variant_attn: ['rmsnorm', 'layernorm'] });
  const sweepDir = join(dir, 'acts');
  const work = join(dir, 'work'); // shared by the three workers: a dead worker's run resumes from its checkpoint
  const env = { NORMLAB_QUEUE_LOCK_MS: LOCK_MS };
  const workers = [0, 1, 2].map(() => start(['worker', '--queue', redis.url, '--work_dir', work, '--data_dir', data], env));
  const follower = start(['sweep', file, '--sweep_dir', sweepDir, '--queue', redis.url, '--quiet']);
  try {
    // Kill a worker as soon as one of its runs has a checkpoint and is not finished.
    const runDir = (w: Proc, ok: (d: string) => boolean) => {
      for (const m of w.out.matchAll(/training in (\S+)/g)) if (ok(m[1])) return m[1];
      return null;
    };
    const midRun = (d: string) => existsSync(join(d, 'ckpt.safetensors')) &&
      !/"status": "ok"/.test(existsSync(join(d, 'summary.json')) ? readFileSync(join(d, 'summary.json'), 'utf8') : '');
    // Past its checkpoint by a few iterations (log.jsonl of the work folder), so the stop lands between two evaluations.
    const pastCheckpoint = (d: string) => {
      const iters = (existsSync(join(d, 'log.jsonl')) ? readFileSync(join(d, 'log.jsonl'), 'utf8') : '').match(/"iter":\d+/g) ?? [];
      return iters.length > 0 && Number(iters[iters.length - 1].slice(7)) % 100 > 20;
    };
    const [killed, killedDir] = await until('a run with a checkpoint', () => {
      for (const w of workers) { const d = runDir(w, midRun); if (d) return [w, d] as const; }
      return null;
    });
    killed.p.kill('SIGKILL');
    // SIGTERM: another worker stops its run after the current iteration and hands it back.
    const [termed, termedDir] = await until('a second run mid-way', () => {
      for (const w of workers) {
        if (w === killed) continue;
        const d = runDir(w, (x) => x !== killedDir && midRun(x) && pastCheckpoint(x));
        if (d) return [w, d] as const;
      }
      return null;
    });
    termed.p.kill('SIGTERM');
    assert.equal(await termed.exit, 0, termed.out);
    // It resumes where it stopped: from its saved state, or from its checkpoint when it stopped right after writing one.
    const stoppedAt = termed.out.match(/: stopped at iter (\d+) and handed back to the queue \(it resumes (where it was stopped, at|from its checkpoint at) iter (\d+) /);
    assert.ok(stoppedAt && stoppedAt[1] === stoppedAt[3], termed.out);

    assert.equal(await follower.exit, 0, follower.out);
    const survivor = workers.find((w) => w !== killed && w !== termed)!;
    const killedRun = killedDir.split('/').pop()!, termedRun = termedDir.split('/').pop()!;
    const resumedKilled = new RegExp(`resuming from its checkpoint at iter \\d+ in ${killedDir}`);
    assert.ok(resumedKilled.test(survivor.out) || resumedKilled.test(termed.out), `the SIGKILLed worker's run ${killedRun} was not resumed:\n${survivor.out}`);
    assert.ok(survivor.out.includes(`resuming ${stoppedAt![2]} iter ${stoppedAt![1]} in ${termedDir}`),
      `the SIGTERMed run ${termedRun} was not resumed where it stopped:\n${survivor.out}`);
    // The killed worker's training child stopped with it (no orphan writing into the run folder).
    await until('the killed worker\'s child to exit', () => processesMentioning(killedDir).length === 0 || null, 10000);

    // Exactly once each, all ok; inspect sees the folder as it sees a local sweep's.
    const rows = csvRows(join(sweepDir, 'results.csv'));
    assert.equal(rows.length, 4);
    assert.equal(new Set(rows.map((r) => r.name)).size, 4);
    assert.ok(rows.every((r) => r.status === 'ok'), JSON.stringify(rows));
    assert.equal(readFileSync(join(sweepDir, 'results.jsonl'), 'utf8').trim().split('\n').length, 4);
    assert.equal(inspectDir(sweepDir).runs.length, 4);
    for (const r of rows) {
      const log = readFileSync(join(sweepDir, r.name, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { iter: number; val_loss?: number });
      const evals = log.filter((l) => 'val_loss' in l).map((l) => l.iter);
      assert.deepEqual(evals, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000], `${r.name}: eval rows ${evals}`);
      assert.equal(JSON.parse(readFileSync(join(sweepDir, r.name, 'summary.json'), 'utf8')).status, 'ok');
    }

    // The same numbers as a local sweep of the same file (resumed runs repeat the uninterrupted ones).
    const local = spawnSync(process.execPath, [BIN, 'sweep', file, '--sweep_dir', join(dir, 'local'), '--quiet', '--data_dir', data], { encoding: 'utf8' });
    assert.equal(local.status, 0, local.stderr);
    const localRows = new Map(csvRows(join(dir, 'local', 'results.csv')).map((r) => [r.name, r]));
    const noMs = (d: string) => readFileSync(join(d, 'log.jsonl'), 'utf8').replace(/,"ms":[0-9.e-]+/g, '');
    for (const r of rows) {
      assert.equal(r.best_val_loss, localRows.get(r.name)!.best_val_loss, r.name);
      assert.equal(noMs(join(sweepDir, r.name)), noMs(join(dir, 'local', r.name)), `${r.name}: log.jsonl differs from the local sweep's`);
    }

    // Rerunning re-attaches: nothing queued again, nothing trained again; a lost local folder comes back from Redis.
    rmSync(join(sweepDir, rows[0].name), { recursive: true });
    const trainedBefore = survivor.out.match(/training in|resuming from/g)!.length;
    const again = spawnSync(process.execPath, [BIN, 'sweep', file, '--sweep_dir', sweepDir, '--queue', redis.url, '--quiet'], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /3 finished, 0 queued now, 1 already queued/);
    assert.equal(csvRows(join(sweepDir, 'results.csv')).length, 4);
    assert.ok(existsSync(join(sweepDir, rows[0].name, 'log.jsonl')));
    assert.equal(survivor.out.match(/training in|resuming from/g)!.length, trainedBefore);

    // A job is flags only: one that names paths is refused before anything runs.
    const conn = new Redis(parseRedisUrl(redis.url).options);
    const evil = new Queue('normlab-evil', { connection: conn });
    await conn.sadd(QUEUES_KEY, 'normlab-evil');
    const outside = join(dir, 'outside');
    await evil.add('x', { name: '../../x', argv: ['--out_dir', outside, '--max_iters', '1'], weights: false }, { jobId: 'evil-1' });
    await evil.add('y', { name: 'y', argv: ['--dataset', '../../etc', '--max_iters', '1'], weights: false }, { jobId: 'evil-2' });
    await until('the worker to refuse the jobs', () => /evil-2|y: failed/.test(survivor.out) && /x: failed/.test(survivor.out) || null, 30000);
    const j1 = (await evil.getJob('evil-1'))!, j2 = (await evil.getJob('evil-2'))!;
    assert.match(j1.failedReason, /--out_dir cannot go through the queue/);
    assert.match(j2.failedReason, /--dataset "..\/..\/etc"/);
    assert.ok(!existsSync(outside));
    await evil.close();
    conn.disconnect();

    // The password appears nowhere.
    for (const text of [follower.out, again.stdout, again.stderr, ...workers.map((w) => w.out), readFileSync(join(sweepDir, 'sweep.json'), 'utf8')]) {
      assert.ok(!text.includes(PW), 'the password was printed');
    }
  } finally {
    for (const w of workers) w.p.kill('SIGKILL');
    follower.p.kill('SIGKILL');
  }
});

test('a failed run is a failed row, retried when the follower runs again; --weights brings final.safetensors', { skip, timeout: 120000 }, async () => {
  const dir = tmpDir('normlab-queue-');
  const file = sweepFile(dir, 'fail', { max_iters: 20, eval_interval: 10, dataset: ['tiny', 'missing'] });
  const sweepDir = join(dir, 'fail');
  const worker = start(['worker', '--queue', redis.url, '--work_dir', join(dir, 'work'), '--data_dir', data], { NORMLAB_QUEUE_LOCK_MS: LOCK_MS });
  try {
    const args = [BIN, 'sweep', file, '--sweep_dir', sweepDir, '--queue', redis.url, '--quiet', '--weights'];
    const first = spawnSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(first.status, 2, first.stdout + first.stderr);
    const rows = csvRows(join(sweepDir, 'results.csv'));
    assert.deepEqual(rows.map((r) => [r.name, r.status]), [['dataset-tiny', 'ok'], ['dataset-missing', 'failed']]);
    const failed = JSON.parse(readFileSync(join(sweepDir, 'results.jsonl'), 'utf8').trim().split('\n')[1]) as { error: string };
    assert.match(failed.error, /dataset "missing" not found/);
    assert.ok(existsSync(join(sweepDir, 'dataset-tiny', 'final.safetensors')));
    const conn = new Redis(parseRedisUrl(redis.url).options);
    assert.deepEqual(await conn.keys(`normlab:run:${queueNameOf(sweepDir)}:*:weights`), []); // fetched, then removed
    conn.disconnect();
    const again = spawnSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(again.status, 2);
    assert.match(again.stdout, /1 finished, 0 queued now, 0 already queued, running or done, 1 failed to retry/);
    await until('the worker to report the second failure', () => (worker.out.match(/dataset-missing: failed/g) ?? []).length === 2, 10000);
    assert.equal(csvRows(join(sweepDir, 'results.csv')).length, 2);
  } finally {
    worker.p.kill('SIGKILL');
  }
});

test('a Redis restart mid-run loses nothing (append-only file); the follower can be killed and restarted', { skip, timeout: 120000 }, async () => {
  const dir = tmpDir('normlab-queue-');
  const file = sweepFile(dir, 'restart', { max_iters: 300, eval_interval: 50, activation_variant: ['gelu', 'relu'] });
  const sweepDir = join(dir, 'restart');
  const worker = start(['worker', '--queue', redis.url, '--work_dir', join(dir, 'work'), '--data_dir', data], { NORMLAB_QUEUE_LOCK_MS: LOCK_MS });
  try {
    const first = start(['sweep', file, '--sweep_dir', sweepDir, '--queue', redis.url, '--quiet']);
    await until('a run to start', () => /^\[\d\/2\]/m.test(first.out) || null);
    first.p.kill('SIGINT'); // the follower may stop at any time
    await first.exit;
    await redis.stop();
    await redis.restart();
    const follow = spawnSync(process.execPath, [BIN, 'sweep', file, '--sweep_dir', sweepDir, '--queue', redis.url, '--quiet'], { encoding: 'utf8' });
    assert.equal(follow.status, 0, follow.stdout + follow.stderr);
    assert.match(follow.stdout, /0 queued now/);
    const rows = csvRows(join(sweepDir, 'results.csv'));
    assert.deepEqual(rows.map((r) => r.status), ['ok', 'ok']);
    assert.equal(new Set(rows.map((r) => r.name)).size, 2);
    await until('the worker to say it reconnected', () => /connection to Redis at .* is back/.test(worker.out) || null, 10000);
  } finally {
    worker.p.kill('SIGKILL');
  }
});

test('the follower shows the runs\' progress bars in place, as a local sweep does; --clean removes a finished sweep from Redis', { skip, timeout: 120000 }, async () => {
  const dir = tmpDir('normlab-queue-');
  const sweepDir = join(dir, 'bars');
  const p = planSweep(expandSweeps([{ ...tiny, progress: true, max_iters: 4000, eval_interval: 2000, activation_variant: ['gelu', 'relu'] }]), {});
  const worker = start(['worker', '--queue', redis.url, '--work_dir', join(dir, 'work'), '--data_dir', data, '--concurrency', '2'], { NORMLAB_QUEUE_LOCK_MS: LOCK_MS });
  let conn: Redis | undefined;
  try {
    const lines: string[] = [], bars: string[] = [];
    const target = parseRedisUrl(redis.url), q = queueNameOf(sweepDir);
    // A run queued by another version of the file, not finished: --clean must not remove the queue under it.
    conn = new Redis(target.options);
    const other = new Queue(q, { connection: conn });
    await other.add('old', { name: 'old', argv: ['--max_iters', '1'], weights: false }, { jobId: 'old-1', delay: 600000 });
    const out = await followSweep(p, { target, sweepDir, print: (l) => lines.push(l), live: (b) => bars.push(b), pollMs: 100, clean: true });
    assert.equal(out.counts.ok, 2, lines.join('\n'));
    assert.equal(out.cleaned, false);
    assert.ok(lines.some((l) => l.includes(`queue ${q} not removed: it still holds 1 run that is not finished (1 delayed)`)), lines.join('\n'));
    assert.ok((await conn.keys(`bull:${q}:*`)).length > 0);
    // Without it, --clean (through the CLI) removes every key of the sweep, and the folder keeps the results.
    await (await other.getJob('old-1'))!.remove();
    await other.close();
    const file = sweepFile(dir, 'bars', { progress: true, max_iters: 4000, eval_interval: 2000, activation_variant: ['gelu', 'relu'] });
    const clean = spawnSync(process.execPath, [BIN, 'sweep', file, '--sweep_dir', sweepDir, '--queue', redis.url, '--clean'], { encoding: 'utf8' });
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /2 finished, 0 queued now/);
    assert.match(clean.stdout, new RegExp(`removed queue ${q} from Redis: 2 finished jobs, 4 run keys`));
    // Nothing of the sweep stays (a worker's stalled-job check may briefly leave a key that expires by itself).
    const lasting = [];
    for (const k of await conn.keys(`*${q}*`)) if (await conn.pttl(k) === -1) lasting.push(k);
    assert.deepEqual(lasting, []);
    assert.ok(!(await conn.smembers(QUEUES_KEY)).includes(q));
    assert.equal(csvRows(join(sweepDir, 'results.csv')).length, 2);
    const local = spawnSync(process.execPath, [BIN, 'sweep', file, '--sweep_dir', join(dir, 'local'), '--clean'], { encoding: 'utf8' });
    assert.equal(local.status, 1);
    assert.match(local.stderr, /--clean goes with --queue/);
    const shown = bars.filter((b) => b !== '');
    assert.ok(shown.length > 0, 'no progress shown');
    // One line: each run in training as `name: <the train command's bar>`, joined by ' | '.
    for (const b of shown) {
      for (const part of b.split('  |  ')) assert.match(part, /^activation_variant-(gelu|relu): \[[#.]{24}\] \d+\/4000 loss \d+\.\d{4} \d+ tok\/s ETA /);
    }
    assert.equal(bars[bars.length - 1], '', 'the bar line is cleared at the end');
    assert.ok(lines.some((l) => /^\[\d\/2\] activation_variant-(gelu|relu) on \S+  elapsed \S+  ETA /.test(l)), lines.join('\n'));
  } finally {
    conn?.disconnect();
    worker.p.kill('SIGKILL');
  }
});

test('URLs: parsed, redacted, refused with the reason', () => {
  assert.equal(redactUrl('redis://user:s3cret@h:1/2'), 'redis://user:***@h:1/2');
  assert.equal(redactUrl('rediss://:s3cret@h:1'), 'rediss://:***@h:1');
  assert.equal(redactUrl('redis://h:1'), 'redis://h:1');
  const t = parseRedisUrl('rediss://al%40ice:p%3Aw@example.org:6380/3');
  assert.deepEqual({ ...t.options, tls: Boolean(t.options.tls) }, { host: 'example.org', port: 6380, db: 3, username: 'al@ice', password: 'p:w', tls: true });
  assert.equal(parseRedisUrl('redis://localhost').options.port, 6379);
  const fromEnv = parseRedisUrl('redis://h:1', { NORMLAB_REDIS_PASSWORD: 'e-pw' });
  assert.equal(fromEnv.options.password, 'e-pw');
  assert.ok(!fromEnv.shown.includes('e-pw') && fromEnv.shown.includes('NORMLAB_REDIS_PASSWORD'));
  assert.equal(parseRedisUrl('redis://:u-pw@h:1', { NORMLAB_REDIS_PASSWORD: 'e-pw' }).options.password, 'u-pw');
  throwsUser(() => parseRedisUrl('localhost:6379'), 'scheme must be redis://');
  throwsUser(() => parseRedisUrl('redis://h:1/x'), 'database number');
  throwsUser(() => parseRedisUrl('redis://:pw@h:1?x=1'), 'no ?query');
  assert.ok(!throwsUser(() => parseRedisUrl('redis://:pw@h:1/x')).includes('pw@'));
});

test('job flags: the train checks, plus no paths and a plain dataset name', () => {
  assert.equal(checkQueueArgv(['--n_layer', '2', '--init_from', 'scratch']).config.n_layer, 2);
  throwsUser(() => checkQueueArgv(['--out_dir', '/tmp/x']), '--out_dir cannot go through the queue');
  throwsUser(() => checkQueueArgv(['--data_dir', '/']), '--data_dir cannot go through the queue');
  throwsUser(() => checkQueueArgv(['--init_from', '/tmp/w.safetensors']), '--init_from cannot go through the queue');
  throwsUser(() => checkQueueArgv(['--dataset', '..']), 'plain folder name');
  throwsUser(() => checkQueueArgv(['--n_head', '5']), 'not divisible');
  throwsUser(() => checkQueueArgv(['--help']), 'not a train flag');
  throwsUser(() => checkQueueArgv(['x']), 'unexpected argument');
  throwsUser(() => checkQueueArgv('--n_layer 2'), 'not a list of strings');
  assert.equal(jobIdOf({ name: 'n', argv: ['--a', '1'] }), jobIdOf({ name: 'n', argv: ['--a', '1'] }));
  assert.notEqual(jobIdOf({ name: 'n', argv: ['--a', '1'] }), jobIdOf({ name: 'n', argv: ['--a', '2'] }));
  assert.equal(queueNameOf('sweeps/norms/'), 'normlab-norms');
});

test('sweep --queue --dry_run lists the runs, refusing path flags, without connecting', () => {
  const dir = tmpDir('normlab-queue-');
  const file = sweepFile(dir, 'dry', { max_iters: 1, activation_variant: ['gelu', 'relu'] });
  const ok = spawnSync(process.execPath, [BIN, 'sweep', file, '--queue', 'redis://:dry-pw@127.0.0.1:1', '--dry_run'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /2 runs would go to .* through the queue/);
  const bad = spawnSync(process.execPath, [BIN, 'sweep', file, '--queue', 'redis://:dry-pw@127.0.0.1:1', '--dry_run', '--data_dir', 'x'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--data_dir cannot go through the queue/);
  assert.ok(!(bad.stdout + bad.stderr + ok.stdout).includes('dry-pw'));
});
