// normlab's WebAssembly kernels (AssemblyScript, 128-bit SIMD). Every function takes byte
// addresses into the module's memory and sizes; src/engine/kernels/wasm/ copies arrays in and out
// and exposes them as a Backend. No allocation happens here: scratch space (`work`) is passed in.
export { matmulPack, matmulRows, matmulWork, matmulChunkWork } from './gemm';
export { attentionForward, attentionBackward, attentionWork } from './attention';
export {
  add, mul, scale, sumSquares, addBias, biasBackward, embeddingForward, embeddingBackward,
  crossEntropyForward, crossEntropyBackward, adamw,
} from './kernels';
export {
  rmsnormForward, rmsnormBackward, layernormForward, layernormBackward, geluForward, geluBackward,
  reluForward, reluBackward,
} from './variants';
export { fakeQuant } from './quantize';
export { roundBf16 } from './bf16';
export { attentionScoreForward, attentionScoreBackward, attentionScoreWork, attentionQuantParams } from './attention';
export { scoreSums } from './softmax';
