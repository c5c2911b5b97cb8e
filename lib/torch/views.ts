/**
 * View operations as layout arithmetic: each takes a tensor's shape, stride
 * and offset and gives those of the view torch makes (`narrow`, `select`,
 * `split`, `chunk`, `transpose`, `permute`, `view`...), or throws torch's
 * error for the same call (torch 1.13's wording). No bytes are involved.
 *
 * @module
 */

import { computeStride } from "./layout.ts";
import { TensorError } from "./tensor_error.ts";

/** Where a tensor's elements sit in its storage, in elements. */
export interface Layout {
  /** Size of each dimension. */
  shape: number[];
  /** Step between elements of each dimension. */
  stride: number[];
  /** Position of the first element. */
  offset: number;
}

function refuse(operation: string, reason: string, torchError: "IndexError" | "RuntimeError") {
  return new TensorError(operation, reason, torchError);
}

/** Throws unless every argument is an integer (torch takes Python ints). */
function integers(operation: string, values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isSafeInteger(value)) {
      throw new TensorError(operation, `${name} ${String(value)} is not an integer`);
    }
  }
}

function list(values: readonly number[]): string {
  return `[${values.join(", ")}]`;
}

/**
 * `dim` as an index into `ndim` dimensions, negative ones counted from the
 * end; a 0-d tensor takes 0 and -1 (torch's `maybe_wrap_dim`).
 */
export function wrapDim(dim: number, ndim: number, operation: string): number {
  const n = Math.max(ndim, 1);
  if (dim < -n || dim > n - 1) {
    throw refuse(
      operation,
      `Dimension out of range (expected to be in range of [${-n}, ${n - 1}], but got ${dim})`,
      "IndexError",
    );
  }
  return dim < 0 ? dim + n : dim;
}

/** `narrow(dim, start, length)`: `length` elements of `dim` from `start`. */
export function narrow(layout: Layout, dim: number, start: number, length: number): Layout {
  const operation = "narrow tensor";
  integers(operation, { dim, start, length });
  if (layout.shape.length === 0) {
    throw refuse(operation, "narrow() cannot be applied to a 0-dim tensor.", "RuntimeError");
  }
  const d = wrapDim(dim, layout.shape.length, operation);
  const size = layout.shape[d];
  // torch 1.13 wraps start like a dimension, except that start == size is allowed.
  const first = start === size ? start : wrapDim(start, size, operation);
  if (length < 0 || first > size - length) {
    throw refuse(
      operation,
      `start (${first}) + length (${length}) exceeds dimension size (${size}).`,
      "RuntimeError",
    );
  }
  return slice(layout, d, first, length);
}

function slice(layout: Layout, d: number, start: number, length: number): Layout {
  const shape = [...layout.shape];
  shape[d] = length;
  return { shape, stride: [...layout.stride], offset: layout.offset + start * layout.stride[d] };
}

/** `select(dim, index)`: the slice at `index` of `dim`, without that dimension. */
export function select(layout: Layout, dim: number, index: number): Layout {
  const operation = "select from tensor";
  integers(operation, { dim, index });
  const ndim = layout.shape.length;
  if (ndim === 0) {
    throw refuse(operation, "select() cannot be applied to a 0-dim tensor.", "IndexError");
  }
  const d = wrapDim(dim, ndim, operation);
  const size = layout.shape[d];
  if (index < -size || index >= size) {
    throw refuse(
      operation,
      `select(): index ${index} out of range for tensor of size ${
        list(layout.shape)
      } at dimension ${d}`,
      "IndexError",
    );
  }
  const i = index < 0 ? index + size : index;
  return {
    shape: layout.shape.filter((_, k) => k !== d),
    stride: layout.stride.filter((_, k) => k !== d),
    offset: layout.offset + i * layout.stride[d],
  };
}

