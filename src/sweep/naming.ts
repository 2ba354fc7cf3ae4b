// Run names: `flag-value` pairs of the flags that vary across the sweep, joined by `_`, e.g.
// `norm_variant_attn-prmsnorm_prmsnorm_pct-0.25`. Fixed flags are left out (they hold for every run).
// A flag that is present in some combinations and absent (default) in others counts as varied, and
// appears only in the names of the runs that set it. Names are folder names, so every character
// outside [A-Za-z0-9.+=-] becomes '_'; if that (or truncation of a very long name) makes two names
// equal, each of them gets the first 8 hex digits of a hash of its full flag list.
import { createHash } from 'node:crypto';
import type { Combo, Scalar } from './grammar.js';

const MAX_NAME = 150;

/** Flags whose value (or presence) differs between combinations, in order of first appearance. */
export function variedFlags(combos: Combo[]): string[] {
  const order: string[] = [];
  const seen = new Map<string, Set<string>>();
  for (const c of combos) for (const k of Object.keys(c)) if (!seen.has(k)) { seen.set(k, new Set()); order.push(k); }
  for (const c of combos) for (const k of order) seen.get(k)!.add(k in c ? JSON.stringify(c[k]) : '<absent>');
  return order.filter((k) => seen.get(k)!.size > 1);
}

export function formatValue(v: Scalar): string {
  if (v === null) return 'None';
  return String(v);
}

export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9.+=-]/g, '_');
}

function hash8(c: Combo): string {
  const keys = Object.keys(c).sort();
  return createHash('sha1').update(JSON.stringify(keys.map((k) => [k, c[k]]))).digest('hex').slice(0, 8);
}

/** One unique, filesystem-safe name per combination (combinations must be distinct). */
export function runNames(combos: Combo[], varied: string[]): string[] {
  const names = combos.map((c) => {
    const parts = varied.filter((k) => k in c).map((k) => `${k}-${safeName(formatValue(c[k]))}`);
    let name = parts.length === 0 ? 'default' : parts.join('_');
    if (name.length > MAX_NAME) name = `${name.slice(0, MAX_NAME - 9)}_${hash8(c)}`;
    return name;
  });
  const count = new Map<string, number>();
  for (const n of names) count.set(n, (count.get(n) ?? 0) + 1);
  return names.map((n, i) => (count.get(n)! > 1 ? `${n}_${hash8(combos[i])}` : n));
}
