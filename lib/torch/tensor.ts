/**
 * Torch tensors as views on a {@linkcode Storage}: dtype, shape, stride and
 * offset, with the bytes read only when asked.
 *
 * @module
 */

import { CheckpointError } from "../errors.ts";
import { MEMO_SLOT } from "../pickle/_identity_memo.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import { type DType, dtype as lookupDtype } from "./dtype.ts";
import { Storage } from "./storage.ts";

/** Which torch function rebuilds the tensor on load. */
export type TensorRebuild = "v2" | "v3";

/** Typed arrays a tensor can be created from or read into. */
export type TensorArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

const ARRAY_DTYPES: ReadonlyArray<readonly [string, new (buffer: ArrayBuffer) => TensorArray]> = [
  ["float64", Float64Array],
  ["float32", Float32Array],
  ["int8", Int8Array],
  ["uint8", Uint8Array],
  ["bool", Uint8Array],
  ["int16", Int16Array],
  ["uint16", Uint16Array],
  ["int32", Int32Array],
  ["uint32", Uint32Array],
  ["int64", BigInt64Array],
  ["uint64", BigUint64Array],
];

/** Strides of a contiguous (row-major) tensor of `shape`. */
export function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = step;
    step *= Math.max(shape[i], 1);
  }
  return stride;
}

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
   * A new contiguous tensor holding a copy of `array`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Tensor } from "./tensor.ts";
   * const t = Tensor.fromTypedArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
   * assert.equal(t.dtype.name, "float32");
   * assert.deepEqual(t.stride, [3, 1]);
   * assert.deepEqual(await t.toTypedArray(), new Float32Array([1, 2, 3, 4, 5, 6]));
   * ```
   */
  static fromTypedArray(
    array: TensorArray,
    shape: number[] = [array.length],
    options: { dtype?: string; requiresGrad?: boolean } = {},
  ): Tensor {
    const name = options.dtype ?? ARRAY_DTYPES.find(([, type]) => array instanceof type)![0];
    const type = lookupDtype(name);
    if (type === undefined) {
      throw new CheckpointError(`Cannot create tensor: unknown dtype ${name}`);
    }
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength).slice();
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel * type.itemsize !== bytes.length) {
      throw new CheckpointError(
        `Cannot create tensor: shape [${shape}] needs ${
          numel * type.itemsize
        } bytes, the array has ${bytes.length}`,
      );
    }
    const storage = Storage.fromBytes(bytes, type);
    return new Tensor({ storage, shape, dtype: type, requiresGrad: options.requiresGrad });
  }

  /** Number of elements. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** True when the elements are laid out row-major without gaps. */
  get isContiguous(): boolean {
    const expected = contiguousStride(this.shape);
    return this.shape.every((size, i) => size <= 1 || this.stride[i] === expected[i]);
  }

  /** Bytes of the storage this view can reach: `(offset + span) * itemsize`. */
  get requiredBytes(): number {
    if (this.numel === 0) return 0;
    let last = this.offset;
    for (let i = 0; i < this.shape.length; i++) last += (this.shape[i] - 1) * this.stride[i];
    return (last + 1) * this.dtype.itemsize;
  }

  /** The tensor's elements as raw bytes in row-major order (read from the archive when needed). */
  async bytes(): Promise<Uint8Array> {
    const source = await this.storage.bytes();
    const size = this.dtype.itemsize;
    if (this.requiredBytes > source.length) {
      throw new CheckpointError(
        `Cannot read tensor: view needs ${this.requiredBytes} bytes, storage has ${source.length}`,
      );
    }
    if (this.isContiguous) {
      const start = this.offset * size;
      return source.subarray(start, start + this.numel * size);
    }
    const out = new Uint8Array(this.numel * size);
    const index = new Array<number>(this.shape.length).fill(0);
    for (let n = 0; n < this.numel; n++) {
      let element = this.offset;
      for (let d = 0; d < index.length; d++) element += index[d] * this.stride[d];
      out.set(source.subarray(element * size, element * size + size), n * size);
      for (let d = index.length - 1; d >= 0; d--) {
        if (++index[d] < this.shape[d]) break;
        index[d] = 0;
      }
    }
    return out;
  }

  /** The elements as a typed array (a copy), for dtypes JS has an array type for. */
  async toTypedArray(): Promise<TensorArray> {
    const found = ARRAY_DTYPES.find(([name]) => name === this.dtype.name);
    if (found === undefined) {
      throw new CheckpointError(`Cannot read tensor: no typed array for ${this.dtype.name}`);
    }
    const bytes = (await this.bytes()).slice();
    return new found[1](bytes.buffer);
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
