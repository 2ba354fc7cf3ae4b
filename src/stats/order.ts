// The order a sweep gave its runs and flags, from sweep.json beside the run folders (written by the
// sweep runner: `varied`, `runs[].name`), so grouped views list combinations and label them as the
// exploration file does (`relu · krmsnorm`, relu before gelu) rather than in folder or config order.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Runs (anything with a folder `dir`) ordered as their sweeps list them (others after, in the given
 * order); `flags`: the sweeps' varied flags in their order (the caller puts other flags after).
 */
export function sweepOrder<R extends { dir: string }>(runs: readonly R[]): { runs: R[]; flags: string[] } {
  const manifests = new Map<string, { varied: string[]; names: string[] }>();
  for (const r of runs) {
    const dir = dirname(r.dir);
    if (manifests.has(dir)) continue;
    let m: { varied?: unknown; runs?: unknown } = {};
    try { m = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as typeof m; } catch { /* not a sweep's folder */ }
    manifests.set(dir, {
      varied: Array.isArray(m.varied) ? m.varied.filter((k): k is string => typeof k === 'string') : [],
      names: Array.isArray(m.runs) ? m.runs.map((x) => String((x as { name?: unknown }).name)) : [],
    });
  }
  const dirs = [...manifests.keys()];
  const rank = (r: R): number => {
    const d = dirname(r.dir), i = manifests.get(d)!.names.indexOf(basename(r.dir));
    return i < 0 ? Infinity : dirs.indexOf(d) * 1e6 + i;
  };
  const ordered = runs.map((r, i) => ({ r, i, k: rank(r) })).sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.r);
  return { runs: ordered, flags: [...new Set([...manifests.values()].flatMap((m) => m.varied))] };
}

/** `flags` with those the sweeps name first, in the sweeps' order. */
export function orderFlags(flags: readonly string[], sweepFlags: readonly string[]): string[] {
  return [...sweepFlags.filter((k) => flags.includes(k)), ...flags.filter((k) => !sweepFlags.includes(k))];
}
