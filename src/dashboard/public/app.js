// normlab dashboard page: plain browser JavaScript, no framework; charts are uPlot.
// Data comes from /api/data (polled with If-None-Match: redraws only when a run wrote something),
// /api/activations?run= and POST /api/sample. Test hooks: chart containers carry data-series /
// data-curves / data-points counts, table rows carry data-run.
/* global uPlot */
'use strict';

const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(200, Number(params.get('poll')) || 3000);
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf',
  '#bcbd22', '#7f7f7f', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd'];

const state = {
  data: null,
  version: null,
  selected: null, // run id
  hovered: null,
  sort: { col: 'best_val_loss', dir: 1 },
  filter: '',
  hidden: new Set(), // run ids hidden from the loss charts (legend clicks)
  charts: {}, // train, val, krms: { plot, key }
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

function colorOf(id) {
  const i = state.data ? state.data.runs.findIndex((r) => r.id === id) : -1;
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
}

function fmt(v, col) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (col === 'krmsnorm_recompute') return (100 * v).toFixed(1) + '%';
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    if (col === 'wall_s') return v.toFixed(1);
    if (col === 'tokens_per_s') return Math.round(v).toLocaleString('en-US');
    return Math.abs(v) >= 1e-3 ? v.toFixed(4) : v.toPrecision(3);
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// ---------- loss charts ----------

/** One x array (the union of iterations) and one y array per run, null where a run has no point. */
function align(series) {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const y = new Array(xs.length).fill(null);
    s.x.forEach((x, k) => { y[at.get(x)] = s.y[k]; });
    return y;
  });
  return [xs, ...ys];
}

/** Legend labels: run ids without the folder prefix they all share (a sweep's name). */
function shortLabels(ids) {
  if (ids.length < 2) return ids.map((id) => id.split('/').pop());
  let p = ids[0].slice(0, ids[0].lastIndexOf('/') + 1);
  while (p && !ids.every((id) => id.startsWith(p))) p = p.slice(0, p.slice(0, -1).lastIndexOf('/') + 1);
  return ids.map((id) => id.slice(p.length));
}

function chartWidth(div) { return Math.max(300, div.clientWidth || div.parentElement.clientWidth - 12); }

function lossChart(name, div, title, runs, pick) {
  const series = runs.map((r) => ({ id: r.id, ...pick(r) })).filter((s) => s.x.length > 0);
  const data = align(series);
  const ids = series.map((s) => s.id);
  const key = ids.join('\n');
  const labels = shortLabels(ids);
  const old = state.charts[name];
  div.dataset.series = String(series.length);
  div.dataset.points = String(data[0].length);
  div.dataset.visible = String(series.filter((s) => !state.hidden.has(s.id)).length);
  if (old && old.key === key) {
    const zoomed = old.plot.scales.x.min !== old.plot.data[0][0] || old.plot.scales.x.max !== old.plot.data[0][old.plot.data[0].length - 1];
    old.plot.setData(data, !zoomed);
    return;
  }
  if (old) old.plot.destroy();
  div.textContent = '';
  if (series.length === 0) { div.append(el('p', { class: 'muted', text: 'no ' + title + ' logged yet' })); state.charts[name] = null; return; }
  const opts = {
    width: chartWidth(div),
    height: 300,
    scales: { x: { time: false } },
    focus: { alpha: 0.2 },
    cursor: { focus: { prox: 24 }, drag: { x: true, y: true, uni: 40 } },
    legend: { live: true },
    axes: [{ label: 'iteration' }, { label: title, size: 60 }],
    series: [{ label: 'iter' }, ...series.map((s, k) => ({
      label: labels[k],
      stroke: colorOf(s.id),
      width: 1.6,
      spanGaps: true,
      show: !state.hidden.has(s.id),
      points: { show: s.x.length < 30 },
    }))],
    hooks: {
      setSeries: [(u, i, o) => {
        if (i === null || o.show === undefined) return;
        const id = ids[i - 1];
        if (o.show) state.hidden.delete(id); else state.hidden.add(id);
        div.dataset.visible = String(u.series.filter((s, k) => k > 0 && s.show).length);
        // The other loss chart follows a legend click.
        for (const other of ['train', 'val']) {
          const c = state.charts[other];
          if (!c || c.plot === u) continue;
          const j = c.ids.indexOf(id) + 1;
          if (j > 0 && c.plot.series[j].show !== o.show) c.plot.setSeries(j, { show: o.show }, false);
          c.plot.root.parentElement.dataset.visible = String(c.plot.series.filter((s, k) => k > 0 && s.show).length);
        }
      }],
    },
  };
  state.charts[name] = { plot: new uPlot(opts, data, div), key, ids };
}

function highlight(id) {
  for (const name of ['train', 'val']) {
    const c = state.charts[name];
    if (!c) continue;
    const i = id === null ? -1 : c.ids.indexOf(id) + 1;
    c.plot.setSeries(i > 0 ? i : null, { focus: true }, false);
    c.plot.root.parentElement.dataset.focus = i > 0 ? id : '';
  }
}

