// The native thread pool under stress (test/native/pool_stress.c, built and run by
// scripts/pool-stress.mjs): 10 s of jobs of varied sizes on more pool threads than cores, then with
// hog threads on every core; every index of every job must run exactly once, and a watchdog fails
// the run when a job waits forever. The pool this replaced failed it within seconds (a chunk run
// twice, or a caller waiting forever). .ci/run runs it once more under ThreadSanitizer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './helpers.js';

const hasCc = spawnSync('sh', ['-c', 'command -v cc'], { encoding: 'utf8' }).status === 0;
const skip = hasCc || process.env.NORMLAB_REQUIRE_NATIVE === '1' ? false : 'no C compiler (cc): see docs/native.md';

test('thread pool: every index of every job runs exactly once, no job waits forever (10 s, oversubscribed)', { skip }, () => {
  // nice 10: the tests running beside this one keep their share of the cores
  const r = spawnSync('nice', ['-n', '10', process.execPath, path.join(ROOT, 'scripts', 'pool-stress.mjs'), '--seconds', '10'],
    { encoding: 'utf8', timeout: 180_000 }); // the test's own watchdog fails a stall after 30 s
  const out = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(r.stdout, /pool_stress: .* [1-9]\d* jobs .*, 0 failures/, out);
});
