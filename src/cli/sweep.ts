// `normlab sweep <file.json|file.yaml> [sweep options] [train flags for every run]`
// Expands the exploration file (src/sweep/grammar.ts), validates every run before the first starts
// (src/sweep/plan.ts), runs them one after the other (src/sweep/runner.ts) and prints the results
// table sorted by validation loss (src/sweep/results.ts).
import { checkTrainConfig } from '../config/config.js';
import { basename, extname, join } from 'node:path';
import { UserError } from '../util/errors.js';
import { expandSweeps, flagSpec, loadSweepFile, repeatSeeds } from '../sweep/grammar.js';
import { planSweep, type Plan } from '../sweep/plan.js';
import { runSweep, type SweepOutcome } from '../sweep/runner.js';
import { resultsTable, rowFactors } from '../sweep/results.js';
import { groupRuns, SEED, stillImproving } from '../stats/groups.js';
import { groupTable } from '../sweep/runs.js';
import { withStopSignals } from './signals.js';

export const SWEEP_HELP = `usage: normlab sweep <file.json|file.yaml> [options] [train flags]

Trains every combination of the exploration file, one run after the other, each in
<sweep_dir>/<run name>, then prints the runs sorted by best validation loss and writes
<sweep_dir>/results.csv and results.jsonl. Run it again to continue: finished runs are
skipped, failed ones retried, interrupted ones resumed from their checkpoint.

options:
  --sweep_dir DIR     folder of the sweep (default: sweeps/<file name without extension>)
  --seeds N           train every combination N times, with seeds s, s+1, ..., s+N-1 (s: the
                      file's or the command line's --seed, else the default 1337); the runs'
                      names end in _seed-S and the results group them (mean, sd, 95% interval;
                      see normlab inspect). A seed list in the file does the same.
  --ignore_unknown    drop flags normlab train does not have (they are named once) and run
  --dry_run           validate and list the runs with their train flags; run nothing
  --quiet             hide the training output of the runs (failures still show theirs)
  --queue URL         queue the runs on Redis for \`normlab worker\` processes on any machine and
                      follow them (redis://[user:password@]host:port[/db], rediss:// for TLS);
                      the sweep folder fills in as results arrive (docs/queue.md); the
                      password may come from NORMLAB_REDIS_PASSWORD instead of the URL
  --weights           with --queue: bring each run's final.safetensors back too
  --clean             with --queue: once every run is finished and in the sweep folder, remove
                      the sweep's queue and its keys from Redis (refused while the queue holds a
                      run that is not finished)
  -h, --help          this text

Any other flag is a train flag applied to every run, after the file's own flags, e.g.
  normlab sweep explorations/norm_variants.json --max_iters 100 --eval_interval 50
It may not set a flag that the file varies, nor --out_dir (each run gets its own).
Ctrl-C stops the current run cleanly (after its current iteration, saving its state there, from
which the next sweep resumes it) and writes the results so far.`;

interface SweepArgs {
  file: string; sweepDir: string | null; seeds: number | null; ignoreUnknown: boolean; dryRun: boolean; quiet: boolean; help: boolean;
  overrides: string[]; queue: string | null; weights: boolean; clean: boolean;
}

export function parseSweepArgs(argv: string[]): SweepArgs {
  const a: SweepArgs = { file: '', sweepDir: null, seeds: null, ignoreUnknown: false, dryRun: false, quiet: false, help: false, overrides: [], queue: null, weights: false, clean: false };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (tok === '-h' || tok === '--help') a.help = true;
    else if (tok === '--ignore_unknown') a.ignoreUnknown = true;
    else if (tok === '--dry_run') a.dryRun = true;
    else if (tok === '--quiet') a.quiet = true;
    else if (tok === '--weights') a.weights = true;
    else if (tok === '--clean') a.clean = true;
    else if (tok.startsWith('--queue=')) a.queue = tok.slice('--queue='.length);
    else if (tok === '--queue') {
      if (i + 1 >= argv.length) throw new UserError('--queue needs a Redis URL: redis://[user:password@]host:port[/db]');
      a.queue = argv[++i];
    } else if (tok.startsWith('--sweep_dir=')) a.sweepDir = tok.slice('--sweep_dir='.length);
    else if (tok === '--sweep_dir') {
      if (i + 1 >= argv.length) throw new UserError('--sweep_dir needs a folder');
      a.sweepDir = argv[++i];
    } else if (tok === '--seeds' || tok.startsWith('--seeds=')) {
      const v = tok.includes('=') ? tok.slice(tok.indexOf('=') + 1) : argv[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) throw new UserError(`--seeds needs a whole number >= 1, got '${v ?? ''}'`);
      a.seeds = Number(v);
    } else if (!a.file && !tok.startsWith('-') && /\.(json|ya?ml)$/i.test(tok)) a.file = tok;
    else a.overrides.push(tok);
  }
  return a;
}

