// The text forms of protocol 0 arguments: quoted Python 2 byte strings and
// raw-unicode-escape lines.

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

/** Python's raw-unicode-escape: Latin-1 text with `\uXXXX` and `\UXXXXXXXX` escapes. */
export function decodeRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, short, long) => {
    const code = parseInt(short ?? long, 16);
    return code > 0x10ffff ? _ : String.fromCodePoint(code);
  });
}
