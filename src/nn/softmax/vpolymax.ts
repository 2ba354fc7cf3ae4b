// vpolymax: polymax (./polymax.ts) with the middle piece y0 + (y0 / x0) S: 2 y0 at x0 falling to y0
// at 0, and a jump to 0 left of x0 (the framework's shape, kept). Same flags as polymax.
import { polymaxFamily } from './polymax.js';

export const vpolymax = polymaxFamily('vpolymax', true);
