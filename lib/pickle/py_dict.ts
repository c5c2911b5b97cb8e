/**
 * Python `dict`: insertion-ordered, with Python's key equality
 * (`1 == 1.0 == True`, tuples by content).
 *
 * @module
 */

import { CkptkitError, KeyError } from "../errors.ts";
import { hashKey, UNHASHABLE } from "./_hash_key.ts";
import { MEMO_SLOT } from "./_identity_memo.ts";
import { shortRepr } from "./_short_repr.ts";
import { INSPECT, inspectValue, type Printer } from "./_inspect.ts";

/**
 * A key cannot be renamed: the new name is already a key of the dict.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DuplicateKeyError, PyDict } from "./py_dict.ts";
 * const d = new PyDict([["w", 1], ["module.w", 2]]);
 * assert.throws(() => d.rename("module.w", "w"), DuplicateKeyError);
 * ```
 */
export class DuplicateKeyError extends CkptkitError {
  /** The key already present. */
  readonly key: unknown;
  /** Creates the error for renaming `old` to `key`, both described by `shown`. */
  constructor(key: unknown, shown: { old: string; key: string }) {
    super(`Cannot rename key ${shown.old} to ${shown.key}: ${shown.key} is already in the dict`);
    this.name = "DuplicateKeyError";
    this.key = key;
  }
}

/**
 * A Python dict. Updating an existing key keeps its position and its
 * original key object; deleting and re-inserting moves it to the end, as in
 * Python.
 */
export class PyDict<K = unknown, V = unknown> implements Iterable<[K, V]> {
  // Hashed key -> value, created on first insert: most reduced objects
  // never hold items. Values sit in the map directly, with no entry object
  // per item: dicts hold most of a checkpoint's items.
  #map: Map<unknown, V> | undefined;
  // The original key objects that differ from their hashed form (tuples,
  // floats, bools, bigints...); absent for the usual string keys.
  #keys: Map<unknown, K> | undefined;
  #memoSlot = -1;

  /** Creates a dict holding `entries` in order. */
  constructor(entries?: Iterable<readonly [K, V]>) {
    if (entries !== undefined) {
      for (const [key, value] of entries) this.set(key, value);
    }
  }

  /** Creates a dict from a JS object's own string keys. */
  static fromObject<V>(object: Record<string, V>): PyDict<string, V> {
    return new PyDict(Object.entries(object));
  }

  /** @ignore */
  [MEMO_SLOT](slot?: number): number {
    if (slot !== undefined) this.#memoSlot = slot;
    return this.#memoSlot;
  }

  /** Python refuses dicts as keys. */
  get [UNHASHABLE](): string | undefined {
    return "dict";
  }

  /** Number of items. */
  get size(): number {
    return this.#map?.size ?? 0;
  }

  /** True when `key` is present. */
  has(key: K): boolean {
    return this.#map?.has(hashKey(key)) ?? false;
  }

  /** The value for `key`, or `fallback` (default `undefined`) when absent, like Python's `get`. */
  get(key: K): V | undefined;
  /** The value for `key`, or `fallback` when absent. */
  get<D>(key: K, fallback: D): V | D;
  get<D>(key: K, fallback?: D): V | D | undefined {
    const map = this.#map;
    if (map === undefined) return fallback;
    const hashed = hashKey(key);
    const value = map.get(hashed);
    return value !== undefined || map.has(hashed) ? value : fallback;
  }

