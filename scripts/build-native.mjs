#!/usr/bin/env node
// Builds the optional native backend: native/ -> native/build/Release/normlab.node, with node-gyp
// (`node-gyp rebuild -C native`). Run by `npm install` / `npm ci` (the "prepare" script) and by
// `npm run build:native`, and as the install script of the packed package (`npm install
// normlab-*.tgz`; `npm rebuild normlab` runs it again). It never breaks an install: on any problem
// it prints ONE line saying why and that the WebAssembly backend (shipped built) will be used, and
// exits 0. With --strict (CI, build:native)
// a failure exits 1 instead. The full compiler output goes to native/build.log.
//
// No download happens: node-gyp is the copy bundled with npm (npx only if that is missing), and
// it is pointed at the headers installed beside the running node (--nodedir), so it never
// fetches Node headers. NORMLAB_SKIP_NATIVE=1 skips the build.
//
// The addon needs only a C compiler: its matrix products are its own (native/src/gemm*.c). With
// --openblas (or NORMLAB_OPENBLAS=1) it also links OpenBLAS (libopenblas-dev), selectable at run
// time for comparison (`normlab bench --gemm`, NORMLAB_GEMM=openblas).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const openblas = process.argv.includes('--openblas') || process.env.NORMLAB_OPENBLAS === '1';
const addon = path.join(root, 'native/build/Release/normlab.node');
const logFile = path.join(root, 'native/build.log');

function done(ok, message) {
  console.log(ok ? `native backend built: ${message}`
    : `native backend not built: ${message}; the WebAssembly backend will be used (see docs/native.md)`);
  process.exit(ok || !strict ? 0 : 1);
}

if (process.env.NORMLAB_SKIP_NATIVE === '1') done(false, 'skipped (NORMLAB_SKIP_NATIVE=1)');
if (process.platform !== 'linux' || process.arch !== 'x64') done(false, `only linux-x64 is supported (this is ${process.platform}-${process.arch})`);

const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
const missing = ['cc', 'make', 'python3'].filter((c) => !which(c));
const cblas = ['/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/openblas/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/cblas.h'];
if (openblas && !cblas.some((f) => existsSync(f))) missing.push('OpenBLAS headers (libopenblas-dev, asked for by --openblas)');
// From a checkout: the repository's script and npm run; from an installed package: the packages and npm rebuild.
const checkout = existsSync(path.join(root, 'scripts/install-native-deps.sh'));
if (missing.length) {
  done(false, checkout ? `missing ${missing.join(', ')}: run \`sudo bash scripts/install-native-deps.sh\`, then \`npm run build:native\``
    : `missing ${missing.join(', ')}: install them (Debian/Ubuntu: \`sudo apt install gcc make python3\`), then \`npm rebuild normlab\``);
}

// node-gyp: npm's bundled copy, found from npm itself or beside the running node.
const candidates = [
  process.env.npm_execpath && path.join(path.dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
  path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].filter(Boolean);
const gyp = candidates.find((f) => existsSync(f));
const args = ['rebuild', '-C', 'native'];
// Headers installed with node (e.g. /usr/include/node): use them instead of downloading.
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
const cmd = gyp ? [process.execPath, [gyp, ...args]] : ['npx', ['--yes', 'node-gyp', ...args]];
const r = spawnSync(cmd[0], cmd[1], { cwd: root, encoding: 'utf8', timeout: 600_000, env: { ...process.env, JOBS: process.env.JOBS ?? 'max', NORMLAB_OPENBLAS: openblas ? '1' : '0' } });
mkdirSync(path.dirname(logFile), { recursive: true });
writeFileSync(logFile, `$ ${cmd[0]} ${cmd[1].join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}\n`);
if (r.status !== 0 || !existsSync(addon)) {
  const lines = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.split('\n').map((l) => l.trim());
  const why = lines.find((l) => /error:|fatal error|cannot find|not found/i.test(l)) ?? (r.error ? String(r.error) : `node-gyp exited with ${r.status}`);
  done(false, `${why.slice(0, 200)} (full log: native/build.log)`);
}

// Load it once in a child process: a missing runtime library (libopenblas.so.0) shows up here.
const check = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(addon)}); const i = a.info(); console.log(i.threads + ' threads, GEMM ' + i.gemm + ' (available: ' + i.gemms + ')')`], { encoding: 'utf8' });
if (check.status !== 0) done(false, `built, but loading failed: ${(check.stderr.split('\n').find((l) => /Error/.test(l)) ?? check.stderr).trim().slice(0, 200)}`);
done(true, `native/build/Release/normlab.node (${check.stdout.trim()})`);
