/**
 * Torch tensors as views on a {@linkcode Storage}: dtype, shape, stride and
 * offset, with the bytes read only when asked.
 *
 * @module
 */

import { CheckpointError } from "../errors.ts";
import { MEMO_SLOT } from "../pickle/_identity_memo.ts";
import { clip, INSPECT, inspectValue } from "../pickle/_inspect.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import { CAST_DTYPES, castElements } from "./cast.ts";
import { type DType, dtype as lookupDtype } from "./dtype.ts";
import {
  contiguousStride,
  inferDenseStrides,
  isContiguous,
  isNonOverlappingAndDense,
} from "./layout.ts";
import { type Scalar, scalarDtype, scalarElement } from "./scalar.ts";
import { Storage } from "./storage.ts";
import { TensorError } from "./tensor_error.ts";
import {
  chunk,
  expand,
  flattenShape,
  inferSize,
  type Layout,
  narrow,
  permute,
  reshapeView,
  select,
  split,
  splitWithSizes,
  squeeze,
  t,
  transpose,
  unsqueeze,
  view,
} from "./views.ts";
import { copyStrided } from "./_strided_copy.ts";

export { contiguousStride };

/** Which torch function rebuilds the tensor on load. */
export type TensorRebuild = "v2" | "v3";

/** Typed arrays a tensor can be created from or read into. */
export type TensorArray =
  | Float64Array
  | Float32Array
  | Float16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

type ArrayType = new (buffer: ArrayBuffer) => TensorArray;

// The dtype of each typed array's elements.
const ARRAY_DTYPES: ReadonlyArray<readonly [string, ArrayType]> = [
  ["float64", Float64Array],
  ["float32", Float32Array],
  ["float16", Float16Array],
  ["int8", Int8Array],
  ["uint8", Uint8Array],
  ["uint8", Uint8ClampedArray],
  ["int16", Int16Array],
  ["uint16", Uint16Array],
  ["int32", Int32Array],
  ["uint32", Uint32Array],
  ["int64", BigInt64Array],
  ["uint64", BigUint64Array],
];

// The array toTypedArray reads each dtype into; bfloat16 is widened to float32.
const READ_AS = new Map<string, ArrayType>([
  ...ARRAY_DTYPES,
  ["uint8", Uint8Array],
  ["bool", Uint8Array],
]);

/** A tensor: a strided view on a storage. */
export class Tensor {
  /** The storage the tensor views; tensors may share one. */
  storage: Storage;
  /** Offset of the first element, in elements of `dtype`. */
  offset: number;
  /** Size of each dimension. */
  shape: number[];
  /** Step between elements of each dimension, in elements. */
  stride: number[];
  /** Whether autograd tracks the tensor. */
  requiresGrad: boolean;
  /** The pickled backward hooks (an empty `OrderedDict` in practice). */
  backwardHooks: unknown;
  /** Extra tensor metadata torch may pickle; `undefined` when absent. */
  metadata: unknown;
  /** The element type. */
  readonly dtype: DType;
  /** How the tensor is rebuilt on load. */
  readonly rebuild: TensorRebuild;

  #memoSlot = -1;

  /** @ignore */
  [MEMO_SLOT](slot?: number): number {
    if (slot !== undefined) this.#memoSlot = slot;
    return this.#memoSlot;
  }

  /** Creates a view; most callers use {@linkcode Tensor.fromTypedArray}. */
  constructor(init: {
    storage: Storage;
    offset?: number;
    shape: number[];
    stride?: number[];
    requiresGrad?: boolean;
    backwardHooks?: unknown;
    metadata?: unknown;
    dtype?: DType;
    rebuild?: TensorRebuild;
  }) {
    this.storage = init.storage;
    this.offset = init.offset ?? 0;
    this.shape = init.shape;
    this.stride = init.stride ?? contiguousStride(init.shape);
    this.requiresGrad = init.requiresGrad ?? false;
    this.backwardHooks = init.backwardHooks ?? emptyHooks();
    this.metadata = init.metadata;
    this.dtype = init.dtype ?? init.storage.dtype;
    this.rebuild = init.rebuild ?? (init.storage.untyped ? "v3" : "v2");
  }

