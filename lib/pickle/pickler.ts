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
import { ByteWriter, joinParts } from "./_byte_writer.ts";
import { IdentityMemo, MEMO_SLOT } from "./_identity_memo.ts";
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
const GETATTR = PyGlobal.of("builtins", "getattr");

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
  return joinParts(pickleParts(value, options));
}

/**
 * Like {@linkcode pickle}, as consecutive parts: large bytes values are
 * encoded into parts of their own, which a caller writing them out need not
 * join into one array (saving a copy of each).
 */
export function pickleParts(value: unknown, options: PickleOptions = {}): Uint8Array[] {
  const pickler = new Pickler(options);
  try {
    return pickler.dump(value).parts();
  } finally {
    pickler.release();
  }
}

// What an open frame is writing; see the #step* methods.
const enum Kind {
  /** Items of a list or an object's list items, then APPEND(S). */
  Batch,
  /** A tuple's items, then TUPLEn or the memo copy. */
  Tuple,
  /** A reduce description: callable, arguments, memo, items, state. */
  Reduce,
  /** A persistent id, then BINPERSID. */
  Persistent,
  /** bytes as `_codecs.encode(<latin-1 str>, "latin1")`. */
  Bytes,
}

// How a batch frame groups its items, as CPython's batch_list_exact,
// batch_dict_exact and the generic batch_list / batch_dict do.
const enum Batching {
  /** An exact list: one item is APPENDed, else batches of up to 1000. */
  ExactList,
  /** An exact dict: like a list, but a full last batch is followed by an empty one. */
  ExactDict,
  /** Items from an iterator: a lone last item is APPENDed / SETITEMed. */
  Generic,
}

// Steps of a reduce frame.
const enum Phase {
  Callable,
  OpenArgs,
  Args,
  CloseArgs,
  ExCallable,
  ExClass,
  ExArgs,
  ExKwargs,
  ExClose,
  Memoize,
  ListItems,
  DictItems,
  State,
  Build,
}

// Where a batch frame is between items.
const enum At {
  Start,
  InBatch,
  Single,
}

/**
 * One open container. Frames are pooled by depth, so a deep or wide value
 * allocates no frame per container, and nothing is a generator.
 */
class Frame {
  kind = Kind.Batch;
  phase = 0;
  /** The next item (flat index: a dict's key and value are two items). */
  pos = 0;
  /** Where the current batch began, or the identity memo's version when a reduce or bytes began. */
  mark = 0;
  /** Items per entry: 1 for lists, 2 for dicts. */
  width = 1;
  batching = Batching.ExactList;
  fresh = false;
  items: readonly unknown[] = [];
  /** The reduce description, the persistent id or the bytes. */
  target: unknown = undefined;
  /** The value a reduce frame memoizes. */
  value: object | undefined = undefined;
}

class Pickler {
  #out = new ByteWriter();
  #options: PickleOptions;
  #memoSize = 0;
  #objects = new IdentityMemo(MEMO_SLOT);
  // Short strings go in a null-prototype object, not a Map: V8 spreads
  // decimal numerals (torch's storage keys) poorly over a Map's buckets.
  // Long ones stay in a Map, which does not internalize its keys.
  #shortStrings: Record<string, number | undefined> = Object.create(null);
  #longStrings = new Map<string, number>();
  #globals = new Map<PyGlobal, number>();
  // CPython shares b"" and each one-byte bytes object, so equal ones are one
  // memo entry (index 256 is b""), as they are after CPython loads a pickle.
  #smallBytes: (number | undefined)[] = [];
  #unshared = new WeakSet<Uint8Array>();
  #latin1Name: number | undefined;
  #frames: Frame[] = [];
  #depth = 0;

  constructor(options: PickleOptions) {
    this.#options = options;
  }

  dump(value: unknown): ByteWriter {
    this.#out.byte2(Op.PROTO, 2);
    this.#save(value);
    while (this.#depth > 0) {
      const frame = this.#frames[this.#depth - 1];
      switch (frame.kind) {
        case Kind.Batch:
          this.#stepBatch(frame);
          break;
        case Kind.Tuple:
          this.#stepTuple(frame);
          break;
        case Kind.Reduce:
          this.#stepReduce(frame);
          break;
        case Kind.Persistent:
          this.#stepPersistent(frame);
          break;
        case Kind.Bytes:
          this.#stepBytes(frame);
          break;
      }
    }
    this.#out.byte(Op.STOP);
    return this.#out;
  }