  /** The value for `key`; throws {@linkcode KeyError} when absent, like Python's `d[key]`. */
  getItem(key: K): V {
    const hashed = hashKey(key);
    const value = this.#map?.get(hashed);
    if (value === undefined && !this.#map?.has(hashed)) throw new KeyError(key, shortRepr(key));
    return value as V;
  }

  /** Sets `key` to `value`; an existing key keeps its place. */
  set(key: K, value: V): this {
    const hashed = hashKey(key);
    const map = this.#map ??= new Map();
    if (!Object.is(hashed, key) && !map.has(hashed)) (this.#keys ??= new Map()).set(hashed, key);
    map.set(hashed, value);
    return this;
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: K): boolean {
    const hashed = hashKey(key);
    this.#keys?.delete(hashed);
    return this.#map?.delete(hashed) ?? false;
  }

  /** Removes `key` and returns its value; throws {@linkcode KeyError} when absent. */
  pop(key: K): V;
  /** Removes `key` and returns its value, or `fallback` when absent. */
  pop<D>(key: K, fallback: D): V | D;
  pop<D>(key: K, ...fallback: [D?]): V | D {
    const hashed = hashKey(key);
    const map = this.#map;
    if (map === undefined || !map.has(hashed)) {
      if (fallback.length > 0) return fallback[0] as D;
      throw new KeyError(key, shortRepr(key));
    }
    const value = map.get(hashed) as V;
    map.delete(hashed);
    this.#keys?.delete(hashed);
    return value;
  }

  /** Returns the value for `key`, inserting `fallback` first when absent. */
  setdefault(key: K, fallback: V): V {
    const hashed = hashKey(key);
    const map = this.#map ??= new Map();
    if (map.has(hashed)) return map.get(hashed) as V;
    if (!Object.is(hashed, key)) (this.#keys ??= new Map()).set(hashed, key);
    map.set(hashed, fallback);
    return fallback;
  }

  /**
   * Renames key `old` to `key` where it stands: same position, same value
   * (Python has no such operation; `d[key] = d.pop(old)` would move it to
   * the end). A key equal to `old` (`1` and `1.0`) replaces the key object.
   *
   * @throws {KeyError} when `old` is absent.
   * @throws {DuplicateKeyError} when `key` is already another key; the dict is unchanged.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PyDict } from "./py_dict.ts";
   * const d = new PyDict([["fc.weight", 1], ["fc.bias", 2], ["head.weight", 3]]);
   * d.rename("fc.weight", "classifier.weight");
   * assert.deepEqual([...d.keys()], ["classifier.weight", "fc.bias", "head.weight"]);
   * ```
   */
  rename(old: K, key: K): this {
    const map = this.#map;
    const hashedOld = hashKey(old);
    if (map === undefined || !map.has(hashedOld)) throw new KeyError(old, shortRepr(old));
    const hashed = hashKey(key);
    if (!Object.is(hashed, hashedOld) && map.has(hashed)) {
      throw new DuplicateKeyError(key, { old: shortRepr(old), key: shortRepr(key) });
    }
    // Only the items from the renamed one on are moved: a JS Map keeps
    // insertion order, so they are deleted and set again after it.
    const tail: [unknown, V][] = [];
    let found = false;
    for (const entry of map) {
      if (!found && !Object.is(entry[0], hashedOld)) continue;
      found = true;
      tail.push(entry);
    }
    for (const [h] of tail) map.delete(h);
    this.#keys?.delete(hashedOld);
    tail[0][0] = hashed;
    if (!Object.is(hashed, key)) (this.#keys ??= new Map()).set(hashed, key);
    for (const [h, value] of tail) map.set(h, value);
    return this;
  }

  /** Sets every item of `other`, in its order. */
  update(other: Iterable<readonly [K, V]>): this {
    for (const [key, value] of other) this.set(key, value);
    return this;
  }

  /** Removes every item. */
  clear(): void {
    this.#map?.clear();
    this.#keys?.clear();
  }

  /** A shallow copy (a plain dict). */
  copy(): PyDict<K, V> {
    return new PyDict(this.entries());
  }

  /** The keys, in order. */
  *keys(): IterableIterator<K> {
    if (this.#map === undefined) return;
    const keys = this.#keys;
    for (const hashed of this.#map.keys()) {
      yield (keys === undefined ? hashed : keys.get(hashed) ?? hashed) as K;
    }
  }

  /** The values, in order. */
  *values(): IterableIterator<V> {
    if (this.#map === undefined) return;
    yield* this.#map.values();
  }

  /** The `[key, value]` pairs, in order. */
  *entries(): IterableIterator<[K, V]> {
    if (this.#map === undefined) return;
    const keys = this.#keys;
    for (const [hashed, value] of this.#map) {
      yield [(keys === undefined ? hashed : keys.get(hashed) ?? hashed) as K, value];
    }
  }

  /**
   * How `console.log` and `Deno.inspect` show the dict:
   * `PyDict(2) { "a" => 1, "b" => 1.5 }`, depth-limited and cycle-safe.
   */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(this, "PyDict", inspect, options, (printer) => ({
      label: `PyDict(${this.size})`,
      ...printItems(this, printer),
    }));
  }

  /** Iterates `[key, value]` pairs (unlike Python, which iterates keys, to match `Map`). */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}

/** A dict's items as `key => value` entries, up to the printer's limit. */
export function printItems(
  dict: PyDict,
  printer: Printer,
): { entries: string[]; more: number } {
  const entries: string[] = [];
  for (const [key, value] of dict.entries()) {
    if (entries.length === printer.limit) break;
    entries.push(`${printer.child(key)} => ${printer.child(value)}`);
  }
  return { entries, more: dict.size - entries.length };
}