  /**
   * A new contiguous tensor holding a copy of `array`, of the dtype of its
   * elements (a `Float16Array` is float16, a `BigInt64Array` int64). With
   * `dtype`, the values are converted as `torch.tensor(array).to(dtype)`
   * does, bit for bit (see {@linkcode castElements}); a `Uint8Array` of 0 and
   * 1 becomes a bool tensor this way.
   *
   * @throws {TensorError} for an unknown dtype, a conversion
   * {@linkcode castElements} does not do, or a shape of another size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.fromTypedArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
   * assert.equal(t.dtype.name, "float32");
   * assert.deepEqual(t.stride, [3, 1]);
   * assert.deepEqual(await t.toTypedArray(), new Float32Array([1, 2, 3, 4, 5, 6]));
   *
   * const half = Tensor.fromTypedArray(new Float64Array([0.1, 65519]), [2], { dtype: "float16" });
   * assert.deepEqual(await half.toTypedArray(), new Float16Array([0.0999755859375, 65504]));
   * ```
   */
  static fromTypedArray(
    array: TensorArray,
    shape: number[] = [array.length],
    options: { dtype?: string; requiresGrad?: boolean } = {},
  ): Tensor {
    const natural = ARRAY_DTYPES.find(([, type]) => array instanceof type);
    if (natural === undefined) {
      throw new TensorError(
        "create tensor",
        `a ${array?.constructor?.name} is not one of the typed arrays a tensor holds`,
      );
    }
    const from = lookupDtype(natural[0])!;
    const name = options.dtype ?? from.name;
    const type = lookupDtype(name);
    if (type === undefined) throw new TensorError("create tensor", `unknown dtype ${name}`);
    checkShape(shape, "create tensor");
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel !== array.length) {
      throw new TensorError(
        "create tensor",
        `shape [${shape.join(", ")}] has ${numel} elements, the array has ${array.length}`,
      );
    }
    const source = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    const bytes = type === from ? source.slice() : castElements(source, from, type);
    const storage = Storage.fromBytes(bytes, type);
    return new Tensor({
      storage,
      shape: [...shape],
      dtype: type,
      requiresGrad: options.requiresGrad,
    });
  }

  /** Number of elements. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /**
   * True when the elements are laid out row-major without gaps, as torch's
   * `is_contiguous`: size-1 dimensions may have any stride, and an empty
   * tensor is contiguous.
   */
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.stride);
  }

  /** Bytes of the storage this view can reach: `(offset + span) * itemsize`. */
  get requiredBytes(): number {
    if (this.numel === 0) return 0;
    let last = this.offset;
    for (let i = 0; i < this.shape.length; i++) last += (this.shape[i] - 1) * this.stride[i];
    return (last + 1) * this.dtype.itemsize;
  }

  /**
   * The tensor's elements as raw bytes in row-major order. Only the part of
   * the storage the view reaches is read from the archive; a contiguous
   * view of a storage in memory is returned without a copy.
   *
   * @throws {CheckpointError} when the view reaches past its storage.
   */
  async bytes(): Promise<Uint8Array> {
    const size = this.dtype.itemsize;
    const numel = this.numel;
    if (numel === 0) return new Uint8Array(0);
    const required = this.requiredBytes;
    if (required > this.storage.nbytes) {
      throw new CheckpointError(
        `Cannot read tensor: view needs ${required} bytes, storage has ${this.storage.nbytes}`,
      );
    }
    const span = await this.storage.read(this.offset * size, required - this.offset * size);
    if (this.isContiguous) return span.subarray(0, numel * size);
    const out = new Uint8Array(numel * size);
    copyStrided(this.shape, size, span, { offset: 0, stride: this.stride }, out, {
      offset: 0,
      stride: contiguousStride(this.shape),
    });
    return out;
  }

  /**
   * The elements in row-major order as a typed array (a copy): float16 as a
   * `Float16Array`, bfloat16 widened exactly to a `Float32Array`, bool as a
   * `Uint8Array` of 0 and 1, int64 as a `BigInt64Array`.
   *
   * @throws {TensorError} for dtypes JS has no array for (complex, float8, quantized).
   */
  async toTypedArray(): Promise<TensorArray> {
    const type = READ_AS.get(this.dtype.name);
    if (type === undefined && this.dtype.name !== "bfloat16") {
      throw new TensorError("read tensor", `no typed array holds ${this.dtype.name}`);
    }
    const bytes = (await this.bytes()).slice();
    if (type !== undefined) return new type(bytes.buffer);
    // bfloat16 is the top half of a float32.
    const halves = new Uint16Array(bytes.buffer);
    const out = new Uint32Array(halves.length);
    for (let i = 0; i < halves.length; i++) out[i] = halves[i] << 16;
    return new Float32Array(out.buffer);
  }

  /** The tensor's shape, stride and offset. */
  get layout(): Layout {
    return { shape: [...this.shape], stride: [...this.stride], offset: this.offset };
  }

  /** A view of `layout` on the same storage: nothing is read or copied. */
  #view(layout: Layout): Tensor {
    return new Tensor({
      storage: this.storage,
      offset: layout.offset,
      shape: layout.shape,
      stride: layout.stride,
      requiresGrad: this.requiresGrad,
      dtype: this.dtype,
      rebuild: this.rebuild,
    });
  }

  /**
   * `length` elements of dimension `dim` from `start` (negative counts from
   * the end), as torch's `narrow`: a view, nothing is read.
   *
   * @throws {TensorError} with torch's reason for a 0-d tensor, a dimension
   * or start out of range, or a length past the end.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.fromTypedArray(new Float32Array([0, 1, 2, 3, 4, 5]), [3, 2]);
   * const rows = t.narrow(0, 1, 2);
   * assert.equal(rows.storage, t.storage);
   * assert.deepEqual([rows.shape, rows.offset], [[2, 2], 2]);
   * assert.deepEqual(await rows.toTypedArray(), new Float32Array([2, 3, 4, 5]));
   * ```
   */
  narrow(dim: number, start: number, length: number): Tensor {
    return this.#view(narrow(this, dim, start, length));
  }

  /**
   * The slice at `index` of dimension `dim`, which is removed, as torch's
   * `select` (`t[index]` for `dim` 0): a view.
   *
   * @throws {TensorError} with torch's reason for a 0-d tensor or an index
   * or dimension out of range.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.fromTypedArray(new Int32Array([0, 1, 2, 3, 4, 5]), [2, 3]);
   * assert.deepEqual(await t.select(1, -1).toTypedArray(), new Int32Array([2, 5]));
   * ```
   */
  select(dim: number, index: number): Tensor {
    return this.#view(select(this, dim, index));
  }

  /**
   * Splits dimension `dim` into `chunks` views of `ceil(size / chunks)`
   * elements, as torch's `chunk`: the last may be shorter and there may be
   * fewer than `chunks` (size 3 in 4 chunks gives 3).
   *
   * @throws {TensorError} with torch's reason for a 0-d tensor, `chunks`
   * below 1, or a dimension out of range.
   *
   * @example Split a fused qkv projection
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const qkv = Tensor.fromTypedArray(new Float32Array(6 * 4), [6, 4]);
   * const [q, k, v] = qkv.chunk(3);
   * assert.deepEqual([q.shape, k.offset, v.offset], [[2, 4], 8, 16]);
   * ```
   */
  chunk(chunks: number, dim = 0): Tensor[] {
    return chunk(this, chunks, dim).map((layout) => this.#view(layout));
  }

  /**
   * Views of dimension `dim` cut into pieces of `splitSize` elements (the
   * last may be shorter), or of the listed sizes, which must add up to the
   * dimension's size, as torch's `split`.
   *
   * @throws {TensorError} with torch's reason.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.fromTypedArray(new Float32Array(10), [10]);
   * assert.deepEqual(t.split(4).map((p) => p.shape[0]), [4, 4, 2]);
   * assert.deepEqual(t.split([2, 0, 8]).map((p) => p.offset), [0, 2, 2]);
   * ```
   */
  split(splitSize: number | readonly number[], dim = 0): Tensor[] {
    const pieces = typeof splitSize === "number"
      ? split(this, splitSize, dim)
      : splitWithSizes(this, splitSize, dim);
    return pieces.map((layout) => this.#view(layout));
  }

  /**
   * Dimensions `dim0` and `dim1` swapped, as torch's `transpose`: a view.
   *
   * @throws {TensorError} with torch's reason for a dimension out of range.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.zeros([2, 3, 4]).transpose(0, -1);
   * assert.deepEqual([t.shape, t.stride], [[4, 3, 2], [1, 4, 12]]);
   * ```
   */
  transpose(dim0: number, dim1: number): Tensor {
    return this.#view(transpose(this, dim0, dim1));
  }

  /**
   * A matrix transposed, as torch's `t()`; a 0-d or 1-d tensor is viewed as is.
   *
   * @throws {TensorError} for more than 2 dimensions.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * assert.deepEqual(Tensor.zeros([2, 3]).t().stride, [1, 3]);
   * ```
   */
  t(): Tensor {
    return this.#view(t(this));
  }

  /**
   * Dimensions reordered, as torch's `permute`: dimension `i` of the view
   * is dimension `dims[i]` of this tensor. Takes a list or the dimensions
   * as arguments.
   *
   * @throws {TensorError} with torch's reason for a wrong number of
   * dimensions, one out of range, or a repeated one.
   *
   * @example Channels-last
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.zeros([2, 3, 4, 5]).permute(0, 2, 3, 1);
   * assert.deepEqual([t.shape, t.stride], [[2, 4, 5, 3], [60, 5, 1, 20]]);
   * ```
   */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return this.#view(permute(this, listArgument(dims)));
  }

  /**
   * A size-1 dimension inserted at `dim` (up to `ndim`, negative from the
   * end), as torch's `unsqueeze`: a view.
   *
   * @throws {TensorError} for a dimension out of range.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * assert.deepEqual(Tensor.zeros([3]).unsqueeze(-1).shape, [3, 1]);
   * ```
   */
  unsqueeze(dim: number): Tensor {
    return this.#view(unsqueeze(this, dim));
  }

  /**
   * Size-1 dimensions removed (only `dim`, when given and of size 1), as
   * torch's `squeeze`: a view.
   *
   * @throws {TensorError} for a dimension out of range.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * assert.deepEqual(Tensor.zeros([1, 3, 1]).squeeze().shape, [3]);
   * assert.deepEqual(Tensor.zeros([1, 3, 1]).squeeze(0).shape, [3, 1]);
   * ```
   */
  squeeze(dim?: number): Tensor {
    return this.#view(squeeze(this, dim));
  }

  /**
   * Size-1 dimensions repeated and leading dimensions added, with stride
   * 0, as torch's `expand` (-1 keeps a size): a view, nothing is copied.
   *
   * @throws {TensorError} with torch's reason for fewer sizes than
   * dimensions or a size that does not match.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.zeros([3, 1]).expand(2, -1, 4);
   * assert.deepEqual([t.shape, t.stride], [[2, 3, 4], [0, 1, 0]]);
   * ```
   */
  expand(...sizes: number[] | [readonly number[]]): Tensor {
    const type = TYPE_NAMES[this.dtype.name] ?? `torch.${this.dtype.name}`;
    return this.#view(expand(this, listArgument(sizes), type));
  }

  /**
   * The same elements in another shape (one size may be -1), as torch's
   * `view`: a view, so the strides must allow it; {@linkcode Tensor.reshape}
   * copies when they do not.
   *
   * @throws {TensorError} with torch's reason for a shape of another size,
   * or strides no view of that shape can have.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.zeros([2, 3, 4]);
   * assert.deepEqual(t.view(6, -1).shape, [6, 4]);
   * assert.throws(() => t.transpose(0, 1).view(-1), /Use \.reshape\(\.\.\.\) instead/);
   * ```
   */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return this.#view(view(this, listArgument(shape)));
  }

  /**
   * The same elements in another shape (one size may be -1), as torch's
   * `reshape`: a view when the strides allow one, else a contiguous copy
   * (which reads only this tensor's bytes).
   *
   * @throws {TensorError} with torch's reason for a shape of another size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.fromTypedArray(new Int8Array([0, 1, 2, 3, 4, 5]), [2, 3]).t();
   * const flat = await t.reshape(-1);
   * assert.notEqual(flat.storage, t.storage);
   * assert.deepEqual(await flat.toTypedArray(), new Int8Array([0, 3, 1, 4, 2, 5]));
   * ```
   */
  async reshape(...shape: number[] | [readonly number[]]): Promise<Tensor> {
    const target = inferSize(listArgument(shape), this.numel, "reshape tensor");
    const layout = reshapeView(this, target);
    if (layout !== undefined) return this.#view(layout);
    const copy = await this.#copy(contiguousStride(this.shape), this.dtype);
    return copy.#view({ shape: target, stride: contiguousStride(target), offset: 0 });
  }

  /**
   * Dimensions `startDim` to `endDim` merged into one, as torch's `flatten`
   * (a 0-d tensor becomes 1-d; this tensor itself when there is nothing to
   * merge): {@linkcode Tensor.reshape} to that shape.
   *
   * @throws {TensorError} with torch's reason for dimensions out of range or
   * in the wrong order.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * assert.deepEqual((await Tensor.zeros([2, 3, 4]).flatten(1)).shape, [2, 12]);
   * ```
   */
  async flatten(startDim = 0, endDim = -1): Promise<Tensor> {
    const shape = flattenShape(this.shape, startDim, endDim);
    return shape === undefined ? this : await this.reshape(shape);
  }

  /**
   * This tensor when it is contiguous (torch's `is_contiguous`), else a
   * contiguous copy, as torch's `contiguous()`: the layout safetensors
   * and most consumers need.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.fromTypedArray(new Float32Array([1, 2, 3, 4]), [2, 2]);
   * assert.equal(await t.contiguous(), t);
   * const copy = await t.t().contiguous();
   * assert.deepEqual([copy.stride, await copy.toTypedArray()], [[2, 1], new Float32Array([1, 3, 2, 4])]);
   * ```
   */
  async contiguous(): Promise<Tensor> {
    return this.isContiguous ? this : await this.#copy(contiguousStride(this.shape), this.dtype);
  }

  /**
   * A copy in a new storage, as torch's `clone()`: a dense tensor keeps its
   * strides (a transposed or channels-last tensor stays so), another gets
   * dense strides in the same dimension order; `memoryFormat: "contiguous"`
   * gives row-major strides. Only this tensor's bytes are read.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.zeros([4, 6]).t();
   * assert.deepEqual((await t.clone()).stride, [1, 6]);
   * assert.deepEqual((await t.clone({ memoryFormat: "contiguous" })).stride, [4, 1]);
   * ```
   */
  async clone(options: { memoryFormat?: "preserve" | "contiguous" } = {}): Promise<Tensor> {
    const format = options.memoryFormat ?? "preserve";
    if (format !== "preserve" && format !== "contiguous") {
      throw new TensorError("clone tensor", `unknown memory format ${String(format)}`);
    }
    const stride = format === "contiguous" ? contiguousStride(this.shape) : this.#preservedStride();
    return await this.#copy(stride, this.dtype);
  }

  /**
   * The tensor converted to `dtype` as torch's `tensor.to(dtype)` does, bit
   * for bit (see {@linkcode castElements}); this tensor itself when it
   * already has that dtype. The copy keeps the strides as
   * {@linkcode Tensor.clone} does. Only this tensor's bytes are read.
   *
   * @throws {TensorError} for an unknown dtype or one outside {@linkcode CAST_DTYPES}.
   *
   * @example Cast for inference
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.fromTypedArray(new Float32Array([1 + 2 ** -8, 3.4e38]));
   * const half = await t.to("bfloat16");
   * assert.deepEqual(await half.toTypedArray(), new Float32Array([1, Infinity]));
   * assert.equal(await t.to("float32"), t);
   * ```
   */
  async to(dtype: string | DType): Promise<Tensor> {
    const name = typeof dtype === "string" ? dtype : dtype.name;
    const type = lookupDtype(name);
    if (type === undefined) throw new TensorError("convert tensor", `unknown dtype ${name}`);
    if (type.name === this.dtype.name) return this;
    for (const each of [this.dtype, type]) {
      if (!CAST_DTYPES.includes(each.name)) {
        throw new TensorError(
          `convert ${this.dtype.name} to ${type.name}`,
          `ckptkit converts only between ${CAST_DTYPES.join(", ")}`,
        );
      }
    }
    return await this.#copy(this.#preservedStride(), type);
  }

  /** The strides of a copy that keeps the layout (torch's `preserve_format`). */
  #preservedStride(): number[] {
    return isNonOverlappingAndDense(this.shape, this.stride)
      ? [...this.stride]
      : inferDenseStrides(this.shape, this.stride);
  }

  /**
   * A copy with `stride` (dense: it covers `numel` elements) in a new storage
   * of `type`, reading only this tensor's bytes.
   */
  async #copy(stride: number[], type: DType): Promise<Tensor> {
    const size = this.dtype.itemsize;
    const numel = this.numel;
    if (numel === 0) return this.#made(new Uint8Array(0), stride, type);
    const span = await this.#span();
    let elements: Uint8Array;
    if (stride.every((step, i) => step === this.stride[i])) {
      // A dense layout kept as is: the elements sit where they sit in the
      // span, which a conversion reads without copying it first.
      elements = span.subarray(0, numel * size);
      if (type.name === this.dtype.name) elements = elements.slice();
    } else {
      elements = new Uint8Array(numel * size);
      copyStrided(this.shape, size, span, { offset: 0, stride: this.stride }, elements, {
        offset: 0,
        stride,
      });
    }
    const bytes = type.name === this.dtype.name
      ? elements
      : castElements(elements, this.dtype, type);
    return this.#made(bytes, stride, type);
  }

  /** A tensor of this shape on a new storage holding `bytes`. */
  #made(bytes: Uint8Array, stride: number[], type: DType): Tensor {
    return new Tensor({
      storage: Storage.fromBytes(bytes, type, this.storage.location),
      shape: [...this.shape],
      stride,
      requiresGrad: this.requiresGrad,
      dtype: type,
    });
  }

  /** The storage bytes from this view's first element to its last. */
  async #span(): Promise<Uint8Array> {
    const required = this.requiredBytes;
    if (required > this.storage.nbytes) {
      throw new CheckpointError(
        `Cannot read tensor: view needs ${required} bytes, storage has ${this.storage.nbytes}`,
      );
    }
    const start = this.offset * this.dtype.itemsize;
    return await this.storage.read(start, required - start);
  }

  /**
   * A new contiguous tensor of zeros, as `torch.zeros(shape, dtype=dtype)`
   * (default float32); any dtype, a bool's zeros are false.
   *
   * @throws {TensorError} for an unknown dtype or a negative size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.zeros([3, 0]);
   * assert.deepEqual([t.dtype.name, t.stride], ["float32", [1, 1]]);
   * ```
   */
  static zeros(
    shape: readonly number[],
    dtype: string | DType = "float32",
    options: { requiresGrad?: boolean } = {},
  ): Tensor {
    const type = dtypeArgument(dtype, "create tensor");
    checkShape(shape, "create tensor");
    const numel = shape.reduce((a, b) => a * b, 1);
    const storage = Storage.fromBytes(new Uint8Array(numel * type.itemsize), type);
    return new Tensor({ storage, shape: [...shape], dtype: type, ...options });
  }

  /**
   * A new contiguous tensor filled with `value`, as `torch.full(shape,
   * value, dtype=dtype)`: without a dtype, a bool gives bool, an int int64
   * and a float float32. An integral JS number is a Python int; wrap a
   * float in {@linkcode PyFloat} to say so. torch's overflow checks apply
   * (`300` does not fit int8, `65519.0` not float16).
   *
   * @throws {TensorError} with torch's reason for a value that overflows the
   * dtype, or for an unknown dtype or negative size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PyFloat, Tensor } from "../../mod.ts";
   * assert.equal(Tensor.full([2], 7).dtype.name, "int64");
   * assert.equal(Tensor.full([2], new PyFloat(7)).dtype.name, "float32");
   * const mask = Tensor.full([2, 2], true);
   * assert.deepEqual(await mask.bytes(), new Uint8Array([1, 1, 1, 1]));
   * assert.throws(() => Tensor.full([2], 300, "int8"), /without overflow/);
   * ```
   */
  static full(
    shape: readonly number[],
    value: Scalar,
    dtype?: string | DType,
    options: { requiresGrad?: boolean } = {},
  ): Tensor {
    const operation = "create tensor";
    const type = dtype === undefined ? scalarDtype(value) : dtypeArgument(dtype, operation);
    checkShape(shape, operation);
    const element = scalarElement(value, type, operation);
    const numel = shape.reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(numel * type.itemsize);
    for (let i = 0; i < numel; i++) bytes.set(element, i * element.length);
    const storage = Storage.fromBytes(bytes, type);
    return new Tensor({ storage, shape: [...shape], dtype: type, ...options });
  }

  /**
   * How `console.log` and `Deno.inspect` show the tensor, without reading
   * it: `Tensor(float32 [2, 3], stride [1, 2], offset 4, requires_grad)`.
   */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(
      this,
      "Tensor",
      inspect,
      options,
      () => `Tensor(${describe(this, this.requiresGrad)})`,
      true,
    );
  }

  /** The object torch's unpickler calls to rebuild this tensor. */
  toReduce(): PyObject {
    const args: unknown[] = [
      this.storage,
      this.offset,
      Tuple.fromArray(this.shape),
      Tuple.fromArray(this.stride),
      this.requiresGrad,
      this.backwardHooks,
    ];
    if (this.rebuild === "v3") args.push(PyGlobal.of("torch", this.dtype.name));
    if (this.metadata !== undefined) args.push(this.metadata);
    return new PyObject(
      PyGlobal.of(
        "torch._utils",
        this.rebuild === "v3" ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2",
      ),
      Tuple.fromArray(args),
    );
  }
}

