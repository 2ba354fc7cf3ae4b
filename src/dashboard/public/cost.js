// Loss against hardware cost (docs/cost.md): one point per run with a best validation loss, x = the
// chosen cost measure, y = best validation loss; the Pareto front (runs no other run beats on both) is
// joined by a line and its points are drawn larger. Numbers come from GET /api/cost (the server
// counts, src/dashboard/cost.ts). A point opens its run (click, or Enter when focused). Redrawn when
// the page's data version changes (app.js sets #status data-version after each poll).
// Test hooks: #cost-plot circles carry data-run, data-x, data-y and data-pareto.
/* global select, colorOf, labelOf */
'use strict';

(() => {
  const NS = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  const cost = { reply: null, measure: 'cost_inference_ops', version: null };

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

  function draw() {
    const r = cost.reply, box = $('cost-plot'), section = $('cost');
    if (!r || r.points.length < 2) { section.hidden = true; return; }
    section.hidden = false;
    const sel = $('cost-measure');
    if (sel.options.length === 0) {
      for (const m of r.measures) sel.append(new Option(m.label, m.key, m.key === cost.measure, m.key === cost.measure));
    }
    const key = cost.measure, front = new Set(r.pareto[key]);
    const W = Math.max(420, Math.min(1100, box.clientWidth || 800)), H = 320, L = 64, R = 16, T = 12, B = 44;
    const xs = r.points.map((p) => p.cost[key]), ys = r.points.map((p) => p.best_val_loss);
    const pad = (lo, hi) => { const d = (hi - lo) || Math.abs(hi) * 0.1 || 1; return [lo - 0.06 * d, hi + 0.06 * d]; };
    const [x0, x1] = pad(Math.min(...xs), Math.max(...xs)), [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
    const X = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R), Y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    const s = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `best validation loss against ${key}` });
    for (const t of ticks(x0, x1)) {
      s.append(svg('line', { x1: X(t), x2: X(t), y1: T, y2: H - B, stroke: '#e5e5e5' }));
      s.append(svg('text', { x: X(t), y: H - B + 16, 'text-anchor': 'middle', 'font-size': 11 }, String(t)));
    }
    for (const t of ticks(y0, y1)) {
      s.append(svg('line', { x1: L, x2: W - R, y1: Y(t), y2: Y(t), stroke: '#e5e5e5' }));
      s.append(svg('text', { x: L - 6, y: Y(t) + 4, 'text-anchor': 'end', 'font-size': 11 }, t.toFixed(3)));
    }
    s.append(svg('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 12 }, r.measures.find((m) => m.key === key).label));
    s.append(svg('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', 'font-size': 12, transform: `rotate(-90 14 ${(T + H - B) / 2})` }, 'best validation loss'));
    const byRun = new Map(r.points.map((p) => [p.run, p]));
    const path = r.pareto[key].map((id) => byRun.get(id)).map((p) => `${X(p.cost[key])},${Y(p.best_val_loss)}`).join(' ');
    s.append(svg('polyline', { points: path, fill: 'none', stroke: '#000', 'stroke-width': 1.5, 'stroke-dasharray': '5 3', 'data-front': r.pareto[key].length }));
    for (const p of r.points) {
      const on = front.has(p.run), name = typeof labelOf === 'function' ? labelOf(p.run) : p.run;
      const c = svg('circle', {
        cx: X(p.cost[key]), cy: Y(p.best_val_loss), r: on ? 6 : 4, tabindex: 0, role: 'button',
        fill: typeof colorOf === 'function' ? colorOf(p.run) : '#0072B2', stroke: on ? '#000' : 'none', 'stroke-width': 2,
        'data-run': p.run, 'data-x': p.cost[key], 'data-y': p.best_val_loss, 'data-pareto': on ? 1 : 0,
        'aria-label': `${name}: best validation loss ${p.best_val_loss.toFixed(4)}, ${key} ${p.cost[key]}${on ? ', on the Pareto front' : ''}`,
      });
      c.append(svg('title', {}, `${p.run}\nbest val ${p.best_val_loss.toFixed(4)} · ${key} ${p.cost[key]}${on ? ' · Pareto front' : ''}`));
      const open = () => { if (typeof select === 'function') { select(p.run); $('details').scrollIntoView({ block: 'start' }); } };
      c.addEventListener('click', open);
      c.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
      s.append(c);
      // Names beside the points while they can be read (the varied values, as the legend shows them).
      if (r.points.length <= 24) s.append(svg('text', { x: X(p.cost[key]) + 8, y: Y(p.best_val_loss) - 6, 'font-size': 10, fill: '#333' }, name));
    }
    box.replaceChildren(s);
    box.dataset.points = String(r.points.length);
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
