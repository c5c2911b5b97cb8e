/**
 * A protocol 2 pickle encoder that writes what CPython's C pickler
 * (`_pickle.c`) writes for the same Python value: the same opcode choices,
 * memo numbering, batching of list and dict items, and the protocol 2
 * spellings of bytes, bytearray, set and frozenset. Iterative, so deep
 * nesting cannot exhaust the JS stack.
 *
 * @module
 */

import { PickleError } from "../errors.ts";
import { toPickledName } from "./_compat_names.ts";
import { ByteWriter } from "./_byte_writer.ts";
import { stringMapKey } from "./_hash_key.ts";
import { Op } from "./opcodes.ts";
import { PyByteArray } from "./py_bytearray.ts";
import { PyDict } from "./py_dict.ts";
import { PyFloat } from "./py_float.ts";
import { PyGlobal } from "./py_global.ts";
import { PyObject } from "./py_object.ts";
import { PyFrozenSet, PySet } from "./py_set.ts";
import { PyStr } from "./py_str.ts";
import { Tuple } from "./tuple.ts";

/** Hooks for values outside the Python value model. */
export interface PickleOptions {
  /**
   * Returns the persistent id to write for `value` (torch storages), or
   * `undefined` to pickle the value itself. A tuple id is taken to be a new
   * object on every call, as torch builds it: memoized, never looked up.
   */
  persistentId?: (value: object) => unknown;
  /**
   * Describes a value of a foreign class as the object that rebuilds it
   * (like Python's `__reduce_ex__`); `undefined` when the class is unknown.
   * Tuples of atoms directly among the description's arguments are taken to
   * be new objects, as `__reduce_ex__` builds them: memoized, never looked up.
   */
  reduce?: (value: object) => PyObject | undefined;
}

const BATCH_SIZE = 1000;
const SHORT_STRING = 64;
const CODECS_ENCODE = PyGlobal.of("_codecs", "encode");
const BUILTIN_BYTES = PyGlobal.of("builtins", "bytes");
const BUILTIN_BYTEARRAY = PyGlobal.of("builtins", "bytearray");
const BUILTIN_SET = PyGlobal.of("builtins", "set");
const BUILTIN_FROZENSET = PyGlobal.of("builtins", "frozenset");
const NEWOBJ_EX = PyGlobal.of("copyreg", "__newobj_ex__");

/**
 * Encodes `value` as a protocol 2 pickle.
 *
 * JS numbers that are safe integers are written as Python ints, other
 * numbers as floats; use {@linkcode PyFloat} for an integral float.
 *
 * @example Encode a dict
 * ```ts
 * import assert from "node:assert/strict";
 * import { pickle } from "./pickler.ts";
 * import { PyDict } from "./py_dict.ts";
 *
 * const bytes = pickle(new PyDict([["a", 1]]));
 * // pickle.dumps({"a": 1}, protocol=2)
 * assert.deepEqual(
 *   [...bytes],
 *   [0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e],
 * );
 * ```
 */
export function pickle(value: unknown, options: PickleOptions = {}): Uint8Array {
  return new Pickler(options).dump(value);
}

type Frame = Generator<unknown, void, void>;

class Pickler {
  #out = new ByteWriter();
  #options: PickleOptions;
  #memoSize = 0;
  #objects = new Map<object, number>();
  // Short strings go in a null-prototype object, not a Map: V8 spreads
  // decimal numerals (torch's storage keys) poorly over a Map's buckets.
  // Long ones stay in a Map, which does not internalize its keys.
  #shortStrings: Record<string, number | undefined> = Object.create(null);
  #longStrings = new Map<string, number>();
  #globals = new Map<PyGlobal, number>();

  constructor(options: PickleOptions) {
    this.#options = options;
  }

