// `normlab inspect <dir> [--runs] [--baseline SPEC] [--metric M] [--sort val_loss|name|iter] [--json]`:
// the runs below <dir> (src/sweep/runs.ts). Runs that differ only in their seed are grouped, with
// mean, sd and 95% interval per group and an optional paired comparison with a baseline
// (src/stats/groups.ts); --runs lists every run with the flags that differ, best validation loss,
// its iteration and status.
import { UserError } from '../util/errors.js';
import { effectTable, groupTable, inspectDir, inspectGroups, inspectTable, weightsOnly, type InspectedRun, type InspectSort } from '../sweep/runs.js';
import { mainEffects } from '../stats/effects.js';
import { compareToBaseline, findGroup, METRICS, type Metric } from '../stats/groups.js';

export const INSPECT_HELP = `usage: normlab inspect <dir> [--runs] [--baseline SPEC | --effect FLAG [--reference VALUE]] [--metric M] [--sort val_loss|name|iter] [--json]

Lists every run folder below <dir> (one holding summary.json, state.json or ckpt.safetensors)
with the flags that differ between the runs. Runs that differ only in --seed (a sweep with
--seeds N) are grouped: one row per combination with the seeds finished / run, the best and
final validation loss as mean ± half width of the 95% Student t interval, the interval and
the standard deviation, sorted by mean best validation loss.

  --runs           one row per run instead (best validation loss, its iteration, iterations
                   trained, status); the default when no combination has two seeds

A flag that a run does not use (kRMSNorm's k in an rmsnorm run) is not one of its factors: it is
left out of its label and shown as '-'. '↓' marks runs whose best validation loss was at their last
evaluation: still improving when they stopped (longer training may change the ranking).
Folders holding only weights (a playground download) are listed apart, not as runs.
  --baseline SPEC  compare every combination with this one on the seeds both finished (paired
                   differences, their mean and 95% interval); the verdict says whether the
                   interval excludes zero, i.e. the difference is larger than the seed noise.
                   SPEC names the combination: relu, or activation_variant=relu,norm_variant_attn=rmsnorm
  --effect FLAG    the main effect of one factor: each value of FLAG against the reference value,
                   paired over seeds and over the other factors (within each combination of them,
                   and overall: per seed the mean difference over the combinations, then the 95%
                   interval over seeds), with verdicts; e.g. --effect norm_variant_attn
  --reference V    the value --effect compares with (default: the first value the sweep lists)
  --metric M       what --baseline and --effect compare: ${METRICS.join(', ')} (default best_val_loss)
  --sort S         with --runs: val_loss (default), name, or iter (iteration of the best val loss)
  --json           one JSON object per row`;

const SORTS: readonly InspectSort[] = ['val_loss', 'name', 'iter'];

function optionValue(argv: string[], i: number, name: string): [string, number] {
  const tok = argv[i];
  if (tok.includes('=')) return [tok.slice(tok.indexOf('=') + 1), i];
  if (i + 1 >= argv.length) throw new UserError(`${name} needs a value (see normlab inspect --help)`);
  return [argv[i + 1], i + 1];
}

interface InspectOptions {
  dir: string; sort: InspectSort; json: boolean; allRuns: boolean; metric: Metric;
  baseline: string | null; effect: string | null; reference: string | null;
}

/** The command line of `normlab inspect`, checked; null for --help (printed). */
function parseInspect(argv: string[]): InspectOptions | null {
  let dir: string | null = null;
  const o: Omit<InspectOptions, 'dir'> = { sort: 'val_loss', json: false, allRuns: false, metric: 'best_val_loss', baseline: null, effect: null, reference: null };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    const opt = tok.split('=')[0];
    if (tok === '-h' || tok === '--help') { process.stdout.write(INSPECT_HELP + '\n'); return null; }
    if (tok === '--json') { o.json = true; continue; }
    if (tok === '--runs') { o.allRuns = true; continue; }
    if (opt === '--sort') {
      const [v, j] = optionValue(argv, i, '--sort');
      i = j;
      if (!SORTS.includes(v as InspectSort)) throw new UserError(`--sort: '${v}' is not one of ${SORTS.join(', ')}`);
      o.sort = v as InspectSort;
      continue;
    }
    if (opt === '--baseline') { [o.baseline, i] = optionValue(argv, i, '--baseline'); continue; }
    if (opt === '--effect') { [o.effect, i] = optionValue(argv, i, '--effect'); continue; }
    if (opt === '--reference') { [o.reference, i] = optionValue(argv, i, '--reference'); continue; }
    if (opt === '--metric') {
      const [v, j] = optionValue(argv, i, '--metric');
      i = j;
      if (!(METRICS as readonly string[]).includes(v)) throw new UserError(`--metric: '${v}' is not one of ${METRICS.join(', ')}`);
      o.metric = v as Metric;
      continue;
    }
    if (tok.startsWith('-')) throw new UserError(`unknown option ${tok} (see normlab inspect --help)`);
    if (dir !== null) throw new UserError(`one folder at a time: got '${dir}' and '${tok}'`);
    dir = tok;
  }
  if (dir === null) throw new UserError('which folder? usage: normlab inspect <dir> [--runs] [--baseline SPEC]');
  if (o.allRuns && (o.baseline !== null || o.effect !== null)) throw new UserError(`${o.baseline !== null ? '--baseline' : '--effect'} compares combinations: leave out --runs`);
  if (o.baseline !== null && o.effect !== null) throw new UserError('--baseline and --effect are two views: give one of them');
  if (o.reference !== null && o.effect === null) throw new UserError('--reference goes with --effect FLAG');
  return { dir, ...o };
}

