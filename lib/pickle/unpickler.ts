/**
 * A pickle decoder for protocols 0 to 5 that never imports or calls
 * anything: globals become {@linkcode PyGlobal} names and object
 * construction becomes {@linkcode PyObject} data. It is iterative, so
 * nesting depth cannot exhaust the JS stack, and every length is checked
 * against the bytes left before anything is allocated.
 *
 * @module
 */

import { PickleError } from "../errors.ts";
import { fromPickledName } from "./_compat_names.ts";
import { latin1FromUtf8 } from "./_latin1.ts";
import { decodeRawUnicodeEscape, decodeStringLiteral } from "./_text_literals.ts";
import { decodeUtf8 } from "./_utf8.ts";
import { Op, opName } from "./opcodes.ts";
import { PyByteArray } from "./py_bytearray.ts";
import { PyDict } from "./py_dict.ts";
import { PyFloat } from "./py_float.ts";
import { PyGlobal } from "./py_global.ts";
import { type Construction, PyObject } from "./py_object.ts";
import { PyFrozenSet, PySet } from "./py_set.ts";
import { PyStr, strValue } from "./py_str.ts";
import { EMPTY_TUPLE, Tuple, tupleOfRange } from "./tuple.ts";

/** Hooks that let a caller give meaning to parts of the pickle. */
export interface UnpickleOptions {
  /**
   * Resolves a persistent id (`PERSID`/`BINPERSID`), as torch does for
   * storages. Without it, a persistent id is an error.
   */
  persistentLoad?: (pid: unknown) => unknown;
  /**
   * Resolves a global reference, given in Python 3 spelling. The default
   * returns `PyGlobal.of(module, name)`; a caller may redirect it.
   */
  findGlobal?: (module: string, name: string) => unknown;
  /**
   * Builds a value for a constructed object; returning `undefined` keeps the
   * default {@linkcode PyObject}. Used for torch tensors.
   */
  construct?: (callable: unknown, args: Tuple, how: Construction) => unknown;
  /** Largest accepted memo index (default 2**31). */
  maxMemoIndex?: number;
}

const HIGHEST_PROTOCOL = 5;
// Pickles from this size on are scanned for the memo indices GETs read.
const PRESCAN_MIN = 1 << 16;
// Beyond this, a GET index stops the scan: every put is kept.
const PRESCAN_MAX_INDEX = 1 << 26;
// Strings from this size on are checked for being a bytes argument (see #latin1Reduce).
const LARGE_TEXT = 1024;
const CODECS_ENCODE = PyGlobal.of("_codecs", "encode");
// Stands for a hook's `undefined` result in the memo, where `undefined` means "missing".
const MEMO_UNDEFINED = Symbol("undefined");
const TWO_POW_32 = 2 ** 32;

/**
 * Decodes one pickle that must fill `data` exactly.
 *
 * @example Decode a small protocol 2 pickle
 * ```ts
 * import assert from "node:assert/strict";
 * import { unpickle } from "./unpickler.ts";
 *
 * // pickle.dumps({"a": (1, 2.5)}, protocol=2)
 * const data = new Uint8Array([
 *   0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01, 0x4b, 0x01,
 *   0x47, 0x40, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0x71, 0x02, 0x73, 0x2e,
 * ]);
 * const value = unpickle(data) as Map<string, unknown> & { get(k: string): unknown };
 * const pair = value.get("a") as unknown[];
 * assert.equal(pair[0], 1);
 * assert.equal(Number(pair[1]), 2.5);
 * ```
 */
export function unpickle(data: Uint8Array, options: UnpickleOptions = {}): unknown {
  return new Unpickler(data, options).load();
}

class Unpickler {
  #data: Uint8Array;
  #view: DataView;
  #pos = 0;
  #opStart = 0;
  #op = 0;
  #frameEnd = -1;
  #stack: unknown[] = [];
  #marks: number[] = [];
  #fence = 0;
  // An array, not a Map: memo indices are dense in practice, and V8 would
  // box the uint32 keys of a Map as heap numbers.
  #memo: unknown[] = [];
  #memoCount = 0;
  #protocol = 0;
  #options: UnpickleOptions;
  #maxMemoIndex: number;

  // Memo indices that some GET reads; puts of the others are dropped so
  // what they hold (most intermediate tuples) can die young. Undefined:
  // keep every put.
  #fetched: Uint8Array | undefined;

