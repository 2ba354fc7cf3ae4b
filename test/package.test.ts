// The package as a user gets it (README, "Installing the package"): `npm pack` ships what runs
// (compiled JavaScript, the wasm modules, the playground bundle, the native sources and their build
// script, the shipped text, the docs), not the tests or the TypeScript sources; the tarball
// installed in an empty folder gives a working `normlab`: --help, prepare, a tiny train. OFFLINE:
// the dependencies come from the npm cache that the repository's `npm ci` filled, pinned to the
// versions of package-lock.json (an offline `npm install x.tgz` would have to look their versions
// up). The native build is skipped here (NORMLAB_SKIP_NATIVE=1: it is tested by backends.test.ts,
// and takes minutes), so the run shows the wasm fallback and its one-line note; a global install
// links the installed package's bin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tmpDir } from './helpers.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 300_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...env } });
}
const says = (r: SpawnSyncReturns<string>) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

/** A lockfile for a folder that depends on the tarball alone: normlab's runtime dependencies as the repository locks them. */
function lockFor(tarball: string, pkg: { name: string; version: string; dependencies: Record<string, string>; bin: Record<string, string> }): object {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const packages: Record<string, unknown> = {
    '': { name: 'normlab-install-check', version: '1.0.0', dependencies: { normlab: `file:${tarball}` } },
    'node_modules/normlab': { version: pkg.version, resolved: `file:${tarball}`, dependencies: pkg.dependencies, bin: pkg.bin, hasInstallScript: true, license: 'MIT' },
  };
  for (const [k, v] of Object.entries(lock.packages)) if (k.startsWith('node_modules/') && !v.dev && !v.devOptional) packages[k] = v;
  return { name: 'normlab-install-check', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

test('npm pack ships what runs, not tests; the tarball installs offline in an empty folder and trains (wasm), locally and globally', { timeout: 900_000 }, () => {
  const dir = tmpDir('normlab-package-');
  try {
    // dist/ is built by `npm test` (and by the prepack script when a user packs): packed as it is.
    let r = run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    assert.equal(r.status, 0, says(r));
    const packed = (JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[])[0];
    const files = new Set(packed.files.map((f) => f.path));
    for (const f of ['bin/normlab.js', 'dist/src/cli/main.js', 'dist/src/engine/kernels/wasm/node-loader.js', 'wasm/build/normlab.wasm', 'wasm/build/normlab-threads.wasm',
      'dist/playground/index.html', 'dist/playground/worker.js', 'native/binding.gyp', 'native/src/addon.c', 'scripts/build-native.mjs',
      'src/dashboard/public/app.js', 'data/shakespeare_char/input.txt', 'README.md', 'docs/sweep.md', 'explorations/norm_variants.json',
      'tools/check_checkpoint.py', 'tools/torch_reference.py', 'dist/tools/eval_checkpoint.js']) {
      assert.ok(files.has(f), `the tarball lacks ${f}`);
    }
    const bad = [...files].filter((f) => f.startsWith('test/') || f.startsWith('dist/test/') || f.endsWith('.ts') && !f.endsWith('.d.ts') || f.endsWith('.map') || f.startsWith('native/build/'));
    assert.deepEqual(bad, [], 'no tests, TypeScript sources, source maps or local builds');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts.install, 'node scripts/build-native.mjs', 'the native build runs when the package is installed');
    assert.match(pkg.scripts.prepack, /tsc -p \. && node scripts\/build-wasm\.mjs.*build-playground/, 'npm pack builds what it ships');

    // Local install, offline, in an empty folder.
    const app = join(dir, 'app');
    mkdirSync(app);
    const tarball = join(dir, packed.filename);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'normlab-install-check', version: '1.0.0', dependencies: { normlab: `file:${tarball}` } }));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lockFor(tarball, pkg)));
    r = run(NPM, ['ci', '--offline', '--foreground-scripts'], app, { NORMLAB_SKIP_NATIVE: '1' });
    assert.equal(r.status, 0, says(r));
    assert.match(r.stdout, /native backend not built: skipped \(NORMLAB_SKIP_NATIVE=1\); the WebAssembly backend will be used/, 'one clear line');
    const bin = join(app, 'node_modules', '.bin', 'normlab');
    r = run(bin, ['--help'], app);
    assert.equal(r.status, 0, says(r));
    assert.match(r.stdout, /usage: normlab <command>/);
    r = run(bin, ['prepare', 'shakespeare_char'], app);
    assert.equal(r.status, 0, says(r));
    r = run(bin, ['train', '--n_layer', '1', '--n_head', '2', '--n_embd', '16', '--block_size', '16', '--batch_size', '2', '--max_iters', '2',
      '--eval_interval', '2', '--eval_iters', '1', '--no-progress', '--no-tensorboard_log', '--out_dir', 'out'], app);
    assert.equal(r.status, 0, says(r));
    assert.match(`${r.stdout}${r.stderr}`, /native backend not built .*using the WebAssembly backend: run `npm rebuild normlab`/);
    const summary = JSON.parse(readFileSync(join(app, 'out', 'summary.json'), 'utf8')) as { status: string };
    assert.equal(summary.status, 'ok');
    assert.ok(existsSync(join(app, 'node_modules', 'normlab', 'dist', 'playground', 'index.html')));

    // Global: `npm install -g` of the installed package (a folder: npm links it; --ignore-scripts, as a
    // folder would otherwise run the checkout's prepare build), into a prefix of its own.
    const prefix = join(dir, 'global');
    r = run(NPM, ['install', '-g', '--offline', '--ignore-scripts', '--prefix', prefix, join(app, 'node_modules', 'normlab')], dir);
    assert.equal(r.status, 0, says(r));
    r = run(join(prefix, 'bin', 'normlab'), ['--help'], dir);
    assert.equal(r.status, 0, says(r));
    assert.match(r.stdout, /usage: normlab <command>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
