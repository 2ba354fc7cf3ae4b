// The curve y = act(x) of an activation at given points, for plots and for `normlab activations`.
// Uses each variant's curve(x, p, a): its value at one scalar with the given parameters, or with
// its initial parameters when none are given. Evaluation mode (rrelu: the mean slope 11/48);
// glu, a function of two inputs, plots its gate sigmoid(b).
import { UserError } from '../../util/errors.js';
import { fillInit } from '../params.js';
import { problemsOf, numel, type Params, type Variant, type VariantConfig } from '../variant.js';
import { activations } from './activation-registry.js';

export function activationVariant(name: string): Variant {
  const v = activations[name];
  if (!v) throw new UserError(`unknown activation '${name}'; choose one of: ${Object.keys(activations).join(', ')}`);
  return v;
}

/** The variant's initial parameters under cfg, in double precision. */
export function initialParams(v: Variant, cfg: VariantConfig): Params {
  const p: Params = {};
  for (const [name, spec] of Object.entries(v.params(1, cfg))) {
    p[name] = new Float64Array(numel(spec.shape));
    fillInit(p[name], spec.init);
  }
  return p;
}

/** act(x) for every x of xs; params undefined = the variant's initial parameters. */
export function activationCurve(name: string, cfg: VariantConfig, params: Params | undefined, xs: number[]): number[] {
  const v = activationVariant(name);
  const [problem] = problemsOf(v, cfg).errors;
  if (problem) throw new UserError(problem);
  if (!v.curve) throw new UserError(`activation '${name}' has no curve`);
  const p = params ?? initialParams(v, cfg);
  for (const [pname, spec] of Object.entries(v.params(1, cfg))) {
    const got = p[pname];
    if (!got) throw new UserError(`activation '${name}' needs parameter '${pname}', which was not given`);
    if (got.length !== numel(spec.shape)) {
      throw new UserError(`activation '${name}': parameter '${pname}' has ${got.length} values, expected shape [${spec.shape.join(', ')}]`);
    }
  }
  const curve = v.curve;
  return xs.map((x) => curve(x, p, cfg));
}
