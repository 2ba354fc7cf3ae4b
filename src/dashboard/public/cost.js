// Loss against hardware cost (docs/cost.md, "Loss against cost"): one point per combination of the
// varied factors (seeds pooled): x = the chosen cost measure's mean, y = the mean best validation
// loss, whiskers = their 95% intervals over the seeds (x whiskers only where the cost varies). The
// Pareto front over the means is joined by a dashed line; the combinations no other beats beyond the
// intervals (src/dashboard/cost-api.ts) are drawn larger with a black ring. Labels are placed where they overlap no
// other label, point, whisker or the plot's edge; a label that fits nowhere becomes a number, and the table
// under the plot names every combination. Numbers come from GET /api/cost. A point opens the
// combination's first run (click, or Enter when focused). Redrawn when the data version changes.
// Test hooks: #cost-plot g.combo carry data-key, data-x, data-y, data-lo, data-hi, data-pareto;
// text.label the placed labels.
/* global select */
'use strict';

(() => {
  const NS = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  const cost = { reply: null, measure: 'cost_inference_ops', version: null };
  const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

  function svg(tag, attrs = {}, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** About 5 round tick values spanning [lo, hi]. */
  function ticks(lo, hi) {
    const span = hi - lo || Math.abs(hi) || 1, step0 = span / 5, mag = 10 ** Math.floor(Math.log10(step0));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Number(v.toPrecision(10)));
    return out;
  }

  const FONT = '11px system-ui, sans-serif';
  let measureCtx = null;
  function textWidth(t) {
    if (!measureCtx) { measureCtx = document.createElement('canvas').getContext('2d'); measureCtx.font = FONT; }
    return measureCtx.measureText(t).width;
  }

  const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

  /**
   * Greedy placement: for each point (front first), the first of 8 positions around it whose box
   * stays inside [x0, x1] x [y0, y1] and overlaps no placed box and no point's marker.
   */
  function placeLabels(items, bounds, markers) {
    const placed = [], out = new Map();
    const order = [...items].sort((a, b) => b.front - a.front || a.px - b.px);
    for (const it of order) {
      const w = textWidth(it.text) + 2, h = 12, d = 8;
      const cands = [[d, -h / 2], [-d - w, -h / 2], [-w / 2, -d - h], [-w / 2, d], [d, -h - 4], [d, 4], [-d - w, -h - 4], [-d - w, 4]];
      for (const [dx, dy] of cands) {
        const box = { x: it.px + dx, y: it.py + dy, w, h };
        if (box.x < bounds.x0 || box.x + w > bounds.x1 || box.y < bounds.y0 || box.y + h > bounds.y1) continue;
        if (placed.some((b) => overlaps(b, box))) continue;
        if (markers.some((m) => overlaps(m, box))) continue;
        placed.push(box);
        out.set(it.key, box);
        break;
      }
    }
    return out;
  }

  const f4 = (v) => (v === null || v === undefined ? '–' : v.toFixed(4));
  const fc = (v) => (v === null || v === undefined ? '–' : Number.isInteger(v) ? String(v) : v.toPrecision(6));

  function draw() {
    const r = cost.reply, box = $('cost-plot'), section = $('cost');
    if (!r || r.combos.length < 2) { section.hidden = true; return; }
    section.hidden = false;
    const sel = $('cost-measure');
    if (sel.options.length === 0) {
      for (const m of r.measures) sel.append(new Option(m.label, m.key, m.key === cost.measure, m.key === cost.measure));
    }
    const key = cost.measure, front = new Set(r.pareto[key]);
    const W = Math.max(480, Math.min(1100, box.clientWidth || 800)), H = 360, L = 64, R = 16, T = 12, B = 44;
    const lo = (e) => e.lo ?? e.mean, hi = (e) => e.hi ?? e.mean;
    const xs = r.combos.flatMap((c) => [lo(c.cost[key]), hi(c.cost[key])]), ys = r.combos.flatMap((c) => [lo(c.loss), hi(c.loss)]);
    // Room on both sides for labels: the x range is padded by a fifth.
    const pad = (a, b, f) => { const d = (b - a) || Math.abs(b) * 0.1 || 1; return [a - f * d, b + f * d]; };
    const [x0, x1] = pad(Math.min(...xs), Math.max(...xs), 0.2), [y0, y1] = pad(Math.min(...ys), Math.max(...ys), 0.12);
    const X = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R), Y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    const s = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `mean best validation loss against ${key}, per combination` });
    for (const t of ticks(x0, x1)) {
      s.append(svg('line', { x1: X(t), x2: X(t), y1: T, y2: H - B, stroke: '#e5e5e5' }));
      s.append(svg('text', { x: X(t), y: H - B + 16, 'text-anchor': 'middle', 'font-size': 11 }, String(t)));
    }
    for (const t of ticks(y0, y1)) {
      s.append(svg('line', { x1: L, x2: W - R, y1: Y(t), y2: Y(t), stroke: '#e5e5e5' }));
      s.append(svg('text', { x: L - 6, y: Y(t) + 4, 'text-anchor': 'end', 'font-size': 11 }, t.toFixed(3)));
    }
    s.append(svg('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 12 }, r.measures.find((m) => m.key === key).label));
    s.append(svg('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', 'font-size': 12, transform: `rotate(-90 14 ${(T + H - B) / 2})` }, 'best validation loss (mean, 95% interval)'));
    const byKey = new Map(r.combos.map((c) => [c.key, c]));
    const path = r.meanFront[key].map((k) => byKey.get(k)).map((c) => `${X(c.cost[key].mean)},${Y(c.loss.mean)}`).join(' ');
    s.append(svg('polyline', { points: path, fill: 'none', stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '5 3', 'data-front': r.meanFront[key].length }));
    const items = [], markers = [];
    r.combos.forEach((c, i) => {
      const on = front.has(c.key), px = X(c.cost[key].mean), py = Y(c.loss.mean), color = PALETTE[i % PALETTE.length];
      const g = svg('g', {
        class: 'combo', tabindex: 0, role: 'button', 'data-key': c.key, 'data-x': c.cost[key].mean, 'data-y': c.loss.mean,
        'data-lo': c.loss.lo, 'data-hi': c.loss.hi, 'data-xlo': c.cost[key].lo, 'data-xhi': c.cost[key].hi, 'data-pareto': on ? 1 : 0, 'data-n': c.loss.n,
        'aria-label': `${c.label}: best validation loss ${f4(c.loss.mean)}${c.loss.lo !== null ? ` (95% ${f4(c.loss.lo)} to ${f4(c.loss.hi)})` : ''}, ${key} ${fc(c.cost[key].mean)}${on ? ', on the Pareto front' : ''}`,
      });
      g.append(svg('title', {}, `${c.label} (${c.loss.n} seed${c.loss.n === 1 ? '' : 's'})\nbest val ${f4(c.loss.mean)}${c.loss.lo !== null ? ` [${f4(c.loss.lo)}, ${f4(c.loss.hi)}]` : ''}\n${key} ${fc(c.cost[key].mean)}${on ? '\nPareto front (judged with the intervals)' : ''}`));
      if (c.loss.lo !== null) {
        g.append(svg('line', { x1: px, x2: px, y1: Y(c.loss.lo), y2: Y(c.loss.hi), stroke: color, 'stroke-width': 1.5, class: 'whisker-y' }));
        for (const v of [c.loss.lo, c.loss.hi]) g.append(svg('line', { x1: px - 4, x2: px + 4, y1: Y(v), y2: Y(v), stroke: color, 'stroke-width': 1.5 }));
      }
      if (c.cost[key].lo !== null && c.cost[key].hi > c.cost[key].lo) {
        g.append(svg('line', { x1: X(c.cost[key].lo), x2: X(c.cost[key].hi), y1: py, y2: py, stroke: color, 'stroke-width': 1.5, class: 'whisker-x' }));
      }
      g.append(svg('circle', { cx: px, cy: py, r: on ? 6 : 4, fill: color, stroke: on ? '#000' : 'none', 'stroke-width': 2 }));
      const open = () => { if (typeof select === 'function') { select(c.runs[0]); $('details').scrollIntoView({ block: 'start' }); } };
      g.addEventListener('click', open);
      g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
      s.append(g);
      items.push({ key: c.key, text: c.label, px, py, front: on ? 1 : 0, n: i + 1 });
      markers.push({ x: px - 6, y: py - 6, w: 12, h: 12 });
      if (c.loss.lo !== null) markers.push({ x: px - 5, y: Y(c.loss.hi), w: 10, h: Y(c.loss.lo) - Y(c.loss.hi) }); // its whisker
    });
    // The front's line too, as small boxes along its segments.
    const linePts = r.meanFront[key].map((k) => byKey.get(k)).map((c) => [X(c.cost[key].mean), Y(c.loss.mean)]);
    for (let i = 1; i < linePts.length; i++) {
      const [ax, ay] = linePts[i - 1], [bx, by] = linePts[i], steps = Math.ceil(Math.hypot(bx - ax, by - ay) / 4);
      for (let j = 0; j <= steps; j++) markers.push({ x: ax + ((bx - ax) * j) / steps - 1.5, y: ay + ((by - ay) * j) / steps - 1.5, w: 3, h: 3 });
    }
    const where = placeLabels(items, { x0: L + 2, x1: W - R - 2, y0: T, y1: H - B - 2 }, markers);
    for (const it of items) {
      const b = where.get(it.key);
      if (b) s.append(svg('text', { class: 'label', x: b.x + 1, y: b.y + 10, 'font-size': 11, fill: '#222', 'data-key': it.key }, it.text));
      else s.append(svg('text', { class: 'label-number', x: it.px + 7, y: it.py - 7, 'font-size': 10, fill: '#222', 'data-key': it.key }, String(it.n)));
    }
    box.replaceChildren(s, legendTable(r, key, front));
    box.dataset.points = String(r.combos.length);
    box.dataset.measure = key;
  }

  /** Every combination in numbers (the labels that fit nowhere are the numbers of this table). */
  function legendTable(r, key, front) {
    const t = document.createElement('table');
    t.className = 'cost-table';
    t.innerHTML = '<thead><tr><th>#</th><th>combination</th><th>seeds</th><th>best val (mean ± 95%)</th><th></th><th>front</th></tr></thead>';
    t.tHead.rows[0].cells[4].textContent = r.measures.find((m) => m.key === key).label;
    const tb = document.createElement('tbody');
    r.combos.forEach((c, i) => {
      const tr = document.createElement('tr');
      const cells = [String(i + 1), c.label, String(c.loss.n), c.loss.half === null ? f4(c.loss.mean) : `${f4(c.loss.mean)} ± ${f4(c.loss.half)}`,
        c.cost[key].half ? `${fc(c.cost[key].mean)} ± ${fc(c.cost[key].half)}` : fc(c.cost[key].mean), front.has(c.key) ? 'yes' : ''];
      for (const x of cells) { const td = document.createElement('td'); td.textContent = x; tr.append(td); }
      tr.dataset.key = c.key;
      tb.append(tr);
    });
    t.append(tb);
    return t;
  }

  async function refresh() {
    try {
      const res = await fetch('/api/cost');
      if (res.ok) { cost.reply = await res.json(); draw(); }
    } catch { /* the main poll reports an unreachable server */ }
  }

  $('cost-measure').addEventListener('change', (e) => { cost.measure = e.target.value; draw(); });
  new MutationObserver(() => {
    const v = $('status').dataset.version;
    if (v && v !== cost.version) { cost.version = v; refresh(); }
  }).observe($('status'), { attributes: true, attributeFilter: ['data-version'] });
})();
