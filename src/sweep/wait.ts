// Waiting with bounds, for the queue's follower and workers (docs/queue.md).

/** Resolves after ms milliseconds, or at once when signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}

/** p's value, or undefined after ms milliseconds. */
export function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); })])
    .finally(() => clearTimeout(timer));
}

/** p's value, or undefined once signal aborts. */
export function orStop<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve(undefined);
  let off = () => {};
  return Promise.race([p, new Promise<undefined>((r) => {
    const on = () => r(undefined);
    signal.addEventListener('abort', on);
    off = () => signal.removeEventListener('abort', on);
  })]).finally(() => off());
}