// How torch names a CPU tensor's type in its expand errors: the legacy
// Python type where there is one, the dispatch type name otherwise.
const TYPE_NAMES: Record<string, string> = {
  float64: "torch.DoubleTensor",
  float32: "torch.FloatTensor",
  float16: "torch.HalfTensor",
  int64: "torch.LongTensor",
  int32: "torch.IntTensor",
  int16: "torch.ShortTensor",
  int8: "torch.CharTensor",
  uint8: "torch.ByteTensor",
  bfloat16: "CPUBFloat16Type",
  bool: "CPUBoolType",
  complex64: "CPUComplexFloatType",
  complex128: "CPUComplexDoubleType",
};

/** Sizes given as arguments or as one list, as torch takes them. */
function listArgument(values: number[] | [readonly number[]]): readonly number[] {
  return values.length === 1 && Array.isArray(values[0])
    ? values[0] as readonly number[]
    : values as number[];
}

function dtypeArgument(dtype: string | DType, operation: string): DType {
  const name = typeof dtype === "string" ? dtype : dtype.name;
  const type = lookupDtype(name);
  if (type === undefined) throw new TensorError(operation, `unknown dtype ${name}`);
  return type;
}

/** Throws torch's error for a shape with a negative or fractional size. */
function checkShape(shape: readonly number[], operation: string): void {
  if (!Array.isArray(shape)) throw new TensorError(operation, "the shape is not a list of sizes");
  for (const size of shape) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new TensorError(
        operation,
        `Trying to create tensor with negative dimension ${size}: [${shape.join(", ")}]`,
        "RuntimeError",
      );
    }
  }
}

