/**
 * A Python str as an object: the rare str that a JS string cannot hold
 * faithfully (surrogate code points next to each other, `"\ud83d\ude00"` as
 * two code points, which JS would read as one astral character), and a
 * str longer than {@linkcode LONG_STR} characters, which needs an identity
 * a JS string does not have (see {@linkcode PyStr.of}).
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";
import { INSPECT, inspectValue } from "./_inspect.ts";

// Code units shown before the rest is elided.
const SHOWN_UNITS = 100;

/**
 * Decoded strs longer than this many UTF-16 units are {@linkcode PyStr}
 * objects: V8 hashes a longer JS string by its length alone, and a JS
 * string has no identity, so a long str shared by thousands of references
 * would cost its whole length at each of them.
 */
export const LONG_STR = 16_000;

/** A Python str kept as its code points, surrogates each their own. */
export class PyStr {
  /**
   * The UTF-16 code units of the code points, for display: an astral code
   * point is two units, a surrogate code point one.
   */
  readonly units: string;
  // Set only when some code point is astral: then two units may be one code point.
  #points: readonly number[] | undefined;
  // The str is `units` read as a JS string (its surrogate pairs astral characters).
  #exact = false;
  // What the str hashes to as a dict key, made once.
  #key: unknown;

  /** Wraps `units`, each UTF-16 unit one code point (surrogates included). */
  constructor(units: string) {
    this.units = units;
  }

  /**
   * The str that is exactly the JS string `text`, as an object: what the
   * decoder makes of strs longer than {@linkcode LONG_STR} characters, so
   * that references to one str stay one object, as in Python. `String(str)`
   * or `.units` gives the text back.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PyStr } from "./py_str.ts";
   * const text = PyStr.of("caf\u00e9 \u{1f600}");
   * assert.ok(text.exact);
   * assert.equal(String(text), "caf\u00e9 \u{1f600}");
   * assert.deepEqual(text.codePoints().slice(-1), [0x1f600]);
   * ```
   */
  static of(text: string): PyStr {
    const str = new PyStr(text);
    str.#exact = true;
    return str;
  }

  /** Whether the str is {@linkcode PyStr.units} read as a JS string (made by {@linkcode PyStr.of}). */
  get exact(): boolean {
    return this.#exact;
  }

  /** @ignore The dict key this str hashes to, made by `make` on first use. */
  hashKey(make: () => unknown): unknown {
    if (this.#key === undefined) this.#key = make();
    return this.#key;
  }

  /**
   * A str of `points`: surrogates stay single code points, astral ones whole.
   *
   * @throws {CkptkitError} when a value is not a code point (an integer up to 0x10FFFF).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PyStr } from "./py_str.ts";
   * const text = PyStr.fromCodePoints([0xd83d, 0xde00, 0x1f600]);
   * assert.equal(text.units.length, 4);
   * assert.deepEqual(text.codePoints(), [0xd83d, 0xde00, 0x1f600]);
   * ```
   */
  static fromCodePoints(points: readonly number[]): PyStr {
    for (let i = 0; i < points.length; i++) {
      const point = points[i];
      if (!(Number.isInteger(point) && point >= 0 && point <= 0x10ffff)) {
        throw new CkptkitError(`Cannot create str: ${point} is not a code point`);
      }
    }
    const text = new PyStr(joinCodePoints(points));
    if (points.some((point) => point > 0xffff)) text.#points = [...points];
    return text;
  }

  /** The code points, in order; the first `limit` of them when given. */
  codePoints(limit = Infinity): number[] {
    const count = Math.max(0, limit);
    if (this.#points !== undefined) return this.#points.slice(0, count);
    if (this.#exact) {
      const points: number[] = [];
      for (let i = 0; i < this.units.length && points.length < count; i++) {
        const point = this.units.codePointAt(i)!;
        if (point > 0xffff) i++;
        points.push(point);
      }
      return points;
    }
    const points = new Array<number>(Math.min(count, this.units.length));
    for (let i = 0; i < points.length; i++) points[i] = this.units.charCodeAt(i);
    return points;
  }

  /** The JS string of the same code units. */
  toString(): string {
    return this.units;
  }

  /** Number of code points (Python's `len`). */
  #codePointCount(): number {
    if (this.#points !== undefined) return this.#points.length;
    if (!this.#exact) return this.units.length;
    let count = 0;
    for (let i = 0; i < this.units.length; i++, count++) {
      if (this.units.codePointAt(i)! > 0xffff) i++;
    }
    return count;
  }

  /**
   * How `console.log` and `Deno.inspect` show the str: its length in code
   * points and its first 100 code units, `PyStr(20000) "abc..."`.
   */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(this, "PyStr", inspect, options, (printer) => {
      const text = this.units.slice(0, SHOWN_UNITS);
      // Surrogate code points are shown escaped: as text, a pair would read as one character.
      const shown = this.#exact ? printer.child(text) : printer.style(
        JSON.stringify(text).replace(
          /[\ud800-\udfff]/g,
          (unit) => `\\u${unit.charCodeAt(0).toString(16)}`,
        ),
        "string",
      );
      return `PyStr(${this.#codePointCount()}) ${shown}${
        this.units.length > SHOWN_UNITS ? "..." : ""
      }`;
    }, true);
  }
}

/**
 * The Python str of `points`: a JS string when it holds them faithfully,
 * a {@linkcode PyStr} when surrogate code points would pair up in one.
 */
export function strOfCodePoints(points: readonly number[]): string | PyStr {
  return pairsSurrogates(points) ? PyStr.fromCodePoints(points) : joinCodePoints(points);
}

/** Whether a high surrogate code point is followed by a low one, which a JS string would join. */
export function pairsSurrogates(points: readonly number[]): boolean {
  for (let i = 1; i < points.length; i++) {
    const low = points[i];
    if (low >= 0xdc00 && low < 0xe000) {
      const high = points[i - 1];
      if (high >= 0xd800 && high < 0xdc00) return true;
    }
  }
  return false;
}

function joinCodePoints(points: readonly number[]): string {
  let text = "";
  // In slices: a spread of millions of arguments overflows the stack.
  for (let i = 0; i < points.length; i += 8192) {
    text += String.fromCodePoint(...points.slice(i, i + 8192));
  }
  return text;
}

/** `text` as the value model holds a str: a {@linkcode PyStr} when longer than {@linkcode LONG_STR}. */
export function strValue(text: string | PyStr): string | PyStr {
  return typeof text === "string" && text.length > LONG_STR ? PyStr.of(text) : text;
}
