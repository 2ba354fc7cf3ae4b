// normlab dashboard page: plain browser JavaScript, no framework; charts are uPlot.
// Data comes from /api/data (polled with If-None-Match: redraws only when a run wrote something),
// /api/groups (runs grouped over seeds: means, 95% intervals, paired comparisons and mean curves,
// all computed by the server, src/stats), /api/activations?run= and POST /api/sample.
// Test hooks: chart containers carry data-series / data-curves / data-points counts, table rows
// data-run, heat-map cells and bars data-mean / data-lo / data-hi; window.normlabPage exposes the
// smoothing function and the charts' data.
/* global uPlot */
'use strict';

const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(200, Number(params.get('poll')) || 3000);
// Okabe & Ito's colour-blind-safe palette (yellow last: faint on white); after 8 curves the colours
// repeat with another dash pattern.
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const DASHES = [[], [7, 3], [2, 3], [10, 3, 2, 3]];

const state = {
  data: null,
  version: null,
  selected: null, // run id
  hovered: null,
  sort: { col: 'best_val_loss', dir: 1 },
  filter: '',
  hidden: new Set(), // curve keys (run ids or group keys) hidden from the loss charts (legend clicks)
  groups: null, // /api/groups reply for the full grouping (curves, labels, comparison)
  groupsKey: null,
  factors: null, // /api/groups reply for the factors picture
  smoothing: 0.6,
  log: false,
  yAll: false, // y axis over every iteration (default: from the first evaluation past iteration 0)
  groupSeeds: true,
  effect: '', effectRef: '', // main effects: the flag, its reference value ('' : the first)
  metric: 'best_val_loss',
  baseline: '',
  rows: null, cols: null, rest: {}, // factors picture: flags on rows / columns, the others: '' (averaged) or a value
  columns: null, // visible result columns (null: the defaults)
  charts: {}, // train, val: { plot, key }
  metricPlots: [], // one per declared metric the selected run reported
  actPlots: [],
  actKey: null,
};

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};

/** Colour and dash of the k-th curve. */
function styleOf(k) {
  return { color: PALETTE[k % PALETTE.length], dash: DASHES[Math.floor(k / PALETTE.length) % DASHES.length] };
}

/** The curve (run or group) a run is drawn in, and its index among the curves. */
function curveOfRun(id) {
  const items = chartItems();
  const k = items.findIndex((it) => it.runs.includes(id));
  return { key: k >= 0 ? items[k].key : id, k: Math.max(0, k) };
}

function colorOf(id) { return styleOf(curveOfRun(id).k).color; }

function labelOf(id) { return (state.groups && state.groups.labels[id]) || id; }

/** The declaration of a metric column (data.metrics: name, label, format), or undefined. */
function metricOf(col) { return (state.data && state.data.metrics || []).find((m) => m.name === col); }

function fmt(v, col) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (metricOf(col) && metricOf(col).format === 'percent') return (100 * v).toFixed(1) + '%';
    if (Number.isInteger(v)) return col === 'params' || col === 'iters' ? v.toLocaleString('en-US') : String(v); // not a seed as 1,337
    if (col === 'wall_s') return v.toFixed(1);
    if (col === 'tokens_per_s') return Math.round(v).toLocaleString('en-US');
    return Math.abs(v) >= 1e-3 ? v.toFixed(4) : v.toPrecision(3);
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// ---------- loss charts ----------

/**
 * Exponential moving average as TensorBoard draws it: last = w * last + (1 - w) * y, divided by
 * 1 - w^k (k: finite points so far) to remove the bias toward the initial 0. Null / non-finite
 * points stay as they are and do not count; a constant series is left unchanged.
 */
function smooth(ys, w) {
  if (!(w > 0)) return ys.slice();
  const finite = ys.filter((y) => y !== null && Number.isFinite(y));
  if (finite.every((y) => y === finite[0])) return ys.slice();
  let last = 0, k = 0;
  return ys.map((y) => {
    if (y === null || !Number.isFinite(y)) return y;
    last = w * last + (1 - w) * y;
    k++;
    return last / (1 - Math.pow(w, k));
  });
}

/** What the charts draw: one curve per group (mean + band) when repeats are grouped, else one per run. */
function chartItems() {
  const g = state.groups;
  if (g && g.repeated && state.groupSeeds) {
    return g.groups.map((x) => ({ key: 'g:' + x.key, label: x.label, title: x.runs.join('\n'), runs: x.runs, band: true,
      train: x.curves.train, val: x.curves.val }));
  }
  const order = g ? g.groups.flatMap((x) => x.runs) : [];
  const at = (r) => { const i = order.indexOf(r.id); return i < 0 ? Infinity : i; };
  const runs = state.data.runs.map((r, i) => ({ r, i })).sort((a, b) => at(a.r) - at(b.r) || a.i - b.i).map((x) => x.r);
  return runs.map((r) => {
    const k = r.evals.iter.map((_, i) => i).filter((i) => r.evals.val_loss[i] !== null);
    return { key: r.id, label: labelOf(r.id), title: r.id, runs: [r.id], band: false,
      train: { x: r.train.iter, mean: r.train.loss }, val: { x: k.map((i) => r.evals.iter[i]), mean: k.map((i) => r.evals.val_loss[i]) } };
  });
}

