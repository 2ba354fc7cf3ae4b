// Redis connections for sweeps over several machines (docs/queue.md): the URL is checked and
// turned into connection options, the password is kept out of every message, and the first
// contact is bounded: a bad URL, a refused or wrong password, an unknown host and a server that
// does not answer each become a UserError within a few seconds (ioredis alone retries forever).
// After that first contact, a dropped connection is retried (a Redis restart loses nothing).
import { Redis, type RedisOptions } from 'ioredis';
import { UserError } from '../util/errors.js';

export interface RedisTarget {
  /** Connection options for ioredis and BullMQ. */
  options: RedisOptions;
  /** The URL with the password replaced by ***: the only form that is ever printed. */
  shown: string;
  password: string | null;
}

/** Seconds the first contact may take before the URL is declared unreachable. */
const CONNECT_TIMEOUT_MS = 3000;

const EXAMPLE = 'redis://[user:password@]host:port[/db] or rediss://... for TLS';

/** The URL with its password (if any) replaced by ***. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return `${scheme}${colon < 0 ? auth : `${auth.slice(0, colon)}:***`}@`;
  });
}

export function parseRedisUrl(url: string, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  let shown = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`--queue ${shown} is not a URL: expected ${EXAMPLE}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new UserError(`--queue ${shown}: the scheme must be redis:// or rediss:// (TLS), not ${u.protocol}//; expected ${EXAMPLE}`);
  }
  if (!u.hostname) throw new UserError(`--queue ${shown} names no host: expected ${EXAMPLE}`);
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) {
    throw new UserError(`--queue ${shown}: the path must be a database number (/0, /1, ...), not /${dbText}`);
  }
  if (u.search || u.hash) throw new UserError(`--queue ${shown}: no ?query or #fragment is allowed; expected ${EXAMPLE}`);
  // A password in the URL is visible to every user of the machine in the process list; one in
  // NORMLAB_REDIS_PASSWORD is not.
  const fromEnv = !u.password && env.NORMLAB_REDIS_PASSWORD ? env.NORMLAB_REDIS_PASSWORD : null;
  const password = u.password ? decodeURIComponent(u.password) : fromEnv;
  const options: RedisOptions = {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 6379,
    db: dbText === '' ? 0 : Number(dbText),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(password !== null ? { password } : {}),
    ...(u.protocol === 'rediss:' ? { tls: { servername: u.hostname } } : {}),
  };
  if (fromEnv !== null) shown += ' (password from NORMLAB_REDIS_PASSWORD)';
  return { options, shown, password };
}

/** text with every occurrence of the password replaced by ***. */
export function redact(text: string, target: Pick<RedisTarget, 'password'>): string {
  return target.password ? text.split(target.password).join('***') : text;
}

/** A user-facing sentence for a connection error. */
export function explainRedisError(err: unknown, target: RedisTarget): string {
  const e = err as { code?: string; message?: string };
  const msg = redact(String(e?.message ?? err), target);
  const where = `Redis at ${target.shown}`;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) {
    return `${where} refused the password${target.options.username ? ` for user ${target.options.username}` : ''}: check the password in the URL`;
  }
  if (/NOAUTH/i.test(msg)) return `${where} needs a password: give it in the URL, redis://:PASSWORD@host:port`;
  if (/AUTH.*without any password configured|no password is set/i.test(msg)) {
    return `${where} has no password set, but the URL gives one: remove it from the URL (or set requirepass on the server)`;
  }
  if (e?.code === 'ECONNREFUSED') return `cannot reach ${where}: connection refused (is redis-server running there, on that port?)`;
  if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') return `cannot reach ${where}: unknown host ${target.options.host}`;
  if (e?.code === 'EHOSTUNREACH' || e?.code === 'ENETUNREACH') return `cannot reach ${where}: no route to host ${target.options.host}`;
  if (/timed? ?out|ETIMEDOUT/i.test(msg) || e?.code === 'ETIMEDOUT') {
    return `cannot reach ${where}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s (wrong host or port, a firewall, or rediss:// against a server without TLS?)`;
  }
  if (/Protocol error/i.test(msg)) {
    return `${where}: the server there does not speak Redis (is ${target.options.host}:${target.options.port} a Redis port, and not an HTTP or other service?)`;
  }
  return `cannot use ${where}: ${msg}`;
}

/**
 * Checks that the server answers and accepts the credentials, with no retry and a bounded wait;
 * throws a UserError that names the problem. Call it before creating BullMQ objects.
 */
export async function probeRedis(target: RedisTarget): Promise<void> {
  const client = new Redis({
    ...target.options, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0,
    enableOfflineQueue: false, retryStrategy: () => null, reconnectOnError: () => false,
  });
  let lastError: unknown = null;
  client.on('error', (e) => { lastError = e; });
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), CONNECT_TIMEOUT_MS + 1000);
    });
    await Promise.race([(async () => { await client.connect(); await client.ping(); })(), deadline]);
  } catch (e) {
    // ioredis reports "Connection is closed" once it gave up; the socket error before it says why.
    const why = lastError !== null && /closed|Stream isn't writeable/i.test(String((e as Error)?.message)) ? lastError : e;
    throw new UserError(explainRedisError(why, target));
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/**
 * A connection for BullMQ (maxRetriesPerRequest null, as its workers require) that retries a lost
 * connection every few seconds and says so once per outage through `warn`, without the password.
 */
export function openRedis(target: RedisTarget, warn: (line: string) => void): Redis {
  const client = new Redis({
    ...target.options, maxRetriesPerRequest: null, connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(250 * times, 3000),
  });
  let down = false;
  client.on('error', () => { /* the outage is reported once, on 'reconnecting' */ });
  client.on('reconnecting', () => {
    if (down) return;
    down = true;
    warn(`lost the connection to Redis at ${target.shown}; retrying until it is back`);
  });
  client.on('ready', () => {
    if (down) warn(`connection to Redis at ${target.shown} is back`);
    down = false;
  });
  return client;
}

/**
 * Whether err is Redis refusing a write because it is full (maxmemory reached and nothing can be
 * evicted: "OOM command not allowed"), also inside a transaction (EXECABORT) or a script.
 */
export function isRedisFull(err: unknown): boolean {
  const e = err as { message?: unknown; previousErrors?: unknown };
  const texts = [String(e?.message ?? err)];
  if (Array.isArray(e?.previousErrors)) for (const p of e.previousErrors) texts.push(String((p as { message?: unknown })?.message ?? p));
  return texts.some((t) => /\bOOM\b[^\n]*not allowed|used memory > 'maxmemory'/i.test(t));
}

/** The one line that says Redis is full, and what to do. */
export function redisFullMessage(target: Pick<RedisTarget, 'shown'>): string {
  return `Redis at ${target.shown} is full: it refuses writes ("OOM command not allowed": maxmemory is reached and its ` +
    'maxmemory-policy evicts nothing). Free memory there (remove finished sweeps with normlab sweep FILE --queue URL --clean, ' +
    'or raise maxmemory), then run again';
}
