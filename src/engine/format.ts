// How numbers are shown to a person, shared by the training log, the progress line and the sweeps.

/** A duration in seconds as 42s, 3m07s or 2h05m; '-' for none (null), '?' for a value that is not one. */
export function formatDuration(s: number | null): string {
  if (s === null) return '-';
  if (!Number.isFinite(s) || s < 0) return '?';
  const t = Math.round(s);
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}
