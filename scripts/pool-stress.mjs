#!/usr/bin/env node
// Builds and runs the thread pool's stress test (test/native/pool_stress.c with native/src/pool.c;
// see docs/native.md, "The thread pool"). Run by test/pool-stress.test.ts, and with --tsan by .ci/run.
//   node scripts/pool-stress.mjs [--seconds 10] [--tsan] [--threads N] [--hogs N] [--stall 30]
// --tsan builds with -fsanitize=thread (gcc's libtsan) and fails on the first report. Exit status:
// the test's (0 clean, 1 a check failed, 2 a job waited forever), 66 on a ThreadSanitizer report,
// 3 when it cannot be built (no `cc`, or no libtsan for --tsan).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const tsan = argv.includes('--tsan');
const seconds = opt('seconds', '10');
const cores = os.availableParallelism();

function buildAndRun(dir) {
  const exe = path.join(dir, 'pool_stress');
  const flags = tsan ? ['-O1', '-g', '-fsanitize=thread'] : ['-O2'];
  const build = spawnSync('cc', [...flags, '-std=gnu11', '-pthread', '-Wall', '-Wextra', '-Werror', `-I${root}/native/src`,
    `${root}/test/native/pool_stress.c`, `${root}/native/src/pool.c`, '-o', exe], { encoding: 'utf8' });
  if (build.error || build.status !== 0) {
    console.error(`pool-stress: cannot build the stress test${tsan ? ' with -fsanitize=thread' : ''}: ${build.error ?? build.stderr.trim()}`);
    return 3;
  }
  const args = [seconds, opt('threads', String(4 * cores)), opt('hogs', String(cores)), opt('stall', '30')];
  console.log(`pool-stress: ${tsan ? 'ThreadSanitizer build, ' : ''}${args[0]} s, ${args[1]} pool threads, ${args[2]} hogs, ${cores} cores`);
  const run = spawnSync(exe, args, {
    stdio: 'inherit',
    env: { ...process.env, TSAN_OPTIONS: `halt_on_error=1 exitcode=66 ${process.env.TSAN_OPTIONS ?? ''}` },
  });
  return run.status ?? 1;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'normlab-pool-stress-'));
let status;
try { status = buildAndRun(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
process.exit(status);
