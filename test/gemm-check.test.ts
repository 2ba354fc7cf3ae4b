// Our GEMM without Node (test/native/gemm_check.c, built and run by scripts/gemm-check.mjs): for
// this machine, and cross-compiled for ARM64 and run under qemu-aarch64, the only test of the NEON
// micro-kernel. Each run forces every kernel it has in turn on every case the Backend's matmul has,
// plus strided products with a scale, against a double-precision reference (the tolerance is
// justified in gemm_check.c); threads that start at once (the selection is made once, its reads
// race with nothing) and threads that exit (their packing buffers are freed). The ARM64 run needs
// aarch64-linux-gnu-gcc and qemu-aarch64 (scripts/install-native-deps.sh --cross): without them it
// is skipped, except in CI (CI=true), where it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers.js';

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
const skipNative = has('cc') || process.env.NORMLAB_REQUIRE_NATIVE === '1' ? false : 'no C compiler (cc): see docs/native.md';
const crossMissing = ['aarch64-linux-gnu-gcc', 'qemu-aarch64'].filter((c) => !has(c));
const skipCross = crossMissing.length === 0 || process.env.CI === 'true' ? false
  : `${crossMissing.join(' and ')} not installed: run \`sudo bash scripts/install-native-deps.sh --cross\` (docs/native.md)`;

function gemmCheck(...args: string[]): string {
  // nice 10: the tests running beside this one keep their share of the cores
  const r = spawnSync('nice', ['-n', '10', process.execPath, path.join(ROOT, 'scripts', 'gemm-check.mjs'), ...args],
    { encoding: 'utf8', timeout: 300_000 });
  const out = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(r.stdout, /gemm_check: all checks passed/, out);
  assert.match(r.stdout, /buffers freed with their thread: 8 threads, heap in use/, out);
  return r.stdout;
}

test('our GEMM without Node, this machine: every kernel on every case, concurrent start, buffers freed with their thread', { skip: skipNative }, () => {
  const out = gemmCheck();
  assert.match(out, /gemm_check: generic: 24 sizes/, out);
});

test('our GEMM on ARM64 under qemu-aarch64: the NEON kernel (picked by auto) and the portable one on every case', { skip: skipCross }, () => {
  const out = gemmCheck('--arch', 'aarch64');
  assert.match(out, /gemm_check: neon: 24 sizes/, out);
  assert.match(out, /gemm_check: generic: 24 sizes/, out);
  assert.match(out, /2 kernels \(neon,generic\), auto picks neon/, out);
});
