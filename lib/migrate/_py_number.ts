/**
 * Python's `int(str)`, `float(str)` and `repr(float)`, as omegaconf's typed
 * nodes use them to convert strings and floats.
 *
 * @module
 */

// Whitespace int() and float() strip besides ASCII's (not U+001C-U+001F,
// which str.isspace() accepts but the number parser does not).
const UNICODE_SPACE = /[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/gu;
const DECIMAL_DIGIT = /\p{Nd}/gu;
const ASCII_SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;
const INT_TEXT = /^[+-]?[0-9](?:_?[0-9])*$/;
const FLOAT_TEXT =
  /^[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?$/;
const FLOAT_WORD = /^([+-]?)(?:(inf|infinity)|nan)$/i;
// Python >= 3.11 refuses to parse ints of more digits (sys.get_int_max_str_digits()).
const MAX_INT_DIGITS = 4300;

/** The text Python's number parsers see: Unicode digits as ASCII, outer whitespace stripped. */
function numberText(text: string): string {
  return text
    .replace(DECIMAL_DIGIT, (digit) => String(digitValue(digit.codePointAt(0)!)))
    .replace(UNICODE_SPACE, " ")
    .replace(ASCII_SPACE, "");
}

// Unicode keeps decimal digits (Nd) in runs of ten from zero to nine, and
// adjacent runs (the mathematical digits) start right after each other: a
// digit's value is its distance from the start of its block, modulo ten.
function digitValue(point: number): number {
  let start = point;
  while (start > 0 && /\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (point - start) % 10;
}

/** Python's `int(text)` (base 10), or undefined where Python raises ValueError. */
export function pyInt(text: string): bigint | undefined {
  const clean = numberText(text);
  if (!INT_TEXT.test(clean)) return undefined;
  const digits = clean.replaceAll("_", "").replace(/^[+-]/, "");
  if (digits.length > MAX_INT_DIGITS) return undefined;
  const value = BigInt(digits);
  return clean.startsWith("-") ? -value : value;
}

/** Python's `float(text)`, or undefined where Python raises ValueError. */
export function pyFloat(text: string): number | undefined {
  const clean = numberText(text);
  if (FLOAT_TEXT.test(clean)) return Number(clean.replaceAll("_", ""));
  const word = FLOAT_WORD.exec(clean);
  if (word === null) return undefined;
  if (word[2] === undefined) return NaN;
  return word[1] === "-" ? -Infinity : Infinity;
}
