/**
 * Read access to numpy arrays and scalars inside a checkpoint, which
 * numpy pickles as `_reconstruct` + BUILD and `scalar(dtype, bytes)`.
 *
 * @module
 */

import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";

/** A numpy array as pickled: element type, shape and raw data. */
export interface NdarrayView {
  /** numpy's name for the dtype, as `str(a.dtype)` prints it (`"float32"`, `"<U5"`). */
  dtype: string;
  /** Size of each dimension. */
  shape: number[];
  /** True when the data is in Fortran (column-major) order. */
  fortran: boolean;
  /** The raw element bytes, or the items of an object array. */
  data: Uint8Array | unknown[];
}

const MULTIARRAY = new Set(["numpy.core.multiarray", "numpy._core.multiarray"]);
const KINDS: Record<string, string> = { f: "float", i: "int", u: "uint", c: "complex" };

/** numpy's name of a pickled `numpy.dtype` object, e.g. `"float64"`; undefined if it is not one. */
export function numpyDtypeName(value: unknown): string | undefined {
  if (!(value instanceof PyObject) || !value.isA("numpy", "dtype")) return undefined;
  const code = value.args[0];
  if (typeof code !== "string") return undefined;
  const state = value.state instanceof Tuple ? value.state : undefined;
  const order = typeof state?.[1] === "string" ? state[1] : "|";
  const match = /^([a-zA-Z])(\d*)$/.exec(code);
  if (match === null) return code;
  const [, kind, size] = match;
  if (kind === "b" && size === "1") return "bool";
  if (kind === "O") return "object";
  const base = KINDS[kind];
  // Non-native byte order shows as the typestring, as numpy prints it.
  if (base !== undefined && order !== ">") {
    const bits = Number(size) * 8;
    return `${base}${bits}`;
  }
  return `${order}${kind}${size}`;
}

/**
 * Reads a pickled numpy array; `undefined` when `value` is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readNdarray } from "./ndarray.ts";
 * assert.equal(readNdarray("not an array"), undefined);
 * ```
 */
export function readNdarray(value: unknown): NdarrayView | undefined {
  if (!(value instanceof PyObject)) return undefined;
  const callable = value.className;
  if (callable === undefined || !callable.endsWith("._reconstruct")) return undefined;
  if (!MULTIARRAY.has(callable.slice(0, -"._reconstruct".length))) return undefined;
  const state = value.state;
  if (!(state instanceof Tuple) || state.length !== 5) return undefined;
  const [, shape, dtypeObject, fortran, data] = state;
  const dtype = numpyDtypeName(dtypeObject);
  if (dtype === undefined || !(shape instanceof Tuple) || typeof fortran !== "boolean") {
    return undefined;
  }
  if (!(data instanceof Uint8Array) && !Array.isArray(data)) return undefined;
  return { dtype, shape: shape.map(Number), fortran, data };
}

/** Reads a pickled numpy scalar (`np.float64(1.5)`) as dtype and raw bytes. */
export function readNumpyScalar(value: unknown): { dtype: string; data: Uint8Array } | undefined {
  if (!(value instanceof PyObject)) return undefined;
  const callable = value.className;
  if (callable === undefined || !callable.endsWith(".scalar")) return undefined;
  if (!MULTIARRAY.has(callable.slice(0, -".scalar".length))) return undefined;
  const [dtypeObject, data] = value.args;
  const dtype = numpyDtypeName(dtypeObject);
  if (dtype === undefined || !(data instanceof Uint8Array)) return undefined;
  return { dtype, data };
}
