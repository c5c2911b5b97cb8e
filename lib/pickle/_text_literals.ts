// The text forms of protocol 0 arguments: quoted Python 2 byte strings and
// raw-unicode-escape lines.
import { type PyStr, strOfCodePoints } from "./py_str.ts";

const SIMPLE_ESCAPES: Record<string, number> = {
  "\\": 0x5c,
  "'": 0x27,
  '"': 0x22,
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
};

/** Decodes a Python 2 `repr` of a byte string, quotes included. */
export function decodeStringLiteral(text: string): Uint8Array | undefined {
  const quote = text[0];
  if (text.length < 2 || (quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) {
    return undefined;
  }
  const body = text.slice(1, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== "\\") {
      out.push(body.charCodeAt(i) & 0xff);
      continue;
    }
    const next = body[++i];
    if (next === undefined) return undefined;
    if (next in SIMPLE_ESCAPES) out.push(SIMPLE_ESCAPES[next]);
    else if (next === "\n") continue;
    else if (next === "x") {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (/[0-7]/.test(next)) {
      let octal = next;
      while (octal.length < 3 && /[0-7]/.test(body[i + 1] ?? "")) octal += body[++i];
      out.push(parseInt(octal, 8) & 0xff);
    } else {
      out.push(0x5c, body.charCodeAt(i) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

/**
 * Python's raw-unicode-escape decoding of a Latin-1 line: `\uXXXX` and
 * `\UXXXXXXXX` escapes, recognized only after an odd number of backslashes,
 * as CPython does. A {@linkcode PyStr} when escaped surrogates would pair
 * up in a JS string; `undefined` for a truncated or out-of-range escape,
 * which CPython refuses.
 */
export function decodeRawUnicodeEscape(text: string): string | PyStr | undefined {
  if (!text.includes("\\")) return text;
  const points: number[] = [];
  for (let i = 0; i < text.length;) {
    const char = text.charCodeAt(i);
    if (char !== BACKSLASH) {
      points.push(char);
      i++;
      continue;
    }
    let run = 0;
    while (text.charCodeAt(i) === BACKSLASH) {
      points.push(BACKSLASH);
      run++;
      i++;
    }
    const marker = text[i];
    if (run % 2 === 0 || (marker !== "u" && marker !== "U")) continue;
    points.pop();
    const digits = text.slice(i + 1, i + (marker === "u" ? 5 : 9));
    if (digits.length !== (marker === "u" ? 4 : 8) || !/^[0-9a-fA-F]+$/.test(digits)) {
      return undefined;
    }
    const code = parseInt(digits, 16);
    if (code > 0x10ffff) return undefined;
    points.push(code);
    i += 1 + digits.length;
  }
  return strOfCodePoints(points);
}

const BACKSLASH = 0x5c;
