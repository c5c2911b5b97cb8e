/**
 * Python `float`, kept apart from `int` so that `1.0` stays a float and
 * `-0.0` and NaN payloads survive a round trip.
 *
 * @module
 */

import { INSPECT, inspectValue } from "./_inspect.ts";

/** A Python float. JS numbers decode as ints when integral; this class marks a float. */
export class PyFloat {
  /** The IEEE-754 value. */
  readonly value: number;
  /** The raw big-endian bits, kept only for NaNs so their payload survives. */
  readonly nanBits: Uint8Array | undefined;

  /** Wraps `value`; `nanBits` (8 bytes, big-endian) keeps a NaN's payload. */
  constructor(value: number, nanBits?: Uint8Array) {
    this.value = value;
    this.nanBits = Number.isNaN(value) ? nanBits : undefined;
  }

  /** Lets `+x`, `x * 2` and comparisons use the numeric value. */
  valueOf(): number {
    return this.value;
  }

  /** Python's `repr` of the float. */
  toString(): string {
    return floatRepr(this.value);
  }

  /** How `console.log` and `Deno.inspect` show the float: Python's repr, `1.0`, `nan`, `-0.0`. */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(
      this,
      "PyFloat",
      inspect,
      options,
      (printer) => printer.style(floatRepr(this.value), "number"),
      true,
    );
  }
}

/**
 * Formats a number the way Python's `repr(float)` (and `str`) does: the
 * shortest digits that read back the same, as JS picks them too, laid out
 * in exponent form below 1e-4 and from 1e16 on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { floatRepr } from "./py_float.ts";
 * assert.equal(floatRepr(1e16), "1e+16");
 * assert.equal(floatRepr(0.0001), "0.0001");
 * assert.equal(floatRepr(1.5e-5), "1.5e-05");
 * assert.equal(floatRepr(3), "3.0");
 * ```
 */
export function floatRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const [mantissa, exponentText] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exponent = Number(exponentText);
  const sign = value < 0 ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : "";
    const power = String(Math.abs(exponent)).padStart(2, "0");
    return `${sign}${digits[0]}${fraction}e${exponent < 0 ? "-" : "+"}${power}`;
  }
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0");
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}.${fraction === "" ? "0" : fraction}`;
}
