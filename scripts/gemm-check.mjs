#!/usr/bin/env node
// Builds and runs our GEMM's standalone check (test/native/gemm_check.c with native/src/gemm*.c and
// pool.c; see docs/native.md, "Matrix products"). Run by test/gemm-check.test.ts, and with --tsan by
// .ci/run.
//   node scripts/gemm-check.mjs [--arch aarch64] [--tsan]
// --arch aarch64 cross-compiles with aarch64-linux-gnu-gcc (static) and runs the result under
// qemu-aarch64: the NEON kernel's test. --tsan builds for this machine with -fsanitize=thread and
// runs only the concurrency checks, failing on the first report. Exit status: the check's (0 clean,
// 1 a check failed), 66 on a ThreadSanitizer report, 3 when it cannot be built or run (a missing
// compiler, libtsan or qemu-aarch64; the message names it).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const cross = argv.includes('--arch') && argv[argv.indexOf('--arch') + 1] === 'aarch64';
const tsan = argv.includes('--tsan');
const src = path.join(root, 'native/src');
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;

function buildAndRun(dir) {
  const exe = path.join(dir, 'gemm_check');
  const cc = cross ? 'aarch64-linux-gnu-gcc' : 'cc';
  // the addon's flags (native/binding.gyp), plus -Werror
  const flags = ['-std=gnu11', '-fopenmp-simd', '-ffp-contract=off', '-fno-math-errno', '-fno-trapping-math', '-pthread',
    '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror', `-I${src}`,
    ...(tsan ? ['-O1', '-g', '-fsanitize=thread'] : ['-O3']), ...(cross ? ['-static'] : ['-march=x86-64-v2'].filter(() => process.arch === 'x64'))];
  const sources = ['gemm.c', 'gemm_x86.c', 'gemm_bf16.c', 'gemm_neon.c', 'pool.c'].map((f) => path.join(src, f));
  const missing = [cc, ...(cross ? ['qemu-aarch64'] : [])].filter((c) => !has(c));
  if (missing.length) {
    console.error(`gemm-check: ${missing.join(' and ')} not found (Debian: apt-get install${cross ? ' gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user' : ' gcc'}, or sudo bash scripts/install-native-deps.sh${cross ? ' --cross' : ''})`);
    return 3;
  }
  const build = spawnSync(cc, [...flags, path.join(root, 'test/native/gemm_check.c'), ...sources, '-lm', '-o', exe], { encoding: 'utf8' });
  if (build.error || build.status !== 0) {
    console.error(`gemm-check: cannot build with ${cc}${tsan ? ' -fsanitize=thread' : ''}: ${build.error ?? build.stderr.trim()}`);
    return 3;
  }
  console.log(`gemm-check: ${cross ? 'aarch64 build under qemu-aarch64' : `${process.arch} build`}${tsan ? ', ThreadSanitizer, concurrency checks only' : ''}`);
  const [cmd, args] = cross ? ['qemu-aarch64', [exe]] : [exe, []];
  const run = spawnSync(cmd, [...args, tsan ? 'threads' : 'all'], {
    stdio: 'inherit',
    env: { ...process.env, NORMLAB_GEMM: '', TSAN_OPTIONS: `halt_on_error=1 exitcode=66 ${process.env.TSAN_OPTIONS ?? ''}` },
  });
  return run.status ?? 1;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'normlab-gemm-check-'));
let status;
try { status = buildAndRun(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
process.exit(status);
