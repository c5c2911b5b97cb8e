// UTF-8 with Python's "surrogatepass" error handler, which pickle uses for
// str: lone surrogates are encoded as 3-byte sequences instead of failing.
import { type PyStr, strOfCodePoints } from "./py_str.ts";

const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
const SHORT_ASCII = 128;
const shortCodes: number[] = [];

/**
 * Decodes `bytes[start, end)`; returns undefined when the bytes are not
 * valid, and a {@linkcode PyStr} when surrogate code points would pair up.
 */
export function decodeUtf8(
  bytes: Uint8Array,
  start: number,
  end: number,
): string | PyStr | undefined {
  const length = end - start;
  if (length <= 9 && length > 0) {
    // Decimal numerals (torch's storage keys) come from the number-to-string
    // path: V8 hashes those strings once, ahead of the maps that look them up.
    let value = 0;
    let i = start;
    for (; i < end; i++) {
      const digit = bytes[i] - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (i === end && (length === 1 || bytes[start] !== 0x30)) return String(value);
  }
  if (length <= SHORT_ASCII) {
    // Short ASCII (dict keys, names) is the common case: one fromCharCode
    // call is several times faster than a TextDecoder call or `+=`.
    const codes = shortCodes;
    codes.length = length;
    let ascii = true;
    for (let i = 0; i < length; i++) {
      const byte = bytes[start + i];
      if (byte >= 0x80) {
        ascii = false;
        break;
      }
      codes[i] = byte;
    }
    if (ascii) return String.fromCharCode.apply(null, codes);
  }
  try {
    return strictDecoder.decode(bytes.subarray(start, end));
  } catch {
    return decodeSurrogatepass(bytes, start, end);
  }
}

function decodeSurrogatepass(
  bytes: Uint8Array,
  start: number,
  end: number,
): string | PyStr | undefined {
  const points: number[] = [];
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    let code: number;
    let need: number;
    if (b0 < 0x80) {
      code = b0;
      need = 0;
    } else if (b0 >= 0xc2 && b0 < 0xe0) {
      code = b0 & 0x1f;
      need = 1;
    } else if (b0 >= 0xe0 && b0 < 0xf0) {
      code = b0 & 0x0f;
      need = 2;
    } else if (b0 >= 0xf0 && b0 < 0xf5) {
      code = b0 & 0x07;
      need = 3;
    } else {
      return undefined;
    }
    if (i + need >= end) return undefined;
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k];
      if ((b & 0xc0) !== 0x80) return undefined;
      code = (code << 6) | (b & 0x3f);
    }
    // Reject overlong forms and code points past U+10FFFF; surrogates pass.
    if ((need === 2 && code < 0x800) || (need === 3 && (code < 0x10000 || code > 0x10ffff))) {
      return undefined;
    }
    points.push(code);
    i += need + 1;
  }
  return strOfCodePoints(points);
}

/** Upper bound of the encoded size of `text`. */
export function maxUtf8Length(text: string): number {
  return text.length * 3;
}

/**
 * Exact encoded size of `text` as {@linkcode encodeUtf8Into} or
 * {@linkcode encodePyStrInto} writes it (a lone surrogate takes 3 bytes).
 */
export function utf8Length(text: string | PyStr): number {
  let size = 0;
  if (typeof text !== "string" && text.exact) return utf8Length(text.units);
  if (typeof text !== "string") {
    for (const code of text.codePoints()) size += pointLength(code);
    return size;
  }
  for (let i = 0; i < text.length; i++) {
    const code = pointAt(text, i);
    if (code > 0xffff) i++;
    size += pointLength(code);
  }
  return size;
}

/** The code point at unit `i`: a surrogate pair joined, a lone surrogate on its own. */
function pointAt(text: string, i: number): number {
  const code = text.charCodeAt(i);
  if (code >= 0xd800 && code < 0xdc00) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc00 && low < 0xe000) return 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
  }
  return code;
}

/** Bytes {@linkcode encodePoint} writes for `code`. */
function pointLength(code: number): number {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

/**
 * Encodes `text` into `target` at `offset` (which must have room for
 * {@linkcode maxUtf8Length} bytes); returns the number of bytes written.
 */
export function encodeUtf8Into(text: string, target: Uint8Array, offset: number): number {
  const length = text.length;
  if (length <= 32) {
    let pos = offset;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) return encodeSlow(text, target, offset);
      target[pos++] = code;
    }
    return length;
  }
  if (text.isWellFormed()) {
    return encoder.encodeInto(text, target.subarray(offset)).written;
  }
  return encodeSlow(text, target, offset);
}

/** Encodes the code points of `text`, surrogates included, as UTF-8 with surrogatepass. */
export function encodePyStrInto(text: PyStr, target: Uint8Array, offset: number): number {
  if (text.exact) return encodeUtf8Into(text.units, target, offset);
  let pos = offset;
  for (const code of text.codePoints()) pos = encodePoint(code, target, pos);
  return pos - offset;
}

function encodeSlow(text: string, target: Uint8Array, offset: number): number {
  let pos = offset;
  for (let i = 0; i < text.length; i++) {
    const code = pointAt(text, i);
    if (code > 0xffff) i++;
    pos = encodePoint(code, target, pos);
  }
  return pos - offset;
}

/** Writes one code point (a lone surrogate too) at `pos`; returns the position after it. */
function encodePoint(code: number, target: Uint8Array, pos: number): number {
  if (code < 0x80) {
    target[pos++] = code;
  } else if (code < 0x800) {
    target[pos++] = 0xc0 | (code >> 6);
    target[pos++] = 0x80 | (code & 0x3f);
  } else if (code < 0x10000) {
    target[pos++] = 0xe0 | (code >> 12);
    target[pos++] = 0x80 | ((code >> 6) & 0x3f);
    target[pos++] = 0x80 | (code & 0x3f);
  } else {
    target[pos++] = 0xf0 | (code >> 18);
    target[pos++] = 0x80 | ((code >> 12) & 0x3f);
    target[pos++] = 0x80 | ((code >> 6) & 0x3f);
    target[pos++] = 0x80 | (code & 0x3f);
  }
  return pos;
}
