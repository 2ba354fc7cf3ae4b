// The package as a user gets it (README, "Installing the package"): `npm pack` ships what runs
// (compiled JavaScript, the wasm modules, the playground bundle, the native sources and their build
// script, the shipped text, the docs), not the tests or the TypeScript sources; the TARBALL itself,
// installed in an empty folder and globally (`npm install -g --prefix TMP normlab-x.tgz`), gives a
// working `normlab`: --help, prepare, a 2-iteration train. No network: npm's registry is a loopback
// server (test/npm-registry.ts) serving normlab's runtime dependencies as package-lock.json pins them,
// every other host goes through a proxy that does not exist, and npm's cache and config are empty
// temporary ones. The native build is skipped (NORMLAB_SKIP_NATIVE=1: it is tested by
// backends.test.ts, and takes minutes), so the run shows the wasm fallback and its one-line note.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tmpDir } from './helpers.js';
import { startRegistry } from './npm-registry.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Ran { status: number | null; stdout: string; stderr: string }

/** Runs a command without blocking this process's event loop (the registry answers from it). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 300_000): Promise<Ran> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd, timeout, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...env } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}
const says = (r: Ran) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;

/** From an installed `normlab` binary: --help, then prepare and a 2-iteration train (wasm) in cwd. */
async function usable(bin: string, cwd: string, where: string): Promise<void> {
  let r = await run(bin, ['--help'], cwd);
  assert.equal(r.status, 0, `${where}: ${says(r)}`);
  assert.match(r.stdout, /usage: normlab <command>/);
  r = await run(bin, ['prepare', 'shakespeare_char'], cwd);
  assert.equal(r.status, 0, `${where}: ${says(r)}`);
  r = await run(bin, ['train', '--n_layer', '1', '--n_head', '2', '--n_embd', '16', '--block_size', '16', '--batch_size', '2', '--max_iters', '2',
    '--eval_interval', '2', '--eval_iters', '1', '--no-progress', '--no-tensorboard_log', '--out_dir', 'out'], cwd);
  assert.equal(r.status, 0, `${where}: ${says(r)}`);
  assert.match(`${r.stdout}${r.stderr}`, /native backend not built .*using the WebAssembly backend: run `npm rebuild normlab`/, where);
  const summary = JSON.parse(readFileSync(join(cwd, 'out', 'summary.json'), 'utf8')) as { status: string };
  assert.equal(summary.status, 'ok', where);
}

test('npm pack ships what runs, not tests; the tarball installs with no network in an empty folder and globally, and trains (wasm)', { timeout: 900_000 }, async () => {
  const dir = tmpDir('normlab-package-');
  const registry = await startRegistry(ROOT);
  try {
    // dist/ is built by `npm test` (and by the prepack script when a user packs): packed as it is.
    let r = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
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
    const tarball = join(dir, packed.filename);

    // npm as a user runs it, but with empty config files, its own empty cache per install, the loopback
    // registry, and every other host sent to a dead proxy (port 9): a request that leaves the machine fails.
    writeFileSync(join(dir, 'npmrc'), '');
    writeFileSync(join(dir, 'globalnpmrc'), '');
    const npmEnv = (cache: string): NodeJS.ProcessEnv => ({
      npm_config_registry: registry.url, npm_config_cache: join(dir, cache), npm_config_userconfig: join(dir, 'npmrc'),
      npm_config_globalconfig: join(dir, 'globalnpmrc'), npm_config_proxy: 'http://127.0.0.1:9', npm_config_https_proxy: 'http://127.0.0.1:9',
      npm_config_noproxy: '127.0.0.1', NORMLAB_SKIP_NATIVE: '1',
    });
    const app = join(dir, 'app'), prefix = join(dir, 'global'), work = join(dir, 'work');
    for (const d of [app, work]) mkdirSync(d);
    const [local, global] = await Promise.all([
      run(NPM, ['install', '--foreground-scripts', tarball], app, npmEnv('cache-local')),
      run(NPM, ['install', '-g', '--foreground-scripts', '--prefix', prefix, tarball], work, npmEnv('cache-global')),
    ]);
    for (const [where, res] of [['local', local], ['global', global]] as const) {
      assert.equal(res.status, 0, `${where}: ${says(res)}`);
      assert.match(res.stdout, /native backend not built: skipped \(NORMLAB_SKIP_NATIVE=1\); the WebAssembly backend will be used/, `${where}: one clear line`);
    }
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(registry.requests.includes(`/${dep}`), `${dep} came from the loopback registry`);
    assert.ok(existsSync(join(app, 'node_modules', 'normlab', 'dist', 'playground', 'index.html')));
    const globalBin = process.platform === 'win32' ? join(prefix, 'normlab.cmd') : join(prefix, 'bin', 'normlab');
    await Promise.all([usable(join(app, 'node_modules', '.bin', 'normlab'), app, 'local'), usable(globalBin, work, 'global')]);
  } finally {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
