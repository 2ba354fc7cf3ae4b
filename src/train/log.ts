// Run logs: log.jsonl (one JSON object per line), log.csv (same rows, header of every key seen so
// far; rewritten when a new key appears), and a progress line on the terminal.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { appendFileChecked, writeFileAtomic } from '../util/files.js';
import { csvLine, formatDuration } from '../util/format.js';

export type LogRow = Record<string, number | string | null>;

export class RunLog {
  private jsonl: string;
  private csv: string;
  private rows: LogRow[] = [];
  private keys: string[] = [];
  private scalarSinks: ((tag: string, step: number, value: number) => void)[] = [];

  constructor(dir: string, opts: { keepUntil?: { trainBelow: number; evalUpTo: number } } = {}) {
    this.jsonl = path.join(dir, 'log.jsonl');
    this.csv = path.join(dir, 'log.csv');
    if (opts.keepUntil && fs.existsSync(this.jsonl)) {
      // Resume: keep the lines the resumed run will not write again.
      const { trainBelow, evalUpTo } = opts.keepUntil;
      for (const line of fs.readFileSync(this.jsonl, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const row = JSON.parse(line) as LogRow;
          const it = Number(row.iter);
          if ('val_loss' in row ? it <= evalUpTo : it < trainBelow) this.rows.push(row);
        } catch { /* a line cut by a kill: dropped */ }
      }
    }
    for (const r of this.rows) for (const k of Object.keys(r)) if (!this.keys.includes(k)) this.keys.push(k);
    writeFileAtomic(this.jsonl, this.rows.map((r) => JSON.stringify(r) + '\n').join(''));
    this.rewriteCsv();
  }

  /** Also send every numeric value of every row to these sinks (e.g. TensorBoard). */
  addScalarSink(sink: (tag: string, step: number, value: number) => void): void {
    this.scalarSinks.push(sink);
  }

  write(row: LogRow): void {
    this.rows.push(row);
    appendFileChecked(this.jsonl, JSON.stringify(row) + '\n');
    const fresh = Object.keys(row).filter((k) => !this.keys.includes(k));
    if (fresh.length) { this.keys.push(...fresh); this.rewriteCsv(); }
    else appendFileChecked(this.csv, this.csvLine(row));
    const step = Number(row.iter);
    for (const sink of this.scalarSinks) {
      for (const [k, v] of Object.entries(row)) {
        if (k === 'iter' || typeof v !== 'number') continue;
        sink(tagOf(k, 'val_loss' in row), step, v);
      }
    }
  }

  private csvLine(row: LogRow): string {
    return csvLine(this.keys.map((k) => row[k])) + '\n';
  }

  private rewriteCsv(): void {
    writeFileAtomic(this.csv, this.keys.join(',') + '\n' + this.rows.map((r) => this.csvLine(r)).join(''));
  }
}

/** TensorBoard tag of a log key: train/loss (every logged iteration), lr, val/loss, eval/train_loss, eval/<metric>. */
function tagOf(key: string, isEval: boolean): string {
  if (key === 'lr') return 'lr';
  if (key === 'val_loss') return 'val/loss';
  return isEval ? `eval/${key}` : `train/${key}`;
}

/**
 * A one-line progress bar on stderr when it is a terminal, or when NORMLAB_PROGRESS=1 (set by a
 * sweep or a worker, which read the redraws from the pipe and show them on their own terminal);
 * silent otherwise.
 */
export class Progress {
  private tty: boolean;
  private last = 0;
  constructor(private total: number, enabled: boolean) {
    this.tty = enabled && (Boolean(process.stderr.isTTY) || process.env.NORMLAB_PROGRESS === '1');
  }
  update(iter: number, loss: number, tokPerSec: number, etaS: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100 && iter < this.total) return;
    this.last = now;
    const width = 24, done = Math.round((width * iter) / Math.max(1, this.total));
    const bar = '#'.repeat(done) + '.'.repeat(width - done);
    process.stderr.write(`\r[${bar}] ${iter}/${this.total} loss ${loss.toFixed(4)} ${Math.round(tokPerSec)} tok/s ETA ${formatDuration(etaS)}  `);
  }
  /** Print a line above the bar. */
  say(line: string): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
    console.log(line);
  }
  end(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}