  release(): void {
    this.#objects.release();
  }

  #fail(problem: string): never {
    throw new PickleError(`Cannot encode pickle: ${problem}`);
  }

  #push(kind: Kind): Frame {
    let frame = this.#frames[this.#depth];
    if (frame === undefined) this.#frames.push(frame = new Frame());
    this.#depth++;
    frame.kind = kind;
    frame.phase = 0;
    frame.pos = 0;
    return frame;
  }

  #pop(frame: Frame): void {
    frame.items = [];
    frame.target = frame.value = undefined;
    this.#depth--;
  }

  #put(): number {
    const index = this.#memoSize++;
    if (index < 256) this.#out.byte2(Op.BINPUT, index);
    else this.#out.byteU32(Op.LONG_BINPUT, index);
    return index;
  }

  #get(index: number): void {
    if (index < 256) this.#out.byte2(Op.BINGET, index);
    else this.#out.byteU32(Op.LONG_BINGET, index);
  }

  /**
   * Writes atoms and memo hits at once and returns false; for anything with
   * children, writes its opening, pushes its frame and returns true.
   */
  #save(value: unknown): boolean {
    switch (typeof value) {
      case "number":
        if (Number.isSafeInteger(value)) this.#saveInt(value);
        else this.#saveFloat(value, undefined);
        return false;
      case "bigint":
        this.#saveInt(value);
        return false;
      case "boolean":
        this.#out.byte(value ? Op.NEWTRUE : Op.NEWFALSE);
        return false;
      case "string":
        this.#saveString(value);
        return false;
      case "object":
        break;
      default:
        this.#fail(`${typeof value} is not a Python value`);
    }
    if (value === null) {
      this.#out.byte(Op.NONE);
      return false;
    }
    if (value instanceof PyFloat) {
      this.#saveFloat(value.value, value.nanBits);
      return false;
    }
    if (value instanceof PyStr) {
      const index = this.#objects.get(value);
      if (index !== undefined) this.#get(index);
      else {
        this.#out.byte(Op.BINUNICODE);
        this.#out.lengthPrefixedUtf8(value);
        this.#objects.set(value, this.#put());
      }
      return false;
    }
    const pid = this.#options.persistentId?.(value);
    if (pid !== undefined) {
      this.#push(Kind.Persistent).target = pid;
      return true;
    }
    if (value instanceof PyGlobal) {
      this.#saveGlobal(value);
      return false;
    }
    const index = this.#objects.get(value);
    if (index !== undefined) {
      this.#get(index);
      return false;
    }
    if (value instanceof Tuple) {
      if (value.length === 0) {
        this.#out.byte(Op.EMPTY_TUPLE);
        return false;
      }
      if (holdsOnlyAtoms(value)) {
        this.#saveAtomTuple(value, false);
        return false;
      }
      this.#openTuple(value, false);
      return true;
    }
    if (Array.isArray(value)) {
      this.#out.byte(Op.EMPTY_LIST);
      this.#objects.set(value, this.#put());
      return this.#openBatch(value, 1, Batching.ExactList);
    }
    if (value instanceof Uint8Array) {
      const key = this.#sharedBytesKey(value);
      const small = key === undefined ? undefined : this.#smallBytes[key];
      if (small !== undefined) {
        this.#get(small);
        return false;
      }
      const frame = this.#push(Kind.Bytes);
      frame.target = value;
      frame.mark = this.#objects.version;
      return true;
    }
    if (value instanceof PyObject) return this.#openReduce(value, value);
    if (value instanceof PyDict) {
      this.#out.byte(Op.EMPTY_DICT);
      this.#objects.set(value, this.#put());
      return this.#openBatch(flatItems(value), 2, Batching.ExactDict);
    }
    if (value instanceof PySet) {
      return this.#openReduce(value, new PyObject(BUILTIN_SET, Tuple.of([...value])));
    }
    if (value instanceof PyFrozenSet) {
      return this.#openReduce(value, new PyObject(BUILTIN_FROZENSET, Tuple.of([...value])));
    }
    if (value instanceof PyByteArray) {
      if (value.bytes.length === 0) return this.#openReduce(value, new PyObject(BUILTIN_BYTEARRAY));
      // CPython copies the contents into a new bytes object, shared with nothing.
      const copy = value.bytes.slice();
      this.#unshared.add(copy);
      return this.#openReduce(value, new PyObject(BUILTIN_BYTEARRAY, Tuple.of(copy)));
    }
    const reduced = this.#options.reduce?.(value);
    if (reduced !== undefined) return this.#openReduce(value, reduced);
    this.#fail(`cannot pickle a ${value.constructor?.name ?? "object"}`);
  }

  #saveString(value: string): void {
    const short = value.length <= SHORT_STRING;
    const index = short ? this.#shortStrings[value] : this.#longStrings.get(stringMapKey(value));
    if (index !== undefined) return this.#get(index);
    this.#out.byte(Op.BINUNICODE);
    this.#out.lengthPrefixedUtf8(value);
    if (short) this.#shortStrings[value] = this.#put();
    else this.#longStrings.set(stringMapKey(value), this.#put());
  }

  #saveInt(value: number | bigint): void {
    const out = this.#out;
    if (typeof value === "number" && value >= -0x80000000 && value <= 0x7fffffff) {
      if (value >= 0 && value <= 0xff) out.byte2(Op.BININT1, value);
      else if (value >= 0 && value <= 0xffff) {
        out.byte(Op.BININT2);
        out.u16(value);
      } else {
        out.byteU32(Op.BININT, value >>> 0);
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
    const dot = value.name.lastIndexOf(".");
    if (dot > 0 && dot < value.name.length - 1) {
      // Protocol 2 has no dotted names (a nested class such as Outer.Inner,
      // read from a protocol 4 pickle): CPython's pickler writes
      // getattr(parent, last), the parent in turn the same way.
      this.#saveGlobal(GETATTR);
      this.#saveGlobal(PyGlobal.of(value.module, value.name.slice(0, dot)));
      this.#save(value.name.slice(dot + 1));
      this.#out.byte(Op.TUPLE2);
      this.#put();
      this.#out.byte(Op.REDUCE);
      this.#globals.set(value, this.#put());
      return;
    }
    const [module, name] = toPickledName(value.module, value.name);
    if (/\n/.test(module) || /\n/.test(name)) this.#fail(`global ${value.path} contains a newline`);
    this.#out.byte(Op.GLOBAL);
    this.#out.utf8Line(`${module}\n${name}\n`);
    this.#globals.set(value, this.#put());
  }

  /**
   * A tuple of atoms (shapes, strides) written without a frame: its items
   * cannot lead back to it, so it needs no second memo lookup either. A
   * `fresh` one is memoized but kept out of the identity memo.
   */
  #saveAtomTuple(tuple: Tuple, fresh: boolean): void {
    const out = this.#out;
    const length = tuple.length;
    if (length > 3) out.byte(Op.MARK);
    for (let i = 0; i < length; i++) this.#save(tuple[i]);
    out.byte(tupleOp(length));
    const index = this.#put();
    if (!fresh) this.#objects.set(tuple, index);
  }

  /** `fresh` tuples are new objects in Python (reduce arguments): memoized, never looked up. */
  #openTuple(tuple: readonly unknown[], fresh: boolean): void {
    if (tuple.length > 3) this.#out.byte(Op.MARK);
    const frame = this.#push(Kind.Tuple);
    frame.items = tuple;
    frame.fresh = fresh;
  }

  #stepTuple(frame: Frame): void {
    const tuple = frame.items;
    const length = tuple.length;
    while (frame.pos < length) {
      if (this.#save(tuple[frame.pos++])) return;
    }
    this.#pop(frame);
    const out = this.#out;
    if (length === 0) {
      out.byte(Op.EMPTY_TUPLE);
      return;
    }
    // Only a container among the items can lead back to the tuple.
    const existing = frame.fresh || holdsNoContainers(tuple) ? undefined : this.#objects.get(tuple);
    if (existing !== undefined) {
      // The tuple reached itself through a mutable child: drop the copy, fetch the memo.
      if (length > 3) out.byte(Op.POP_MARK);
      else for (let i = 0; i < length; i++) out.byte(Op.POP);
      this.#get(existing);
      return;
    }
    out.byte(tupleOp(length));
    const index = this.#put();
    if (!frame.fresh) this.#objects.set(tuple, index);
  }

  /** Pushes a frame for `items` (`width` per entry) unless there are none. */
  #openBatch(items: readonly unknown[], width: number, batching: Batching): boolean {
    if (items.length === 0) return false;
    const frame = this.#push(Kind.Batch);
    frame.items = items;
    frame.width = width;
    frame.batching = batching;
    frame.phase = At.Start;
    return true;
  }

  #stepBatch(frame: Frame): void {
    const out = this.#out;
    const items = frame.items;
    const width = frame.width;
    const one = width === 1 ? Op.APPEND : Op.SETITEM;
    const many = width === 1 ? Op.APPENDS : Op.SETITEMS;
    for (;;) {
      const pos = frame.pos;
      if (pos % width === 0) {
        if (frame.phase === At.Single && pos > frame.mark) {
          out.byte(one);
          return this.#pop(frame);
        }
        if (frame.phase === At.InBatch) {
          const done = (pos - frame.mark) / width;
          if (done === BATCH_SIZE || pos === items.length) {
            out.byte(many);
            if (pos === items.length) {
              if (frame.batching === Batching.ExactDict && done === BATCH_SIZE) {
                out.byte(Op.MARK);
                out.byte(many);
              }
              return this.#pop(frame);
            }
            frame.phase = At.Start;
          }
        }
        if (frame.phase === At.Start) {
          const left = items.length - pos;
          frame.mark = pos;
          if (left === width && (frame.batching === Batching.Generic || pos === 0)) {
            frame.phase = At.Single;
          } else {
            out.byte(Op.MARK);
            frame.phase = At.InBatch;
          }
        }
      }
      frame.pos = pos + 1;
      if (this.#save(items[pos])) return;
    }
  }

  #openReduce(value: object, description: PyObject): true {
    const frame = this.#push(Kind.Reduce);
    frame.target = description;
    frame.value = value;
    frame.mark = this.#objects.version;
    frame.phase = description.how === "newobj_ex" ? Phase.ExCallable : Phase.Callable;
    return true;
  }

  /** Writes a reduce description and memoizes the result as the frame's value. */
  #stepReduce(frame: Frame): void {
    const out = this.#out;
    const description = frame.target as PyObject;
    const args = description.args;
    for (;;) {
      switch (frame.phase) {
        case Phase.Callable:
          frame.phase = Phase.OpenArgs;
          if (this.#save(description.callable)) return;
          break;
        case Phase.OpenArgs:
          // The argument tuple is a new object in Python: memoized, never looked up.
          if (args.length === 0) {
            out.byte(Op.EMPTY_TUPLE);
            frame.phase = Phase.CloseArgs;
          } else {
            if (args.length > 3) out.byte(Op.MARK);
            frame.phase = Phase.Args;
          }
          break;
        case Phase.Args: {
          // A description from the reduce hook is new, and so are its tuples of atoms.
          const fresh = description !== frame.value;
          while (frame.pos < args.length) {
            const item = args[frame.pos++];
            if (fresh && item instanceof Tuple && item.length > 0 && holdsOnlyAtoms(item)) {
              this.#saveAtomTuple(item, true);
            } else if (this.#save(item)) return;
          }
          out.byte(tupleOp(args.length));
          this.#put();
          frame.phase = Phase.CloseArgs;
          break;
        }
        case Phase.CloseArgs:
          out.byte(description.how === "reduce" ? Op.REDUCE : Op.NEWOBJ);
          frame.phase = Phase.Memoize;
          break;
        case Phase.ExCallable:
          frame.phase = Phase.ExClass;
          if (this.#save(NEWOBJ_EX)) return;
          break;
        case Phase.ExClass:
          frame.phase = Phase.ExArgs;
          if (this.#save(description.callable)) return;
          break;
        case Phase.ExArgs:
          frame.phase = Phase.ExKwargs;
          this.#openTuple(args, true);
          return;
        case Phase.ExKwargs:
          frame.phase = Phase.ExClose;
          if (this.#save(description.kwargs ?? new PyDict())) return;
          break;
        case Phase.ExClose:
          out.byte(Op.TUPLE3);
          this.#put();
          out.byte(Op.REDUCE);
          frame.phase = Phase.Memoize;
          break;
        case Phase.Memoize:
          this.#memoizeReduced(frame.value!, frame.mark);
          frame.phase = Phase.ListItems;
          break;
        case Phase.ListItems:
          frame.phase = Phase.DictItems;
          if (
            description.listItems !== undefined &&
            this.#openBatch(description.listItems, 1, Batching.Generic)
          ) return;
          break;
        case Phase.DictItems:
          frame.phase = Phase.State;
          if (
            description.size > 0 && this.#openBatch(flatItems(description), 2, Batching.Generic)
          ) {
            return;
          }
          break;
        case Phase.State:
          if (description.state === undefined) return this.#pop(frame);
          frame.phase = Phase.Build;
          if (this.#save(description.state)) return;
          break;
        case Phase.Build:
          out.byte(Op.BUILD);
          return this.#pop(frame);
      }
    }
  }

  #stepPersistent(frame: Frame): void {
    if (frame.phase === 0) {
      frame.phase = 1;
      const pid = frame.target;
      if (pid instanceof Tuple) return this.#openTuple(pid, true);
      if (this.#save(pid)) return;
    }
    this.#out.byte(Op.BINPERSID);
    this.#pop(frame);
  }

  #stepBytes(frame: Frame): void {
    const out = this.#out;
    const bytes = frame.target as Uint8Array;
    for (;;) {
      switch (frame.phase) {
        case 0:
          frame.phase = bytes.length === 0 ? 1 : 2;
          if (this.#save(bytes.length === 0 ? BUILTIN_BYTES : CODECS_ENCODE)) return;
          break;
        case 1:
          out.byte(Op.EMPTY_TUPLE);
          frame.phase = 4;
          break;
        case 2:
          // _codecs.encode(<latin-1 text>, "latin1"). The text is a new
          // object each time, except for one byte: CPython's one-character
          // strings are shared, so it is memoized with the other strings.
          if (bytes.length === 1) this.#saveString(String.fromCharCode(bytes[0]));
          else {
            out.byte(Op.BINUNICODE);
            out.lengthPrefixedLatin1(bytes);
            this.#put();
          }
          // CPython's own "latin1", not an equal str from the data.
          if (this.#latin1Name !== undefined) this.#get(this.#latin1Name);
          else {
            out.byte(Op.BINUNICODE);
            out.lengthPrefixedUtf8("latin1");
            this.#latin1Name = this.#put();
          }
          out.byte(Op.TUPLE2);
          this.#put();
          frame.phase = 4;
          break;
        default: {
          out.byte(Op.REDUCE);
          const index = this.#memoizeReduced(bytes, frame.mark);
          const key = this.#sharedBytesKey(bytes);
          if (key !== undefined) this.#smallBytes[key] = index;
          return this.#pop(frame);
        }
      }
    }
  }

  /** Where `bytes` are memoized by value in #smallBytes; undefined when by identity only. */
  #sharedBytesKey(bytes: Uint8Array): number | undefined {
    if (bytes.length > 1 || this.#unshared.has(bytes)) return undefined;
    return bytes.length === 0 ? 256 : bytes[0];
  }

  /**
   * `version` is the identity memo's version when the value's frame began.
   * Returns the value's memo index.
   */
  #memoizeReduced(value: object, version: number): number {
    const existing = this.#objects.getSince(value, version);
    if (existing !== undefined) {
      // Built recursively from its own arguments: keep the first copy.
      this.#out.byte(Op.POP);
      this.#get(existing);
      return existing;
    }
    const index = this.#put();
    this.#objects.set(value, index);
    return index;
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

/** A dict's keys and values, alternating. */
function flatItems(dict: PyDict): unknown[] {
  const items = new Array<unknown>(dict.size * 2);
  let at = 0;
  for (const [key, value] of dict.entries()) {
    items[at++] = key;
    items[at++] = value;
  }
  return items;
}
