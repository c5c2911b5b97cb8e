/**
 * A Python scalar as one tensor element, the way `torch.full` converts its
 * fill value: the dtype it implies, and the overflow check torch makes
 * before converting (`65519.0` is refused for float16, though it would
 * round to 65504; `-1` wraps to uint8 255, `-1.0` is refused).
 *
 * A JS number that is an integer stands for a Python int (as the decoder
 * reads ints); wrap it in a {@linkcode PyFloat} to mean a Python float.
 * `-0`, NaN, infinities and fractions are floats.
 *
 * @module
 */

import { PyFloat } from "../pickle/py_float.ts";
import { castElements } from "./cast.ts";
import { type DType, dtype as lookupDtype } from "./dtype.ts";
import { TensorError } from "./tensor_error.ts";

/** A Python scalar: bool, int (an integral number or a bigint) or float. */
export type Scalar = number | bigint | boolean | PyFloat;

type Kind = { kind: "bool"; value: boolean } | { kind: "int"; value: bigint } | {
  kind: "float";
  value: number;
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// The ints each dtype takes without overflow, where narrower than int64's.
const INT_RANGE: Record<string, [bigint, bigint]> = {
  float16: [-65504n, 65504n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  int8: [-128n, 127n],
  uint8: [-255n, 255n],
};

// The C++ type torch names in its overflow message, and the range it checks.
const LIMITS: Record<string, { type: string; lowest: number; max: number }> = {
  float64: { type: "double", lowest: -Number.MAX_VALUE, max: Number.MAX_VALUE },
  float32: { type: "float", lowest: -3.4028234663852886e38, max: 3.4028234663852886e38 },
  float16: { type: "at::Half", lowest: -65504, max: 65504 },
  bfloat16: { type: "at::BFloat16", lowest: -3.3895313892515355e38, max: 3.3895313892515355e38 },
  // 2**63 - 1 is 2**63 as a double: torch compares doubles, so 2.0**63 passes.
  int64: { type: "int64_t", lowest: -(2 ** 63), max: 2 ** 63 },
  int32: { type: "int", lowest: -(2 ** 31), max: 2 ** 31 - 1 },
  int16: { type: "int16_t", lowest: -(2 ** 15), max: 2 ** 15 - 1 },
  int8: { type: "int8_t", lowest: -(2 ** 7), max: 2 ** 7 - 1 },
  uint8: { type: "uint8_t", lowest: 0, max: 255 },
};

function classify(value: Scalar, operation: string): Kind {
  if (typeof value === "boolean") return { kind: "bool", value };
  if (value instanceof PyFloat) return { kind: "float", value: value.value };
  if (typeof value === "bigint") return { kind: "int", value };
  if (typeof value === "number") {
    if (Number.isInteger(value) && !Object.is(value, -0)) {
      return { kind: "int", value: BigInt(value) };
    }
    return { kind: "float", value };
  }
  throw new TensorError(operation, `${String(value)} is not a bool, int or float`);
}

/**
 * The dtype torch gives a tensor filled with `value` when none is named:
 * bool, int64, or the default float32.
 */
export function scalarDtype(value: Scalar, operation = "create tensor"): DType {
  const { kind } = classify(value, operation);
  return lookupDtype(kind === "bool" ? "bool" : kind === "int" ? "int64" : "float32")!;
}

/**
 * One element of `type` holding `value`, as `torch.full` converts it.
 *
 * @throws {TensorError} where torch refuses the value for the dtype (overflow),
 * or for a dtype it does not fill (see `CAST_DTYPES`).
 */
export function scalarElement(value: Scalar, type: DType, operation = "create tensor"): Uint8Array {
  const scalar = classify(value, operation);
  const overflow = () =>
    new TensorError(
      operation,
      `value cannot be converted to type ${LIMITS[type.name].type} without overflow`,
      "RuntimeError",
    );
  if (scalar.kind === "bool") {
    return castElements(new Uint8Array([scalar.value ? 1 : 0]), lookupDtype("bool")!, type);
  }
  if (scalar.kind === "int") {
    const v = scalar.value;
    // A Python int must fit a C++ int64 before anything else.
    if (v < INT64_MIN || v > INT64_MAX) {
      throw new TensorError(operation, "Overflow when unpacking long", "RuntimeError");
    }
    // Every int64 fits float64, float32 and bfloat16's ranges; unsigned
    // destinations let a negative int wrap, down to -max.
    const limit = INT_RANGE[type.name];
    if (limit !== undefined && (v < limit[0] || v > limit[1])) throw overflow();
    return castElements(
      new Uint8Array(new BigInt64Array([v]).buffer),
      lookupDtype("int64")!,
      type,
    );
  }
  const x = scalar.value;
  const limit = LIMITS[type.name];
  if (limit !== undefined) {
    const integral = !(type.name.startsWith("float") || type.name === "bfloat16");
    // Floats take infinities and NaN; integers refuse them (NaN compares false).
    const outside = x < limit.lowest || x > limit.max;
    if (integral ? !(x === x) || outside : Number.isFinite(x) && outside) throw overflow();
  }
  return castElements(new Uint8Array(new Float64Array([x]).buffer), lookupDtype("float64")!, type);
}