// A hostile pickle may give a tensor a million dimensions.
const MAX_SIZES_TEXT = 120;

/** dtype, shape, and what differs from a plain contiguous CPU tensor. */
function describe(tensor: Tensor, requiresGrad: boolean): string {
  const sizes = (values: unknown) =>
    Array.isArray(values) ? clip(`[${values.join(", ")}]`, MAX_SIZES_TEXT) : String(values);
  const parts = [`${tensor.dtype?.name} ${sizes(tensor.shape)}`];
  let contiguous = true;
  try {
    contiguous = tensor.isContiguous;
  } catch { /* a malformed shape: show the stride */ }
  if (!contiguous) parts.push(`stride ${sizes(tensor.stride)}`);
  if (tensor.offset !== 0) parts.push(`offset ${tensor.offset}`);
  const location = tensor.storage?.location;
  if (location !== undefined && location !== "cpu") parts.push(`device ${location}`);
  if (requiresGrad) parts.push("requires_grad");
  return parts.join(", ");
}

/** A fresh `collections.OrderedDict()`, what torch pickles for no backward hooks. */
export function emptyHooks(): PyObject {
  return new PyObject(PyGlobal.of("collections", "OrderedDict"), Tuple.of());
}

/** `torch.nn.Parameter`: a tensor registered as a module weight. */
export class Parameter {
  /** The tensor holding the values. */
  data: Tensor;
  /** Whether autograd tracks the parameter. */
  requiresGrad: boolean;
  /** The pickled backward hooks. */
  backwardHooks: unknown;
  /** Python attributes set on the parameter (`_rebuild_parameter_with_state`); `undefined` when none. */
  state: unknown;