function renderCharts() {
  const runs = state.data.runs;
  lossChart('train', $('train-chart'), 'training loss', runs, (r) => ({ x: r.train.iter, y: r.train.loss }));
  lossChart('val', $('val-chart'), 'validation loss', runs, (r) => {
    const k = r.evals.iter.map((_, i) => i).filter((i) => r.evals.val_loss[i] !== null);
    return { x: k.map((i) => r.evals.iter[i]), y: k.map((i) => r.evals.val_loss[i]) };
  });
  highlight(state.hovered ?? state.selected);
}

// ---------- results table ----------

function compare(a, b) {
  const na = a === null || a === undefined || a === '', nb = b === null || b === undefined || b === '';
  if (na || nb) return na && nb ? 0 : na ? 1 : -1; // blanks last either way
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

function renderTable() {
  const { columns, rows } = state.data.table;
  const thead = $('results').tHead, tbody = $('results').tBodies[0];
  const tr = el('tr');
  for (const c of columns) {
    const th = el('th', { 'data-col': c, text: c, tabindex: '0', title: 'sort by ' + c });
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

  const q = state.filter.trim().toLowerCase();
  const shown = rows
    .filter((r) => !q || columns.some((c) => fmt(r.values[c], c).toLowerCase().includes(q) || String(r.values[c] ?? '').toLowerCase().includes(q)))
    .sort((a, b) => {
      const d = compare(a.values[state.sort.col], b.values[state.sort.col]);
      if (d === 0) return 0;
      const blank = (v) => v === null || v === undefined || v === '';
      if (blank(a.values[state.sort.col]) || blank(b.values[state.sort.col])) return d;
      return d * state.sort.dir;
    });
  const body = shown.map((r) => {
    const row = el('tr', { 'data-run': r.run ?? '' });
    if (r.run !== null && r.run === state.selected) row.classList.add('selected');
    for (const c of columns) {
      const v = r.values[c];
      const td = el('td', { text: fmt(v, c) });
      if (c === 'run' && r.run !== null) td.prepend(el('span', { class: 'swatch', style: `background:${colorOf(r.run)}` }));
      if (c === 'status') {
        td.className = 'status-' + String(v);
        if (r.values.error) td.title = String(r.values.error);
      }
      row.append(td);
    }
    if (r.run !== null) {
      row.addEventListener('mouseenter', () => { state.hovered = r.run; highlight(r.run); });
      row.addEventListener('mouseleave', () => { state.hovered = null; highlight(state.selected); });
      row.addEventListener('click', () => select(r.run));
    }
    return row;
  });
  tbody.replaceChildren(...body);
  $('row-count').textContent = `${shown.length} of ${rows.length} rows`;
  $('results').dataset.rows = String(shown.length);
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
  $('run-name').textContent = run.id;
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

  renderKrms(run);
  const key = run.id + '@' + (run.checkpoint ? run.checkpoint.file + run.checkpoint.mtime : 'none');
  if (key !== state.actKey) { state.actKey = key; loadActivations(run.id, key); }
}

function renderKrms(run) {
  const k = run.evals.iter.map((_, i) => i).filter((i) => run.evals.krmsnorm_recompute[i] !== null);
  const div = $('krms-chart');
  if (state.charts.krms) { state.charts.krms.plot.destroy(); state.charts.krms = null; }
  div.textContent = '';
  div.dataset.points = String(k.length);
  $('krms-box').hidden = k.length === 0;
  if (k.length === 0) return;
  const data = [k.map((i) => run.evals.iter[i]), k.map((i) => run.evals.krmsnorm_recompute[i])];
  state.charts.krms = { key: run.id, plot: new uPlot({
    width: chartWidth($('act-charts')), height: 200, scales: { x: { time: false }, y: { range: [0, 1] } },
    axes: [{ label: 'iteration' }, { label: 'recompute share', size: 60 }],
    series: [{ label: 'iter' }, { label: 'recompute share', stroke: '#9467bd', width: 1.6, points: { show: true } }],
  }, data, div) };
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
  $('dact-alpha').textContent = reply.dact_alpha.length
    ? 'dact alpha: ' + reply.dact_alpha.map((a) => `${a.slot} ${a.alpha.toFixed(4)}`).join(', ') : '';
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
  $('status').textContent = `${d.runs.length} runs${running ? `, ${running} running` : ''} · updated ${new Date().toLocaleTimeString()}`;
  $('status').dataset.runs = String(d.runs.length);
  $('status').dataset.version = d.version;
  renderCharts();
  renderTable();
  if (state.selected) renderDetails();
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

$('filter').addEventListener('input', (e) => { state.filter = e.target.value; if (state.data) renderTable(); });
$('sample-btn').addEventListener('click', sample);
window.addEventListener('resize', () => {
  for (const c of Object.values(state.charts)) if (c) c.plot.setSize({ width: chartWidth(c.plot.root.parentElement), height: c.plot.height });
});
poll();