/** `split(size, dim)`: pieces of `size` along `dim`, the last one shorter. */
export function split(layout: Layout, size: number, dim: number): Layout[] {
  const operation = "split tensor";
  integers(operation, { size, dim });
  if (layout.shape.length === 0) {
    throw refuse(operation, "split expects at least a 1-dimensional tensor", "RuntimeError");
  }
  if (size < 0) {
    throw refuse(
      operation,
      `split expects split_size be non-negative, but got split_size=${size}`,
      "RuntimeError",
    );
  }
  const d = wrapDim(dim, layout.shape.length, operation);
  const length = layout.shape[d];
  if (size === 0 && length !== 0) {
    throw refuse(
      operation,
      `split_size can only be 0 if dimension size is 0, but got dimension size of ${length}`,
      "RuntimeError",
    );
  }
  // At least one piece, even when size exceeds the dimension.
  const count = size === 0 ? 1 : Math.max(Math.ceil(length / size), 1);
  const last = size - (size * count - length);
  return Array.from(
    { length: count },
    (_, i) => slice(layout, d, i * size, i < count - 1 ? size : last),
  );
}

/** `split([sizes], dim)` (torch's `split_with_sizes`): pieces of the given sizes. */
export function splitWithSizes(layout: Layout, sizes: readonly number[], dim: number): Layout[] {
  const operation = "split tensor";
  integers(operation, { dim });
  sizes.forEach((size, i) => integers(operation, { [`size ${i}`]: size }));
  if (layout.shape.length === 0) {
    throw refuse(operation, "split expects at least a 1-dimensional tensor", "RuntimeError");
  }
  const d = wrapDim(dim, layout.shape.length, operation);
  const length = layout.shape[d];
  if (sizes.some((size) => size < 0)) {
    throw refuse(
      operation,
      `split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes=${
        list(sizes)
      }`,
      "RuntimeError",
    );
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== length) {
    throw refuse(
      operation,
      `split_with_sizes expects split_sizes to sum exactly to ${length} (input tensor's size at dimension ${dim}), but got split_sizes=${
        list(sizes)
      }`,
      "RuntimeError",
    );
  }
  let start = 0;
  return sizes.map((size) => {
    const piece = slice(layout, d, start, size);
    start += size;
    return piece;
  });
}

/**
 * `chunk(chunks, dim)`: `split` by `ceil(size / chunks)`, so there may be
 * fewer than `chunks` pieces; a dimension of size 0 gives `chunks` empty ones.
 */
export function chunk(layout: Layout, chunks: number, dim: number): Layout[] {
  const operation = "chunk tensor";
  integers(operation, { chunks, dim });
  if (layout.shape.length === 0) {
    throw refuse(operation, "chunk expects at least a 1-dimensional tensor", "RuntimeError");
  }
  if (chunks <= 0) {
    throw refuse(
      operation,
      `chunk expects \`chunks\` to be greater than 0, got: ${chunks}`,
      "RuntimeError",
    );
  }
  const d = wrapDim(dim, layout.shape.length, operation);
  const length = layout.shape[d];
  const size = Math.ceil(length / chunks);
  if (size === 0) return splitWithSizes(layout, new Array<number>(chunks).fill(0), d);
  return split(layout, size, d);
}

/** `transpose(dim0, dim1)`: the two dimensions swapped. */
export function transpose(layout: Layout, dim0: number, dim1: number): Layout {
  const operation = "transpose tensor";
  integers(operation, { dim0, dim1 });
  const ndim = layout.shape.length;
  const a = wrapDim(dim0, ndim, operation);
  const b = wrapDim(dim1, ndim, operation);
  const shape = [...layout.shape];
  const stride = [...layout.stride];
  if (ndim > 0) {
    [shape[a], shape[b]] = [shape[b], shape[a]];
    [stride[a], stride[b]] = [stride[b], stride[a]];
  }
  return { shape, stride, offset: layout.offset };
}

