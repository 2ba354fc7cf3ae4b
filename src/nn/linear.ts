// Linear layer, torch.nn.Linear layout: y (N, out) = x (N, in) W^T + b, W stored (out, in).
import type { Backend } from '../engine/backend.js';
import type { F } from '../engine/types.js';
import type { Param, ParamStore } from './store.js';

export class Linear {
  readonly weight: Param;
  readonly bias: Param | null;

  constructor(store: ParamStore, name: string, readonly inF: number, readonly outF: number, bias: boolean, std: number) {
    this.weight = store.declare(`${name}.weight`, [outF, inF], { normal: std });
    this.bias = bias ? store.declare(`${name}.bias`, [outF], 'zeros') : null;
  }

  forward(be: Backend, out: F, x: F, N: number): void {
    be.matmul(out, x, this.weight.data, N, this.outF, this.inF, { transB: true });
    if (this.bias) be.addBias(out, this.bias.data, N, this.outF);
  }

  /** dW += dout^T x, db += colsum(dout), dx = (or +=, with accumulate) dout W. */
  backward(be: Backend, dx: F, dout: F, x: F, N: number, accumulate: boolean): void {
    be.matmul(this.weight.grad, dout, x, this.outF, this.inF, N, { transA: true, accumulate: true });
    if (this.bias) be.biasBackward(this.bias.grad, dout, N, this.outF);
    be.matmul(dx, dout, this.weight.data, N, this.inF, this.outF, { accumulate });
  }
}
