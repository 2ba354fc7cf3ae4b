// Threads for the wasm backend: worker threads (Node worker_threads, browser Web Workers) that share
// the module's memory and take chunks of a kernel call. Runs anywhere SharedArrayBuffer does.
//
// A call is split into chunks (rows of a product, (batch, head) pairs of attention, ranges of
// elements); each chunk's result does not depend on which thread computes it or on how many there
// are, so results equal the one-thread ones bit for bit. The calling thread publishes the job in a
// control block in shared memory, wakes the workers (Atomics.notify), takes chunks itself, and
// sleeps (Atomics.wait, no spinning) until every chunk is done. Chunks are claimed with a
// compare-exchange on one word holding (job number, next chunk), so a chunk runs exactly once, a
// worker still finishing the previous job can never claim one of the next, and a worker that is
// slow to start (or never starts) only means the caller does more chunks itself.
//
// Waiting is bounded spinning, then sleep: an idle worker, and the caller waiting for chunks still
// running elsewhere, poll their word for SPIN loads (tens of microseconds: a training step issues
// about a hundred kernel calls back to back) before sleeping in Atomics.wait. A thread announces its
// sleep in a counter (SLEEPERS, CALLER_SLEEPS) before its final check, and the other side calls
// Atomics.notify only when that counter is not zero: a notify costs a system call and, on a busy
// machine, up to milliseconds (measured: it was most of the pool's overhead). Both sides use
// sequentially consistent atomics, so either the sleeper's check sees the new value or the waker
// sees the counter.

/** A kernel that takes (..., chunk, nChunks) as its last two arguments (matmulRows, attentionForward,
 * adamw, roundBf16, every elementwise entry, ...): any export of the module. A job names it by its index among
 * the module's exports, which is the same in every instance of the module. */
export type ChunkedKernel = string;

// Control block: bytes [CTL, CTL + 64) hold int32 words, [ARGS, ARGS + 8 * MAX_ARGS) float64 arguments.
// It sits below the JavaScript arena (64 KiB) and above the module's static data (~12 KiB).
export const CTL = 0xe000;
const ARGS = CTL + 64, MAX_ARGS = 24;
const SEQ = 0, CLAIM = 1, NCHUNKS = 2, DONE = 3, KERNEL = 4, NARGS = 5, FAILED = 6, BY_WORKERS = 7, SLEEPERS = 8, CALLER_SLEEPS = 9;
/** Loads of the awaited word before a waiting thread sleeps (a load takes a few nanoseconds). */
const SPIN = 20000;

type Kernels = Record<string, (...a: number[]) => unknown>;

/** Takes and runs chunks of job `seq` until none is left; workers count theirs in BY_WORKERS. */
function work(ctl: Int32Array, args: Float64Array, fns: Kernels[string][], seq: number, worker: boolean): void {
  const tag = seq & 0xffff;
  let fn: ((...a: number[]) => unknown) | null = null, a: number[] = [];
  for (;;) {
    const v = Atomics.load(ctl, CLAIM);
    if (v >>> 16 !== tag) return;
    const c = v & 0xffff, n = Atomics.load(ctl, NCHUNKS);
    if (c >= n) return;
    if (Atomics.compareExchange(ctl, CLAIM, v, v + 1) !== v) continue;
    try {
      if (!fn) { // this job's (read once: a job's words do not change until its last chunk is done)
        fn = fns[Atomics.load(ctl, KERNEL)];
        a = Array.from(args.subarray(0, Atomics.load(ctl, NARGS)));
      }
      fn(...a, c, n);
    } catch {
      Atomics.store(ctl, FAILED, 1);
    }
    if (worker) Atomics.add(ctl, BY_WORKERS, 1);
    if (Atomics.add(ctl, DONE, 1) + 1 === n && Atomics.load(ctl, CALLER_SLEEPS) !== 0) Atomics.notify(ctl, DONE);
  }
}