/** `t()`: a matrix transposed; 0-d and 1-d tensors as they are. */
export function t(layout: Layout): Layout {
  const ndim = layout.shape.length;
  if (ndim > 2) {
    throw refuse(
      "transpose tensor",
      `t() expects a tensor with <= 2 dimensions, but self is ${ndim}D`,
      "RuntimeError",
    );
  }
  return ndim === 2 ? transpose(layout, 0, 1) : transpose(layout, 0, 0);
}

/** `permute(dims)`: dimension `i` of the result is dimension `dims[i]`. */
export function permute(layout: Layout, dims: readonly number[]): Layout {
  const operation = "permute tensor";
  dims.forEach((dim, i) => integers(operation, { [`dim ${i}`]: dim }));
  const ndim = layout.shape.length;
  if (dims.length !== ndim) {
    throw refuse(
      operation,
      `permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = ${ndim} is not equal to len(dims) = ${dims.length}`,
      "RuntimeError",
    );
  }
  const wrapped = dims.map((dim) => wrapDim(dim, ndim, operation));
  if (new Set(wrapped).size !== wrapped.length) {
    throw refuse(operation, "permute(): duplicate dims are not allowed.", "RuntimeError");
  }
  return {
    shape: wrapped.map((d) => layout.shape[d]),
    stride: wrapped.map((d) => layout.stride[d]),
    offset: layout.offset,
  };
}

/** `unsqueeze(dim)`: a size-1 dimension inserted at `dim`. */
export function unsqueeze(layout: Layout, dim: number): Layout {
  const operation = "unsqueeze tensor";
  integers(operation, { dim });
  const ndim = layout.shape.length;
  const d = wrapDim(dim, ndim + 1, operation);
  const stride = d < ndim ? layout.shape[d] * layout.stride[d] : 1;
  return {
    shape: [...layout.shape.slice(0, d), 1, ...layout.shape.slice(d)],
    stride: [...layout.stride.slice(0, d), stride, ...layout.stride.slice(d)],
    offset: layout.offset,
  };
}

/** `squeeze()`: every size-1 dimension removed; `squeeze(dim)`: `dim` if its size is 1. */
export function squeeze(layout: Layout, dim?: number): Layout {
  const operation = "squeeze tensor";
  let drop: (size: number, k: number) => boolean = (size) => size === 1;
  if (dim !== undefined) {
    integers(operation, { dim });
    const d = wrapDim(dim, layout.shape.length, operation);
    drop = (size, k) => k === d && size === 1;
  }
  return {
    shape: layout.shape.filter((size, k) => !drop(size, k)),
    stride: layout.stride.filter((_, k) => !drop(layout.shape[k], k)),
    offset: layout.offset,
  };
}

/**
 * `expand(sizes)`: size-1 dimensions repeated (stride 0) and new leading
 * dimensions added; -1 keeps a size.
 */
export function expand(layout: Layout, sizes: readonly number[], typeName: string): Layout {
  const operation = "expand tensor";
  sizes.forEach((size, i) => integers(operation, { [`size ${i}`]: size }));
  const ndim = layout.shape.length;
  if (sizes.length < ndim) {
    throw refuse(
      operation,
      `expand(${typeName}{${list(layout.shape)}}, size=${
        list(sizes)
      }): the number of sizes provided (${sizes.length}) must be greater or equal to the number of dimensions in the tensor (${ndim})`,
      "RuntimeError",
    );
  }
  // A 0-d tensor takes the sizes as given (-1 included), all with stride 0.
  const shape = ndim === 0 ? [...sizes] : new Array<number>(sizes.length);
  const stride = new Array<number>(sizes.length).fill(0);
  for (let i = sizes.length - 1; i >= 0 && ndim > 0; i--) {
    const d = ndim - sizes.length + i;
    let size = d >= 0 ? layout.shape[d] : 1;
    let step = d >= 0 ? layout.stride[d] : i + 1 < sizes.length ? shape[i + 1] * stride[i + 1] : 1;
    let target = sizes[i];
    if (target === -1) {
      if (d < 0) {
        throw refuse(
          operation,
          `The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension ${i}`,
          "RuntimeError",
        );
      }
      target = size;
    }
    if (size !== target) {
      if (size !== 1) {
        throw refuse(
          operation,
          `The expanded size of the tensor (${target}) must match the existing size (${size}) at non-singleton dimension ${i}.  Target sizes: ${
            list(sizes)
          }.  Tensor sizes: ${list(layout.shape)}`,
          "RuntimeError",
        );
      }
      size = target;
      step = 0;
    }
    shape[i] = size;
    stride[i] = step;
  }
  // torch finds a negative size only when it counts the elements.
  if (shape.some((size) => size < 0)) {
    throw refuse(operation, "numel: integer multiplication overflow", "RuntimeError");
  }
  return { shape, stride, offset: layout.offset };
}

