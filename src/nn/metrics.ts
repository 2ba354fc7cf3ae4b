// The metrics the registered variants declare (Variant.metrics): training's log, progress line and
// summary, the sweep's results and the dashboard read them from here, never by name.
import { activations } from './activations/activation-registry.js';
import { norms } from './norms/norm-registry.js';
import type { MetricSpec, Registry } from './variant.js';

function declared(...registries: Registry[]): MetricSpec[] {
  const byName = new Map<string, MetricSpec>();
  for (const r of registries) for (const v of Object.values(r)) for (const m of v.metrics ?? []) byName.set(m.name, m);
  return [...byName.values()];
}

/** Every declared metric once, in registry order (norms, then activations). */
export const METRICS: readonly MetricSpec[] = declared(norms, activations);

/** A metric's value as the user reads it: 0.125 -> "12.5%" for a percentage, else 4 significant digits. */
export function formatMetric(m: MetricSpec, v: number): string {
  return m.format === 'percent' ? `${(100 * v).toFixed(1)}%` : String(Number(v.toPrecision(4)));
}
