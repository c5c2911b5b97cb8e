/**
 * Torch element types and the storage classes that name them in a pickle.
 *
 * @module
 */

/** A torch dtype: its name (as in `torch.float32`) and element size in bytes. */
export interface DType {
  /** Name without the `torch.` prefix, e.g. `"float32"`. */
  readonly name: string;
  /** Bytes per element. */
  readonly itemsize: number;
}

const TABLE: ReadonlyArray<readonly [string, number, string | undefined]> = [
  // [dtype, itemsize, legacy typed storage class]; dtypes without one are
  // saved as UntypedStorage plus an explicit dtype (_rebuild_tensor_v3).
  ["float64", 8, "DoubleStorage"],
  ["float32", 4, "FloatStorage"],
  ["float16", 2, "HalfStorage"],
  ["bfloat16", 2, "BFloat16Storage"],
  ["int64", 8, "LongStorage"],
  ["int32", 4, "IntStorage"],
  ["int16", 2, "ShortStorage"],
  ["int8", 1, "CharStorage"],
  ["uint8", 1, "ByteStorage"],
  ["bool", 1, "BoolStorage"],
  ["complex128", 16, "ComplexDoubleStorage"],
  ["complex64", 8, "ComplexFloatStorage"],
  ["complex32", 4, undefined],
  ["qint8", 1, "QInt8Storage"],
  ["quint8", 1, "QUInt8Storage"],
  ["qint32", 4, "QInt32Storage"],
  ["quint4x2", 1, "QUInt4x2Storage"],
  ["quint2x4", 1, "QUInt2x4Storage"],
  ["uint16", 2, undefined],
  ["uint32", 4, undefined],
  ["uint64", 8, undefined],
  ["float8_e5m2", 1, undefined],
  ["float8_e4m3fn", 1, undefined],
  ["float8_e5m2fnuz", 1, undefined],
  ["float8_e4m3fnuz", 1, undefined],
  ["float8_e8m0fnu", 1, undefined],
  ["float4_e2m1fn_x2", 1, undefined],
  ["bits8", 1, undefined],
  ["bits16", 2, undefined],
  ["bits1x8", 1, undefined],
  ["bits2x4", 1, undefined],
  ["bits4x2", 1, undefined],
];

const BY_NAME = new Map<string, DType>();
const BY_STORAGE = new Map<string, DType>();
const STORAGE_OF = new Map<string, string>();
for (const [name, itemsize, storage] of TABLE) {
  const dtype = Object.freeze({ name, itemsize });
  BY_NAME.set(name, dtype);
  if (storage !== undefined) {
    BY_STORAGE.set(storage, dtype);
    STORAGE_OF.set(name, storage);
  }
}

/** The storage class that holds raw bytes with no element type. */
export const UNTYPED_STORAGE = "UntypedStorage";

/**
 * Looks up a dtype by name (`"float32"`, also `"torch.float32"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dtype } from "./dtype.ts";
 * assert.equal(dtype("bfloat16")?.itemsize, 2);
 * ```
 */
export function dtype(name: string): DType | undefined {
  return BY_NAME.get(name.startsWith("torch.") ? name.slice(6) : name);
}

/** The dtype of a typed storage class (`"FloatStorage"`); uint8 for `UntypedStorage`. */
export function dtypeOfStorageClass(storageClass: string): DType | undefined {
  if (storageClass === UNTYPED_STORAGE) return BY_NAME.get("uint8");
  return BY_STORAGE.get(storageClass);
}

/** The legacy storage class torch pickles for `dtype`, when there is one. */
export function storageClassOf(dtype: DType): string | undefined {
  return STORAGE_OF.get(dtype.name);
}