  #memoSlot = -1;

  /** @ignore */
  [MEMO_SLOT](slot?: number): number {
    if (slot !== undefined) this.#memoSlot = slot;
    return this.#memoSlot;
  }

  /** Wraps `data` as a parameter. */
  constructor(
    data: Tensor,
    requiresGrad = true,
    backwardHooks: unknown = emptyHooks(),
    state?: unknown,
  ) {
    this.data = data;
    this.requiresGrad = requiresGrad;
    this.backwardHooks = backwardHooks;
    this.state = state;
  }

  /** The element type of `data`. */
  get dtype(): DType {
    return this.data.dtype;
  }

  /** The shape of `data`. */
  get shape(): number[] {
    return this.data.shape;
  }

  /** The storage `data` views. */
  get storage(): Storage {
    return this.data.storage;
  }

  /** The offset of `data` in its storage, in elements. */
  get offset(): number {
    return this.data.offset;
  }

  /** The strides of `data`, in elements. */
  get stride(): number[] {
    return this.data.stride;
  }

  /** The shape, stride and offset of `data`. */
  get layout(): Layout {
    return this.data.layout;
  }

  /** Number of elements of `data`. */
  get numel(): number {
    return this.data.numel;
  }

  /** Whether `data` is contiguous (see {@linkcode Tensor.isContiguous}). */
  get isContiguous(): boolean {
    return this.data.isContiguous;
  }

