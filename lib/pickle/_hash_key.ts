// Python key equality for dict and set lookups: 1 == 1.0 == True, tuples,
// bytes and frozensets compare by content, other objects by identity.
import { CkptkitError } from "../errors.ts";
import { PyFloat } from "./py_float.ts";
import { pairsSurrogates, PyStr } from "./py_str.ts";
import { Tuple } from "./tuple.ts";

/** Guards against keys whose canonical form would explode (nested shared tuples). */
const MAX_COMPOSITE_KEY = 1 << 20;
const MAX_KEY_DEPTH = 1000;

/** Set on classes whose instances Python refuses as keys; the value is the type name. */
export const UNHASHABLE: unique symbol = Symbol("ckptkit.unhashable");
/** Implemented by frozensets: their members, which define their hash. */
export const FROZEN_MEMBERS: unique symbol = Symbol("ckptkit.frozenMembers");

interface Unhashable {
  readonly [UNHASHABLE]?: string;
}
interface FrozenMembers {
  [FROZEN_MEMBERS](): Iterable<unknown>;
}

/**
 * Maps a Python key to a JS value that is SameValueZero-equal exactly for
 * equal Python keys: primitives for scalars and strings, a NUL-prefixed
 * string for composite keys, the object itself for identity-hashed objects.
 */
export function hashKey(key: unknown): unknown {
  switch (typeof key) {
    case "string":
      if (key.length > LONG_KEY) return `\0h${digest(`s${key}`)}`;
      // Strings starting with NUL are escaped so they never meet composite keys.
      return key.charCodeAt(0) === 0 ? `\0s${key}` : key;
    case "number":
      return numberKey(key);
    case "boolean":
      return key ? 1 : 0;
    case "bigint":
      return bigintKey(key);
    case "undefined":
      throw new CkptkitError("Cannot use key: undefined is not a Python value");
    case "object": {
      if (key === null) return null;
      if (key instanceof PyFloat) {
        // NaN floats are equal only to themselves.
        return Number.isNaN(key.value) ? key : numberKey(key.value);
      }
      // A PyStr a JS string could hold is that string, its units, to Python.
      if (key instanceof PyStr) {
        return key.hashKey(() =>
          key.exact || !pairsSurrogates(key.codePoints()) ? hashKey(key.units) : compositeKey(key)
        );
      }
      // Made once per object: a key shared by many dicts costs its size once.
      if (key instanceof Tuple || key instanceof Uint8Array || FROZEN_MEMBERS in key) {
        let known = compositeKeys.get(key);
        if (known === undefined) compositeKeys.set(key, known = compositeKey(key));
        return known;
      }
      const unhashable = Array.isArray(key) ? "list" : (key as Unhashable)[UNHASHABLE];
      if (unhashable !== undefined) {
        throw new CkptkitError(`Cannot use key: unhashable type '${unhashable}'`);
      }
      return key;
    }
    default:
      return key;
  }
}

// Tuples and frozensets are immutable, and so are bytes in Python.
const compositeKeys = new WeakMap<object, string>();

function compositeKey(key: unknown): string {
  const text = `\0${compositeText(key, 0)}`;
  return text.length > LONG_KEY ? `\0h${digest(text)}` : text;
}

// V8 hashes strings longer than this by their length alone, so many long
// keys of one length would make every Map lookup compare them all
// (quadratic on hostile pickles). Such keys are replaced by a 128-bit digest.
const LONG_KEY = 16_000;

/** `text`, or a digest of it when V8 would hash it by length alone (for string-keyed maps). */
export function stringMapKey(text: string): string {
  return text.length > LONG_KEY ? `\0h${digest(text)}` : text;
}

function digest(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  let c = 0x9e3779b9;
  let d = 0x85ebca6b;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    a = Math.imul(a ^ unit, 0x01000193);
    b = Math.imul(b ^ unit, 0x5bd1e995);
    c = Math.imul(c + unit, 0xcc9e2d51) ^ (c >>> 15);
    d = Math.imul(d ^ (unit + i), 0x1b873593);
  }
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  return `${hex(a)}${hex(b)}${hex(c)}${hex(d)}:${text.length}`;
}

function numberKey(value: number): unknown {
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return BigInt(value);
  return value === 0 ? 0 : value;
}

function bigintKey(value: bigint): unknown {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) && BigInt(asNumber) === value ? asNumber : value;
}

let nextIdentity = 0;
const identities = new WeakMap<object, number>();

function identityOf(value: object): number {
  let id = identities.get(value);
  if (id === undefined) {
    id = ++nextIdentity;
    identities.set(value, id);
  }
  return id;
}

function compositeText(key: unknown, depth: number): string {
  if (depth > MAX_KEY_DEPTH) {
    throw new CkptkitError(`Cannot use key: nested deeper than ${MAX_KEY_DEPTH} levels`);
  }
  if (typeof key === "string") return `s${JSON.stringify(key)}`;
  if (key instanceof PyStr) {
    if (key.exact) return `s${JSON.stringify(key.units)}`;
    const points = key.codePoints();
    return pairsSurrogates(points) ? `u${points.join(",")}` : `s${JSON.stringify(key.units)}`;
  }
  if (key instanceof Uint8Array) {
    let hex = "";
    for (const byte of key) hex += byte.toString(16).padStart(2, "0");
    return `b${hex}`;
  }
  if (key instanceof Tuple) {
    return `t(${joinParts(key, depth, false)})`;
  }
  if (key !== null && typeof key === "object" && FROZEN_MEMBERS in key) {
    return `z(${joinParts((key as FrozenMembers)[FROZEN_MEMBERS](), depth, true)})`;
  }
  const simple = hashKey(key);
  switch (typeof simple) {
    case "number":
      return `n${String(simple)}`;
    case "bigint":
      // Hex, not decimal: decimal text of a huge int takes quadratic time.
      // Integers have one canonical type (see numberKey), so prefixes differ safely.
      return `x${simple.toString(16)}`;
    case "object":
      return simple === null ? "N" : `o${identityOf(simple)}`;
    default:
      return `?${String(simple)}`;
  }
}

function joinParts(items: Iterable<unknown>, depth: number, sort: boolean): string {
  const parts: string[] = [];
  let length = 0;
  for (const item of items) {
    const part = compositeText(item, depth + 1);
    length += part.length + 1;
    if (length > MAX_COMPOSITE_KEY) {
      throw new CkptkitError("Cannot use key: composite key is too large");
    }
    parts.push(part);
  }
  if (sort) parts.sort();
  return parts.join(",");
}