export async function sweepCommand(argv: string[]): Promise<number> {
  const args = parseSweepArgs(argv);
  if (args.help) { process.stdout.write(SWEEP_HELP + '\n'); return 0; }
  if (!args.file) throw new UserError('which exploration file? usage: normlab sweep <file.json|file.yaml> (see normlab sweep --help)');

  let combos = expandSweeps(loadSweepFile(args.file));
  let overrides = args.overrides;
  if (args.seeds !== null) {
    // A --seed after the file is the first seed of the repeats, not a fixed flag that would clash.
    const at = overrides.findIndex((t) => t === '--seed' || t.startsWith('--seed='));
    let base = flagSpec(SEED)!.default as number;
    if (at >= 0) {
      const glued = overrides[at].includes('=');
      const v = glued ? overrides[at].slice(overrides[at].indexOf('=') + 1) : overrides[at + 1];
      if (v === undefined || !/^-?\d+$/.test(v)) throw new UserError(`--seed needs a whole number, got '${v ?? ''}'`);
      base = Number(v);
      overrides = [...overrides.slice(0, at), ...overrides.slice(at + (glued ? 1 : 2))];
      combos = combos.map((c) => ({ ...c, seed: base }));
    }
    combos = repeatSeeds(combos, args.seeds, base);
  }
  const plan = planSweep(combos, { overrides, ignoreUnknown: args.ignoreUnknown, check: (c) => { checkTrainConfig(c); } });
  const sweepDir = args.sweepDir ?? join('sweeps', basename(args.file, extname(args.file)));
  if (plan.dropped.length > 0) {
    // The framework's flags that only say where or how it runs (docs/sweep.md, "--ignore_unknown") are
    // harmless to drop; any other dropped flag may change the model or its training there.
    const harmless = plan.dropped.filter((k) => RUNTIME_ONLY.has(k)), other = plan.dropped.filter((k) => !RUNTIME_ONLY.has(k));
    if (harmless.length > 0) console.log(`ignoring flags that only say where or how the framework runs: ${harmless.join(', ')}`);
    if (other.length > 0) {
      console.log(`warning: ignoring flags normlab train does not have, which may change the model or its training in the framework: ` +
        `${other.join(', ')}; these runs are normlab's model without them, not the file's (remove them from the file to silence this)`);
    }
  }
  if (plan.replacedValues.length > 0) {
    const byDefault = plan.replacedValues.map((r) => `${r.flag} ${r.value} -> ${String(r.default)}`);
    console.log(`ignoring values normlab refuses; those runs take the flag's default: ${byDefault.join(', ')}`);
  }
  if (plan.duplicates > 0) console.log(`${plan.duplicates} duplicate combinations removed`);
  console.log(`varied: ${plan.varied.length > 0 ? plan.varied.join(', ') : '(nothing)'}`);

  if (args.dryRun) {
    // With --queue, also what a queue refuses (paths), and the URL; no connection is made.
    if (args.queue !== null) {
      (await import('../sweep/redis.js')).parseRedisUrl(args.queue);
      (await import('../sweep/queue.js')).checkPlanForQueue(plan);
    }
    for (const r of plan.runs) console.log(`${r.name}\n    ${r.argv.join(' ')}`);
    console.log(`${plan.runs.length} runs would go to ${sweepDir}${args.queue !== null ? ' through the queue' : ''}`);
    return 0;
  }

  const manifest = { source: args.file, overrides: args.overrides, seeds: args.seeds, dropped: plan.dropped, droppedValues: plan.droppedValues };
  if (args.queue !== null) return sweepOnQueue(args.queue, args, plan, sweepDir, manifest);
  if (args.weights) throw new UserError('--weights goes with --queue (a local sweep always keeps final.safetensors)');
  if (args.clean) throw new UserError('--clean goes with --queue (it removes the sweep\'s queue from Redis; a local sweep has none)');
  const outcome = await withStopSignals('stopping: the current run stops after this iteration and saves its state there (Ctrl-C again to kill it)', (signal, killSignal) =>
    runSweep(plan, { sweepDir, signal, killSignal, quiet: args.quiet, manifest }));
  return report(outcome, plan, sweepDir, 'sweep stopped early: run it again to continue');
}

