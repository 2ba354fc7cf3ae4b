// Redis URLs that cannot work get a clear message, in seconds, with no password shown: a bad URL,
// a wrong password, a missing one, a refused port, a server that never answers (test/redis-server.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseRedisUrl, probeRedis } from '../src/sweep/redis.js';
import { tmpDir } from './helpers.js';
import { freePort, PW, RedisServer, skip, start } from './redis-server.js';

let redis: RedisServer;
before(async () => { if (!skip) redis = await RedisServer.start(); });
after(async () => { await redis?.stop(); });

test('bad URL, wrong password, unreachable Redis: a clear message within 10 s, no password shown', { skip, timeout: 60000 }, async () => {
  const dir = tmpDir('normlab-queue-');
  const file = join(dir, 'e.json');
  writeFileSync(file, JSON.stringify({ n_layer: 1, max_iters: 1 }));
  const closed = await freePort();
  const cases: [string[], RegExp][] = [
    [['sweep', file, '--queue', 'redis//127.0.0.1:6379'], /is not a URL: expected redis:\/\//],
    [['sweep', file, '--queue', `redis://:Wrong-pw-77@127.0.0.1:${redis.port}`], /refused the password/],
    [['sweep', file, '--queue', `redis://:${PW}@127.0.0.1:${closed}`], /connection refused \(is redis-server running there/],
    [['worker', '--queue', `redis://:${PW}@127.0.0.1:${closed}`], /connection refused/],
  ];
  // One after the other. The bad URL needs no network: its time is Node's start and the file's
  // validation, which a loaded machine slows; the others may take at most 10 s more than that.
  let baseline = 0;
  for (const [args, want] of cases) {
    const t0 = Date.now();
    const p = start(args);
    const code = await p.exit;
    const s = (Date.now() - t0) / 1000;
    if (baseline === 0) baseline = s;
    assert.equal(code, 1, `${args.join(' ')}: ${p.out}`);
    assert.match(p.out, want);
    assert.ok(s - baseline < 10, `${args.join(' ')} took ${s} s (Node's start and validation: ${baseline} s)`);
    assert.doesNotMatch(p.out, /\n\s+at /, 'a stack trace');
    assert.ok(!p.out.includes(PW) && !p.out.includes('Wrong-pw-77'), `password shown: ${p.out}`);
  }
  await assert.rejects(probeRedis(parseRedisUrl(`redis://127.0.0.1:${redis.port}`)), /needs a password/);
  // The bound itself, without Node's start: a server that accepts the connection but never answers.
  const silent = createServer(() => { /* never answers */ });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const t0 = Date.now();
  await assert.rejects(probeRedis(parseRedisUrl(`redis://127.0.0.1:${(silent.address() as { port: number }).port}`)), /no answer within/);
  assert.ok(Date.now() - t0 < 10000);
  silent.close();
  // A server that answers, but not as Redis (an HTTP port): ioredis's "Protocol error ... Please report this" becomes plain words.
  const http = createServer((sock) => { sock.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const port = (http.address() as { port: number }).port;
  await assert.rejects(probeRedis(parseRedisUrl(`redis://:${PW}@127.0.0.1:${port}`)), (e: Error) => {
    assert.match(e.message, new RegExp(`does not speak Redis \\(is 127\\.0\\.0\\.1:${port} a Redis port`));
    assert.ok(!e.message.includes(PW) && !/Please report/.test(e.message), e.message);
    return true;
  });
  http.close();
});

