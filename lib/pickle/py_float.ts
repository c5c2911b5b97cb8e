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

/** Formats a number the way Python's `repr(float)` does. */
export function floatRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (Object.is(value, -0)) return "-0.0";
  const text = String(value);
  if (/e/.test(text)) {
    // JS writes 1e+21 where Python writes 1e+21 too, but 1e-7 vs 1e-07.
    return text.replace(/e([+-])(\d)$/, "e$10$2");
  }
  return text.includes(".") ? text : `${text}.0`;
}