  constructor(data: Uint8Array, options: UnpickleOptions) {
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#options = options;
    this.#maxMemoIndex = options.maxMemoIndex ?? 2 ** 31;
    this.#fetched = data.length >= PRESCAN_MIN ? fetchedMemoIndices(data) : undefined;
  }

  #fail(problem: string): never {
    throw new PickleError(
      `Cannot decode pickle: ${problem} at offset ${this.#opStart} (${opName(this.#op)})`,
      this.#opStart,
    );
  }

  /** Ensures `n` more bytes exist (and stay inside the current frame); returns the start. */
  #take(n: number): number {
    const start = this.#pos;
    const end = start + n;
    if (end > this.#data.length) {
      this.#fail(`needs ${n} bytes but only ${this.#data.length - start} remain`);
    }
    if (this.#frameEnd >= 0 && end > this.#frameEnd) {
      this.#fail("opcode runs past the end of its frame");
    }
    this.#pos = end;
    return start;
  }

  #u8(): number {
    return this.#data[this.#take(1)];
  }

  #u16(): number {
    return this.#view.getUint16(this.#take(2), true);
  }

  #u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  #i32(): number {
    return this.#view.getInt32(this.#take(4), true);
  }

  #u64(): number {
    const start = this.#take(8);
    const low = this.#view.getUint32(start, true);
    const high = this.#view.getUint32(start + 4, true);
    // Any length past 2**53 is past the data too; report it as such.
    return high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * TWO_POW_32 + low;
  }

  #length(n: number): number {
    if (n > this.#data.length - this.#pos) {
      this.#fail(`declared length ${n} exceeds the ${this.#data.length - this.#pos} bytes left`);
    }
    return n;
  }

  #bytes(n: number): Uint8Array {
    const start = this.#take(this.#length(n));
    return this.#data.subarray(start, start + n);
  }

  #line(): string {
    const [start, end] = this.#lineBounds();
    const text = decodeUtf8(this.#data, start, end);
    if (text === undefined) this.#fail("line is not valid UTF-8");
    return String(text);
  }

  /** A line read as Latin-1, as raw-unicode-escape and quoted string lines are. */
  #latin1Line(): string {
    const [start, end] = this.#lineBounds();
    let text = "";
    for (let i = start; i < end; i += 8192) {
      text += String.fromCharCode(...this.#data.subarray(i, Math.min(end, i + 8192)));
    }
    return text;
  }

  #lineBounds(): [number, number] {
    const start = this.#pos;
    const end = this.#data.indexOf(0x0a, start);
    if (end < 0) this.#fail("line is not terminated");
    this.#take(end + 1 - start);
    return [start, end];
  }

  #utf8(n: number): string | PyStr {
    const start = this.#take(this.#length(n));
    const text = decodeUtf8(this.#data, start, start + n);
    if (text === undefined) this.#fail("string is not valid UTF-8");
    return strValue(text);
  }

  #push(value: unknown): void {
    this.#stack.push(value);
  }

  #pop(): unknown {
    if (this.#stack.length <= this.#fence) this.#fail("stack underflow");
    return this.#stack.pop();
  }

  #top(): unknown {
    if (this.#stack.length <= this.#fence) this.#fail("stack underflow");
    return this.#stack[this.#stack.length - 1];
  }

  #popMark(): unknown[] {
    const mark = this.#marks.pop();
    if (mark === undefined) this.#fail("no MARK on the stack");
    const items = this.#stack.splice(mark);
    this.#fence = this.#marks.length > 0 ? this.#marks[this.#marks.length - 1] : 0;
    return items;
  }

  /** Replaces the top `n` stack items with a tuple of them, without an intermediate array. */
  #tupleFromTop(n: number): void {
    const stack = this.#stack;
    const start = stack.length - n;
    if (start < this.#fence) this.#fail("stack underflow");
    const tuple = tupleOfRange(stack, start, stack.length);
    stack.length = start;
    stack.push(tuple);
  }

  #memoGet(index: number): unknown {
    let value = this.#memo[index];
    if (value === undefined) this.#fail(`memo key ${index} is missing`);
    if (value instanceof Deferred) this.#memo[index] = value = value.value();
    return value === MEMO_UNDEFINED ? undefined : value;
  }

  #memoSet(index: number, value: unknown): void {
    if (this.#fetched !== undefined && !this.#isFetched(index)) return;
    if (this.#memo[index] === undefined) this.#memoCount++;
    this.#memo[index] = value === undefined ? MEMO_UNDEFINED : value;
  }

  /**
   * Protocol 2 writes bytes as `_codecs.encode(<latin-1 str>, "latin1")`:
   * GLOBAL, BINUNICODE, "latin1", TUPLE2, REDUCE, with memo puts between.
   * When the `n`-byte string about to be read is such an argument, decodes
   * its UTF-8 straight to bytes and consumes the whole call, instead of
   * building a large JS string first; the string and the argument tuple
   * are memoized as deferred values, made only if a GET asks for them.
   * Returns false, having consumed nothing, when the opcodes differ.
   */
  #latin1Reduce(n: number): boolean {
    const stack = this.#stack;
    if (this.#frameEnd >= 0 || stack.length <= this.#fence) return false;
    if (stack[stack.length - 1] !== CODECS_ENCODE) return false;
    const data = this.#data;
    const start = this.#pos;
    if (n > data.length - start) return false;
    let at = start + n;
    const textPut = this.#peekPut(at);
    if (textPut === undefined) return false;
    at = textPut.next;
    // The encoding: a short "latin1" string (maybe memoized) or a memo GET of one.
    let encodingPut: { index: number; next: number } | undefined;
    const op = data[at];
    if (op === Op.SHORT_BINUNICODE && at + 8 <= data.length && data[at + 1] === 6) {
      if (!isLatin1Name(data, at + 2)) return false;
      encodingPut = this.#peekPut(at + 8);
      if (encodingPut === undefined) return false;
      at = encodingPut.next;
    } else if (
      (op === Op.BINGET && at + 2 <= data.length) ||
      (op === Op.LONG_BINGET && at + 5 <= data.length)
    ) {
      const index = op === Op.BINGET ? data[at + 1] : this.#view.getUint32(at + 1, true);
      if (this.#memo[index] !== "latin1") return false;
      at += op === Op.BINGET ? 2 : 5;
    } else {
      return false;
    }
    if (data[at] !== Op.TUPLE2) return false;
    const tuplePut = this.#peekPut(at + 1);
    if (tuplePut === undefined || data[tuplePut.next] !== Op.REDUCE) return false;
    const bytes = latin1FromUtf8(data, start, start + n);
    if (bytes === undefined) return false;

    const text = new Deferred(() => strValue(String(decodeUtf8(data, start, start + n))));
    if (textPut.index >= 0) this.#memoSet(textPut.index, text);
    if (encodingPut !== undefined && encodingPut.index >= 0) {
      this.#memoSet(encodingPut.index, "latin1");
    }
    if (tuplePut.index >= 0) {
      this.#memoSet(tuplePut.index, new Deferred(() => Tuple.of(text.value(), "latin1")));
    }
    stack.pop();
    stack.push(bytes);
    this.#pos = tuplePut.next + 1;
    return true;
  }

  /**
   * Reads an optional BINPUT or LONG_BINPUT at `at`: its memo index (-1 for
   * none) and the offset after it; undefined for a put this fast path leaves
   * to the main loop (text PUT, MEMOIZE, an index past the limit).
   */
  #peekPut(at: number): { index: number; next: number } | undefined {
    const data = this.#data;
    const op = data[at];
    if (op === Op.BINPUT && at + 2 <= data.length) return { index: data[at + 1], next: at + 2 };
    if (op === Op.LONG_BINPUT && at + 5 <= data.length) {
      const index = this.#view.getUint32(at + 1, true);
      return index > this.#maxMemoIndex ? undefined : { index, next: at + 5 };
    }
    if (op === Op.PUT || op === Op.MEMOIZE) return undefined;
    return at < data.length ? { index: -1, next: at } : undefined;
  }

  #memoPut(index: number): void {
    if (index > this.#maxMemoIndex) this.#fail(`memo index ${index} is too large`);
    const value = this.#top();
    if (this.#fetched !== undefined && !this.#isFetched(index)) return;
    if (this.#memo[index] === undefined) this.#memoCount++;
    this.#memo[index] = value === undefined ? MEMO_UNDEFINED : value;
  }

  #isFetched(index: number): boolean {
    const fetched = this.#fetched!;
    return (index >>> 3) < fetched.length && (fetched[index >>> 3] & (1 << (index & 7))) !== 0;
  }

  #global(module: string, name: string): unknown {
    const [mod, qualname] = fromPickledName(module, name);
    return this.#options.findGlobal ? this.#options.findGlobal(mod, qualname) : PyGlobal.of(
      mod,
      qualname,
    );
  }

  #persistent(pid: unknown): unknown {
    const load = this.#options.persistentLoad;
    if (load === undefined) this.#fail("persistent id found but no persistent loader is set");
    return load(pid);
  }

  #construct(callable: unknown, args: unknown, how: Construction): unknown {
    if (!(args instanceof Tuple)) this.#fail("arguments are not a tuple");
    if (how === "reduce" && callable instanceof PyGlobal) {
      const builtin = buildBuiltin(callable, args);
      if (builtin !== undefined) return builtin;
    }
    const custom = this.#options.construct?.(callable, args, how);
    if (custom !== undefined) return custom;
    return new PyObject(callable, args, how);
  }

  #setItems(target: unknown, items: unknown[]): void {
    if (items.length % 2 !== 0) this.#fail("odd number of items for a dict");
    if (!(target instanceof PyDict)) this.#fail(`cannot set items on ${typeName(target)}`);
    try {
      for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    } catch (error) {
      this.#fail((error as Error).message);
    }
  }

  #append(target: unknown, items: unknown[]): void {
    if (Array.isArray(target) && !(target instanceof Tuple)) {
      for (const item of items) target.push(item);
    } else if (target instanceof PyObject) {
      (target.listItems ??= []).push(...items);
    } else {
      this.#fail(`cannot append to ${typeName(target)}`);
    }
  }

  #signedLittleEndian(bytes: Uint8Array): number | bigint {
    const n = bytes.length;
    if (n === 0) return 0;
    if (n <= 6) {
      let value = 0;
      for (let i = n - 1; i >= 0; i--) value = value * 256 + bytes[i];
      if (bytes[n - 1] & 0x80) value -= 2 ** (8 * n);
      return value;
    }
    let hex = "";
    for (let i = n - 1; i >= 0; i--) hex += bytes[i].toString(16).padStart(2, "0");
    let value = BigInt(`0x${hex}`);
    if (bytes[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
    return normalizeInt(value);
  }

  #parseInt(text: string): number | bigint {
    if (!/^[+-]?\d+$/.test(text)) this.#fail(`invalid integer literal '${text.slice(0, 40)}'`);
    return normalizeInt(BigInt(text));
  }

  load(): unknown {
    const data = this.#data;
    const stack = this.#stack;
    for (;;) {
      this.#opStart = this.#pos;
      // Opcodes after a frame's last byte are outside any frame.
      if (this.#frameEnd >= 0 && this.#pos >= this.#frameEnd) this.#frameEnd = -1;
      if (this.#pos >= data.length) {
        throw new PickleError(
          `Cannot decode pickle: needs 1 bytes but only 0 remain at offset ${this.#pos} (no STOP)`,
          this.#pos,
        );
      }
      const op = this.#op = this.#u8();
      switch (op) {
        case Op.PROTO: {
          const version = this.#u8();
          if (this.#opStart !== 0) this.#fail("PROTO is not the first opcode");
          if (version > HIGHEST_PROTOCOL) this.#fail(`unsupported protocol ${version}`);
          this.#protocol = version;
          break;
        }
        case Op.FRAME: {
          const length = this.#u64();
          if (this.#frameEnd >= 0 && this.#pos !== this.#frameEnd) {
            this.#fail("new frame starts before the current frame ends");
          }
          this.#length(length);
          this.#frameEnd = this.#pos + length;
          break;
        }
        case Op.STOP: {
          if (this.#frameEnd >= 0 && this.#pos !== this.#frameEnd) {
            this.#fail("STOP inside an unfinished frame");
          }
          if (this.#marks.length > 0) this.#fail("MARK left open at STOP");
          if (stack.length !== 1) this.#fail(`${stack.length} values on the stack at STOP`);
          if (this.#pos !== data.length) this.#fail(`${data.length - this.#pos} bytes after STOP`);
          return stack[0];
        }
        case Op.MARK:
          this.#marks.push(stack.length);
          this.#fence = stack.length;
          break;
        case Op.POP:
          if (this.#marks.length > 0 && this.#marks[this.#marks.length - 1] === stack.length) {
            this.#popMark();
          } else {
            this.#pop();
          }
          break;
        case Op.POP_MARK:
          this.#popMark();
          break;
        case Op.DUP:
          this.#push(this.#top());
          break;
        case Op.NONE:
          this.#push(null);
          break;
        case Op.NEWTRUE:
          this.#push(true);
          break;
        case Op.NEWFALSE:
          this.#push(false);
          break;
        case Op.BININT:
          this.#push(this.#i32());
          break;
        case Op.BININT1:
          this.#push(this.#u8());
          break;
        case Op.BININT2:
          this.#push(this.#u16());
          break;
        case Op.INT: {
          const text = this.#line();
          if (text === "00") this.#push(false);
          else if (text === "01") this.#push(true);
          else this.#push(this.#parseInt(text));
          break;
        }
        case Op.LONG:
          this.#push(this.#parseInt(this.#line().replace(/L$/, "")));
          break;
        case Op.LONG1:
          this.#push(this.#signedLittleEndian(this.#bytes(this.#u8())));
          break;
        case Op.LONG4: {
          const n = this.#i32();
          if (n < 0) this.#fail("negative LONG4 length");
          this.#push(this.#signedLittleEndian(this.#bytes(n)));
          break;
        }
        case Op.FLOAT: {
          const text = this.#line();
          const value = parseFloatLiteral(text);
          if (value === undefined) this.#fail(`invalid float literal '${text.slice(0, 40)}'`);
          this.#push(new PyFloat(value));
          break;
        }
        case Op.BINFLOAT: {
          const start = this.#take(8);
          const value = this.#view.getFloat64(start, false);
          this.#push(
            new PyFloat(value, Number.isNaN(value) ? data.slice(start, start + 8) : undefined),
          );
          break;
        }
        case Op.BINUNICODE: {
          const length = this.#u32();
          if (length < LARGE_TEXT || !this.#latin1Reduce(length)) this.#push(this.#utf8(length));
          break;
        }
        case Op.SHORT_BINUNICODE:
          this.#push(this.#utf8(this.#u8()));
          break;
        case Op.BINUNICODE8: {
          const length = this.#u64();
          if (length < LARGE_TEXT || !this.#latin1Reduce(length)) this.#push(this.#utf8(length));
          break;
        }
        case Op.UNICODE: {
          const text = decodeRawUnicodeEscape(this.#latin1Line());
          if (text === undefined) this.#fail("truncated or out-of-range \\u escape");
          this.#push(strValue(text));
          break;
        }
        case Op.STRING: {
          const bytes = decodeStringLiteral(this.#latin1Line());
          if (bytes === undefined) this.#fail("invalid quoted string");
          this.#push(this.#bytesAsText(bytes));
          break;
        }
        case Op.BINSTRING: {
          const n = this.#i32();
          if (n < 0) this.#fail("negative BINSTRING length");
          this.#push(this.#bytesAsText(this.#bytes(n)));
          break;
        }
        case Op.SHORT_BINSTRING:
          this.#push(this.#bytesAsText(this.#bytes(this.#u8())));
          break;
        case Op.BINBYTES:
          this.#push(this.#bytes(this.#u32()));
          break;
        case Op.SHORT_BINBYTES:
          this.#push(this.#bytes(this.#u8()));
          break;
        case Op.BINBYTES8:
          this.#push(this.#bytes(this.#u64()));
          break;
        case Op.BYTEARRAY8:
          this.#push(new PyByteArray(this.#bytes(this.#u64()).slice()));
          break;
        case Op.NEXT_BUFFER:
          this.#fail("out-of-band buffers are not supported");
          break;
        case Op.READONLY_BUFFER:
          this.#top();
          break;
        case Op.EMPTY_TUPLE:
          this.#push(EMPTY_TUPLE);
          break;
        case Op.TUPLE1:
          this.#tupleFromTop(1);
          break;
        case Op.TUPLE2:
          this.#tupleFromTop(2);
          break;
        case Op.TUPLE3:
          this.#tupleFromTop(3);
          break;
        case Op.TUPLE: {
          const mark = this.#marks.pop();
          if (mark === undefined) this.#fail("no MARK on the stack");
          this.#fence = this.#marks.length > 0 ? this.#marks[this.#marks.length - 1] : 0;
          this.#tupleFromTop(stack.length - mark);
          break;
        }
        case Op.EMPTY_LIST:
          this.#push([]);
          break;
        case Op.LIST:
          this.#push(this.#popMark());
          break;
        case Op.APPEND: {
          const value = this.#pop();
          this.#append(this.#top(), [value]);
          break;
        }
        case Op.APPENDS: {
          const items = this.#popMark();
          this.#append(this.#top(), items);
          break;
        }
        case Op.EMPTY_DICT:
          this.#push(new PyDict());
          break;
        case Op.DICT: {
          const dict = new PyDict();
          this.#setItems(dict, this.#popMark());
          this.#push(dict);
          break;
        }
        case Op.SETITEM: {
          const value = this.#pop();
          const key = this.#pop();
          this.#setItems(this.#top(), [key, value]);
          break;
        }
        case Op.SETITEMS: {
          const items = this.#popMark();
          this.#setItems(this.#top(), items);
          break;
        }
        case Op.EMPTY_SET:
          this.#push(new PySet());
          break;
        case Op.ADDITEMS: {
          const items = this.#popMark();
          const target = this.#top();
          if (!(target instanceof PySet)) this.#fail(`cannot add items to ${typeName(target)}`);
          try {
            for (const item of items) target.add(item);
          } catch (error) {
            this.#fail((error as Error).message);
          }
          break;
        }
        case Op.FROZENSET:
          try {
            this.#push(new PyFrozenSet(this.#popMark()));
          } catch (error) {
            this.#fail((error as Error).message);
          }
          break;
        case Op.GLOBAL: {
          const module = this.#line();
          const name = this.#line();
          this.#push(this.#global(module, name));
          break;
        }
        case Op.STACK_GLOBAL: {
          const name = this.#pop();
          const module = this.#pop();
          if (typeof module !== "string" || typeof name !== "string") {
            this.#fail("STACK_GLOBAL needs two strings");
          }
          this.#push(this.#global(module, name));
          break;
        }
        case Op.REDUCE: {
          const args = this.#pop();
          const callable = this.#pop();
          this.#push(this.#construct(callable, args, "reduce"));
          break;
        }
        case Op.NEWOBJ: {
          const args = this.#pop();
          const cls = this.#pop();
          this.#push(this.#construct(cls, args, "newobj"));
          break;
        }
        case Op.NEWOBJ_EX: {
          const kwargs = this.#pop();
          const args = this.#pop();
          const cls = this.#pop();
          if (!(kwargs instanceof PyDict) || kwargs instanceof PyObject) {
            this.#fail("NEWOBJ_EX keyword arguments are not a dict");
          }
          const value = this.#construct(cls, args, "newobj_ex");
          if (value instanceof PyObject) value.kwargs = kwargs;
          this.#push(value);
          break;
        }
        case Op.OBJ: {
          const items = this.#popMark();
          if (items.length === 0) this.#fail("OBJ without a class");
          const args = Tuple.fromArray(items.slice(1));
          this.#push(this.#construct(items[0], args, instantiation(args)));
          break;
        }
        case Op.INST: {
          const module = this.#line();
          const name = this.#line();
          const args = Tuple.fromArray(this.#popMark());
          this.#push(this.#construct(this.#global(module, name), args, instantiation(args)));
          break;
        }
        case Op.BUILD: {
          const state = this.#pop();
          const target = this.#top();
          if (!(target instanceof PyObject)) this.#fail(`cannot BUILD ${typeName(target)}`);
          target.state = state;
          break;
        }
        case Op.PERSID:
          this.#push(this.#persistent(this.#line()));
          break;
        case Op.BINPERSID:
          this.#push(this.#persistent(this.#pop()));
          break;
        case Op.GET: {
          const text = this.#line();
          if (!/^\d+$/.test(text)) this.#fail("invalid memo key");
          this.#push(this.#memoGet(Number(text)));
          break;
        }
        case Op.BINGET:
          this.#push(this.#memoGet(this.#u8()));
          break;
        case Op.LONG_BINGET:
          this.#push(this.#memoGet(this.#u32()));
          break;
        case Op.PUT: {
          const text = this.#line();
          if (!/^\d+$/.test(text)) this.#fail("invalid memo key");
          this.#memoPut(Number(text));
          break;
        }
        case Op.BINPUT:
          this.#memoPut(this.#u8());
          break;
        case Op.LONG_BINPUT:
          this.#memoPut(this.#u32());
          break;
        case Op.MEMOIZE:
          this.#memoPut(this.#memoCount);
          break;
        case Op.EXT1:
        case Op.EXT2:
        case Op.EXT4:
          this.#fail("extension registry codes are not supported");
          break;
        default:
          this.#fail("unknown opcode");
      }
    }
  }

  // Python 2 byte strings load as text, decoded as UTF-8 like torch.load does.
  #bytesAsText(bytes: Uint8Array): string | PyStr {
    const text = decodeUtf8(bytes, 0, bytes.length);
    if (text === undefined) this.#fail("byte string is not valid UTF-8");
    return strValue(text);
  }

  get protocol(): number {
    return this.#protocol;
  }
}

/**
 * How INST and OBJ build an instance: CPython calls the class with
 * arguments, but makes one without any by `cls.__new__(cls)`, never running
 * `__init__`; re-pickled, that is NEWOBJ.
 */
function instantiation(args: Tuple): Construction {
  return args.length === 0 ? "newobj" : "reduce";
}

function typeName(value: unknown): string {
  if (value === null) return "None";
  if (value instanceof Tuple) return "a tuple";
  if (Array.isArray(value)) return "a list";
  if (value instanceof PyObject) return value.className ?? "an object";
  if (typeof value === "object") return `a ${value.constructor.name}`;
  return `a ${typeof value}`;
}

/** Ints outside the safe range stay bigint; the rest become numbers. */
export function normalizeInt(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

// The C pickler writes these builtins as reduce calls in protocols < 3; they
// decode to the value model's own types.
function buildBuiltin(callable: PyGlobal, args: Tuple): unknown {
  const { module, name } = callable;
  if (module === "_codecs" && name === "encode") {
    const text = exactText(args[0]);
    if (args.length === 2 && text !== undefined && args[1] === "latin1") return latin1Bytes(text);
    return undefined;
  }
  if (module !== "builtins") return undefined;
  switch (name) {
    case "bytes":
      return args.length === 0 ? new Uint8Array(0) : undefined;
    case "bytearray":
      if (args.length === 0) return new PyByteArray();
      if (args.length === 1 && args[0] instanceof Uint8Array) {
        return new PyByteArray(args[0].slice());
      }
      if (args.length === 2 && exactText(args[0]) !== undefined && args[1] === "latin-1") {
        return new PyByteArray(latin1Bytes(exactText(args[0])!));
      }
      return undefined;
    case "set":
    case "frozenset": {
      const items = args.length === 0 ? [] : args[0];
      if (args.length > 1 || !Array.isArray(items) || items instanceof Tuple) return undefined;
      return name === "set" ? new PySet(items) : new PyFrozenSet(items);
    }
    default:
      return undefined;
  }
}

/** The JS string a str value is exactly, if it is one (a long str is a PyStr). */
function exactText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  return value instanceof PyStr && value.exact ? value.units : undefined;
}

function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) return new TextEncoder().encode(text);
    bytes[i] = code;
  }
  return bytes;
}

function parseFloatLiteral(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "nan" || trimmed === "+nan" || trimmed === "-nan") return NaN;
  if (trimmed === "inf" || trimmed === "+inf" || trimmed === "infinity") return Infinity;
  if (trimmed === "-inf" || trimmed === "-infinity") return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/** A memo value made on first use: what a fast path memoized but did not build. */
class Deferred {
  #make: (() => unknown) | undefined;
  #value: unknown;

  constructor(make: () => unknown) {
    this.#make = make;
  }

  value(): unknown {
    if (this.#make !== undefined) {
      this.#value = this.#make();
      this.#make = undefined;
    }
    return this.#value;
  }
}

function isLatin1Name(data: Uint8Array, at: number): boolean {
  // "latin1"
  return data[at] === 0x6c && data[at + 1] === 0x61 && data[at + 2] === 0x74 &&
    data[at + 3] === 0x69 && data[at + 4] === 0x6e && data[at + 5] === 0x31;
}

/**
 * A bit set of the memo indices that GET, BINGET and LONG_BINGET read, found
 * by walking the opcodes once without decoding anything. Undefined when the
 * pickle uses MEMOIZE (its indices count earlier puts), has an opcode the
 * walk does not know, ends early, or reads a huge index: then the decoder
 * keeps every put, and reports any problem itself.
 */
function fetchedMemoIndices(data: Uint8Array): Uint8Array | undefined {
  let bits = new Uint8Array(1024);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const end = data.length;
  const mark = (index: number): boolean => {
    if (index > PRESCAN_MAX_INDEX) return false;
    const byte = index >>> 3;
    if (byte >= bits.length) {
      const grown = new Uint8Array(Math.max(bits.length * 2, byte + 1));
      grown.set(bits);
      bits = grown;
    }
    bits[byte] |= 1 << (index & 7);
    return true;
  };
  const lineEnd = (from: number): number => {
    const found = data.indexOf(0x0a, from);
    return found < 0 ? end : found + 1;
  };
  let i = 0;
  while (i < end) {
    const op = data[i++];
    switch (op) {
      case 0x2e: // STOP
        return bits;
      case 0x28: // MARK
      case 0x30: // POP
      case 0x31: // POP_MARK
      case 0x32: // DUP
      case 0x4e: // NONE
      case 0x51: // BINPERSID
      case 0x52: // REDUCE
      case 0x61: // APPEND
      case 0x62: // BUILD
      case 0x64: // DICT
      case 0x7d: // EMPTY_DICT
      case 0x65: // APPENDS
      case 0x6c: // LIST
      case 0x5d: // EMPTY_LIST
      case 0x6f: // OBJ
      case 0x73: // SETITEM
      case 0x74: // TUPLE
      case 0x29: // EMPTY_TUPLE
      case 0x75: // SETITEMS
      case 0x81: // NEWOBJ
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: // TUPLE3
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
      case 0x8f: // EMPTY_SET
      case 0x90: // ADDITEMS
      case 0x91: // FROZENSET
      case 0x92: // NEWOBJ_EX
      case 0x93: // STACK_GLOBAL
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        break;
      case 0x68: // BINGET
        if (i >= end) return undefined;
        mark(data[i++]);
        break;
      case 0x6a: // LONG_BINGET
        if (i + 4 > end || !mark(view.getUint32(i, true))) return undefined;
        i += 4;
        break;
      case 0x67: { // GET
        const stop = lineEnd(i);
        const text = new TextDecoder().decode(data.subarray(i, stop - 1));
        if (!/^\d+$/.test(text) || !mark(Number(text))) return undefined;
        i = stop;
        break;
      }
      case 0x80: // PROTO
      case 0x4b: // BININT1
      case 0x71: // BINPUT
      case 0x82: // EXT1
        i += 1;
        break;
      case 0x4d: // BININT2
      case 0x83: // EXT2
        i += 2;
        break;
      case 0x4a: // BININT
      case 0x72: // LONG_BINPUT
      case 0x84: // EXT4
        i += 4;
        break;
      case 0x47: // BINFLOAT
      case 0x95: // FRAME (its contents are opcodes too)
        i += 8;
        break;
      case 0x55: // SHORT_BINSTRING
      case 0x43: // SHORT_BINBYTES
      case 0x8c: // SHORT_BINUNICODE
      case 0x8a: // LONG1
        if (i >= end) return undefined;
        i += 1 + data[i];
        break;
      case 0x58: // BINUNICODE
      case 0x54: // BINSTRING
      case 0x42: // BINBYTES
      case 0x8b: // LONG4
        if (i + 4 > end) return undefined;
        i += 4 + view.getUint32(i, true);
        break;
      case 0x8d: // BINUNICODE8
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        if (i + 8 > end) return undefined;
        i += 8 + view.getUint32(i, true) + view.getUint32(i + 4, true) * 2 ** 32;
        break;
      case 0x49: // INT
      case 0x4c: // LONG
      case 0x46: // FLOAT
      case 0x53: // STRING
      case 0x56: // UNICODE
      case 0x50: // PERSID
      case 0x70: // PUT
        i = lineEnd(i);
        break;
      case 0x63: // GLOBAL
      case 0x69: // INST
        i = lineEnd(lineEnd(i));
        break;
      default: // MEMOIZE, or not an opcode
        return undefined;
    }
  }
  return undefined;
}
