// A worker's copy of a training run's state into Redis (docs/queue.md), read by the follower.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { logKey, runKey } from './jobs.js';

/**
 * Mirrors a run folder's log.jsonl and summary.json, and the run's progress bar, into Redis. Each
 * attempt bumps `gen` and starts the list again from the file, and so does a change that is not an
 * append (a resumed run trims its log), so a follower that sees a new gen re-reads the whole list.
 */
export class RunSync {
  private sent: string[] = [];
  private summary: string | null = null;
  /** The latest state of the run's progress bar (from its output's '\r' redraws). */
  progress = '';
  private progressSent = '';
  private busy: Promise<void> = Promise.resolve();
  constructor(private conn: Redis, private queue: string, private id: string, private dir: string) {}

  async start(worker: string, action: string): Promise<void> {
    await this.conn.hset(runKey(this.queue, this.id), { worker, action, progress: '' });
    await this.reset();
  }

  private fileLines(): string[] {
    let text = '';
    try { text = readFileSync(join(this.dir, 'log.jsonl'), 'utf8'); } catch { return []; }
    const lines = text.split('\n');
    lines.pop(); // the part after the last newline is not complete yet
    return lines;
  }

  private async reset(): Promise<void> {
    const lines = this.fileLines();
    const m = this.conn.multi().hincrby(runKey(this.queue, this.id), 'gen', 1).del(logKey(this.queue, this.id));
    if (lines.length > 0) m.rpush(logKey(this.queue, this.id), ...lines);
    await m.exec();
    this.sent = lines;
  }

  /** Sends what changed; calls are serialized. */
  push(): Promise<void> {
    this.busy = this.busy.then(() => this.pushNow(), () => this.pushNow());
    return this.busy;
  }

  private async pushNow(): Promise<void> {
    const lines = this.fileLines();
    const isAppend = lines.length >= this.sent.length && this.sent.every((l, i) => l === lines[i]);
    if (!isAppend) await this.reset();
    else if (lines.length > this.sent.length) {
      await this.conn.rpush(logKey(this.queue, this.id), ...lines.slice(this.sent.length));
      this.sent = lines;
    }
    if (this.progress !== this.progressSent) {
      const bar = this.progress;
      await this.conn.hset(runKey(this.queue, this.id), 'progress', bar);
      this.progressSent = bar;
    }
    let s: string | null = null;
    try { s = readFileSync(join(this.dir, 'summary.json'), 'utf8'); } catch { /* not written yet */ }
    if (s !== null && s !== this.summary) {
      try { JSON.parse(s); } catch { return; } // caught mid-write
      await this.conn.hset(runKey(this.queue, this.id), 'summary', s);
      this.summary = s;
    }
  }
}
