// Array types every kernel accepts. Training runs in Float32Array; gradient checks run the
// same TypeScript kernels in Float64Array, so kernels must be written against `F`, never a
// concrete array type, and must not allocate arrays of a fixed type for their results.
export type F = Float32Array | Float64Array;
export type DType = 'float32' | 'float64';

export function alloc(dtype: DType, n: number): F {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** A fresh zeroed array of the same type as `like`. */
export function allocLike(like: F, n: number): F {
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/**
 * A grow-only Float64Array for one call site: `const acc = sums(n)` returns n zeroed doubles without
 * allocating on every training step (parameter-gradient sums of the knot-based activations). A call
 * site must be done with its view before it asks again; distinct call sites own distinct buffers.
 */
export function reusableSums(): (n: number) => Float64Array {
  let buf = new Float64Array(0);
  return (n) => {
    if (buf.length < n) buf = new Float64Array(n);
    const view = buf.subarray(0, n);
    view.fill(0);
    return view;
  };
}

