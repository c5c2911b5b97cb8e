/**
 * Python `tuple`: an immutable array kept apart from `list`.
 *
 * @module
 */

/** A Python tuple. It is a frozen JS array, so indexing and iteration work as usual. */
export class Tuple<T = unknown> extends Array<T> {
  /** Results of `map`, `filter` and `slice` are plain arrays (lists), not tuples. */
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** Creates a frozen tuple holding `items`. */
  static override of<T extends unknown[]>(...items: T): Tuple<T[number]> {
    return Tuple.fromArray(items);
  }

  /** Creates a frozen tuple holding a copy of `items`. */
  static fromArray<T>(items: readonly T[]): Tuple<T> {
    const tuple = new Tuple<T>();
    for (let i = 0; i < items.length; i++) tuple.push(items[i]);
    return Object.freeze(tuple) as Tuple<T>;
  }
}

/** The empty tuple, shared as in Python. */
export const EMPTY_TUPLE: Tuple<never> = Tuple.fromArray([]);