export async function inspectCommand(argv: string[]): Promise<number> {
  const o = parseInspect(argv);
  if (!o) return 0;
  const { dir, json, metric } = o;
  const { runs, flags } = inspectDir(dir, o.sort);
  const weights = runs.filter(weightsOnly);
  const trained = weights.length < runs.length ? runs.filter((r) => !weightsOnly(r)) : runs;
  const grouped = inspectGroups(runs, flags, dir);
  if (o.effect !== null) return effectView(grouped, o.effect, o.reference, metric, json);
  const weightsNote = () => {
    if (weights.length > 0 && weights.length < runs.length && !json) {
      process.stdout.write(`weights only (a checkpoint without a training run's log, e.g. a playground download; not counted): ${weights.map((r) => r.path).join(', ')}\n`);
    }
  };
  if (o.allRuns || (!grouped.repeated && o.baseline === null)) {
    printRuns(trained, flags, json);
    if (!json) process.stdout.write(`${trained.length} run${trained.length === 1 ? '' : 's'} under ${dir}${flags.length > 0 ? `; they differ in ${flags.join(', ')}` : ''}` +
      `${trained.some((r) => r.improving) ? '; ↓: best at the last evaluation (still improving)' : ''}\n`);
    weightsNote();
    return 0;
  }
  groupsView(runs, trained.length, grouped, o);
  weightsNote();
  return 0;
}

type Grouped = ReturnType<typeof inspectGroups>;

/** --effect FLAG: the main effect table (or JSON rows). */
function effectView(grouped: Grouped, effect: string, reference: string | null, metric: Metric, json: boolean): number {
  if (!grouped.by.includes(effect)) throw new UserError(`--effect ${effect}: not a factor that varies here; the factors are ${grouped.by.join(', ') || '(none)'}`);
  const e = mainEffects(grouped.points, effect, grouped.by, metric, reference ?? undefined);
  if (json) { for (const r of e.rows) process.stdout.write(JSON.stringify({ flag: e.flag, reference: e.reference, level: r.level, within: r.stratum, strata: r.strata, metric, ...r.paired }) + '\n'); return 0; }
  process.stdout.write(effectTable(e) + '\n');
  process.stdout.write(`main effect of ${effect} on ${metric}: Δ = ${effect} value - ${e.reference}, paired on seeds within each combination of ` +
    `${e.others.join(', ') || 'the other flags'}; 'all' averages the combinations per seed, the interval is over seeds (95% t)\n`);
  return 0;
}

/** The combinations (over seeds), against --baseline when given: a table, or JSON rows. */
function groupsView(runs: InspectedRun[], nTrained: number, grouped: Grouped, o: InspectOptions): void {
  const { by, groups, points } = grouped, { metric, json, dir } = o;
  let compare;
  if (o.baseline !== null) {
    const base = findGroup(groups, by, o.baseline);
    compare = { baseline: base, metric, result: compareToBaseline(points, groups, base, metric) };
  }
  if (json) {
    for (const g of groups) {
      const row: Record<string, unknown> = { ...g.flags, label: g.label, seeds: g.seeds, finished: g.finished, improving: g.improving, runs: g.runs, ...g.stats,
        ...runs.find((r) => r.path === g.runs[0])?.cost };
      if (compare) row[`paired_${metric}`] = g === compare.baseline ? null : compare.result.get(g.key);
      process.stdout.write(JSON.stringify(row) + '\n');
    }
    return;
  }
  // Operations per token of the variants (docs/cost.md): the same for every seed of a combination.
  const byPath = new Map(runs.map((r) => [r.path, r]));
  const opsOf = (g: (typeof groups)[number]) => byPath.get(g.runs[0])?.cost?.cost_inference_ops ?? null;
  process.stdout.write(groupTable(groups, by, compare, opsOf) + '\n');
  process.stdout.write(`${groups.length} combinations of ${nTrained} runs under ${dir}` +
    `${by.length > 0 ? ` (${by.join(', ')}), repeated over seeds` : ''}; ± is the half width of the 95% t interval` +
    `${compare ? `; Δ = combination - baseline (${compare.baseline.label}) over common seeds` : ''}` +
    `${groups.some((g) => g.improving > 0) ? '; improving ↓ k/n: k runs had their best at the last evaluation (still improving)' : ''}; --runs lists every run\n`);
}

function printRuns(runs: InspectedRun[], flags: string[], json: boolean): void {
  if (!json) { process.stdout.write(inspectTable(runs, flags) + '\n'); return; }
  for (const r of runs) {
    const o: Record<string, unknown> = { path: r.path };
    for (const k of flags) o[k] = r.factors?.[k] ?? null;
    Object.assign(o, { best_val_loss: r.best_val_loss, best_iter: r.best_iter, iters: r.iters, still_improving: r.improving, status: r.status, ...r.cost });
    process.stdout.write(JSON.stringify(o) + '\n');
  }
}
