// A real redis-server for the queue tests, on a free loopback port, with a password and the
// append-only file on (so a restart keeps the queue). Needs redis-server (scripts/install-redis.sh):
// without it `skip` says why, except under CI=true where a missing server is an error.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseRedisUrl, probeRedis } from '../src/sweep/redis.js';
import { BIN, tmpDir } from './helpers.js';

const REDIS = (() => {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
})();
if (!REDIS && process.env.CI === 'true') throw new Error('redis-server is missing: run scripts/install-redis.sh');
export const skip: string | false = REDIS ? false : 'redis-server not installed (run scripts/install-redis.sh): queue tests skipped';

export const PW = 'Tst-pw-8f3a91c2';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function until<T>(what: string, f: () => T | null | undefined | false, ms = 60000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  readonly url: string;
  private constructor(readonly port: number, readonly dir: string) {
    this.url = `redis://:${PW}@127.0.0.1:${port}`;
  }

  static async start(): Promise<RedisServer> {
    const s = new RedisServer(await freePort(), tmpDir('normlab-redis-'));
    await s.restart();
    return s;
  }

  /** Starts the server (again, on the same port and files). */
  async restart(): Promise<void> {
    this.proc = spawn(REDIS!, ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes',
      '--save', '', '--requirepass', PW, '--logfile', join(this.dir, 'redis.log')], { stdio: 'ignore' });
    await until('redis-server to start', () => existsSync(join(this.dir, 'redis.log')), 10000);
    const target = parseRedisUrl(this.url);
    for (let i = 0; ; i++) {
      try { await probeRedis(target); return; } catch (e) { if (i > 100) throw e; }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM: redis-server writes its append-only file and exits. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = null;
    const gone = new Promise((r) => p.on('close', r));
    p.kill('SIGTERM');
    await gone;
  }
}

export interface Proc { p: ChildProcess; out: string; exit: Promise<number | null> }

/** `normlab <args>` in the background, stdout and stderr collected in `out`. */
export function start(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const proc: Proc = { p, out: '', exit: new Promise((resolve) => p.on('close', (code) => resolve(code))) };
  p.stdout!.setEncoding('utf8').on('data', (s: string) => { proc.out += s; });
  p.stderr!.setEncoding('utf8').on('data', (s: string) => { proc.out += s; });
  return proc;
}