  dump(value: unknown): Uint8Array {
    this.#out.byte2(Op.PROTO, 2);
    const frames: Frame[] = [];
    let next: unknown = value;
    let pending = true;
    for (;;) {
      if (pending) {
        pending = false;
        const frame = this.#save(next);
        if (frame !== undefined) frames.push(frame);
      }
      const top = frames[frames.length - 1];
      if (top === undefined) break;
      const step = top.next();
      if (step.done) {
        frames.pop();
      } else {
        next = step.value;
        pending = true;
      }
    }
    this.#out.byte(Op.STOP);
    return this.#out.result();
  }

  #fail(problem: string): never {
    throw new PickleError(`Cannot encode pickle: ${problem}`);
  }

  #put(): number {
    const index = this.#memoSize++;
    if (index < 256) this.#out.byte2(Op.BINPUT, index);
    else {
      this.#out.byte(Op.LONG_BINPUT);
      this.#out.u32(index);
    }
    return index;
  }

  #get(index: number): void {
    if (index < 256) this.#out.byte2(Op.BINGET, index);
    else {
      this.#out.byte(Op.LONG_BINGET);
      this.#out.u32(index);
    }
  }

  /** Writes atoms and memo hits at once; returns a frame for anything with children. */
  #save(value: unknown): Frame | undefined {
    switch (typeof value) {
      case "number":
        if (Number.isSafeInteger(value)) this.#saveInt(value);
        else this.#saveFloat(value, undefined);
        return undefined;
      case "bigint":
        this.#saveInt(value);
        return undefined;
      case "boolean":
        this.#out.byte(value ? Op.NEWTRUE : Op.NEWFALSE);
        return undefined;
      case "string": {
        const short = value.length <= SHORT_STRING;
        const index = short
          ? this.#shortStrings[value]
          : this.#longStrings.get(stringMapKey(value));
        if (index !== undefined) this.#get(index);
        else {
          this.#out.byte(Op.BINUNICODE);
          this.#out.lengthPrefixedUtf8(value);
          if (short) this.#shortStrings[value] = this.#put();
          else this.#longStrings.set(stringMapKey(value), this.#put());
        }
        return undefined;
      }
      case "object":
        break;
      default:
        this.#fail(`${typeof value} is not a Python value`);
    }
    if (value === null) {
      this.#out.byte(Op.NONE);
      return undefined;
    }
    if (value instanceof PyFloat) {
      this.#saveFloat(value.value, value.nanBits);
      return undefined;
    }
    if (value instanceof PyStr) {
      const index = this.#objects.get(value);
      if (index !== undefined) this.#get(index);
      else {
        this.#out.byte(Op.BINUNICODE);
        this.#out.lengthPrefixedUtf8(value.units, true);
        this.#objects.set(value, this.#put());
      }
      return undefined;
    }
    const pid = this.#options.persistentId?.(value);
    if (pid !== undefined) return this.#savePersistent(pid);
    if (value instanceof PyGlobal) {
      this.#saveGlobal(value);
      return undefined;
    }
    const index = this.#objects.get(value);
    if (index !== undefined) {
      this.#get(index);
      return undefined;
    }
    if (value instanceof Tuple) {
      if (value.length === 0) {
        this.#out.byte(Op.EMPTY_TUPLE);
        return undefined;
      }
      if (holdsOnlyAtoms(value)) {
        this.#saveAtomTuple(value);
        return undefined;
      }
      return this.#saveTuple(value, false);
    }
    if (Array.isArray(value)) return this.#saveList(value, false);
    if (value instanceof Uint8Array) return this.#saveBytes(value);
    if (value instanceof PyObject) return this.#saveReduce(value, value);
    if (value instanceof PyDict) return this.#saveDict(value);
    if (value instanceof PySet) {
      return this.#saveReduce(value, new PyObject(BUILTIN_SET, Tuple.of([...value])));
    }
    if (value instanceof PyFrozenSet) {
      return this.#saveReduce(value, new PyObject(BUILTIN_FROZENSET, Tuple.of([...value])));
    }
    if (value instanceof PyByteArray) {
      const args = value.bytes.length === 0 ? Tuple.of() : Tuple.of(value.bytes.slice());
      return this.#saveReduce(value, new PyObject(BUILTIN_BYTEARRAY, args));
    }
    const reduced = this.#options.reduce?.(value);
    if (reduced !== undefined) return this.#saveReduce(value, reduced);
    this.#fail(`cannot pickle a ${value.constructor?.name ?? "object"}`);
  }

  #saveInt(value: number | bigint): void {
    const out = this.#out;
    if (typeof value === "number" && value >= -0x80000000 && value <= 0x7fffffff) {
      if (value >= 0 && value <= 0xff) out.byte2(Op.BININT1, value);
      else if (value >= 0 && value <= 0xffff) {
        out.byte(Op.BININT2);
        out.u16(value);
      } else {
        out.byte(Op.BININT);
        out.i32(value);
      }
      return;
    }
    const big = BigInt(value);
    if (big >= -0x80000000n && big <= 0x7fffffffn) return this.#saveInt(Number(big));
    const magnitude = big < 0n ? -big : big;
    let nbytes = (magnitude.toString(2).length >> 3) + 1;
    const bytes = littleEndianTwosComplement(big, nbytes);
    // A negative number may carry one redundant sign byte; CPython drops it.
    if (big < 0n && nbytes > 1 && bytes[nbytes - 1] === 0xff && (bytes[nbytes - 2] & 0x80)) {
      nbytes--;
    }
    if (nbytes < 256) out.byte2(Op.LONG1, nbytes);
    else {
      out.byte(Op.LONG4);
      out.u32(nbytes);
    }
    out.bytes(bytes.subarray(0, nbytes));
  }

  #saveFloat(value: number, nanBits: Uint8Array | undefined): void {
    this.#out.byte(Op.BINFLOAT);
    if (nanBits !== undefined) this.#out.bytes(nanBits);
    else this.#out.float64(value);
  }

  #saveGlobal(value: PyGlobal): void {
    const index = this.#globals.get(value);
    if (index !== undefined) return this.#get(index);
    const [module, name] = toPickledName(value.module, value.name);
    if (/\n/.test(module) || /\n/.test(name)) this.#fail(`global ${value.path} contains a newline`);
    this.#out.byte(Op.GLOBAL);
    this.#out.utf8Line(`${module}\n${name}\n`);
    this.#globals.set(value, this.#put());
  }

  *#savePersistent(pid: unknown): Frame {
    if (pid instanceof Tuple) yield* this.#saveTuple(pid, true);
    else yield pid;
    this.#out.byte(Op.BINPERSID);
  }

  /**
   * A tuple of atoms (shapes, strides) written without a frame: its items
   * cannot lead back to it, so it needs no second memo lookup either. A
   * `fresh` one is memoized but kept out of the identity memo.
   */
  #saveAtomTuple(tuple: Tuple, fresh = false): void {
    const out = this.#out;
    const length = tuple.length;
    if (length > 3) out.byte(Op.MARK);
    for (let i = 0; i < length; i++) this.#save(tuple[i]);
    out.byte(
      length === 1 ? Op.TUPLE1 : length === 2 ? Op.TUPLE2 : length === 3 ? Op.TUPLE3 : Op.TUPLE,
    );
    const index = this.#put();
    if (!fresh) this.#objects.set(tuple, index);
  }

  /** `fresh` tuples are new objects in Python (reduce arguments): memoized, never looked up. */
  *#saveTuple(tuple: readonly unknown[], fresh: boolean): Frame {
    const out = this.#out;
    const length = tuple.length;
    if (length === 0) {
      out.byte(Op.EMPTY_TUPLE);
      return;
    }
    if (length > 3) out.byte(Op.MARK);
    for (let i = 0; i < length; i++) yield tuple[i];
    // Only a container among the items can lead back to the tuple.
    const existing = fresh || holdsNoContainers(tuple) ? undefined : this.#objects.get(tuple);
    if (existing !== undefined) {
      // The tuple reached itself through a mutable child: drop the copy, fetch the memo.
      if (length > 3) out.byte(Op.POP_MARK);
      else for (let i = 0; i < length; i++) out.byte(Op.POP);
      this.#get(existing);
      return;
    }
    out.byte(
      length === 1 ? Op.TUPLE1 : length === 2 ? Op.TUPLE2 : length === 3 ? Op.TUPLE3 : Op.TUPLE,
    );
    const index = this.#put();
    if (!fresh) this.#objects.set(tuple, index);
  }

  *#saveList(list: readonly unknown[], fresh: boolean): Frame {
    this.#out.byte(Op.EMPTY_LIST);
    const index = this.#put();
    if (!fresh) this.#objects.set(list, index);
    const length = list.length;
    if (length === 0) return;
    if (length === 1) {
      yield list[0];
      this.#out.byte(Op.APPEND);
      return;
    }
    let total = 0;
    do {
      this.#out.byte(Op.MARK);
      let batch = 0;
      while (total < list.length) {
        yield list[total++];
        if (++batch === BATCH_SIZE) break;
      }
      this.#out.byte(Op.APPENDS);
    } while (total < list.length);
  }

  *#saveDict(dict: PyDict): Frame {
    this.#out.byte(Op.EMPTY_DICT);
    this.#objects.set(dict, this.#put());
    const size = dict.size;
    if (size === 0) return;
    if (size === 1) {
      const [key, value] = dict.entries().next().value!;
      yield key;
      yield value;
      this.#out.byte(Op.SETITEM);
      return;
    }
    // Like CPython for an exact dict: a full last batch is followed by an empty one.
    const entries = dict.entries();
    let batch: number;
    do {
      this.#out.byte(Op.MARK);
      batch = 0;
      for (let step = entries.next(); !step.done; step = entries.next()) {
        yield step.value[0];
        yield step.value[1];
        if (++batch === BATCH_SIZE) break;
      }
      this.#out.byte(Op.SETITEMS);
    } while (batch === BATCH_SIZE);
  }

  *#saveBytes(bytes: Uint8Array): Frame {
    const out = this.#out;
    const sizeBefore = this.#objects.size;
    if (bytes.length === 0) {
      yield BUILTIN_BYTES;
      out.byte(Op.EMPTY_TUPLE);
    } else {
      // _codecs.encode(<latin-1 text>, "latin1"); the text is a new object each time.
      yield CODECS_ENCODE;
      out.byte(Op.BINUNICODE);
      out.lengthPrefixedLatin1(bytes);
      this.#put();
      yield "latin1";
      out.byte(Op.TUPLE2);
      this.#put();
    }
    out.byte(Op.REDUCE);
    this.#memoizeReduced(bytes, sizeBefore);
  }

  /** Writes `description` (a reduce) and memoizes the result as `value`. */
  *#saveReduce(value: object, description: PyObject): Frame {
    const out = this.#out;
    const sizeBefore = this.#objects.size;
    const args = description.args;
    switch (description.how) {
      case "reduce":
      case "newobj": {
        yield description.callable;
        // The argument tuple, inline rather than through a delegated
        // generator: this is the hottest frame (every tensor). It is a new
        // object in Python, so it is memoized but never looked up.
        const length = args.length;
        // A description from the reduce hook is new, and so are its tuples of atoms.
        const fresh = description !== value;
        if (length === 0) out.byte(Op.EMPTY_TUPLE);
        else {
          if (length > 3) out.byte(Op.MARK);
          for (let i = 0; i < length; i++) {
            const item = args[i];
            if (fresh && item instanceof Tuple && item.length > 0 && holdsOnlyAtoms(item)) {
              this.#saveAtomTuple(item, true);
            } else {
              yield item;
            }
          }
          out.byte(tupleOp(length));
          this.#put();
        }
        out.byte(description.how === "reduce" ? Op.REDUCE : Op.NEWOBJ);
        break;
      }
      case "newobj_ex":
        yield NEWOBJ_EX;
        out.byte(Op.MARK);
        yield description.callable;
        yield* this.#saveTuple(args, true);
        yield description.kwargs ?? new PyDict();
        out.byte(Op.TUPLE3);
        this.#put();
        out.byte(Op.REDUCE);
        break;
    }
    this.#memoizeReduced(value, sizeBefore);
    if (description.listItems !== undefined) yield* this.#batchItems(description.listItems);
    if (description.size > 0) yield* this.#batchEntries(description);
    if (description.state !== undefined) {
      yield description.state;
      out.byte(Op.BUILD);
    }
  }

  /**
   * `sizeBefore` is the identity memo's size when the value's frame began:
   * entries are never removed, so an unchanged size means nothing (the value
   * included) was memoized meanwhile, and the lookup can be skipped.
   */
  #memoizeReduced(value: object, sizeBefore: number): void {
    const existing = this.#objects.size === sizeBefore ? undefined : this.#objects.get(value);
    if (existing !== undefined) {
      // Built recursively from its own arguments: keep the first copy.
      this.#out.byte(Op.POP);
      this.#get(existing);
    } else {
      this.#objects.set(value, this.#put());
    }
  }

  // Items that come from an iterator (objects' list and dict items) batch
  // like CPython's generic path: a lone last item uses APPEND / SETITEM.
  *#batchItems(items: readonly unknown[]): Frame {
    let index = 0;
    let count: number;
    do {
      if (index >= items.length) return;
      if (index + 1 === items.length) {
        yield items[index];
        this.#out.byte(Op.APPEND);
        return;
      }
      this.#out.byte(Op.MARK);
      count = 0;
      while (index < items.length) {
        yield items[index++];
        if (++count === BATCH_SIZE) break;
      }
      this.#out.byte(Op.APPENDS);
    } while (count === BATCH_SIZE);
  }

  *#batchEntries(dict: PyDict): Frame {
    const entries = [...dict.entries()];
    let index = 0;
    let count: number;
    do {
      if (index >= entries.length) return;
      if (index + 1 === entries.length) {
        yield entries[index][0];
        yield entries[index][1];
        this.#out.byte(Op.SETITEM);
        return;
      }
      this.#out.byte(Op.MARK);
      count = 0;
      while (index < entries.length) {
        yield entries[index][0];
        yield entries[index][1];
        index++;
        if (++count === BATCH_SIZE) break;
      }
      this.#out.byte(Op.SETITEMS);
    } while (count === BATCH_SIZE);
  }
}

