/**
 * Python `bytearray`, kept apart from `bytes` (which decode to `Uint8Array`).
 *
 * @module
 */

import { UNHASHABLE } from "./_hash_key.ts";

/** A Python bytearray: mutable bytes. */
export class PyByteArray {
  /** The content. */
  bytes: Uint8Array;

  /** Wraps `bytes` (not copied). */
  constructor(bytes: Uint8Array = new Uint8Array(0)) {
    this.bytes = bytes;
  }

  /** Python refuses bytearrays as keys. */
  get [UNHASHABLE](): string | undefined {
    return "bytearray";
  }
}
