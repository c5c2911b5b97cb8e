/**
 * Memory layouts of strided tensors, by torch's rules.
 *
 * @module
 */

/** Strides of a contiguous (row-major) tensor of `shape`; a size-0 dimension counts as 1. */
export function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = step;
    step *= Math.max(shape[i], 1);
  }
  return stride;
}

/**
 * torch's `is_contiguous`: the elements are row-major without gaps. Size-1
 * dimensions may have any stride, and an empty tensor is contiguous.
 */
export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  if (shape.includes(0)) return true;
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1) {
      if (stride[d] !== expected) return false;
      expected *= shape[d];
    }
  }
  return true;
}
