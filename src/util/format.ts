// How numbers and tables are shown to a person, shared by the training log, the progress line, the
// sweeps and the CLI's reports.

/** A duration in seconds as 42s, 3m07s or 2h05m; '-' for none (null), '?' for a value that is not one. */
export function formatDuration(s: number | null): string {
  if (s === null) return '-';
  if (!Number.isFinite(s) || s < 0) return '?';
  const t = Math.round(s);
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** One CSV field: quoted (with doubled quotes) when it holds a quote, comma or line break; '' for none. */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line (no line break) of the given cells. */
export function csvLine(cells: readonly unknown[]): string {
  return cells.map(csvField).join(',');
}

export interface TableStyle {
  /** The first `left` columns are left-aligned and the rest right-aligned; default: right-aligned
   *  exactly where every body cell looks like a number. */
  left?: number;
  /** A line of dashes under the header (default true). */
  rule?: boolean;
}

/** A plain text table, columns two spaces apart, no trailing spaces. */
export function textTable(header: readonly string[], body: readonly (readonly (string | number)[])[], style: TableStyle = {}): string {
  const rows = body.map((r) => r.map(String));
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const right = header.map((_, j) => (style.left !== undefined ? j >= style.left
    : rows.length > 0 && rows.every((r) => /^[-+0-9.e%]*$/.test(r[j]))));
  const line = (cells: readonly string[]) => cells.map((c, j) => (right[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd();
  const rule = style.rule ?? true;
  return [line(header), ...(rule ? [line(widths.map((w) => '-'.repeat(w)))] : []), ...rows.map(line)].join('\n');
}