  /** Bytes of the storage `data` can reach. */
  get requiredBytes(): number {
    return this.data.requiredBytes;
  }

  /** The elements of `data` as raw bytes, row-major (see {@linkcode Tensor.bytes}). */
  bytes(): Promise<Uint8Array> {
    return this.data.bytes();
  }

  /** The elements of `data` as a typed array (see {@linkcode Tensor.toTypedArray}). */
  toTypedArray(): Promise<TensorArray> {
    return this.data.toTypedArray();
  }

  // Helpers work on `data` seen as torch sees the parameter: a tensor that
  // requires grad when the parameter does. Their results are plain tensors,
  // as torch's are, except where torch returns the parameter itself.
  #tensor(): Tensor {
    return new Tensor({
      storage: this.data.storage,
      offset: this.data.offset,
      shape: this.data.shape,
      stride: this.data.stride,
      requiresGrad: this.requiresGrad,
      dtype: this.data.dtype,
      rebuild: this.data.rebuild,
    });
  }

  async #selfOr(make: (tensor: Tensor) => Promise<Tensor>): Promise<Tensor | Parameter> {
    const tensor = this.#tensor();
    const out = await make(tensor);
    return out === tensor ? this : out;
  }

  /** {@linkcode Tensor.narrow} of the parameter: a view. */
  narrow(dim: number, start: number, length: number): Tensor {
    return this.#tensor().narrow(dim, start, length);
  }

  /** {@linkcode Tensor.select} of the parameter: a view. */
  select(dim: number, index: number): Tensor {
    return this.#tensor().select(dim, index);
  }

  /** {@linkcode Tensor.chunk} of the parameter: views. */
  chunk(chunks: number, dim = 0): Tensor[] {
    return this.#tensor().chunk(chunks, dim);
  }

  /** {@linkcode Tensor.split} of the parameter: views. */
  split(splitSize: number | readonly number[], dim = 0): Tensor[] {
    return this.#tensor().split(splitSize, dim);
  }

  /** {@linkcode Tensor.transpose} of the parameter: a view. */
  transpose(dim0: number, dim1: number): Tensor {
    return this.#tensor().transpose(dim0, dim1);
  }

  /** {@linkcode Tensor.t} of the parameter: a view. */
  t(): Tensor {
    return this.#tensor().t();
  }

  /** {@linkcode Tensor.permute} of the parameter: a view. */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return this.#tensor().permute(...dims);
  }

  /** {@linkcode Tensor.unsqueeze} of the parameter: a view. */
  unsqueeze(dim: number): Tensor {
    return this.#tensor().unsqueeze(dim);
  }

  /** {@linkcode Tensor.squeeze} of the parameter: a view. */
  squeeze(dim?: number): Tensor {
    return this.#tensor().squeeze(dim);
  }

  /** {@linkcode Tensor.expand} of the parameter: a view. */
  expand(...sizes: number[] | [readonly number[]]): Tensor {
    return this.#tensor().expand(...sizes);
  }

  /** {@linkcode Tensor.view} of the parameter: a view. */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return this.#tensor().view(...shape);
  }

  /** {@linkcode Tensor.reshape} of the parameter: a view, or a copy when none fits. */
  reshape(...shape: number[] | [readonly number[]]): Promise<Tensor> {
    return this.#tensor().reshape(...shape);
  }

  /** {@linkcode Tensor.flatten} of the parameter; the parameter itself when nothing merges. */
  flatten(startDim = 0, endDim = -1): Promise<Tensor | Parameter> {
    return this.#selfOr((tensor) => tensor.flatten(startDim, endDim));
  }

  /** {@linkcode Tensor.contiguous} of the parameter; the parameter itself when contiguous. */
  contiguous(): Promise<Tensor | Parameter> {
    return this.#selfOr((tensor) => tensor.contiguous());
  }

  /** {@linkcode Tensor.clone} of the parameter: a tensor, as torch's. */
  clone(options: { memoryFormat?: "preserve" | "contiguous" } = {}): Promise<Tensor> {
    return this.#tensor().clone(options);
  }

  /**
   * {@linkcode Tensor.to} of the parameter: a tensor of `dtype`, or the
   * parameter itself when it already has it. Wrap the result in a new
   * `Parameter` to keep it one.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Parameter, Tensor } from "./tensor.ts";
   * const weight = new Parameter(Tensor.zeros([2, 2]));
   * const half = new Parameter(await weight.data.to("float16"), weight.requiresGrad);
   * assert.equal(half.dtype.name, "float16");
   * assert.equal(await weight.to("float32"), weight);
   * ```
   */
  to(dtype: string | DType): Promise<Tensor | Parameter> {
    return this.#selfOr((tensor) => tensor.to(dtype));
  }

  /** How `console.log` and `Deno.inspect` show the parameter: `Parameter(float32 [4, 2], requires_grad)`. */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(
      this,
      "Parameter",
      inspect,
      options,
      () => `Parameter(${describe(this.data, this.requiresGrad)})`,
      true,
    );
  }

  /** The object torch's unpickler calls to rebuild this parameter. */
  toReduce(): PyObject {
    const args: unknown[] = [this.data, this.requiresGrad, this.backwardHooks];
    if (this.state !== undefined) args.push(this.state);
    return new PyObject(
      PyGlobal.of(
        "torch._utils",
        this.state === undefined ? "_rebuild_parameter" : "_rebuild_parameter_with_state",
      ),
      Tuple.fromArray(args),
    );
  }
}
