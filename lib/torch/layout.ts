/**
 * Memory layouts of strided tensors, by torch's rules: which are
 * contiguous, which are dense, the strides a copy gets, and the strides a
 * view of another shape can have.
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

/**
 * torch's `is_non_overlapping_and_dense`: the elements fill a block of
 * memory exactly, in some order of dimensions (transposed, channels-last).
 */
export function isNonOverlappingAndDense(
  shape: readonly number[],
  stride: readonly number[],
): boolean {
  if (isContiguous(shape, stride)) return true;
  const ndim = shape.length;
  if (ndim === 1) return shape[0] < 2 || stride[0] === 1;
  // Dimensions by increasing stride, size-0 and size-1 dimensions last.
  const order = [...shape.keys()].sort((a, b) => {
    if (shape[a] < 2 || shape[b] < 2) return (shape[a] < 2 ? 1 : 0) - (shape[b] < 2 ? 1 : 0);
    return stride[a] - stride[b];
  });
  let required = 1;
  for (const d of order) {
    if (shape[d] < 2) return true;
    if (stride[d] !== required) return false;
    required *= shape[d];
  }
  return true;
}

/**
 * The strides torch gives a copy that keeps the layout of a tensor that is
 * not dense (`empty_like` with `preserve_format`): dimensions keep their
 * order by stride (ties by size), gaps close, stride-0 dimensions stay where
 * they are.
 */
export function inferDenseStrides(shape: readonly number[], stride: readonly number[]): number[] {
  const ndim = shape.length;
  // Innermost first; an insertion sort, stable as torch's, with torch's comparison.
  const perm = [...shape.keys()].reverse();
  const compare = (a: number, b: number) => {
    if (stride[a] === 0 || stride[b] === 0) return 0;
    if (stride[a] !== stride[b]) return stride[a] < stride[b] ? -1 : 1;
    return shape[a] > shape[b] ? 1 : 0;
  };
  for (let i = 1; i < ndim; i++) {
    let dim1 = i;
    for (let dim0 = i - 1; dim0 >= 0; dim0--) {
      const c = compare(perm[dim0], perm[dim1]);
      if (c > 0) {
        [perm[dim0], perm[dim1]] = [perm[dim1], perm[dim0]];
        dim1 = dim0;
      } else if (c < 0) break;
    }
  }
  const out = new Array<number>(ndim);
  let step = 1;
  for (const d of perm) {
    out[d] = step;
    if (shape[d] > 1) step *= shape[d];
  }
  return out;
}

/**
 * The strides of a view of `shape` on a tensor of `oldShape`/`oldStride`
 * (torch's `computeStride`), or `undefined` when no view has that shape
 * and a copy is needed. Dimensions are cut into runs that are contiguous
 * with each other; each run must split exactly into dimensions of the new
 * shape.
 */
export function computeStride(
  oldShape: readonly number[],
  oldStride: readonly number[],
  shape: readonly number[],
): number[] | undefined {
  if (oldShape.length === 0) return new Array<number>(shape.length).fill(1);
  const numel = oldShape.reduce((a, b) => a * b, 1);
  if (numel === 0) {
    const same = oldShape.length === shape.length && oldShape.every((s, i) => s === shape[i]);
    return same ? [...oldStride] : contiguousStride(shape);
  }
  const stride = new Array<number>(shape.length);
  let viewD = shape.length - 1;
  let chunkBaseStride = oldStride[oldStride.length - 1];
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let tensorD = oldShape.length - 1; tensorD >= 0; tensorD--) {
    tensorNumel *= oldShape[tensorD];
    // A run ends where the next outer dimension is not contiguous with it.
    if (
      tensorD === 0 ||
      (oldShape[tensorD - 1] !== 1 && oldStride[tensorD - 1] !== tensorNumel * chunkBaseStride)
    ) {
      while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
        stride[viewD] = viewNumel * chunkBaseStride;
        viewNumel *= shape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return undefined;
      if (tensorD > 0) {
        chunkBaseStride = oldStride[tensorD - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? stride : undefined;
}
