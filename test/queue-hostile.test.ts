// What a hostile client of the queue's Redis can no longer do (docs/safety.md, "A hostile Redis
// client"): each test injects what any client can write (jobs, keys, names) next to a real sweep and
// checks what holds. Workers and followers run in this process with a stand-in train command
// (test/fixtures/sweep/fake-train.mjs: milliseconds per run, argv recorded in calls.jsonl).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { expandSweeps } from '../src/sweep/grammar.js';
import { planSweep, type Plan } from '../src/sweep/plan.js';
import { followSweep } from '../src/sweep/queue.js';
import { jobIdOf, QUEUES_KEY, queueNameOf } from '../src/sweep/jobs.js';
import { parseRedisUrl, type RedisTarget } from '../src/sweep/redis.js';
import { runWorker } from '../src/sweep/queue-worker.js';
import { claimWorkFolder, JOB_RECORD, jobRecord, workFolder } from '../src/sweep/work-folder.js';
import { RUN_MARKER } from '../src/sweep/folders.js';
import { acquireLock, LOCK_FILE, LOCK_HEARTBEAT_MS, readLock } from '../src/util/lock.js';
import { ROOT, tmpDir } from './helpers.js';
import { RedisServer, skip, start, until } from './redis-server.js';

const FAKE = [process.execPath, join(ROOT, 'test', 'fixtures', 'sweep', 'fake-train.mjs')];
process.env.NORMLAB_QUEUE_LOCK_MS = '2000';

let redis: RedisServer;
let target: RedisTarget;
before(async () => { if (!skip) { redis = await RedisServer.start(); target = parseRedisUrl(redis.url); } });
after(async () => { await redis?.stop(); });

function plan(body: Record<string, unknown>): Plan {
  return planSweep(expandSweeps([{ max_iters: 20, ...body }]), {});
}

/** A worker in this process; stop() ends it and its runs. */
function worker(workDir: string, t: RedisTarget = target) {
  const lines: string[] = [];
  const stop = new AbortController(), kill = new AbortController();
  const done = runWorker({ target: t, workDir, dataDir: 'unused', concurrency: 2, signal: stop.signal, killSignal: kill.signal, print: (l) => lines.push(l), trainCmd: FAKE });
  return { lines, stop: async () => { stop.abort(); kill.abort(); await done; } };
}

