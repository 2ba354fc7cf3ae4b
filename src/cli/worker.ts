// `normlab worker --queue URL [--concurrency N] [--work_dir DIR] [--data_dir DIR]`: trains the runs
// that `normlab sweep FILE --queue URL` puts on Redis (src/sweep/queue-worker.ts, docs/queue.md).
import { UserError } from '../util/errors.js';
import { parseRedisUrl } from '../sweep/redis.js';
import { runWorker } from '../sweep/queue-worker.js';
import { FLAGS, type FlagSpec } from '../config/config.js';
import { parseOrHelp } from './help.js';
import { withStopSignals } from './signals.js';

const dataDir = FLAGS.find((f) => f.name === 'data_dir')!;

export const WORKER_FLAGS: readonly FlagSpec[] = [
  { name: 'queue', type: 'str', default: null, nullable: true, group: 'training', help: 'Redis URL: redis://[user:password@]host:port[/db], or rediss:// for TLS (the password may come from NORMLAB_REDIS_PASSWORD instead)' },
  { name: 'concurrency', type: 'int', default: 1, group: 'training', help: 'runs trained at the same time (each is one process; native kernels use their own threads)' },
  { name: 'work_dir', type: 'str', default: 'normlab-work', group: 'data', help: 'folder of the runs (<work_dir>/<queue>/<run>); the same shared folder on every machine lets a run resume where a dead worker left it' },
  { ...dataDir, help: 'folder holding the datasets the runs name (prepare them on every machine)' },
  { name: 'verbose', type: 'bool', default: false, group: 'logging', help: 'also print the runs\' output here' },
];

const DESCRIPTION = 'Take runs from every sweep queued on that Redis (normlab sweep FILE --queue URL) and train them here. ' +
  'Ctrl-C or SIGTERM: the runs stop after their current iteration, save their state there and go back to the queue (a second one kills them).';

export async function workerCommand(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, WORKER_FLAGS, 'worker', 'normlab worker --queue URL [--concurrency N] [--work_dir DIR]', DESCRIPTION);
  if (!parsed) return 0;
  const c = parsed.config as { queue: string | null; concurrency: number; work_dir: string; data_dir: string; verbose: boolean };
  if (!c.queue) throw new UserError('which Redis? give --queue redis://host:port (the URL the sweep was queued on)');
  if (c.concurrency < 1) throw new UserError(`--concurrency is ${c.concurrency}; it must be >= 1`);
  if (c.work_dir === '') throw new UserError('--work_dir is empty; give a folder name');
  const target = parseRedisUrl(c.queue);

  const s = await withStopSignals('stopping: runs stop after their current iteration and go back to the queue (again to kill them)',
    (signal, killSignal) => runWorker({ target, workDir: c.work_dir, dataDir: c.data_dir, concurrency: c.concurrency, signal, killSignal, verbose: c.verbose }));
  console.log(`worker stopped: ${s.done} runs done, ${s.failed} failed, ${s.handedBack} handed back`);
  return 0;
}