/** One x array (the union of iterations) and the columns, null where a curve has no point. */
function align(curves) {
  const xs = [...new Set(curves.flatMap((c) => c.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  return [xs, ...curves.map((c) => {
    const y = new Array(xs.length).fill(null);
    c.x.forEach((x, k) => { y[at.get(x)] = c.y[k]; });
    return y;
  })];
}

/**
 * The y range the loss charts open with: the data at iterations from the first evaluation past
 * iteration 0 on (the untrained model's loss, 4.2 on characters, would otherwise set the range and
 * hide a 0.08 spread), padded by 5%; null when there is nothing there (then uPlot's own range).
 */
function yRangeFrom(cols) {
  const evals = [...new Set(state.data.runs.flatMap((r) => r.evals.iter.filter((_, i) => r.evals.val_loss[i] !== null)))].sort((a, b) => a - b);
  const cut = evals.find((x) => x > 0);
  if (cut === undefined) return null;
  let lo = Infinity, hi = -Infinity;
  for (const c of cols) c.x.forEach((x, i) => {
    const y = c.y[i];
    if (x >= cut && y !== null && Number.isFinite(y)) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
  });
  if (!(hi >= lo)) return null;
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.01 || 0.01;
  return [state.log ? Math.max(lo - pad, lo / 1.05) : lo - pad, hi + pad];
}

/** Whether a run's best validation loss was at its last evaluation (the server decides: src/dashboard/groups-api.ts). */
function isImproving(id) { return !!(state.groups && state.groups.improving && state.groups.improving.includes(id)); }

function chartWidth(div) { return Math.max(300, div.clientWidth || div.parentElement.clientWidth - 12); }

function lossChart(name, div, title, which) {
  const w = which === 'train' ? state.smoothing : 0;
  const items = chartItems().map((it, k) => ({ ...it, k, c: it[which] })).filter((it) => it.c && it.c.x.length > 0);
  const cols = [], series = [{ label: 'iter' }], bands = [], idx = new Map();
  for (const it of items) {
    const st = styleOf(it.k);
    idx.set(it.key, { mean: series.length, band: it.band ? [series.length + 1, series.length + 2] : [] });
    cols.push({ x: it.c.x, y: smooth(it.c.mean, w) });
    series.push({ label: it.label, stroke: st.color, dash: st.dash, width: 1.8, spanGaps: true, show: !state.hidden.has(it.key),
      points: { show: it.c.x.length < 30 } });
    if (it.band) {
      const lo = smooth(it.c.lo.map((v, i) => (v === null ? it.c.mean[i] : v)), w);
      const hi = smooth(it.c.hi.map((v, i) => (v === null ? it.c.mean[i] : v)), w);
      cols.push({ x: it.c.x, y: lo }, { x: it.c.x, y: hi });
      const show = !state.hidden.has(it.key);
      series.push({ label: it.label + ' (low)', stroke: 'transparent', width: 0, spanGaps: true, show, points: { show: false } },
        { label: it.label + ' (high)', stroke: 'transparent', width: 0, spanGaps: true, show, points: { show: false } });
      bands.push({ series: [series.length - 1, series.length - 2], fill: st.color + '2e' });
    }
  }
  const data = align(cols);
  const yr = state.yAll ? null : yRangeFrom(cols);
  const key = [state.log, state.yAll, w, ...items.map((it) => it.key)].join('\n');
  div.dataset.ymin = yr ? String(yr[0]) : '';
  div.dataset.ymax = yr ? String(yr[1]) : '';
  div.dataset.series = String(items.length);
  div.dataset.bands = String(bands.length);
  div.dataset.points = String(data[0].length);
  div.dataset.visible = String(items.filter((it) => !state.hidden.has(it.key)).length);
  div.dataset.smoothing = String(w);
  div.dataset.log = String(state.log);
  const old = state.charts[name];
  if (old && old.key === key) {
    old.range.yr = yr;
    const zoomed = old.plot.scales.x.min !== old.plot.data[0][0] || old.plot.scales.x.max !== old.plot.data[0][old.plot.data[0].length - 1];
    old.plot.setData(data, !zoomed);
    return;
  }
  if (old) old.plot.destroy();
  div.textContent = '';
  if (items.length === 0) { div.append(el('p', { class: 'muted', text: 'no ' + title + ' logged yet' })); state.charts[name] = null; return; }
  const range = { yr };
  const y = { distr: state.log ? 3 : 1 };
  if (!state.yAll) y.range = (u, min, max) => range.yr ?? (state.log ? [min, max] : uPlot.rangeNum(min, max, 0.1, true));
  const opts = {
    width: chartWidth(div),
    height: 300,
    scales: { x: { time: false }, y },
    focus: { alpha: 0.25 },
    cursor: { focus: { prox: 24 }, drag: { x: true, y: true, uni: 40 } },
    legend: { show: false },
    axes: [{ label: 'iteration' }, { label: title + (state.log ? ' (log)' : ''), size: 60 }],
    series,
    bands,
  };
  state.charts[name] = { plot: new uPlot(opts, data, div), key, idx, range };
}

/** The learning rate each curve's runs trained with (the first run of a group: the schedule is a flag). */
function lrChart(div) {
  const items = chartItems().map((it, k) => {
    const run = state.data.runs.find((r) => r.id === it.runs[0]);
    const ok = run ? run.train.iter.map((_, i) => i).filter((i) => Number.isFinite(run.train.lr[i])) : [];
    return { ...it, k, c: { x: ok.map((i) => run.train.iter[i]), y: ok.map((i) => run.train.lr[i]) } };
  }).filter((it) => it.c.x.length > 0);
  div.dataset.series = String(items.length);
  const key = items.map((it) => it.key).join('\n');
  const data = align(items.map((it) => it.c));
  const old = state.charts.lr;
  if (old && old.key === key) { old.plot.setData(data); return; }
  if (old) old.plot.destroy();
  div.textContent = '';
  if (items.length === 0) { div.append(el('p', { class: 'muted', text: 'no learning rate logged yet' })); state.charts.lr = null; return; }
  const series = [{ label: 'iter' }, ...items.map((it) => { const st = styleOf(it.k); return { label: it.label, stroke: st.color, dash: st.dash, width: 1.5, spanGaps: true, show: !state.hidden.has(it.key), points: { show: false } }; })];
  state.charts.lr = { key, idx: new Map(items.map((it, i) => [it.key, { mean: i + 1, band: [] }])), plot: new uPlot({
    width: chartWidth(div), height: 200, scales: { x: { time: false } }, legend: { show: false },
    axes: [{ label: 'iteration' }, { label: 'learning rate', size: 70, values: (u, vs) => vs.map((v) => v.toExponential(1)) }], series,
  }, data, div) };
}

/** Shows or hides a curve (and its band) in both charts. */
function setShown(key, show) {
  if (show) state.hidden.delete(key); else state.hidden.add(key);
  for (const name of ['train', 'val', 'lr']) {
    const c = state.charts[name];
    const at = c && c.idx.get(key);
    if (!at) continue;
    for (const i of [at.mean, ...at.band]) if (c.plot.series[i].show !== show) c.plot.setSeries(i, { show }, false);
    c.plot.root.parentElement.dataset.visible = String([...c.idx.keys()].filter((k) => !state.hidden.has(k)).length);
  }
  renderLegend();
}

function renderLegend() {
  const box = $('legend');
  const items = chartItems();
  box.replaceChildren(...items.map((it, k) => {
    const st = styleOf(k);
    const shown = !state.hidden.has(it.key);
    const b = el('button', { type: 'button', class: 'legend-item', 'data-key': it.key, 'aria-pressed': String(shown),
      title: it.title + (it.band ? '\n(mean of ' + it.runs.length + ' runs, band: 95% interval)' : '') });
    const sw = el('span', { class: 'swatch' + (st.dash.length ? ' dashed' : ''), style: `background:${st.color}` });
    b.append(sw, el('span', { text: it.label }));
    b.addEventListener('click', () => setShown(it.key, !shown));
    b.addEventListener('mouseenter', () => highlightKey(it.key));
    b.addEventListener('mouseleave', () => highlight(state.hovered ?? state.selected));
    b.addEventListener('focus', () => highlightKey(it.key));
    b.addEventListener('blur', () => highlight(state.hovered ?? state.selected));
    return b;
  }));
  box.dataset.items = String(items.length);
}

function highlightKey(key) {
  for (const name of ['train', 'val']) {
    const c = state.charts[name];
    if (!c) continue;
    const at = key === null ? null : c.idx.get(key);
    c.plot.setSeries(at ? at.mean : null, { focus: true }, false);
    c.plot.root.parentElement.dataset.focus = at ? key : '';
  }
}

function highlight(id) { highlightKey(id === null ? null : curveOfRun(id).key); }

function renderCharts() {
  lossChart('train', $('train-chart'), 'training loss', 'train');
  lossChart('val', $('val-chart'), 'validation loss', 'val');
  lrChart($('lr-chart'));
  const imp = state.groups && state.groups.improving ? state.groups.improving.length : 0;
  $('improving-note').textContent = imp ? `(${imp} of ${state.data.runs.length} run${state.data.runs.length === 1 ? '' : 's'} still improving at the last evaluation: marked ↓ in the tables)` : '';
  $('improving-note').dataset.count = String(imp);
  renderLegend();
  $('group-seeds-box').hidden = !(state.groups && state.groups.repeated);
  highlight(state.hovered ?? state.selected);
}

// ---------- groups: the factors picture and the combinations table ----------

async function getJson(url) {
  const res = await fetch(url);
  const reply = await res.json();
  if (!res.ok) throw new Error(reply.error || res.statusText);
  return reply;
}

/** Full grouping (charts, labels, combinations table with the baseline comparison). */
async function loadGroups() {
  const q = new URLSearchParams({ curves: '1', metric: state.metric });
  if (state.baseline) q.set('baseline', state.baseline);
  state.groups = await getJson('/api/groups?' + q);
  if (state.baseline && state.groups.baseline === null) state.baseline = '';
}

/** Grouping for the factors picture: rows (and columns) flags, the other flags averaged or filtered. */
async function loadFactors() {
  const g = state.groups;
  if (!g || g.varied.length === 0) { state.factors = null; return; }
  if (!g.varied.includes(state.rows)) state.rows = g.varied[0];
  if (state.cols !== '' && (!g.varied.includes(state.cols) || state.cols === state.rows)) state.cols = g.varied.find((k) => k !== state.rows) ?? '';
  const by = [state.rows, ...(state.cols ? [state.cols] : [])];
  const where = g.varied.filter((k) => !by.includes(k) && state.rest[k]).map((k) => `${k}=${state.rest[k]}`);
  const q = new URLSearchParams({ by: by.join(','), metric: state.metric });
  if (where.length) q.set('where', where.join(','));
  state.factors = await getJson('/api/groups?' + q);
}

const valueText = (v) => (v === null || v === undefined ? 'None' : String(v));

function option(value, text, selected) {
  const o = el('option', { value, text });
  if (selected) o.selected = true;
  return o;
}

function renderFactorControls() {
  const g = state.groups;
  $('factor-rows').replaceChildren(...g.varied.map((k) => option(k, k, k === state.rows)));
  $('factor-cols').replaceChildren(option('', '(none: bar chart of the rows flag)', state.cols === ''),
    ...g.varied.filter((k) => k !== state.rows).map((k) => option(k, k, k === state.cols)));
  $('factor-cols-box').hidden = g.varied.length < 2;
  const rest = g.varied.filter((k) => k !== state.rows && k !== state.cols);
  $('factor-rest').replaceChildren(...rest.map((k) => {
    const sel = el('select', { 'data-flag': k, 'aria-label': k + ': averaged or one value' });
    sel.append(option('', 'averaged', !state.rest[k]), ...g.values[k].map((v) => option(valueText(v), valueText(v), state.rest[k] === valueText(v))));
    sel.addEventListener('change', () => { state.rest[k] = sel.value; refreshFactors(); });
    return el('label', {}, k + ' ', sel);
  }));
}

const fmtLoss = (v) => (v === null || v === undefined ? '–' : v.toFixed(4));

// viridis (matplotlib), 9 stops; t in [0, 1] -> colour.
const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
function viridis(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1), i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  const c = VIRIDIS[i].map((a, j) => Math.round(a + f * (VIRIDIS[i + 1][j] - a)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function intervalText(e) {
  return e.lo === null ? `n=${e.n}` : `[${fmtLoss(e.lo)}, ${fmtLoss(e.hi)}] n=${e.n}`;
}

function renderFactors() {
  const box = $('factor-plot'), f = state.factors;
  const metricName = $('metric').selectedOptions[0].textContent;
  if (!f) { box.replaceChildren(); return; }
  const pooled = state.groups.varied.filter((k) => !f.by.includes(k));
  const averaged = pooled.filter((k) => !state.rest[k]);
  const over = averaged.length ? ` (seeds and ${averaged.join(', ')} averaged)` : ' (over seeds)';
  $('factor-note').textContent = f.by.length === 2
    ? `colour and number: mean ${metricName} over the finished runs of each cell${over}; ± half width of the 95% interval; darker = lower; ` +
      'outlined: the lowest mean; grey: cells whose 95% interval overlaps the best cell\'s (not distinguishable from it by these seeds)'
    : `bars: mean ${metricName} over the finished runs of each value${over}; whiskers: 95% interval; the axis does not start at 0`;
  const means = f.groups.map((g) => g.stats[state.metric].mean).filter((v) => v !== null);
  const lo = Math.min(...means), hi = Math.max(...means);
  const t = (v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
  if (f.by.length === 2) {
    const [rk, ck] = f.by;
    const rv = [...new Map(f.groups.map((g) => [valueText(g.flags[rk]), 1])).keys()];
    const cv = [...new Map(f.groups.map((g) => [valueText(g.flags[ck]), 1])).keys()];
    const cell = new Map(f.groups.map((g) => [valueText(g.flags[rk]) + '\u0000' + valueText(g.flags[ck]), g]));
    // The best cell (lowest mean) and its interval: a cell whose interval reaches into it is greyed,
    // since the seeds cannot tell it from the best; colour alone would suggest a gap that is not there.
    const best = f.groups.filter((g) => g.stats[state.metric].mean !== null)
      .reduce((a, g) => (a === null || g.stats[state.metric].mean < a.stats[state.metric].mean ? g : a), null);
    const be = best ? best.stats[state.metric] : null;
    const bestHi = be ? (be.hi ?? be.mean) : null;
    const table = el('table', { id: 'heatmap', class: 'heatmap', 'aria-label': `${metricName}: ${rk} (rows) by ${ck} (columns)` });
    table.append(el('caption', { text: `${rk} ↓  ×  ${ck} →` }));
    table.append(el('thead', {}, el('tr', {}, el('th', { text: '' }), ...cv.map((c) => el('th', { scope: 'col', text: c })))));
    const tb = el('tbody');
    for (const r of rv) {
      const tr = el('tr', {}, el('th', { scope: 'row', text: r }));
      for (const c of cv) {
        const g = cell.get(r + '\u0000' + c);
        const e = g ? g.stats[state.metric] : null;
        if (!e || e.mean === null) { tr.append(el('td', { class: 'empty', text: '–' })); continue; }
        const td = el('td', { tabindex: '0', 'data-row': r, 'data-col': c, 'data-mean': String(e.mean), 'data-lo': String(e.lo), 'data-hi': String(e.hi),
          'data-n': String(e.n), title: `${g.label}\nmean ${fmtLoss(e.mean)}, sd ${fmtLoss(e.sd)}, 95% interval ${intervalText(e)}\n${g.finished} of ${g.seeds} runs finished` });
        const tie = g !== best && bestHi !== null && (e.lo ?? e.mean) <= bestHi;
        if (g === best) { td.classList.add('best'); td.dataset.best = '1'; td.title += '\nthe lowest mean'; }
        if (tie) {
          td.classList.add('overlaps-best');
          td.dataset.overlapsBest = '1';
          td.title += '\nits 95% interval overlaps the best cell\'s: the seeds cannot tell them apart';
          td.style.background = `repeating-linear-gradient(135deg, #d9d9d9 0 6px, #ececec 6px 12px)`;
          td.style.color = '#111';
        } else {
          td.style.background = viridis(t(e.mean));
          td.style.color = t(e.mean) > 0.55 ? '#111' : '#fff';
        }
        td.append(el('strong', { text: fmtLoss(e.mean) }), el('br'), el('span', { text: e.half === null ? '' : '± ' + fmtLoss(e.half) }),
          el('br'), el('small', { text: intervalText(e) }));
        tr.append(td);
      }
      tb.append(tr);
    }
    table.append(tb);
    box.replaceChildren(table, scaleBar(lo, hi));
  } else {
    box.replaceChildren(barChart(f.groups, f.by[0], metricName));
  }
}

function scaleBar(lo, hi) {
  const bar = el('div', { class: 'scale', 'aria-hidden': 'true' });
  const grad = el('span', { class: 'scale-grad' });
  grad.style.background = `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(viridis).join(', ')})`;
  bar.append(el('span', { text: fmtLoss(lo) }), grad, el('span', { text: fmtLoss(hi) }));
  return bar;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Bars of the mean with 95% interval whiskers, one per value of the flag, sorted as the groups come. */
function barChart(groups, flag, metricName) {
  const m = state.metric;
  const gs = groups.filter((g) => g.stats[m].mean !== null);
  const lows = gs.map((g) => g.stats[m].lo ?? g.stats[m].mean), highs = gs.map((g) => g.stats[m].hi ?? g.stats[m].mean);
  let y0 = Math.min(...lows), y1 = Math.max(...highs);
  const pad = (y1 - y0) * 0.15 || 0.01;
  y0 -= pad; y1 += pad;
  const W = Math.max(420, Math.min(1300, 70 + gs.length * 56)), H = 320, L = 64, B = 90, T = 12;
  const bw = (W - L - 10) / Math.max(1, gs.length);
  const Y = (v) => T + (H - T - B) * (1 - (v - y0) / (y1 - y0));
  const root = svg('svg', { id: 'barchart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${metricName} by ${flag}, mean with 95% interval` });
  for (let k = 0; k <= 4; k++) {
    const v = y0 + ((y1 - y0) * k) / 4;
    root.append(svg('line', { x1: L, x2: W - 6, y1: Y(v), y2: Y(v), class: 'grid' }), svg('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v.toFixed(3)));
  }
  root.append(svg('text', { x: 14, y: T + (H - T - B) / 2, transform: `rotate(-90 14 ${T + (H - T - B) / 2})`, 'text-anchor': 'middle', class: 'tick' }, metricName));
  gs.forEach((g, i) => {
    const e = g.stats[m], x = L + i * bw + bw * 0.15, w = bw * 0.7, cx = x + w / 2;
    const bar = svg('g', { class: 'bar', tabindex: 0, 'data-label': valueText(g.flags[flag]), 'data-mean': e.mean, 'data-lo': e.lo, 'data-hi': e.hi, 'data-n': e.n });
    bar.append(svg('title', {}, `${g.label}: mean ${fmtLoss(e.mean)}, 95% interval ${intervalText(e)}, ${g.finished} of ${g.seeds} finished`));
    bar.append(svg('rect', { x, y: Y(e.mean), width: w, height: Math.max(1, Y(y0) - Y(e.mean)), fill: PALETTE[0], 'fill-opacity': 0.55 }));
    if (e.lo !== null) {
      bar.append(svg('line', { x1: cx, x2: cx, y1: Y(e.lo), y2: Y(e.hi), class: 'whisker' }),
        svg('line', { x1: cx - w / 4, x2: cx + w / 4, y1: Y(e.lo), y2: Y(e.lo), class: 'whisker' }),
        svg('line', { x1: cx - w / 4, x2: cx + w / 4, y1: Y(e.hi), y2: Y(e.hi), class: 'whisker' }));
    }
    const lx = cx, ly = H - B + 12;
    bar.append(svg('text', { x: lx, y: ly, transform: `rotate(-40 ${lx} ${ly})`, 'text-anchor': 'end', class: 'tick' }, valueText(g.flags[flag])));
    root.append(bar);
  });
  return root;
}

function renderGroupsTable() {
  const g = state.groups, m = state.metric;
  const sel = $('baseline');
  sel.replaceChildren(option('', '(no baseline)', !state.baseline), ...g.groups.map((x) => option(x.key, x.label, x.key === state.baseline)));
  const withImp = g.groups.some((x) => x.improving > 0);
  const cols = ['combination', 'seeds', 'mean ± 95%', 'interval', 'sd', ...(withImp ? ['still improving'] : []), ...(state.baseline ? ['Δ vs baseline', 'Δ interval', 'verdict'] : [])];
  $('groups').tHead.replaceChildren(el('tr', {}, ...cols.map((c) => el('th', { text: c, scope: 'col' }))));
  const sorted = [...g.groups].sort((a, b) => (a.stats[m].mean ?? Infinity) - (b.stats[m].mean ?? Infinity));
  const sign = (v) => (v === null ? '–' : (v >= 0 ? '+' : '') + v.toFixed(4));
  $('groups').tBodies[0].replaceChildren(...sorted.map((x) => {
    const e = x.stats[m];
    const tr = el('tr', { 'data-key': x.key },
      el('td', { text: x.label, title: x.runs.join('\n') }), el('td', { text: `${x.finished}/${x.seeds}` }),
      el('td', { text: e.half === null ? fmtLoss(e.mean) : `${fmtLoss(e.mean)} ± ${fmtLoss(e.half)}` }),
      el('td', { text: e.lo === null ? '–' : `[${fmtLoss(e.lo)}, ${fmtLoss(e.hi)}]` }), el('td', { text: fmtLoss(e.sd) }));
    if (withImp) tr.append(el('td', { class: 'improving', text: x.improving > 0 ? `↓ ${x.improving}/${x.finished}` : '', title: 'runs whose best validation loss was at their last evaluation' }));
    if (state.baseline) {
      const p = x.paired;
      if (x.key === state.baseline) tr.append(el('td', { text: 'baseline' }), el('td'), el('td'));
      else {
        tr.append(el('td', { text: p ? sign(p.mean) : '–' }), el('td', { text: p && p.lo !== null ? `[${sign(p.lo)}, ${sign(p.hi)}]` : '–' }),
          el('td', { class: 'verdict-' + (p ? p.verdict.replace(/ /g, '-') : 'none'), text: p ? (p.verdict === 'lower' || p.verdict === 'higher' ? `${p.verdict}: beyond seed noise (n=${p.n})` : `${p.verdict} (n=${p.n})`) : '–' }));
      }
    }
    return tr;
  }));
}

/** Main effects of one factor (src/stats/effects.ts, computed by the server). */
async function loadEffects() {
  const g = state.groups;
  if (!g || g.varied.length === 0) return null;
  if (!g.varied.includes(state.effect)) { state.effect = g.varied[0]; state.effectRef = ''; }
  const q = new URLSearchParams({ effect: state.effect, metric: state.metric });
  if (state.effectRef) q.set('reference', state.effectRef);
  return (await getJson('/api/groups?' + q)).effects;
}

function renderEffects(e) {
  const g = state.groups;
  $('effect-flag').replaceChildren(...g.varied.map((k) => option(k, k, k === state.effect)));
  const table = $('effects');
  if (!e) { table.tHead.replaceChildren(); table.tBodies[0].replaceChildren(); return; }
  $('effect-ref').replaceChildren(...e.levels.map((v) => option(v, v, v === e.reference)));
  const sign = (v) => (v === null ? '–' : (v >= 0 ? '+' : '') + v.toFixed(4));
  table.tHead.replaceChildren(el('tr', {}, ...[e.flag, `within (${e.others.join(', ') || 'nothing else varies'})`, `Δ vs ${e.reference}`, 'Δ interval (95%)', 'verdict']
    .map((c) => el('th', { scope: 'col', text: c }))));
  table.tBodies[0].replaceChildren(...e.rows.map((r) => {
    const p = r.paired;
    const verdict = p.verdict === 'lower' || p.verdict === 'higher' ? `${p.verdict}: beyond seed noise (n=${p.n})` : `${p.verdict} (n=${p.n})`;
    return el('tr', { 'data-level': r.level, 'data-within': r.stratum, class: r.stratum === 'all' ? 'overall' : '' },
      el('td', { text: r.level }), el('td', { text: r.stratum === 'all' ? `all (${r.strata} combination${r.strata === 1 ? '' : 's'}, averaged per seed)` : r.stratum }),
      el('td', { text: sign(p.mean) }), el('td', { text: p.lo === null ? '–' : `[${sign(p.lo)}, ${sign(p.hi)}]` }),
      el('td', { class: 'verdict-' + p.verdict.replace(/ /g, '-'), text: verdict }));
  }));
  table.dataset.rows = String(e.rows.length);
}

async function refreshEffects() {
  try { renderEffects(await loadEffects()); } catch (e) { $('factor-note').textContent = 'effects: ' + e.message; }
}

async function refreshGroups() {
  try {
    await loadGroups();
    await loadFactors();
  } catch (e) {
    $('factor-note').textContent = 'groups: ' + e.message;
    if (!state.groups) { renderCharts(); renderTable(); return; }
  }
  const show = state.groups.varied.length > 0;
  $('factors').hidden = !show;
  renderCharts();
  renderTable();
  if (show) { renderFactorControls(); renderFactors(); renderGroupsTable(); await refreshEffects(); }
}

async function refreshFactors() {
  try { await loadFactors(); } catch (e) { $('factor-note').textContent = 'groups: ' + e.message; return; }
  renderFactorControls();
  renderFactors();
}

// ---------- results table ----------

/** Columns shown unless chosen otherwise: the essentials, and the seed when it varies. */
function defaultColumns(columns) {
  // The varied factors too: the CSV export of the default view says which run is which.
  const keep = new Set(['run', 'status', 'best_val_loss', 'best_iter', 'final_val_loss', 'wall_s', 'tokens_per_s', 'seed', ...(state.groups ? state.groups.varied : [])]);
  for (const m of state.data.metrics) if (state.data.table.rows.some((r) => r.values[m.name] !== null && r.values[m.name] !== undefined)) keep.add(m.name);
  return columns.filter((c) => keep.has(c));
}

function visibleColumns() {
  const all = state.data.table.columns;
  return state.columns ? all.filter((c) => state.columns.has(c)) : defaultColumns(all);
}

function renderColumnsMenu() {
  const all = state.data.table.columns, shown = new Set(visibleColumns());
  $('columns-list').replaceChildren(...all.map((c) => {
    const cb = el('input', { type: 'checkbox', 'data-col': c });
    cb.checked = shown.has(c);
    cb.addEventListener('change', () => {
      const now = new Set(visibleColumns());
      if (cb.checked) now.add(c); else now.delete(c);
      state.columns = now;
      renderTable();
    });
    return el('label', {}, cb, ' ' + c);
  }));
}

function compare(a, b) {
  const na = a === null || a === undefined || a === '', nb = b === null || b === undefined || b === '';
  if (na || nb) return na && nb ? 0 : na ? 1 : -1; // blanks last either way
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

function shownRows() {
  const { columns, rows } = state.data.table;
  const q = state.filter.trim().toLowerCase();
  const text = (r, c) => (c === 'run' && r.run !== null ? labelOf(r.run) + ' ' + r.run : String(r.values[c] ?? ''));
  return rows
    .filter((r) => !q || columns.some((c) => fmt(r.values[c], c).toLowerCase().includes(q) || text(r, c).toLowerCase().includes(q)))
    .sort((a, b) => {
      const d = compare(a.values[state.sort.col], b.values[state.sort.col]);
      if (d === 0) return 0;
      const blank = (v) => v === null || v === undefined || v === '';
      if (blank(a.values[state.sort.col]) || blank(b.values[state.sort.col])) return d;
      return d * state.sort.dir;
    });
}

function renderTable() {
  const columns = visibleColumns();
  const thead = $('results').tHead, tbody = $('results').tBodies[0];
  const tr = el('tr');
  for (const c of columns) {
    const th = el('th', { 'data-col': c, text: c.replace(/_/g, ' '), tabindex: '0', title: 'sort by ' + c, scope: 'col' });
    if (state.sort.col === c) th.setAttribute('aria-sort', state.sort.dir > 0 ? 'ascending' : 'descending');
    const sortBy = () => {
      state.sort = state.sort.col === c ? { col: c, dir: -state.sort.dir } : { col: c, dir: 1 };
      renderTable();
    };
    th.addEventListener('click', sortBy);
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(); } });
    tr.append(th);
  }
  thead.replaceChildren(tr);
  const rows = state.data.table.rows;
  const shown = shownRows();
  const body = shown.map((r) => {
    const row = el('tr', { 'data-run': r.run ?? '' });
    if (r.run !== null && r.run === state.selected) row.classList.add('selected');
    for (const c of columns) {
      const v = r.values[c];
      const td = el('td', { text: c === 'run' && r.run !== null ? labelOf(r.run) : fmt(v, c), 'data-col': c });
      if (c === 'best_iter' && r.run !== null && isImproving(r.run)) {
        td.append(el('span', { class: 'improving', text: ' ↓', title: 'best at the last evaluation: still improving when it stopped' }));
        td.dataset.improving = '1';
      }
      if (c === 'run') {
        td.title = String(v ?? '');
        td.className = 'run';
        if (r.run !== null) td.prepend(el('span', { class: 'swatch', style: `background:${colorOf(r.run)}` }));
      }
      if (c === 'status') {
        td.className = 'status-' + String(v);
        if (r.values.error) td.title = String(r.values.error);
      }
      row.append(td);
    }
    if (r.run !== null) {
      row.tabIndex = 0;
      row.addEventListener('mouseenter', () => { state.hovered = r.run; highlight(r.run); });
      row.addEventListener('mouseleave', () => { state.hovered = null; highlight(state.selected); });
      row.addEventListener('click', () => select(r.run));
      row.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(r.run); } });
    }
    return row;
  });
  tbody.replaceChildren(...body);
  $('row-count').textContent = `${shown.length} of ${rows.length} rows`;
  $('results').dataset.rows = String(shown.length);
  renderColumnsMenu();
}

function csvField(v) {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The rows shown, with the columns shown (raw values; the run as its folder), as a CSV download. */
function exportCsv() {
  const cols = visibleColumns();
  const lines = [cols.join(','), ...shownRows().map((r) => cols.map((c) => csvField(r.values[c])).join(','))];
  const a = el('a', { href: URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/csv' })), download: 'normlab-results.csv' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---------- one run ----------

function select(id) {
  state.selected = id;
  state.actKey = null;
  $('sample-text').textContent = '';
  $('sample-text').classList.remove('error');
  renderTable();
  renderDetails();
  highlight(id);
}

function kvRows(table, entries, defaults) {
  table.replaceChildren(...entries.map(([k, v]) => el('tr', {},
    el('td', { text: k }),
    el('td', { text: JSON.stringify(v) + (k in defaults && JSON.stringify(defaults[k]) !== JSON.stringify(v) ? `   (default ${JSON.stringify(defaults[k])})` : '') }))));
}

function renderDetails() {
  const run = state.data.runs.find((r) => r.id === state.selected);
  const box = $('details');
  if (!run) { box.hidden = true; return; }
  box.hidden = false;
  box.dataset.run = run.id;
  $('run-name').textContent = labelOf(run.id);
  $('run-name').title = run.id;
  $('command').textContent = run.command ?? '(no config saved yet)';
  $('copy-command').disabled = !run.command;
  $('run-status').textContent = run.status;
  const s = run.summary ?? {};
  $('layout').textContent = typeof s.block_layout === 'string' ? s.block_layout : '(no block_layout in summary.json yet)';

  const defaults = state.data.defaults;
  const cfg = run.config ?? {};
  const keys = [...Object.keys(defaults).filter((k) => k in cfg), ...Object.keys(cfg).filter((k) => !(k in defaults))];
  const changed = keys.filter((k) => !(k in defaults) || JSON.stringify(defaults[k]) !== JSON.stringify(cfg[k]));
  kvRows($('flags-changed'), changed.map((k) => [k, cfg[k]]), defaults);
  kvRows($('flags-all'), keys.map((k) => [k, cfg[k]]), defaults);
  if (!run.config) $('flags-changed').replaceChildren(el('tr', {}, el('td', { text: 'no config in state.json or summary.json yet' })));

  renderMetrics(run);
  const key = run.id + '@' + (run.checkpoint ? run.checkpoint.file + run.checkpoint.mtime : 'none');
  if (key !== state.actKey) { state.actKey = key; loadActivations(run.id, key); }
}

/** A chart per declared metric (data.metrics) that this run reported at some evaluation. */
function renderMetrics(run) {
  for (const p of state.metricPlots) p.destroy();
  state.metricPlots = [];
  const box = $('metric-charts');
  box.replaceChildren();
  for (const m of state.data.metrics) {
    const values = run.evals[m.name] || [];
    const k = run.evals.iter.map((_, i) => i).filter((i) => values[i] !== null && values[i] !== undefined);
    if (k.length === 0) continue;
    const div = el('div', { id: 'metric-' + m.name, class: 'chart', 'data-points': String(k.length) });
    box.append(el('h3', { text: m.label }), div);
    const unit = m.format === 'percent' ? { range: [0, 1] } : {};
    state.metricPlots.push(new uPlot({
      width: chartWidth(box), height: 200, scales: { x: { time: false }, y: unit },
      axes: [{ label: 'iteration' }, { label: m.label, size: 60 }],
      series: [{ label: 'iter' }, { label: m.label, stroke: '#9467bd', width: 1.6, points: { show: true } }],
    }, [k.map((i) => run.evals.iter[i]), k.map((i) => values[i])], div));
  }
}

async function loadActivations(id, key) {
  const box = $('act-charts');
  let reply;
  try {
    const res = await fetch('/api/activations?run=' + encodeURIComponent(id));
    reply = await res.json();
    if (!res.ok) throw new Error(reply.error || res.statusText);
  } catch (e) {
    if (state.actKey === key) { box.replaceChildren(el('p', { class: 'error', text: 'activation curves: ' + e.message })); }
    return;
  }
  if (state.actKey !== key) return; // another run was selected meanwhile
  for (const p of state.actPlots) p.destroy();
  state.actPlots = [];
  box.replaceChildren();
  box.dataset.run = id; // whose curves these are, once they are in (the fetch is asynchronous)
  box.dataset.groups = String(reply.groups.length);
  $('act-info').textContent = reply.checkpoint ? `(${reply.checkpoint}${reply.iter !== null ? ', iter ' + reply.iter : ''}; dashed: initial)` : '';
  if (reply.message) box.append(el('p', { class: 'muted', text: reply.message }));
  for (const g of reply.groups) {
    const div = el('div', { class: 'chart act-chart', 'data-variant': g.variant, 'data-curves': String(g.curves.length) });
    box.append(el('h4', { text: g.title }), div);
    const n = g.curves.length;
    state.actPlots.push(new uPlot({
      width: chartWidth(box), height: 260, scales: { x: { time: false } },
      axes: [{ label: 'x' }, { label: g.variant + '(x)', size: 60 }],
      series: [{ label: 'x' },
        { label: 'initial', stroke: '#888', width: 1.5, dash: [6, 4] },
        ...g.curves.map((c, i) => ({ label: c.label, stroke: `hsl(${Math.round(220 - 200 * (n > 1 ? i / (n - 1) : 0))} 70% 45%)`, width: 1.6 }))],
    }, [g.xs, g.initial, ...g.curves.map((c) => c.ys)], div));
  }
  const soft = (reply.softmax_params || []).map((p) => `h.${p.layer} ${p.name} ${p.values.map((x) => x.toFixed(4)).join(' ')}`);
  const scalars = new Map(); // "variant name" (e.g. "dact alpha") -> "slot value" texts
  for (const a of reply.norm_scalars || []) {
    const k = `${a.variant} ${a.name}`;
    scalars.set(k, [...(scalars.get(k) || []), `${a.slot} ${a.value.toFixed(4)}`]);
  }
  $('norm-scalars').textContent = [
    ...[...scalars].map(([k, v]) => `${k}: ${v.join(', ')}`),
    soft.length ? 'attention softmax parameters: ' + soft.join(', ') : '',
  ].filter(Boolean).join(' | ');
}

async function sample() {
  const out = $('sample-text'), btn = $('sample-btn');
  if (!state.selected) return;
  btn.disabled = true;
  out.classList.remove('error');
  out.textContent = 'sampling…';
  out.dataset.state = 'busy';
  try {
    const res = await fetch('/api/sample', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        run: state.selected, start: $('sample-start').value || undefined,
        max_new_tokens: $('sample-tokens').value, temperature: $('sample-temp').value,
        top_k: $('sample-topk').value, seed: $('sample-seed').value,
      }),
    });
    const reply = await res.json();
    if (!res.ok) throw new Error(reply.error || res.statusText);
    out.textContent = reply.text;
    out.dataset.state = 'done';
  } catch (e) {
    out.textContent = 'sample failed: ' + e.message;
    out.classList.add('error');
    out.dataset.state = 'error';
  } finally {
    btn.disabled = false;
  }
}

// ---------- polling ----------

function render() {
  const d = state.data;
  $('root').textContent = d.root;
  const running = d.runs.filter((r) => r.status === 'running').length;
  $('status').textContent = `${d.runs.length} run${d.runs.length === 1 ? '' : 's'}${running ? `, ${running} running` : ''} · updated ${new Date().toLocaleTimeString()}`;
  $('status').dataset.runs = String(d.runs.length);
  $('status').dataset.version = d.version;
  refreshGroups().then(() => { if (state.selected) renderDetails(); });
}

async function poll() {
  try {
    const res = await fetch('/api/data', { headers: state.version ? { 'If-None-Match': `"${state.version}"` } : {} });
    if (res.status === 200) {
      state.data = await res.json();
      state.version = state.data.version;
      render();
    }
  } catch (e) {
    $('status').textContent = 'server unreachable: ' + e.message;
  }
  setTimeout(poll, POLL_MS);
}

/** Copies the selected run's train command: the clipboard API, else a selected text area (execCommand). */
async function copyCommand() {
  const text = $('command').textContent, status = $('copy-status');
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = el('textarea', { readonly: '', 'aria-hidden': 'true', class: 'offscreen' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    if (!ok) { status.textContent = 'copy failed: select the command and copy it'; status.dataset.state = 'error'; return; }
  }
  status.textContent = 'copied';
  status.dataset.state = 'copied';
}

$('filter').addEventListener('input', (e) => { state.filter = e.target.value; if (state.data) renderTable(); });
$('copy-command').addEventListener('click', copyCommand);
$('export-csv').addEventListener('click', () => { if (state.data) exportCsv(); });
$('smoothing').addEventListener('input', (e) => {
  state.smoothing = Number(e.target.value);
  $('smoothing-value').textContent = state.smoothing.toFixed(2);
  if (state.data) renderCharts();
});
$('logscale').addEventListener('change', (e) => { state.log = e.target.checked; if (state.data) renderCharts(); });
$('yall').addEventListener('change', (e) => { state.yAll = e.target.checked; if (state.data) renderCharts(); });
$('group-seeds').addEventListener('change', (e) => { state.groupSeeds = e.target.checked; if (state.data) { renderCharts(); renderTable(); } });
$('metric').addEventListener('change', (e) => { state.metric = e.target.value; refreshGroups(); });
$('baseline').addEventListener('change', (e) => { state.baseline = e.target.value; refreshGroups(); });
$('factor-rows').addEventListener('change', (e) => { state.rows = e.target.value; if (state.cols === state.rows) state.cols = null; refreshFactors(); });
$('factor-cols').addEventListener('change', (e) => { state.cols = e.target.value; refreshFactors(); });
$('effect-flag').addEventListener('change', (e) => { state.effect = e.target.value; state.effectRef = ''; refreshEffects(); });
$('effect-ref').addEventListener('change', (e) => { state.effectRef = e.target.value; refreshEffects(); });
window.normlabPage = {
  smooth,
  chartData: (name) => (state.charts[name] ? state.charts[name].plot.data : null),
  yDistr: (name) => (state.charts[name] ? state.charts[name].plot.scales.y.distr : null),
  yScale: (name) => (state.charts[name] ? [state.charts[name].plot.scales.y.min, state.charts[name].plot.scales.y.max] : null),
};
$('sample-btn').addEventListener('click', sample);
window.addEventListener('resize', () => {
  for (const c of Object.values(state.charts)) if (c) c.plot.setSize({ width: chartWidth(c.plot.root.parentElement), height: c.plot.height });
});
poll();
