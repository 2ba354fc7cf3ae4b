// The sweep queues a worker serves (docs/queue.md). normlab:queues may hold anything any client of
// that Redis wrote, so what is read from it is bounded on the server: a Lua script looks at no more
// than MAX_EXAMINED names, skips names longer than MAX_FOLDER_NAME, and returns at most MAX_SERVED
// of those that have runs to do (waiting, active, delayed); a BullMQ Worker (one Redis connection
// each) exists only for those, and is closed once its queue has nothing left, so a worker's memory
// does not grow with the number of names in the set. Names that cannot be a sweep queue are ignored,
// with one warning each time their count changes.
import { Worker, type Job, type JobJsonRaw } from 'bullmq';
import type { Redis } from 'ioredis';
import { isQueueName, MAX_FOLDER_NAME, MAX_PAYLOAD, QUEUES_KEY, type RunJobData, type RunJobResult } from './jobs.js';
import { plainText } from './terminal.js';

export const MAX_SERVED = 256;
export const MAX_EXAMINED = 4096;

// KEYS[1] the set; ARGV: longest name, most names returned, most names examined.
const LIST = `
local maxlen, maxout, maxseen = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out, seen, long, cursor = {}, 0, 0, '0'
local function count(cmd, key)
  local n = redis.pcall(cmd, key) -- a key of another type (written by anyone) counts as empty
  if type(n) == 'number' then return n end
  return 0
end
repeat
  local r = redis.call('SSCAN', KEYS[1], cursor, 'COUNT', 100)
  cursor = r[1]
  for _, m in ipairs(r[2]) do
    seen = seen + 1
    if #m > maxlen then long = long + 1
    elseif #out < maxout then
      local b = 'bull:' .. m .. ':'
      if count('LLEN', b .. 'wait') + count('LLEN', b .. 'active') + count('ZCARD', b .. 'delayed')
        + count('ZCARD', b .. 'prioritized') > 0 then out[#out + 1] = m end
    end
  end
until cursor == '0' or seen >= maxseen
return {redis.call('SCARD', KEYS[1]), seen, long, out}`;

export interface QueueListing {
  /** Names with runs to do that can be sweep queues. */
  names: string[];
  /** A warning about what was ignored, or null. */
  ignored: string | null;
}

/** The sweep queues with runs to do, read with bounds (see above). */
export async function listQueues(conn: Redis): Promise<QueueListing> {
  const [total, seen, long, found] = await conn.eval(LIST, 1, QUEUES_KEY, MAX_FOLDER_NAME, MAX_SERVED, MAX_EXAMINED) as [number, number, number, string[]];
  const bad = found.filter((n) => !isQueueName(n));
  const names = found.filter(isQueueName);
  const parts: string[] = [];
  if (total > seen) parts.push(`only ${seen} of its ${total} names were read`);
  if (long > 0) parts.push(`${long} name${long > 1 ? 's' : ''} longer than ${MAX_FOLDER_NAME} characters ignored`);
  if (bad.length > 0) parts.push(`${bad.length} name${bad.length > 1 ? 's' : ''} that cannot be a sweep queue ignored (e.g. ${JSON.stringify(plainText(bad[0], 60))})`);
  if (found.length >= MAX_SERVED) parts.push(`at most ${MAX_SERVED} queues with runs are served at once`);
  return {
    names,
    ignored: parts.length === 0 ? null : `${QUEUES_KEY} on this Redis holds names that are not sweep queues: ${parts.join('; ')}. ` +
      `Remove them (redis-cli SREM ${QUEUES_KEY} NAME) or use a Redis of your own`,
  };
}

/** Why a job's stored fields could not be read (set by PayloadCheckingWorker), by job. */
const payloadErrors = new WeakMap<object, string>();

/** The reason a job's data could not be read as JSON, if it could not. */
export function payloadError(job: object): string | undefined {
  return payloadErrors.get(job);
}

/**
 * A BullMQ Worker that hands over a job whose stored fields are not JSON (BullMQ would throw, and the
 * job would cycle between active and waiting) with its data replaced by null and the reason kept,
 * so the worker fails it with that reason.
 */
export class PayloadCheckingWorker extends Worker<RunJobData, RunJobResult> {
  protected override createJob(raw: JobJsonRaw, jobId: string): Job<RunJobData, RunJobResult> {
    const size = typeof raw.data === 'string' ? raw.data.length : 0;
    if (size <= MAX_PAYLOAD) {
      try { return super.createJob(raw, jobId); } catch { /* below */ }
    }
    const json = (s: unknown) => { try { JSON.parse(String(s)); return true; } catch { return false; } };
    const why = size > MAX_PAYLOAD ? `the job's data is ${size} characters, more than ${MAX_PAYLOAD}: not a sweep job`
      : !json(raw.data ?? '{}') ? 'the job\'s data is not JSON (it was not queued by normlab sweep)'
        : 'the job\'s BullMQ fields (options or progress) are not JSON (it was not queued by normlab sweep)';
    const job = super.createJob({
      ...raw, data: 'null', opts: json(raw.opts || '{}') ? raw.opts : '{}', progress: json(raw.progress || '0') ? raw.progress : '0',
      parent: raw.parent === undefined || json(raw.parent) ? raw.parent : undefined,
    }, jobId);
    payloadErrors.set(job, why);
    return job;
  }
}

