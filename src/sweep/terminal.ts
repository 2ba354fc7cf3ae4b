// What a sweep (local, or followed through the queue) shows on the terminal: progress lines, and the
// progress bar of the runs in training redrawn in place on one line below them (docs/sweep.md).
import { formatDuration } from '../util/format.js';

export interface SweepTerminal { print: (line: string) => void; live: (bar: string) => void }

/**
 * `print` for lines, `live` for the progress bar. On a terminal (stdout, when no print is given) the
 * bar is drawn unless quiet; elsewhere it goes to opts.live, if given.
 */
export function sweepTerminal(opts: { print?: (line: string) => void; live?: (bar: string) => void; quiet?: boolean }): SweepTerminal {
  if (opts.print !== undefined) return { print: opts.print, live: opts.live ?? (() => {}) };
  if (process.stdout.isTTY !== true || opts.quiet) return { print: (l) => { process.stdout.write(l + '\n'); }, live: () => {} };
  let shown = false;
  return {
    print: (l) => { process.stdout.write((shown ? '\r\x1b[K' : '') + l + '\n'); shown = false; },
    live: (bar) => {
      process.stdout.write(`\r\x1b[K${bar === '' ? '' : `    ${bar.slice(0, (process.stdout.columns || 100) - 5)}`}`);
      shown = bar !== '';
    },
  };
}

/** The line a sweep prints when a run starts: `[k/N] name (note)  elapsed 1m 2s  ETA 3m`. */
export function runStartLine(k: number, total: number, label: string, elapsedS: number, etaS: number | null): string {
  return `[${k}/${total}] ${label}  elapsed ${formatDuration(elapsedS)}  ETA ${etaS === null ? '?' : formatDuration(etaS)}`;
}

/** The time left for `left` more runs at the mean of the durations so far (null before the first). */
export function etaOf(durations: number[], left: number): number | null {
  return durations.length > 0 ? durations.reduce((a, b) => a + b, 0) / durations.length * left : null;
}

/**
 * s as plain text for the terminal, at most `max` characters: escape sequences (CSI, OSC, DCS, ...)
 * and control characters removed, tabs and line breaks made spaces. Every string that comes from
 * Redis (worker names, log lines, error texts, progress bars) goes through it before it is printed:
 * any client of that Redis could have written it (docs/safety.md, "A hostile Redis client").
 */
export function plainText(s: unknown, max = 2000): string {
  const t = String(s ?? '').slice(0, max * 4)
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]?/g, '')
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)?/g, '')
    .replace(/\x1b[PX^_][^\x1b]*(\x1b\\)?/g, '')
    .replace(/\x1b[^]?/g, '')
    .replace(/[\t\n\r\u2028\u2029]/g, ' ')
    .replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, '');
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}
