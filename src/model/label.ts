// A configured variant as one short tag for tables and the layout line (docs/cost.md, "Summary
// columns in sweeps"): its name, then its own flags that differ from their defaults, without the
// variant's prefix, e.g. `krmsnorm(num=16,quantize_type=int8)`. A variant at its defaults is its name.
import { activations } from '../nn/activations/index.js';
import { norms } from '../nn/norms/index.js';

export function variantTag(kind: 'norm' | 'activation', name: string, cfg: object): string {
  const v = (kind === 'norm' ? norms : activations)[name as keyof typeof norms & keyof typeof activations] as
    { flags?: readonly { name: string; default: unknown }[] } | undefined;
  const c = cfg as Record<string, unknown>;
  const parts = (v?.flags ?? []).filter((f) => f.name in c && JSON.stringify(c[f.name]) !== JSON.stringify(f.default))
    .map((f) => `${f.name.startsWith(name + '_') ? f.name.slice(name.length + 1) : f.name}=${c[f.name] === null ? 'None' : String(c[f.name])}`);
  return parts.length > 0 ? `${name}(${parts.join(',')})` : name;
}