/** Framework flags about the machine, logging or compilation: dropping them changes no number. */
const RUNTIME_ONLY = new Set(['device', 'compile', 'wandb_log', 'wandb_project', 'wandb_run_name', 'tensorboard_run_name',
  'tensorboard_log_dir', 'tensorboard_project', 'csv_log', 'csv_dir', 'csv_name', 'print_model_info', 'log_btc_train', 'log_btc_per_param',
  'only_save_checkpoint_at_end', 'timestamp', 'save_major_ckpt_interval', 'sample_each_eval', 'quiet']);

function report(outcome: SweepOutcome, plan: Plan, sweepDir: string, stoppedNote: string): number {
  console.log('');
  if (outcome.rows.length > 0) console.log(resultsTable(outcome.rows));
  if (plan.varied.includes(SEED)) {
    const points = outcome.rows.map((r) => ({ ...r, flags: rowFactors(r), id: r.name, ok: r.status === 'ok',
      improving: stillImproving(r.best_iter, r.iters, null, r.status === 'ok') }));
    // Factors: varied flags with two values among the runs that use them (src/model/factors.ts).
    const by = plan.varied.filter((k) => k !== SEED && new Set(points.filter((p) => k in p.flags).map((p) => JSON.stringify(p.flags[k]))).size > 1);
    const groups = groupRuns(points, by);
    console.log(`\nrepeats grouped (mean ± half width of the 95% t interval over seeds):\n${groupTable(groups, by)}`);
    if (groups.length > 1 && by.length > 0) {
      const first = groups[0];
      const spec = by.filter((k) => first.flags[k] !== null && first.flags[k] !== undefined).map((k) => `${k}=${String(first.flags[k])}`).join(',');
      console.log(`compare with a baseline: normlab inspect ${sweepDir} --baseline ${spec}`);
      console.log(`main effect of a factor: normlab inspect ${sweepDir} --effect ${by[0]}`);
    }
  }
  const c = outcome.counts;
  console.log(`\n${c.ok + c.skipped} ok (${c.skipped} from earlier), ${c.failed} failed, ${c.interrupted} interrupted` +
    `${outcome.interrupted ? `, ${stoppedNote}` : ''}`);
  console.log(`results: ${join(sweepDir, 'results.csv')}, ${join(sweepDir, 'results.jsonl')}`);
  if (outcome.interrupted) return 130;
  return c.failed > 0 ? 2 : 0;
}

/** --queue: enqueue what is not done, follow until every run is finished (Ctrl-C only stops following). */
async function sweepOnQueue(url: string, args: SweepArgs, plan: Plan, sweepDir: string, manifest: Record<string, unknown>): Promise<number> {
  // Loaded only here: a local sweep does not load BullMQ.
  const { parseRedisUrl } = await import('../sweep/redis.js');
  const { followSweep } = await import('../sweep/queue.js');
  const target = parseRedisUrl(url);
  const outcome = await withStopSignals('stopped following; the runs go on, on the workers (run the same command again to follow them)',
    (signal) => followSweep(plan, { target, sweepDir, weights: args.weights, quiet: args.quiet, signal, manifest, clean: args.clean }));
  return report(outcome, plan, sweepDir, 'stopped following: run the same command again to follow the rest');
}
