/**
 * Python `tuple`: an immutable array kept apart from `list`.
 *
 * @module
 */

/** A Python tuple. It is a frozen JS array, so indexing and iteration work as usual. */
export class Tuple<T = unknown> extends Array<T> {
  /** Creates a frozen tuple holding `items`. */
  static override of<T extends unknown[]>(...items: T): Tuple<T[number]> {
    return Tuple.fromArray(items);
  }

  /** Creates a frozen tuple holding a copy of `items`. */
  static fromArray<T>(items: readonly T[]): Tuple<T> {
    return tupleOfRange(items, 0, items.length);
  }
}

// Results of `map`, `filter` and `slice` are plain arrays (lists), not
// tuples. A data property, not a getter: V8 keeps discarding optimized code
// that builds instances of an Array subclass with a species getter.
Object.defineProperty(Tuple, Symbol.species, { value: Array });

const ELEMENTS = {};

/** A frozen tuple holding `items[start, end)`. */
export function tupleOfRange<T>(items: readonly T[], start: number, end: number): Tuple<T> {
  // Sized construction then freeze is several times faster in V8 than push
  // then freeze on an Array subclass; tuples are the unpickler's commonest object.
  const tuple = new Tuple<T>(end - start);
  // An object first moves the elements off V8's small-integer kind, which
  // Object.freeze handles three times slower (shapes, strides).
  if (end > start) tuple[0] = ELEMENTS as T;
  for (let i = start; i < end; i++) tuple[i - start] = items[i];
  return Object.freeze(tuple) as Tuple<T>;
}

/** The empty tuple, shared as in Python. */
export const EMPTY_TUPLE: Tuple<never> = Tuple.fromArray([]);
