// The TypeScript backend: the definition of every kernel (plain loops, Float32Array or Float64Array).
import type { Backend } from '../../backend.js';
import { matmul } from './matmul.js';
import { attentionBackward, attentionForward } from './attention.js';
import { crossEntropyBackward, crossEntropyForward } from './crossentropy.js';
import { adamw } from './adamw.js';
import * as ew from './elementwise.js';
import { fakeQuant } from '../../quantize.js';

export const tsBackend: Backend = {
  name: 'ts',
  matmul,
  addBias: ew.addBias,
  biasBackward: ew.biasBackward,
  embeddingForward: ew.embeddingForward,
  embeddingBackward: ew.embeddingBackward,
  attentionForward,
  attentionBackward,
  crossEntropyForward,
  crossEntropyBackward,
  add: ew.add,
  addInto: ew.addInto,
  mul: ew.mul,
  scale: ew.scale,
  sumSquares: ew.sumSquares,
  adamw,
  fakeQuant,
};
