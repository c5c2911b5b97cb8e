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
import { castElements } from "./cast.ts";
import { type DType, dtype as lookupDtype } from "./dtype.ts";
import { contiguousStride, isContiguous } from "./layout.ts";
import { Storage } from "./storage.ts";
import { TensorError } from "./tensor_error.ts";
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
  ["int16", Int16Array],
  ["uint16", Uint16Array],
  ["int32", Int32Array],
  ["uint32", Uint32Array],
  ["int64", BigInt64Array],
  ["uint64", BigUint64Array],
];

// The array toTypedArray reads each dtype into; bfloat16 is widened to float32.
const READ_AS = new Map<string, ArrayType>([...ARRAY_DTYPES, ["bool", Uint8Array]]);

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

/** Throws torch's error for a shape with a negative or fractional size. */
function checkShape(shape: readonly number[], operation: string): void {
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
