// The playground page (bundled for the browser by scripts/build-playground.mjs): a form built from
// the train flag table (src/config), checked by the same parser and config checks as `normlab train`
// (so the messages are the CLI's), the equivalent command line, and the training worker's progress
// drawn with uPlot (loaded by index.html as a global).
import { checkTrainConfig, defaultConfig, FLAGS, parseFlags, showValue, type FlagSpec } from '../../config/config.js';
import { norms } from '../../nn/norms/norm-registry.js';
import { activations } from '../../nn/activations/activation-registry.js';
import type { TrainConfig } from '../../config/config-types.js';

declare const uPlot: new (opts: unknown, data: unknown, el: HTMLElement) => { setData(d: unknown): void; destroy(): void };

/** The playground's starting point: the 2-layer, 64-wide model, 300 iterations (shown as given flags). */
const START: Record<string, string> = {
  n_layer: '2', n_head: '4', n_embd: '64', block_size: '64', batch_size: '12', max_iters: '300', eval_interval: '100', eval_iters: '20',
};
/** Run flags shown on the form (the rest keep their defaults: files, logging, backend). */
const RUN_SHOWN = ['batch_size', 'max_iters', 'learning_rate', 'min_lr', 'decay_lr', 'warmup_iters', 'lr_decay_iters', 'weight_decay',
  'beta1', 'beta2', 'grad_clip', 'gradient_accumulation_steps', 'seed', 'eval_interval', 'eval_iters'];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('flags');
const values = new Map<string, string>(); // flag -> text as typed (bool: 'true' / 'false')
for (const f of FLAGS) values.set(f.name, START[f.name] ?? showValue(f.default));
let backend = 'wasm';

function variantFlagNames(cfg: Record<string, unknown>): Set<string> {
  const used = new Set<string>();
  const add = (v: { flags?: readonly { name: string }[] } | undefined) => { for (const f of v?.flags ?? []) used.add(f.name); };
  add(norms[cfg.norm_variant_attn as keyof typeof norms]);
  add(norms[cfg.norm_variant_output as keyof typeof norms]);
  add(activations[cfg.activation_variant as keyof typeof activations]);
  // a norm built around an activation (Variant.wraps: dact) shows that activation's flags too
  for (const n of [cfg.norm_variant_attn, cfg.norm_variant_output]) {
    const inner = norms[n as keyof typeof norms]?.wraps?.activation(cfg as never);
    if (inner !== undefined) add(activations[inner as keyof typeof activations]);
  }
  return used;
}

/** Flags on the form now: model, placement, the used variants' own flags, the run flags above. */
function shown(cfg: Record<string, unknown>): FlagSpec[] {
  const own = variantFlagNames(cfg);
  return FLAGS.filter((f) => f.group === 'model' || ['norm_variant_attn', 'norm_variant_output', 'use_pre_ln', 'use_post_ln', 'use_peri_ln', 'activation_variant'].includes(f.name)
    || own.has(f.name) || RUN_SHOWN.includes(f.name) || QUANT_SHOWN(f));
}

/** The quantization flags on the form: every switch and the group-level widths and methods (the
 * per-point and per-layer overrides, all None by default, stay on the command line). */
const QUANT_SHOWN = (f: FlagSpec): boolean => f.group === 'quantization' && (f.default !== null || f.type === 'bool' || f.name === 'quant_scheduler' || f.name === 'full_quant_iteration');

/** argv of the flags that differ from their defaults, as `normlab train` takes them. */
function argvOf(flags: FlagSpec[]): string[] {
  const argv: string[] = [];
  for (const f of flags) {
    const text = values.get(f.name)!;
    if (text === showValue(f.default)) continue;
    if (f.type === 'bool') argv.push(text === 'true' ? `--${f.name}` : `--no-${f.name}`);
    else argv.push(`--${f.name}`, text);
  }
  return argv;
}

/** Parse and check as the CLI does: the config, or the CLI's message. */
function configOf(): { cfg: TrainConfig | null; argv: string[]; problem: string | null; warnings: string[] } {
  let flags = shown(Object.fromEntries([...values].map(([k, v]) => [k, v])));
  let argv = argvOf(flags);
  try {
    // Twice: the variants chosen decide which of their flags are on the form.
    let parsed = parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>, { maxPositional: 0 });
    flags = shown(parsed.config);
    argv = argvOf(flags);
    parsed = parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>, { maxPositional: 0 });
    const cfg = { ...parsed.config, backend } as unknown as TrainConfig;
    const warnings = checkTrainConfig(cfg);
    return { cfg, argv, problem: null, warnings };
  } catch (e) {
    return { cfg: null, argv, problem: e instanceof Error ? e.message : String(e), warnings: [] };
  }
}

