/**
 * Python `set` and `frozenset`, with Python's element equality.
 *
 * @module
 */

import { FROZEN_MEMBERS, UNHASHABLE } from "./_hash_key.ts";
import { PyDict } from "./py_dict.ts";
import { INSPECT, inspectValue, type Printer } from "./_inspect.ts";

function printMembers(name: string, members: Iterable<unknown>, size: number, printer: Printer) {
  const entries: string[] = [];
  for (const member of members) {
    if (entries.length === printer.limit) break;
    entries.push(printer.child(member));
  }
  return { label: `${name}(${size})`, entries, more: size - entries.length };
}

/** A mutable Python set; members keep insertion order. */
export class PySet<T = unknown> implements Iterable<T> {
  #members = new PyDict<T, null>();

  /** Creates a set holding `members`. */
  constructor(members: Iterable<T> = []) {
    for (const member of members) this.#members.set(member, null);
  }

  /** Python refuses sets as keys. */
  get [UNHASHABLE](): string | undefined {
    return "set";
  }

  /** Number of members. */
  get size(): number {
    return this.#members.size;
  }

  /** True when `member` is present. */
  has(member: T): boolean {
    return this.#members.has(member);
  }

  /** Adds `member`. */
  add(member: T): this {
    this.#members.set(member, null);
    return this;
  }

  /** Removes `member`; returns whether it was present. */
  delete(member: T): boolean {
    return this.#members.delete(member);
  }

  /** The members, in insertion order. */
  values(): IterableIterator<T> {
    return this.#members.keys();
  }

  /** Iterates the members. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.#members.keys();
  }

  /** How `console.log` and `Deno.inspect` show the set: `PySet(2) { 1, "a" }`. */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(
      this,
      "PySet",
      inspect,
      options,
      (printer) => printMembers("PySet", this.values(), this.size, printer),
    );
  }
}

/** An immutable Python frozenset; it may be a dict key. */
export class PyFrozenSet<T = unknown> implements Iterable<T> {
  readonly #members: PySet<T>;

  /** Creates a frozenset holding `members`. */
  constructor(members: Iterable<T> = []) {
    this.#members = new PySet(members);
  }

  /** Number of members. */
  get size(): number {
    return this.#members.size;
  }

  /** True when `member` is present. */
  has(member: T): boolean {
    return this.#members.has(member);
  }

  /** The members, in insertion order. */
  values(): IterableIterator<T> {
    return this.#members.values();
  }

  /** Iterates the members. */
  [Symbol.iterator](): IterableIterator<T> {
    return this.#members.values();
  }

  /** How `console.log` and `Deno.inspect` show the frozenset: `PyFrozenSet(2) { 1, "a" }`. */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(
      this,
      "PyFrozenSet",
      inspect,
      options,
      (printer) => printMembers("PyFrozenSet", this.values(), this.size, printer),
    );
  }

  /** Members that define this frozenset's hash. */
  [FROZEN_MEMBERS](): Iterable<unknown> {
    return this.#members.values();
  }
}
