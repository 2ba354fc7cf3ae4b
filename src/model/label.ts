// A configured variant as one short tag for tables and the layout line (docs/cost.md, "Summary
// columns in sweeps"): its name, then its own flags that differ from their defaults, without the
// variant's prefix, e.g. `krmsnorm(num=16,quantize_type=int8)`. A variant at its defaults is its name.
import { activations } from '../nn/activations/activation-registry.js';
import { norms } from '../nn/norms/norm-registry.js';
import { softmaxes } from '../nn/softmax/softmax-registry.js';

export function variantTag(kind: 'norm' | 'activation' | 'softmax', name: string, cfg: object): string {
  const reg: Record<string, { flags?: readonly { name: string; default: unknown }[] }> = kind === 'norm' ? norms : kind === 'softmax' ? softmaxes : activations;
  const v = reg[name];
  const c = cfg as Record<string, unknown>;
  const parts = (v?.flags ?? []).filter((f) => f.name in c && JSON.stringify(c[f.name]) !== JSON.stringify(f.default))
    .map((f) => `${f.name.startsWith(name + '_') ? f.name.slice(name.length + 1) : f.name}=${c[f.name] === null ? 'None' : String(c[f.name])}`);
  return parts.length > 0 ? `${name}(${parts.join(',')})` : name;
}