function quote(s: string): string {
  return /^[\w.,:+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function commandLine(argv: string[]): string {
  return ['normlab', 'train', ...argv, '--backend', backend].map(quote).join(' ');
}

/** The flags on the form now (names in order): the form is rebuilt only when this changes. */
let formKey: string | null = null;

/**
 * Updates the form from `values`. The fields are rebuilt only when the set of flags shown changes
 * (a variant chosen brings its own flags); otherwise they stay the same elements, so a value
 * changed and a click straight into another field keeps that field focused with what is typed
 * there (a rebuild on every change dropped the focus to the page and lost the second value).
 * A rebuild puts the focus and the caret back on the field of the same name.
 */
function render(): void {
  const { cfg, argv, problem, warnings } = configOf();
  const flags = shown(cfg ?? Object.fromEntries(values));
  const key = flags.map((f) => `${f.name}:${f.type}`).join(',');
  if (key !== formKey) { rebuildForm(flags); formKey = key; }
  for (const label of form.querySelectorAll<HTMLLabelElement>('label[data-flag]')) {
    label.classList.toggle('invalid', !!problem && problem.includes(`--${label.dataset.flag}`));
  }
  $('problems').textContent = problem ?? warnings.map((w) => `warning: ${w}`).join('\n');
  $('command').textContent = commandLine(argv);
  ($('train') as HTMLButtonElement).disabled = !cfg || running;
}

function rebuildForm(flags: ReturnType<typeof shown>): void {
  const active = document.activeElement as HTMLInputElement | null;
  const focusName = active && form.contains(active) ? active.name : null;
  const caret = active && active.type === 'text' ? [active.selectionStart, active.selectionEnd] : null;
  form.replaceChildren();
  const groups = new Map<string, HTMLFieldSetElement>();
  for (const f of flags) {
    let fs = groups.get(f.group);
    if (!fs) {
      fs = document.createElement('fieldset');
      const lg = document.createElement('legend');
      lg.textContent = f.group;
      fs.append(lg);
      groups.set(f.group, fs);
      form.append(fs);
    }
    const label = document.createElement('label');
    label.title = f.help;
    label.dataset.flag = f.name;
    const name = document.createElement('span');
    name.textContent = f.name;
    let input: HTMLInputElement | HTMLSelectElement;
    const text = values.get(f.name)!;
    if (f.type === 'bool') {
      input = document.createElement('input');
      input.type = 'checkbox';
      input.checked = text === 'true';
      input.onchange = () => { values.set(f.name, (input as HTMLInputElement).checked ? 'true' : 'false'); render(); };
    } else if (f.choices) {
      input = document.createElement('select');
      for (const c of f.choices) input.append(new Option(c, c, false, c === text));
      input.onchange = () => { values.set(f.name, input.value); render(); };
    } else {
      input = document.createElement('input');
      input.type = 'text';
      input.value = text;
      // Every keystroke is kept (a rebuild then shows it); the checks run when the field is left.
      input.oninput = () => { values.set(f.name, input.value.trim()); };
      input.onchange = () => { values.set(f.name, input.value.trim()); render(); };
    }
    input.name = f.name;
    label.append(name, input);
    fs.append(label);
  }
  const be = document.createElement('fieldset');
  be.innerHTML = '<legend>backend</legend>';
  const sel = document.createElement('select');
  sel.name = 'backend';
  for (const b of ['wasm', 'ts']) sel.append(new Option(b, b, false, b === backend));
  sel.onchange = () => { backend = sel.value; render(); };
  be.append(sel);
  form.append(be);
  if (focusName) {
    const again = form.querySelector<HTMLInputElement>(`[name="${CSS.escape(focusName)}"]`);
    again?.focus();
    if (again && caret && again.type === 'text') again.setSelectionRange(caret[0], caret[1]);
  }
}

// ---- training: the worker, charts, status

let worker: Worker | null = null;
let running = false;
const steps: [number[], number[]] = [[], []];
const evals: { iter: number; train: number; val: number }[] = [];
let lossPlot: { setData(d: unknown): void; destroy(): void } | null = null;
let actPlot: { setData(d: unknown): void; destroy(): void } | null = null;
let actKey = '';

function lossData(): unknown {
  const xs = [...steps[0]], train = [...steps[1]], val: (number | null)[] = xs.map(() => null), evalTrain: (number | null)[] = xs.map(() => null);
  for (const e of evals) {
    xs.push(e.iter); train.push(null as unknown as number); val.push(e.val); evalTrain.push(e.train);
  }
  const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  return [order.map((i) => xs[i]), order.map((i) => train[i]), order.map((i) => val[i]), order.map((i) => evalTrain[i])];
}

function drawLoss(): void {
  const el = $('loss-chart');
  if (!lossPlot) {
    lossPlot = new uPlot({
      width: Math.max(400, el.clientWidth || 700), height: 280, scales: { x: { time: false } },
      series: [{ label: 'iter' }, { label: 'train step', stroke: '#1f77b4', spanGaps: true },
        { label: 'val (eval)', stroke: '#d62728', points: { show: true, size: 7 }, width: 0, spanGaps: false },
        { label: 'train (eval)', stroke: '#2ca02c', points: { show: true, size: 7 }, width: 0, spanGaps: false }],
    }, lossData(), el);
  } else lossPlot.setData(lossData());
  el.dataset.points = String(steps[0].length);
}

function drawCurves(c: { variant: string; xs: number[]; initial: number[]; layers: { label: string; ys: number[] }[] } | null): void {
  const fig = $('act-figure'), el = $('act-chart');
  fig.hidden = !c;
  if (!c) return;
  $('act-name').textContent = c.variant;
  const key = `${c.variant}:${c.layers.length}`;
  const data = [c.xs, c.initial, ...c.layers.map((l) => l.ys)];
  if (actPlot && actKey !== key) { actPlot.destroy(); actPlot = null; }
  if (!actPlot) {
    const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];
    actPlot = new uPlot({
      width: Math.max(400, el.clientWidth || 700), height: 260, scales: { x: { time: false } },
      series: [{ label: 'x' }, { label: 'initial', stroke: '#999', dash: [6, 4] },
        ...c.layers.map((l, i) => ({ label: l.label, stroke: colors[i % colors.length] }))],
    }, data, el);
    actKey = key;
  } else actPlot.setData(data);
  el.dataset.layers = String(c.layers.length);
}

function setRunning(on: boolean): void {
  running = on;
  ($('stop') as HTMLButtonElement).disabled = !on;
  ($('resume') as HTMLButtonElement).disabled = on || !worker;
  ($('download') as HTMLButtonElement).disabled = !worker;
  render();
}

function status(text: string, iter?: number): void {
  const s = $('status');
  s.textContent = text;
  if (iter !== undefined) s.dataset.iter = String(iter);
}

function onMessage(ev: MessageEvent): void {
  const m = ev.data;
  if (m.type === 'ready') {
    $('status').dataset.threads = String(m.threads);
    status(`training: ${m.params.toLocaleString('en-US')} parameters, backend ${m.backend} (${m.threads} thread${m.threads > 1 ? 's' : ''})`);
  }
  else if (m.type === 'step') {
    steps[0].push(m.iter); steps[1].push(m.loss);
    status(`iter ${m.iter + 1}: loss ${m.loss.toFixed(4)}, ${m.ms.toFixed(1)} ms/iter, ${Math.round(m.tokPerS)} tok/s`, m.iter + 1);
    if (m.iter % 5 === 0) drawLoss();
  } else if (m.type === 'eval') {
    evals.push({ iter: m.iter, train: m.train, val: m.val });
    const s = $('status');
    s.dataset.lastEvalIter = String(m.iter);
    s.dataset.lastVal = String(m.val);
    s.dataset.lastTrain = String(m.train);
    drawLoss();
    drawCurves(m.curves);
    $('sample').textContent = m.sample;
  } else if (m.type === 'stopped') {
    setRunning(false);
    status(`stopped at iter ${m.iter}: Resume continues, Download saves the weights`, m.iter);
  } else if (m.type === 'done') {
    setRunning(false);
    drawLoss();
    const s = $('status');
    s.dataset.done = 'true';
    s.dataset.msPerIter = String(m.msPerIter);
    status(`done: ${m.iter} iterations, ${m.msPerIter.toFixed(1)} ms/iter, ${Math.round(m.tokPerS)} tok/s; val loss ${evals.at(-1)?.val.toFixed(4)}`, m.iter);
  } else if (m.type === 'checkpoint') {
    const url = URL.createObjectURL(new Blob([m.bytes], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url; a.download = 'ckpt.safetensors';
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } else if (m.type === 'error') {
    setRunning(false);
    $('problems').textContent = m.message;
    status('stopped by an error');
  }
}

$('train').onclick = () => {
  const { cfg } = configOf();
  if (!cfg) return;
  worker?.terminate();
  worker = new Worker('worker.js', { type: 'module' });
  worker.onmessage = onMessage;
  worker.onerror = (e) => { $('problems').textContent = `worker error: ${e.message}`; setRunning(false); };
  steps[0].length = 0; steps[1].length = 0; evals.length = 0;
  delete $('status').dataset.done;
  lossPlot?.destroy(); lossPlot = null;
  setRunning(true);
  status('loading data and kernels…', 0);
  worker.postMessage({ type: 'start', config: cfg, backend });
};
$('stop').onclick = () => worker?.postMessage({ type: 'stop' });
$('resume').onclick = () => { if (worker) { setRunning(true); worker.postMessage({ type: 'resume' }); } };
$('download').onclick = () => worker?.postMessage({ type: 'checkpoint' });
$('copy').onclick = () => {
  const text = $('command').textContent ?? '';
  navigator.clipboard?.writeText(text).catch(() => { /* not allowed here: the command is on the page to select */ });
};

render();