async function untilAsync(what: string, f: () => Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const calls = (dir: string) => readFileSync(join(dir, 'calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
const noControl = (lines: string[]) => { for (const l of lines) assert.doesNotMatch(l, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, JSON.stringify(l)); };

test('a job injected under a lookalike id, or under a run\'s own id with other flags, never trains in that run\'s folder nor gives it results', { skip, timeout: 60000 }, async () => {
  const dir = tmpDir('normlab-qh-');
  const sweepDir = join(dir, 'look');
  const p = plan({ activation_variant: ['relu', 'gelu'] });
  const [relu, gelu] = p.runs;
  const q = queueNameOf(sweepDir);
  const conn = new Redis(target.options);
  const queue = new Queue(q, { connection: conn });
  await conn.sadd(QUEUES_KEY, q);
  const lookalike = jobIdOf(relu).replace('activation_variant', 'activation variant'); // the folder name it once shared
  await queue.add('x', { name: relu.name, argv: ['--activation_variant', 'relu', '--max_iters', '7', '--learning_rate', '5'], weights: false }, { jobId: lookalike });
  await queue.add('y', { name: gelu.name, argv: ['--activation_variant', 'gelu', '--max_iters', '7'], weights: false }, { jobId: jobIdOf(gelu) });
  const w = worker(join(dir, 'work'));
  try {
    const lines: string[] = [];
    const out = await followSweep(p, { target, sweepDir, print: (l) => lines.push(l), pollMs: 50 });
    assert.equal(out.counts.ok, 2, lines.join('\n') + w.lines.join('\n'));
    const look = (await queue.getJob(lookalike))!;
    assert.equal(await look.getState(), 'failed');
    assert.match(look.failedReason, /its id is not the one its name and flags give/);
    assert.ok(lines.some((l) => /the job .* on the queue (is|was) not this run's \(other flags/.test(l)), lines.join('\n'));
    for (const r of p.runs) {
      // Trained with its own flags only, in a folder that records its job; the sweep folder holds that run's summary.
      const folder = workFolder(join(dir, 'work'), q, jobIdOf(r));
      for (const argv of calls(folder)) assert.ok(argv.includes('20') && !argv.includes('7'), `${r.name} trained with ${argv.join(' ')}`);
      assert.equal(JSON.parse(readFileSync(join(folder, JOB_RECORD), 'utf8')).id, jobIdOf(r));
      assert.equal(JSON.parse(readFileSync(join(sweepDir, r.name, 'summary.json'), 'utf8')).config.max_iters, '20');
    }
    assert.ok(!existsSync(workFolder(join(dir, 'work'), q, lookalike)), 'the lookalike job made no folder');
  } finally {
    await w.stop();
    await queue.close();
    conn.disconnect();
  }
});

test('a run\'s job whose data another client made unreadable is replaced by the follower, which goes on and takes no result from it', { skip, timeout: 60000 }, async () => {
  const dir = tmpDir('normlab-qh-');
  const sweepDir = join(dir, 'unreadable');
  const p = plan({});
  const key = `bull:${queueNameOf(sweepDir)}:${jobIdOf(p.runs[0])}`;
  const conn = new Redis(target.options);
  const lines: string[] = [];
  const following = followSweep(p, { target, sweepDir, print: (l) => lines.push(l), pollMs: 50 });
  let w;
  try {
    await untilAsync('the run to be queued', async () => (await conn.exists(key)) === 1, 20000);
    await conn.hset(key, 'data', '{"name": "default", "argv": [');
    await until('the follower to replace the job', () => lines.some((l) => /was not this run's .*removed, and the run queued in its place/.test(l)), 20000);
    w = worker(join(dir, 'work'));
    const out = await following;
    assert.equal(out.counts.ok, 1, lines.join('\n'));
  } finally {
    await w?.stop();
    conn.disconnect();
  }
});

test('a worker never clears or trains in a folder whose lock a live process holds, on this host or another; another host\'s lock untouched for 2 minutes is stale', async () => {
  const dir = tmpDir('normlab-qh-');
  const data = { name: 'n', argv: ['--max_iters', '5'], weights: false };
  const rec = jobRecord('normlab-q', jobIdOf(data), data);
  const folder = join(dir, 'run');
  const made = (lock: object | null, record: object | null = rec) => {
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, RUN_MARKER), '');
    writeFileSync(join(folder, 'log.jsonl'), 'a line\n'); // a run in progress: a restart would clear it
    if (record) writeFileSync(join(folder, JOB_RECORD), JSON.stringify(record));
    if (lock) writeFileSync(join(folder, LOCK_FILE), JSON.stringify(lock));
  };
  const notes: string[] = [];
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    made({ pid: sleeper.pid, host: hostname(), command: 'train', started: 'x' });
    const local = claimWorkFolder(folder, rec, (l) => notes.push(l));
    assert.equal(local.kind, 'busy');
    assert.match((local as { why: string }).why, new RegExp(`process ${sleeper.pid} \\(normlab train\\) on this machine holds its lock`));
    assert.ok(existsSync(join(folder, 'log.jsonl')) && existsSync(join(folder, LOCK_FILE)), 'nothing cleared');
    // Another machine's lock, touched a second ago (its holder is alive there): honoured, whatever its pid is here.
    made({ pid: 4194303, host: 'other-host.example', command: 'train', started: 'x' });
    const remote = claimWorkFolder(folder, rec, (l) => notes.push(l));
    assert.equal(remote.kind, 'busy');
    assert.match((remote as { why: string }).why, /on other-host\.example holds its lock \(touched \d+ s ago/);
    assert.ok(existsSync(join(folder, 'log.jsonl')) && existsSync(join(folder, LOCK_FILE)));
    assert.equal(notes.length, 0);
    // Untouched for 10 minutes: stale, removed with a note, and the folder is the job's again.
    const old = new Date(Date.now() - 600_000);
    utimesSync(join(folder, LOCK_FILE), old, old);
    const stale = claimWorkFolder(folder, rec, (l) => notes.push(l));
    assert.deepEqual(stale, { kind: 'ready', action: 'restart' });
    assert.match(notes.join('\n'), /removing the folder lock of other-host\.example:4194303 .* untouched for 6\d\d s/);
    // The folder of another job, or one with no record, is refused and left as it is.
    made(null, { ...rec, argv: 'ffffffffff' });
    assert.equal(claimWorkFolder(folder, rec, () => {}).kind, 'refused');
    assert.ok(existsSync(join(folder, 'log.jsonl')));
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'summary.json'), JSON.stringify({ status: 'ok' }));
    const refused = claimWorkFolder(bare, rec, () => {});
    assert.equal(refused.kind, 'refused');
    assert.match((refused as { why: string }).why, /no \.normlab-job\.json/);
  } finally {
    sleeper.kill('SIGKILL');
  }
});

test('a held folder lock is touched every 10 s, so a machine sharing the folder can tell it is alive', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const dir = tmpDir('normlab-qh-');
  const lock = acquireLock(dir, 'train');
  try {
    const old = new Date(Date.now() - 600_000);
    utimesSync(lock.file, old, old);
    assert.ok(readLock(dir)!.ageMs >= 599_000);
    t.mock.timers.tick(LOCK_HEARTBEAT_MS);
    assert.ok(readLock(dir)!.ageMs < 60_000, 'touched');
  } finally {
    lock.release();
  }
});

test('a follower whose Redis lost its data lists its queue again and queues its runs again; the worker says the job is gone, not that another worker has it', { skip, timeout: 60000 }, async () => {
  const dir = tmpDir('normlab-qh-');
  const sweepDir = join(dir, 'lost');
  const p = plan({ activation_variant: ['relu', 'gelu'] });
  process.env.FAKE_HANG = 'gelu'; // trains until killed, unless resumed
  const w = worker(join(dir, 'work'));
  const conn = new Redis(target.options);
  try {
    const lines: string[] = [];
    const following = followSweep(p, { target, sweepDir, print: (l) => lines.push(l), pollMs: 50 });
    const hung = join(workFolder(join(dir, 'work'), queueNameOf(sweepDir), jobIdOf(p.runs[1])), 'pid');
    await until('the gelu run to train', () => existsSync(hung), 30000);
    await conn.flushall(); // what a restart without persistence leaves
    const out = await following;
    assert.equal(out.counts.ok, 2, lines.join('\n') + '\n' + w.lines.join('\n'));
    assert.ok(lines.some((l) => /was missing from normlab:queues .*listed again/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /is no longer on the queue: queued again/.test(l)), lines.join('\n'));
    const lost = w.lines.find((l) => /lost the job/.test(l));
    assert.match(lost ?? '', /lost the job: Redis (no longer has it|lost it) \((Redis )?restarted without its data, or the job was removed/, w.lines.join('\n'));
    assert.ok(!w.lines.some((l) => /another worker (has|holds)/.test(l)), w.lines.join('\n'));
  } finally {
    delete process.env.FAKE_HANG;
    await w.stop();
    conn.disconnect();
  }
});

test('a job whose payload is not JSON, null, or over 1 MB is failed with the reason, never cycled back to waiting', { skip, timeout: 60000 }, async () => {
  const dir = tmpDir('normlab-qh-');
  const q = 'normlab-payloads';
  const conn = new Redis(target.options);
  const queue = new Queue(q, { connection: conn });
  await conn.sadd(QUEUES_KEY, q);
  const cases: [string, string, RegExp][] = [
    ['nojson', '{"name": "x", "argv": [', /the job's data is not JSON/],
    ['null', 'null', /the job's data is null/],
    ['big', JSON.stringify({ name: 'x', argv: [], pad: 'x'.repeat((1 << 20) + 10) }), /more than 1048576/],
    ['badopts', '{"name": "x", "argv": []}', /BullMQ fields .* are not JSON/],
  ];
  for (const [id] of cases) await queue.add(id, { name: 'x', argv: [], weights: false }, { jobId: id, delay: 60000 });
  for (const [id, data] of cases) await conn.hset(`bull:${q}:${id}`, 'data', data);
  await conn.hset(`bull:${q}:badopts`, 'opts', '{not json');
  for (const [id] of cases) { // moved to waiting by hand, as any client can
    await conn.zrem(`bull:${q}:delayed`, id);
    await conn.lpush(`bull:${q}:wait`, id);
  }
  const w = worker(join(dir, 'work'));
  try {
    await untilAsync('every job to fail', async () => (await queue.getJobCounts('failed')).failed === cases.length, 20000).catch(() => {});
    const states = new Map<string, string>();
    for (const [id] of cases) states.set(id, String(await conn.hget(`bull:${q}:${id}`, 'failedReason')));
    for (const [id, , reason] of cases) assert.match(states.get(id)!, reason, `${id}: ${w.lines.join('\n')}`);
    assert.equal(await conn.zscore(`bull:${q}:failed`, 'nojson') !== null, true);
    for (const [id] of cases) assert.equal(await conn.hget(`bull:${q}:${id}`, 'stc') ?? '0', '0', `${id} was never stalled`);
  } finally {
    await w.stop();
    await queue.close();
    conn.disconnect();
  }
});

test('3,000 bogus names in normlab:queues: the worker serves the real queue, warns once, and holds no per-name state', { skip, timeout: 60000 }, async () => {
  const dir = tmpDir('normlab-qh-');
  const conn = new Redis(target.options);
  const bogus: string[] = [];
  for (let i = 0; i < 1000; i++) bogus.push(`normlab-bogus-${i}`, `bogus name ${i}\x1b[2J`, `long-${i}-${'x'.repeat(300)}`);
  await conn.sadd(QUEUES_KEY, ...bogus);
  await conn.set('bull:normlab-bogus-0:wait', 'a string where BullMQ keeps a list'); // counts as empty, breaks nothing
  const sweepDir = join(dir, 'real');
  const w = worker(join(dir, 'work'));
  try {
    const lines: string[] = [];
    const out = await followSweep(plan({ activation_variant: ['relu', 'gelu'] }), { target, sweepDir, print: (l) => lines.push(l), pollMs: 50 });
    assert.equal(out.counts.ok, 2, w.lines.join('\n'));
    // One Redis connection per queue with runs to do, none per name: the worker, its queue, the follower's, this test's.
    const clients = (await conn.client('LIST') as string).trim().split('\n').length;
    assert.ok(clients < 16, `${clients} connections to Redis`);
    await new Promise((r) => setTimeout(r, 4500)); // two more looks at the set
    const warned = w.lines.filter((l) => /normlab:queues on this Redis holds names that are not sweep queues/.test(l));
    assert.equal(warned.length, 1, w.lines.join('\n'));
    assert.match(warned[0], /1000 names longer than 200 characters ignored/);
    noControl(w.lines);
    await conn.srem(QUEUES_KEY, ...bogus);
    await conn.del('bull:normlab-bogus-0:wait');
  } finally {
    await w.stop();
    conn.disconnect();
  }
});

test('texts from Redis (worker names, log lines, errors, progress) reach the follower\'s terminal without escape sequences', { skip, timeout: 60000 }, async () => {
  const dir = tmpDir('normlab-qh-');
  const sweepDir = join(dir, 'esc');
  const p = plan({});
  const q = queueNameOf(sweepDir), id = jobIdOf(p.runs[0]);
  const conn = new Redis(target.options);
  const lines: string[] = [], bars: string[] = [];
  const following = followSweep(p, { target, sweepDir, print: (l) => lines.push(l), live: (b) => bars.push(b), pollMs: 50 });
  // A client that acts as a worker: takes the job, writes its state with escapes, fails it.
  const blocking = new Redis({ ...target.options, maxRetriesPerRequest: null });
  const w = new Worker(q, null, { connection: blocking, autorun: false });
  try {
    let job;
    for (let i = 0; i < 200 && !job; i++) { job = await w.getNextJob('evil-token', { block: false }); if (!job) await new Promise((r) => setTimeout(r, 50)); }
    assert.ok(job, 'the follower queued the run');
    await conn.hset(`normlab:run:${q}:${id}`, { gen: '1', action: 'fresh', worker: 'evil\x1b]0;TITLE\x07\x1b[2J', progress: '\x1b]52;c;ZXZpbA==\x07[####] 1/5' });
    await job.log('iter 1 \x1b]52;c;ZXZpbA==\x07loss 2.0\x1b[1A\x1b[2K');
    await new Promise((r) => setTimeout(r, 300));
    await job.moveToFailed(new Error('boom\x1b[2J\x9b31m'), 'evil-token', false);
    const out = await following;
    assert.equal(out.counts.failed, 1);
    assert.ok(lines.some((l) => l.includes(' on evil')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('iter 1 loss 2.0')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('failed: boom31m')), lines.join('\n'));
    noControl(lines);
    noControl(bars);
    assert.equal(out.rows[0].error, 'boom31m');
  } finally {
    await w.close();
    blocking.disconnect();
    conn.disconnect();
  }
});

test('a full Redis (maxmemory, noeviction) gets one line naming it and what to do, from follower and worker, no stack, no loop', { skip, timeout: 60000 }, async () => {
  const full = await RedisServer.start();
  const t = parseRedisUrl(full.url);
  const conn = new Redis(t.options);
  const dir = tmpDir('normlab-qh-');
  try {
    // A run queued while there was room.
    const q = 'normlab-full';
    const queue = new Queue(q, { connection: conn });
    await conn.sadd(QUEUES_KEY, q);
    const data = { name: 'n', argv: ['--max_iters', '5'], weights: false };
    await queue.add('n', data, { jobId: jobIdOf(data) });
    await queue.close();
    await conn.config('SET', 'maxmemory-policy', 'noeviction');
    await conn.config('SET', 'maxmemory', '1');
    // The follower: one line, exit 1.
    const file = join(dir, 'full.json');
    writeFileSync(file, JSON.stringify({ max_iters: 5, activation_variant: ['relu', 'gelu'] }));
    const f = start(['sweep', file, '--sweep_dir', join(dir, 'sw'), '--queue', full.url, '--quiet']);
    assert.equal(await f.exit, 1, f.out);
    assert.match(f.out, /Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ is full: it refuses writes \("OOM command not allowed".*--clean, or raise maxmemory\)/);
    assert.doesNotMatch(f.out, /\n\s+at |ReplyError|EXECABORT/);
    // The worker: says it once and takes no run while Redis is full.
    const w = worker(join(dir, 'work'), t);
    await new Promise((r) => setTimeout(r, 3000));
    await w.stop();
    const said = w.lines.filter((l) => /is full: it refuses writes/.test(l));
    assert.equal(said.length, 1, w.lines.join('\n'));
    assert.match(said[0], /takes no new run meanwhile/);
    assert.ok(!w.lines.some((l) => /training in|already trained|EXECABORT|error in run/.test(l)), w.lines.join('\n'));
  } finally {
    conn.disconnect();
    await full.stop();
  }
});
