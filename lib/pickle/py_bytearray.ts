/**
 * Python `bytearray`, kept apart from `bytes` (which decode to `Uint8Array`).
 *
 * @module
 */

import { UNHASHABLE } from "./_hash_key.ts";
import { INSPECT, inspectValue } from "./_inspect.ts";
import { bytesRepr } from "./repr.ts";

// Bytes shown before the rest is elided.
const SHOWN_BYTES = 64;

/** A Python bytearray: mutable bytes. */
export class PyByteArray {
  /** The content. */
  bytes: Uint8Array;

  /** Wraps `bytes` (not copied). */
  constructor(bytes: Uint8Array = new Uint8Array(0)) {
    this.bytes = bytes;
  }

  /** How `console.log` and `Deno.inspect` show it: `PyByteArray(3) b'abc'`, long ones cut. */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(this, "PyByteArray", inspect, options, (printer) => {
      const shown = bytesRepr(this.bytes.subarray(0, SHOWN_BYTES));
      const text = this.bytes.length > SHOWN_BYTES ? `${shown}...` : shown;
      return `PyByteArray(${this.bytes.length}) ${printer.style(text, "string")}`;
    }, true);
  }

  /** Python refuses bytearrays as keys. */
  get [UNHASHABLE](): string | undefined {
    return "bytearray";
  }
}
