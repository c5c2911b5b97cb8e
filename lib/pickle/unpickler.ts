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
import { decodeRawUnicodeEscape, decodeStringLiteral } from "./_text_literals.ts";
import { decodeUtf8 } from "./_utf8.ts";
import { Op, opName } from "./opcodes.ts";
import { PyByteArray } from "./py_bytearray.ts";
import { PyDict } from "./py_dict.ts";
import { PyFloat } from "./py_float.ts";
import { PyGlobal } from "./py_global.ts";
import { type Construction, PyObject } from "./py_object.ts";
import { PyFrozenSet, PySet } from "./py_set.ts";
import type { PyStr } from "./py_str.ts";
import { EMPTY_TUPLE, Tuple } from "./tuple.ts";

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
  #memo = new Map<number, unknown>();
  #protocol = 0;
  #options: UnpickleOptions;
  #maxMemoIndex: number;

  constructor(data: Uint8Array, options: UnpickleOptions) {
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#options = options;
    this.#maxMemoIndex = options.maxMemoIndex ?? 2 ** 31;
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
    return text;
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

  #memoGet(index: number): unknown {
    const value = this.#memo.get(index);
    if (value === undefined && !this.#memo.has(index)) this.#fail(`memo key ${index} is missing`);
    return value;
  }

  #memoPut(index: number): void {
    if (index > this.#maxMemoIndex) this.#fail(`memo index ${index} is too large`);
    this.#memo.set(index, this.#top());
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
        case Op.BINUNICODE:
          this.#push(this.#utf8(this.#u32()));
          break;
        case Op.SHORT_BINUNICODE:
          this.#push(this.#utf8(this.#u8()));
          break;
        case Op.BINUNICODE8:
          this.#push(this.#utf8(this.#u64()));
          break;
        case Op.UNICODE:
          this.#push(decodeRawUnicodeEscape(this.#latin1Line()));
          break;
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
          this.#push(Tuple.of(this.#pop()));
          break;
        case Op.TUPLE2: {
          const b = this.#pop();
          const a = this.#pop();
          this.#push(Tuple.of(a, b));
          break;
        }
        case Op.TUPLE3: {
          const c = this.#pop();
          const b = this.#pop();
          const a = this.#pop();
          this.#push(Tuple.of(a, b, c));
          break;
        }
        case Op.TUPLE:
          this.#push(Tuple.fromArray(this.#popMark()));
          break;
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
          this.#push(this.#construct(items[0], Tuple.fromArray(items.slice(1)), "reduce"));
          break;
        }
        case Op.INST: {
          const module = this.#line();
          const name = this.#line();
          const args = Tuple.fromArray(this.#popMark());
          this.#push(this.#construct(this.#global(module, name), args, "reduce"));
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
          this.#memoPut(this.#memo.size);
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
    return text;
  }

  get protocol(): number {
    return this.#protocol;
  }
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
    if (args.length === 2 && typeof args[0] === "string" && args[1] === "latin1") {
      return latin1Bytes(args[0]);
    }
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
      if (args.length === 2 && typeof args[0] === "string" && args[1] === "latin-1") {
        return new PyByteArray(latin1Bytes(args[0]));
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
