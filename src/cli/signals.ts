// Ctrl-C, SIGTERM and SIGHUP for long commands: the first one says `message` and aborts `stop`
// (finish cleanly), the next ones abort `kill` (stop now). The handlers live while `work` runs.
export async function withStopSignals<T>(message: string, work: (stop: AbortSignal, kill: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController(), kill = new AbortController();
  const onSignal = () => {
    if (!stop.signal.aborted) {
      console.log(`\n${message}`);
      stop.abort();
    } else kill.abort();
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  try {
    return await work(stop.signal, kill.signal);
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
  }
}
