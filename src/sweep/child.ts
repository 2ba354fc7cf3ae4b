// One train child process of a sweep (docs/sweep.md): its command line, its start in its own process
// group, and its output split into lines (a '\r' progress redraw apart from them). Used by the local
// sweep (src/sweep/runner.ts) and by the queue's workers (src/sweep/queue-worker.ts).
// The child is `node <package root>/bin/normlab.js train <argv> --out_dir <dir>`, or the command in
// NORMLAB_TRAIN_CMD (a JSON array or a space-separated line) in place of `node .../bin/normlab.js`.
// The child runs in its own process group so a terminal Ctrl-C reaches it once, through us: the
// caller forwards SIGINT, waits for the child to save and exit.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';

export function defaultTrainCmd(env: NodeJS.ProcessEnv = process.env): string[] {
  const custom = env.NORMLAB_TRAIN_CMD?.trim();
  if (custom) {
    if (custom.startsWith('[')) return JSON.parse(custom) as string[];
    return custom.split(/\s+/);
  }
  // dist/src/sweep/child.js -> <package root>/bin/normlab.js
  return [process.execPath, fileURLToPath(new URL('../../../bin/normlab.js', import.meta.url))];
}

/** argv without `--name value` / `--name=value` (so a resume does not carry two --init_from). */
export function withoutFlag(argv: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) { i++; continue; }
    if (argv[i].startsWith(`--${name}=`)) continue;
    out.push(argv[i]);
  }
  return out;
}

/** The train command's arguments for a run in `dir`: its flags, the folder, then `--init_from resume` when resuming. */
export function trainArgs(argv: string[], dir: string, resume: boolean, extra: string[] = []): string[] {
  return ['train', ...(resume ? withoutFlag(argv, 'init_from') : argv), '--out_dir', dir, ...extra,
    ...(resume ? ['--init_from', 'resume'] : [])];
}

export interface ChildResult { code: number | null; signal: string | null; aborted: boolean; tail: string[]; lastErr: string | null }

export interface ChildOptions {
  /** Environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Abort = Ctrl-C: SIGINT to the child. */
  signal?: AbortSignal;
  /** Abort = second Ctrl-C: SIGKILL to the child. */
  killSignal?: AbortSignal;
  /** The child gets a pipe as stdin and NORMLAB_EXIT_WITH_PARENT=1, so it stops when this process dies, even by SIGKILL (bin/normlab.js exits when its stdin closes). */
  exitWithParent?: boolean;
  /** The child draws its progress bar into the pipe (NORMLAB_PROGRESS=1), for onRedraw. */
  progressBar?: boolean;
}

/** The text a child's output stream carries, turned into lines and progress redraws. */
class OutputLines {
  private buf = '';
  private shownLast = ''; // the redraw shown last: if the output ends on it, it is not a line
  constructor(private line: (l: string) => void, private redraw: (seg: string) => void) {}

  add(chunk: string): void {
    this.buf += chunk.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''); // the bar's line clearing
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      // A progress bar redraws with '\r': keep only its last state.
      const line = this.buf.slice(0, nl).split('\r').filter((s) => s.trim() !== '').pop() ?? '';
      this.buf = this.buf.slice(nl + 1);
      if (line !== '') this.line(line.trimEnd());
    }
    const cr = this.buf.lastIndexOf('\r');
    if (cr >= 0) {
      const shown = this.buf.split('\r').filter((x) => x.trim() !== '').pop();
      if (shown !== undefined) this.redraw(this.shownLast = shown.trimEnd());
      this.buf = this.buf.slice(cr + 1);
    }
  }

  end(): void {
    if (this.buf.trim() !== '' && this.buf.trimEnd() !== this.shownLast) this.line(this.buf.trimEnd());
    this.buf = '';
  }
}

/**
 * Runs one train child, calling onLine for each output line (a '\r' progress redraw goes to onRedraw;
 * terminal escape sequences are dropped).
 */
export function runChild(cmd: string[], args: string[], opts: ChildOptions,
  onLine: (l: string) => void, onRedraw: (seg: string) => void, onStart: (pid: number) => void): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const env = {
      ...(opts.env ?? process.env), ...(opts.exitWithParent ? { NORMLAB_EXIT_WITH_PARENT: '1' } : {}), ...(opts.progressBar ? { NORMLAB_PROGRESS: '1' } : {}),
    };
    const child = spawn(cmd[0], [...cmd.slice(1), ...args], {
      stdio: [opts.exitWithParent ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true, env,
    });
    if (child.pid !== undefined) onStart(child.pid);
    const tail: string[] = [];
    let lastErr: string | null = null;
    let aborted = false;
    const keep = (l: string, isErr: boolean) => {
      tail.push(l);
      if (tail.length > 12) tail.shift();
      if (isErr && l.trim() !== '') lastErr = l.trim();
      onLine(l);
    };
    for (const [stream, isErr] of [[child.stdout!, false], [child.stderr!, true]] as const) {
      const out = new OutputLines((l) => keep(l, isErr), onRedraw);
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => out.add(chunk));
      stream.on('end', () => out.end());
    }
    const interrupt = () => { aborted = true; if (child.exitCode === null) child.kill('SIGINT'); };
    const kill = () => { aborted = true; if (child.exitCode === null) child.kill('SIGKILL'); };
    const onExit = () => { if (child.exitCode === null) child.kill('SIGKILL'); };
    if (opts.signal?.aborted) interrupt();
    opts.signal?.addEventListener('abort', interrupt);
    opts.killSignal?.addEventListener('abort', kill);
    process.on('exit', onExit);
    child.on('error', (e) => {
      cleanup();
      reject(new UserError(`cannot start the train command '${cmd.join(' ')}': ${e.message} (check NORMLAB_TRAIN_CMD or that the package is built)`));
    });
    child.on('close', (code, signal) => {
      cleanup();
      resolve({ code, signal, aborted, tail, lastErr });
    });
    function cleanup() {
      opts.signal?.removeEventListener('abort', interrupt);
      opts.killSignal?.removeEventListener('abort', kill);
      process.removeListener('exit', onExit);
    }
  });
}

/** The error of a run that did not end ok, from its summary or its exit. */
export function runError(summary: { status?: string; error?: string | null } | null, res: ChildResult | null): string {
  if (summary?.status === 'failed' && summary.error) return summary.error;
  if (res?.code === 0) return 'exited 0 without an ok summary.json';
  return `${res?.signal ? `killed by ${res.signal}` : `exit code ${res?.code}`}${res?.lastErr ? `: ${res.lastErr}` : ''}`;
}
