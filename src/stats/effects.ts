// Main effects of one factor (docs/sweep.md, "Main effects"): each level of the flag against a
// reference level, paired over seeds and over the other factors. For level L and the reference R:
//   within each combination s of the other factors (a stratum), on each seed both finished,
//     d(s, seed) = metric(L, s, seed) - metric(R, s, seed);
//   per stratum: the t interval of mean over seeds of d(s, seed) (pairedComparison);
//   overall: per seed, the mean of d over the strata both finished on that seed, then the t interval
//     of those per-seed means (n = seeds), so the other factors are averaged within a seed and the
//     interval is over independent repeats, not over correlated strata.
// The verdict says whether the interval excludes zero (stats.ts, pairedComparison).
import { UserError } from '../util/errors.js';
import { show, SEED, type Metric, type RunPoint } from './groups.js';
import { pairedComparison, type Paired } from './stats.js';

export interface EffectRow {
  level: string;
  /** The other factors' values of the stratum joined by ' · ', or 'all' for the overall effect. */
  stratum: string;
  /** Strata that contributed (the overall row); 1 for a stratum row. */
  strata: number;
  paired: Paired;
}

export interface Effects {
  flag: string;
  reference: string;
  levels: string[];
  others: string[];
  metric: Metric;
  rows: EffectRow[];
}

/** Levels of `flag` among the points, in order of first appearance (as text; unset is 'None'). */
export function levelsOf(points: readonly RunPoint[], flag: string): string[] {
  return [...new Set(points.filter((p) => p.flags[flag] !== undefined).map((p) => show(p.flags[flag])))];
}

export function mainEffects(points: readonly RunPoint[], flag: string, others: readonly string[], metric: Metric, reference?: string): Effects {
  const use = points.filter((p) => p.flags[flag] !== undefined);
  const levels = levelsOf(use, flag);
  if (levels.length === 0) throw new UserError(`--effect ${flag}: no run uses ${flag} (the flags that vary: ${others.join(', ') || 'none'})`);
  const ref = reference ?? levels[0];
  if (!levels.includes(ref)) throw new UserError(`--reference ${ref}: ${flag} takes ${levels.join(', ')} here`);
  const other = others.filter((k) => k !== flag && k !== SEED);
  // value[level][stratum][seed] = mean of the finished runs there
  const cell = new Map<string, Map<string, Map<string, number[]>>>();
  const strataLabel = new Map<string, string>();
  for (const p of use) {
    const v = p[metric];
    if (!p.ok || v === null || !Number.isFinite(v)) continue;
    const lv = show(p.flags[flag]);
    const key = JSON.stringify(other.map((k) => show(p.flags[k])));
    strataLabel.set(key, other.filter((k) => p.flags[k] !== undefined && p.flags[k] !== null).map((k) => show(p.flags[k])).join(' · ') || 'defaults');
    const seed = show(p.flags[SEED]);
    if (!cell.has(lv)) cell.set(lv, new Map());
    const byStratum = cell.get(lv)!;
    if (!byStratum.has(key)) byStratum.set(key, new Map());
    const bySeed = byStratum.get(key)!;
    if (!bySeed.has(seed)) bySeed.set(seed, []);
    bySeed.get(seed)!.push(v);
  }
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const seedMap = (m: Map<string, number[]> | undefined) => new Map([...(m ?? new Map<string, number[]>())].map(([s, xs]) => [s, avg(xs)]));
  const rows: EffectRow[] = [];
  const refCells = cell.get(ref) ?? new Map<string, Map<string, number[]>>();
  for (const lv of levels) {
    if (lv === ref) continue;
    const mine = cell.get(lv) ?? new Map<string, Map<string, number[]>>();
    const perSeed = new Map<string, number[]>();
    const strata: EffectRow[] = [];
    for (const [key, bySeed] of mine) {
      if (!refCells.has(key)) continue; // the reference was not trained with these other values
      const a = seedMap(refCells.get(key)), b = seedMap(bySeed);
      for (const [s, x] of b) {
        const r = a.get(s);
        if (r === undefined) continue;
        if (!perSeed.has(s)) perSeed.set(s, []);
        perSeed.get(s)!.push(x - r);
      }
      strata.push({ level: lv, stratum: strataLabel.get(key)!, strata: 1, paired: pairedComparison(a, b) });
    }
    const overall = pairedComparison(new Map([...perSeed.keys()].map((s) => [s, 0])), new Map([...perSeed].map(([s, ds]) => [s, avg(ds)])));
    rows.push({ level: lv, stratum: 'all', strata: strata.length, paired: overall });
    if (strata.length > 1) rows.push(...strata);
  }
  return { flag, reference: ref, levels, others: other, metric, rows };
}
