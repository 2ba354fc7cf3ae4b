// sweep.json, the record of what a sweep folder holds (docs/sweep.md): the flags that vary, every
// run's name and train flags, and the facts the front end adds (source file, queue, Redis URL).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan, PlannedRun } from './plan.js';

/** sweep.json: the runs and their flags, plus the facts in `manifest`. */
export function writeManifest(sweepDir: string, plan: Plan, manifest: Record<string, unknown> = {}): void {
  writeFileSync(join(sweepDir, 'sweep.json'), JSON.stringify({
    ...manifest, varied: plan.varied, runs: plan.runs.map((r) => ({ name: r.name, argv: r.argv })),
  }, null, 2) + '\n');
}

/** Flag values of the varied flags, as the run gets them (a results row's columns). */
export function variedValues(run: PlannedRun, varied: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of varied) o[k] = run.config[k] ?? null;
  return o;
}