/** True when every item is a str, int, float, bool or None given as a JS primitive. */
function holdsOnlyAtoms(items: readonly unknown[]): boolean {
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const type = typeof item;
    if (item !== null && type !== "number" && type !== "string" && type !== "boolean") return false;
  }
  return true;
}

/** True when no item can hold other values: atoms, globals and floats. */
function holdsNoContainers(items: readonly unknown[]): boolean {
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (
      typeof item === "object" && item !== null && !(item instanceof PyGlobal) &&
      !(item instanceof PyFloat)
    ) {
      return false;
    }
  }
  return true;
}

function tupleOp(length: number): number {
  return length === 1 ? Op.TUPLE1 : length === 2 ? Op.TUPLE2 : length === 3 ? Op.TUPLE3 : Op.TUPLE;
}

function littleEndianTwosComplement(value: bigint, nbytes: number): Uint8Array {
  // Via hex: shifting a bigint byte by byte is quadratic in its size.
  const hex = BigInt.asUintN(nbytes * 8, value).toString(16).padStart(nbytes * 2, "0");
  const bytes = new Uint8Array(nbytes);
  for (let i = 0, at = hex.length - 2; i < nbytes; i++, at -= 2) {
    bytes[i] = parseInt(hex.slice(at, at + 2), 16);
  }
  return bytes;
}