/**
 * The shape `shape` means for `numel` elements (torch's `infer_size`): a
 * single -1 takes the remaining size.
 */
export function inferSize(shape: readonly number[], numel: number, operation: string): number[] {
  shape.forEach((size, i) => integers(operation, { [`size ${i}`]: size }));
  let inferred = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === -1) {
      if (inferred >= 0) {
        throw refuse(operation, "only one dimension can be inferred", "RuntimeError");
      }
      inferred = i;
    } else if (shape[i] >= 0) known *= shape[i];
    else throw refuse(operation, `invalid shape dimension ${shape[i]}`, "RuntimeError");
  }
  const out = [...shape];
  if (numel === known || (inferred >= 0 && known > 0 && numel % known === 0)) {
    if (inferred >= 0) {
      if (known === 0) {
        throw refuse(
          operation,
          `cannot reshape tensor of 0 elements into shape ${
            list(shape)
          } because the unspecified dimension size -1 can be any value and is ambiguous`,
          "RuntimeError",
        );
      }
      out[inferred] = numel / known;
    }
    return out;
  }
  throw refuse(
    operation,
    `shape '${list(shape)}' is invalid for input of size ${numel}`,
    "RuntimeError",
  );
}

/** `view(shape)`: the same elements in another shape, when strides allow it. */
export function view(layout: Layout, shape: readonly number[]): Layout {
  const operation = "view tensor";
  const numel = layout.shape.reduce((a, b) => a * b, 1);
  const target = inferSize(shape, numel, operation);
  const stride = computeStride(layout.shape, layout.stride, target);
  if (stride === undefined) {
    throw refuse(
      operation,
      "view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.",
      "RuntimeError",
    );
  }
  return { shape: target, stride, offset: layout.offset };
}

/**
 * `reshape(shape)`'s view, or `undefined` when the strides need a copy
 * (`shape` with -1 resolved is `inferSize`'s).
 */
export function reshapeView(layout: Layout, shape: readonly number[]): Layout | undefined {
  const stride = computeStride(layout.shape, layout.stride, shape);
  return stride === undefined ? undefined : { shape: [...shape], stride, offset: layout.offset };
}

/**
 * The shape `flatten(startDim, endDim)` reshapes to (0-d tensors become
 * 1-d), or `undefined` when torch returns the tensor itself (one dimension).
 */
export function flattenShape(
  shape: readonly number[],
  startDim: number,
  endDim: number,
): number[] | undefined {
  const operation = "flatten tensor";
  integers(operation, { startDim, endDim });
  const start = wrapDim(startDim, shape.length, operation);
  const end = wrapDim(endDim, shape.length, operation);
  if (start > end) {
    throw refuse(
      operation,
      "flatten() has invalid args: start_dim cannot come after end_dim",
      "RuntimeError",
    );
  }
  if (shape.length === 0) return [1];
  if (start === end) return undefined;
  const merged = shape.slice(start, end + 1).reduce((a, b) => a * b, 1);
  return [...shape.slice(0, start), merged, ...shape.slice(end + 1)];
}
