/**
 * The rare Python str that a JS string cannot hold faithfully: one with
 * surrogate code points next to each other (`"\ud83d\ude00"` as two code
 * points), which JS would read as one astral character.
 *
 * @module
 */

/** A Python str kept as UTF-16 code units, each surrogate its own code point. */
export class PyStr {
  /** The code units; adjacent surrogates here are separate Python code points. */
  readonly units: string;

  /** Wraps `units`. */
  constructor(units: string) {
    this.units = units;
  }

  /** The JS string of the same code units. */
  toString(): string {
    return this.units;
  }
}