/** A worker thread's whole life: instantiate the module on the shared memory, then serve jobs. */
export function threadMain(module: WebAssembly.Module, memory: WebAssembly.Memory): void {
  const k = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error('wasm kernel aborted'); } } }).exports as unknown as Kernels;
  const fns = Object.values(k); // a job's KERNEL word indexes these (Pool's order: the same module)
  const ctl = new Int32Array(memory.buffer, CTL, 16), args = new Float64Array(memory.buffer, ARGS, MAX_ARGS);
  let seen = Atomics.load(ctl, SEQ);
  for (;;) {
    // until the caller publishes the next job: spin, then sleep
    for (let i = 0; i < SPIN && Atomics.load(ctl, SEQ) === seen; i++);
    if (Atomics.load(ctl, SEQ) === seen) {
      Atomics.add(ctl, SLEEPERS, 1);
      Atomics.wait(ctl, SEQ, seen);
      Atomics.sub(ctl, SLEEPERS, 1);
    }
    seen = Atomics.load(ctl, SEQ);
    work(ctl, args, fns, seen, true);
  }
}

export class Pool {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private seq = 0;

  /** threads: including the calling one; 1 runs every chunk on the caller (no workers). */
  /** Export name -> its index (a job's KERNEL word), and the exports in that order. */
  private readonly ids: Map<string, number>;
  private readonly fns: Kernels[string][];

  constructor(memory: WebAssembly.Memory, private readonly k: Kernels, readonly threads: number) {
    this.ids = new Map(Object.keys(k).map((name, i) => [name, i]));
    this.fns = Object.values(k);
    this.ctl = new Int32Array(memory.buffer, CTL, 16);
    this.args = new Float64Array(memory.buffer, ARGS, MAX_ARGS);
  }

  /** Chunks run by worker threads so far (0 when they never started: the caller did everything). */
  workerChunks(): number {
    return this.threads > 1 ? Atomics.load(this.ctl, BY_WORKERS) : 0;
  }

  /** Chunks for `units` independent pieces of work: a few per thread, for balance under load. */
  chunks(units: number): number {
    return Math.max(1, Math.min(units, this.threads * 4, 0xffff));
  }

  /** Runs kernel(...args, chunk, nChunks) for every chunk, on every thread; returns when all are done. */
  run(kernel: ChunkedKernel, args: number[], nChunks: number): void {
    const fn = this.k[kernel];
    if (this.threads <= 1 || nChunks <= 1) {
      for (let c = 0; c < nChunks; c++) fn(...args, c, nChunks);
      return;
    }
    if (args.length > MAX_ARGS) throw new Error(`wasm pool: ${args.length} arguments, at most ${MAX_ARGS}`);
    const ctl = this.ctl;
    this.seq = (this.seq + 1) & 0x7fffffff;
    this.args.set(args);
    Atomics.store(ctl, KERNEL, this.ids.get(kernel)!);
    Atomics.store(ctl, NARGS, args.length);
    Atomics.store(ctl, NCHUNKS, nChunks);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, FAILED, 0);
    Atomics.store(ctl, CLAIM, (this.seq & 0xffff) << 16); // opens the job's chunks
    Atomics.store(ctl, SEQ, this.seq);
    if (Atomics.load(ctl, SLEEPERS) !== 0) Atomics.notify(ctl, SEQ);
    work(ctl, this.args, this.fns, this.seq, false);
    for (let i = 0; i < SPIN && Atomics.load(ctl, DONE) < nChunks; i++);
    if (Atomics.load(ctl, DONE) < nChunks) {
      Atomics.store(ctl, CALLER_SLEEPS, 1);
      for (let d = Atomics.load(ctl, DONE); d < nChunks; d = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, d, 1000);
      Atomics.store(ctl, CALLER_SLEEPS, 0);
    }
    if (Atomics.load(ctl, FAILED)) throw new Error(`wasm kernel ${kernel} failed on a worker thread`);
  }
}
