// The dashboard's activation curves are computed here, in a worker thread (src/dashboard/server.ts):
// reading a checkpoint and evaluating curves costs as much as the file says, and the server's event
// loop must never wait on that (docs/safety.md, "A hostile checkpoint file"). The server ends the
// worker when the client goes away, the server stops, or ACTIVATIONS_LIMIT_MS passes.
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { runActivations } from './curves.js';
import type { RunInfo } from './data.js';

const { run } = workerData as { run: RunInfo };
try {
  parentPort!.postMessage({ value: runActivations(run) });
} catch (e) {
  parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e), user: e instanceof UserError });
}
