/**
 * Python `repr` of scalar values, for listings and messages.
 *
 * @module
 */

import { floatRepr, PyFloat } from "./py_float.ts";
import { PyStr } from "./py_str.ts";

// Characters Python's str.isprintable() rejects, the space excepted.
const UNPRINTABLE = /[\p{C}\p{Z}]/u;

/**
 * Python's `repr` of a str: quotes chosen and characters escaped as CPython
 * does.
 */
export function strRepr(text: string | PyStr): string {
  const units = typeof text === "string" ? text : text.units;
  const quote = units.includes("'") && !units.includes('"') ? '"' : "'";
  let out = quote;
  const chars = typeof text === "string"
    ? text
    : text.codePoints().map((point) => String.fromCodePoint(point));
  for (const char of chars) {
    const code = char.codePointAt(0)!;
    if (char === quote || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (char === " " || (code >= 0x20 && code < 0x7f)) out += char;
    else if (UNPRINTABLE.test(char)) {
      out += code <= 0xff
        ? `\\x${hex(code, 2)}`
        : code <= 0xffff
        ? `\\u${hex(code, 4)}`
        : `\\U${hex(code, 8)}`;
    } else out += char;
  }
  return out + quote;
}

/** Python's `repr` of a bytes object. */
export function bytesRepr(bytes: Uint8Array): string {
  let hasSingle = false;
  let hasDouble = false;
  for (const byte of bytes) {
    if (byte === 0x27) hasSingle = true;
    if (byte === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? '"' : "'";
  let out = `b${quote}`;
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    if (char === quote || char === "\\") out += `\\${char}`;
    else if (byte === 0x0a) out += "\\n";
    else if (byte === 0x0d) out += "\\r";
    else if (byte === 0x09) out += "\\t";
    else if (byte < 0x20 || byte >= 0x7f) out += `\\x${hex(byte, 2)}`;
    else out += char;
  }
  return out + quote;
}

/** Python's `repr` of a scalar: int, float, bool, None, str or bytes. */
export function scalarRepr(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return strRepr(value);
    case "number":
      return Number.isSafeInteger(value) ? String(value) : floatRepr(value);
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "True" : "False";
  }
  if (value === null) return "None";
  if (value instanceof PyFloat) return floatRepr(value.value);
  if (value instanceof Uint8Array) return bytesRepr(value);
  if (value instanceof PyStr) return strRepr(value);
  return undefined;
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}
