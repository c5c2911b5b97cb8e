/**
 * Python `dict`: insertion-ordered, with Python's key equality
 * (`1 == 1.0 == True`, tuples by content).
 *
 * @module
 */

import { KeyError } from "../errors.ts";
import { hashKey, UNHASHABLE } from "./_hash_key.ts";
import { shortRepr } from "./_short_repr.ts";

interface Entry<K, V> {
  key: K;
  value: V;
}

/**
 * A Python dict. Updating an existing key keeps its position and its
 * original key object; deleting and re-inserting moves it to the end, as in
 * Python.
 */
export class PyDict<K = unknown, V = unknown> implements Iterable<[K, V]> {
  // Created on first insert: most reduced objects never hold items.
  #map: Map<unknown, Entry<K, V>> | undefined;

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
    const entry = this.#map?.get(hashKey(key));
    return entry === undefined ? fallback : entry.value;
  }

  /** The value for `key`; throws {@linkcode KeyError} when absent, like Python's `d[key]`. */
  getItem(key: K): V {
    const entry = this.#map?.get(hashKey(key));
    if (entry === undefined) throw new KeyError(key, shortRepr(key));
    return entry.value;
  }

  /** Sets `key` to `value`; an existing key keeps its place. */
  set(key: K, value: V): this {
    const hashed = hashKey(key);
    const map = this.#map ??= new Map();
    const entry = map.get(hashed);
    if (entry === undefined) map.set(hashed, { key, value });
    else entry.value = value;
    return this;
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: K): boolean {
    return this.#map?.delete(hashKey(key)) ?? false;
  }

  /** Removes `key` and returns its value; throws {@linkcode KeyError} when absent. */
  pop(key: K): V;
  /** Removes `key` and returns its value, or `fallback` when absent. */
  pop<D>(key: K, fallback: D): V | D;
  pop<D>(key: K, ...fallback: [D?]): V | D {
    const hashed = hashKey(key);
    const entry = this.#map?.get(hashed);
    if (entry === undefined) {
      if (fallback.length > 0) return fallback[0] as D;
      throw new KeyError(key, shortRepr(key));
    }
    this.#map!.delete(hashed);
    return entry.value;
  }

  /** Returns the value for `key`, inserting `fallback` first when absent. */
  setdefault(key: K, fallback: V): V {
    const hashed = hashKey(key);
    const map = this.#map ??= new Map();
    const entry = map.get(hashed);
    if (entry !== undefined) return entry.value;
    map.set(hashed, { key, value: fallback });
    return fallback;
  }

  /** Sets every item of `other`, in its order. */
  update(other: Iterable<readonly [K, V]>): this {
    for (const [key, value] of other) this.set(key, value);
    return this;
  }

  /** Removes every item. */
  clear(): void {
    this.#map?.clear();
  }

  /** A shallow copy (a plain dict). */
  copy(): PyDict<K, V> {
    return new PyDict(this.entries());
  }

  /** The keys, in order. */
  *keys(): IterableIterator<K> {
    if (this.#map === undefined) return;
    for (const entry of this.#map.values()) yield entry.key;
  }

  /** The values, in order. */
  *values(): IterableIterator<V> {
    if (this.#map === undefined) return;
    for (const entry of this.#map.values()) yield entry.value;
  }

  /** The `[key, value]` pairs, in order. */
  *entries(): IterableIterator<[K, V]> {
    if (this.#map === undefined) return;
    for (const entry of this.#map.values()) yield [entry.key, entry.value];
  }

  /** Iterates `[key, value]` pairs (unlike Python, which iterates keys, to match `Map`). */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}
