/**
 * A listing of a pickle's opcodes in the layout of Python's
 * `pickletools.dis`: offset, opcode byte, indentation by MARK, name,
 * argument.
 *
 * @module
 */

import { PickleError } from "../errors.ts";
import { Op, OP_NAMES } from "./opcodes.ts";
import { floatRepr } from "./py_float.ts";
import { bytesRepr, strRepr } from "./repr.ts";
import { decodeRawUnicodeEscape } from "./_text_literals.ts";
import { decodeUtf8 } from "./_utf8.ts";

/** One decoded opcode. */
export interface Instruction {
  /** Byte offset of the opcode. */
  offset: number;
  /** Opcode name, as `pickletools` spells it. */
  name: string;
  /** The opcode byte. */
  code: number;
  /** The argument as Python's `repr` shows it, or `undefined` when there is none. */
  arg: string | undefined;
}

type ArgReader = (r: Reader) => string;

class Reader {
  pos = 0;
  readonly data: Uint8Array;
  readonly view: DataView;
  constructor(data: Uint8Array) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  take(n: number): number {
    if (n > this.data.length - this.pos) {
      throw new PickleError(
        `Cannot list pickle: needs ${n} bytes at offset ${this.pos} but ${
          this.data.length - this.pos
        } remain`,
        this.pos,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw new PickleError(`Cannot list pickle: unterminated line`, this.pos);
    const at = this.take(end + 1 - this.pos);
    return latin1(this.data.subarray(at, end));
  }
  u64(): number {
    const at = this.take(8);
    return this.view.getUint32(at, true) + this.view.getUint32(at + 4, true) * 2 ** 32;
  }
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

const u1: ArgReader = (r) => String(r.data[r.take(1)]);
const u2: ArgReader = (r) => String(r.view.getUint16(r.take(2), true));
const i4: ArgReader = (r) => String(r.view.getInt32(r.take(4), true));
const u4: ArgReader = (r) => String(r.view.getUint32(r.take(4), true));
const text = (length: (r: Reader) => number): ArgReader => (r) => {
  const n = length(r);
  const at = r.take(n);
  const decoded = decodeUtf8(r.data, at, at + n);
  if (decoded === undefined) return bytesRepr(r.data.subarray(at, at + n));
  return strRepr(decoded);
};

// A line that is not valid raw-unicode-escape shows as the bytes it holds:
// pickletools stops there, but a listing of a broken pickle should go on.
const unicodeLine: ArgReader = (r) => {
  const line = r.line();
  const decoded = decodeRawUnicodeEscape(line);
  return decoded === undefined
    ? bytesRepr(Uint8Array.from(line, (c) => c.charCodeAt(0)))
    : strRepr(decoded);
};
const bytes = (length: (r: Reader) => number): ArgReader => (r) => {
  const n = length(r);
  const at = r.take(n);
  return bytesRepr(r.data.subarray(at, at + n));
};
// Python refuses str() of ints past 4300 digits; a LONG4 of a million bytes
// would take minutes to print in decimal.
const HUGE_INT = 10n ** 4300n;
const long = (length: (r: Reader) => number): ArgReader => (r) => {
  const n = length(r);
  const at = r.take(n);
  if (n === 0) return "0";
  // Via hex: shifting byte by byte is quadratic in the length.
  let hex = "";
  for (let i = n - 1; i >= 0; i--) hex += r.data[at + i].toString(16).padStart(2, "0");
  let value = BigInt(`0x${hex}`);
  if (r.data[at + n - 1] & 0x80) value -= 1n << BigInt(8 * n);
  return value >= HUGE_INT || value <= -HUGE_INT ? `<int of ${n} bytes>` : String(value);
};
const len1 = (r: Reader) => r.data[r.take(1)];
const len4 = (r: Reader) => r.view.getUint32(r.take(4), true);
const len8 = (r: Reader) => r.u64();

const ARGS: ReadonlyMap<number, ArgReader> = new Map<number, ArgReader>([
  [Op.PROTO, u1],
  [Op.BININT1, u1],
  [Op.BINGET, u1],
  [Op.BINPUT, u1],
  [Op.EXT1, u1],
  [Op.BININT2, u2],
  [Op.EXT2, u2],
  [Op.BININT, i4],
  [Op.EXT4, i4],
  [Op.LONG_BINGET, u4],
  [Op.LONG_BINPUT, u4],
  [Op.FRAME, (r) => String(r.u64())],
  [Op.BINFLOAT, (r) => floatRepr(r.view.getFloat64(r.take(8), false))],
  [Op.INT, (r) => {
    const line = r.line();
    return line === "00" ? "False" : line === "01" ? "True" : line;
  }],
  [Op.LONG, (r) => r.line().replace(/L$/, "")],
  [Op.FLOAT, (r) => r.line()],
  [Op.GET, (r) => r.line()],
  [Op.PUT, (r) => r.line()],
  [Op.PERSID, (r) => strRepr(r.line())],
  [Op.STRING, (r) => r.line()],
  [Op.UNICODE, unicodeLine],
  [Op.GLOBAL, (r) => strRepr(`${r.line()} ${r.line()}`)],
  [Op.INST, (r) => strRepr(`${r.line()} ${r.line()}`)],
  [Op.LONG1, long(len1)],
  [Op.LONG4, long(len4)],
  [Op.SHORT_BINBYTES, bytes(len1)],
  [Op.BINBYTES, bytes(len4)],
  [Op.BINBYTES8, bytes(len8)],
  [Op.BYTEARRAY8, (r) => `bytearray(${bytes(len8)(r)})`],
  [Op.SHORT_BINSTRING, text(len1)],
  [Op.BINSTRING, text(len4)],
  [Op.SHORT_BINUNICODE, text(len1)],
  [Op.BINUNICODE, text(len4)],
  [Op.BINUNICODE8, text(len8)],
]);

/** Decodes the opcodes of `data` up to and including STOP, without building values. */
export function* instructions(data: Uint8Array): Generator<Instruction> {
  const reader = new Reader(data);
  while (reader.pos < data.length) {
    const offset = reader.pos;
    const code = data[reader.take(1)];
    const name = OP_NAMES.get(code);
    if (name === undefined) {
      throw new PickleError(
        `Cannot list pickle: unknown opcode 0x${code.toString(16)} at offset ${offset}`,
        offset,
      );
    }
    const read = ARGS.get(code);
    yield { offset, name, code, arg: read?.(reader) };
    if (code === Op.STOP) return;
  }
  throw new PickleError("Cannot list pickle: no STOP opcode", data.length);
}

const MARK_POPPERS = new Set<number>([
  Op.POP_MARK,
  Op.TUPLE,
  Op.LIST,
  Op.DICT,
  Op.APPENDS,
  Op.SETITEMS,
  Op.OBJ,
  Op.INST,
  Op.ADDITEMS,
  Op.FROZENSET,
]);

/**
 * Lists the opcodes of a pickle, one line each, like `python -m pickletools`.
 *
 * @example List a tiny pickle
 * ```ts
 * import assert from "node:assert/strict";
 * import { dis } from "./dis.ts";
 *
 * const listing = dis(new Uint8Array([0x80, 0x02, 0x4b, 0x07, 0x2e]));
 * assert.equal(listing.split("\n")[1], "    2: K    BININT1    7");
 * ```
 */
export function dis(data: Uint8Array): string {
  const lines: string[] = [];
  const marks: number[] = [];
  let highest = 0;
  let openMarkBelowPop = false;
  const memo = new Set<string>();
  for (const { offset, name, code, arg } of instructions(data)) {
    highest = Math.max(highest, protocolOf(code));
    const shown = code >= 0x20 && code < 0x7f
      ? String.fromCharCode(code)
      : `\\x${code.toString(16).padStart(2, "0")}`;
    // Indented by the MARKs open before this opcode, as pickletools does.
    let line = `${String(offset).padStart(5)}: ${shown.padEnd(4)} ${
      " ".repeat(4 * marks.length)
    }${name}`;
    let markNote: string | undefined;
    if (code === Op.PUT || code === Op.BINPUT || code === Op.LONG_BINPUT) memo.add(arg!);
    else if (code === Op.MEMOIZE) {
      markNote = `(as ${memo.size})`;
      memo.add(String(memo.size));
    } else if (MARK_POPPERS.has(code) || (code === Op.POP && openMarkBelowPop)) {
      const mark = marks.pop();
      markNote = mark === undefined ? "(MARK at unknown opcode offset)" : `(MARK at ${mark})`;
    }
    if (arg !== undefined || markNote !== undefined) {
      line += " ".repeat(Math.max(0, 10 - name.length));
      if (arg !== undefined) line += ` ${arg}`;
      if (markNote !== undefined) line += ` ${markNote}`;
    }
    lines.push(line);
    if (code === Op.MARK) marks.push(offset);
    // pickletools pops a MARK on POP only when the MARK is on top of the stack.
    openMarkBelowPop = code === Op.MARK;
  }
  lines.push(`highest protocol among opcodes = ${highest}`);
  return lines.join("\n");
}

const PROTOCOL_1 = new Set<number>([
  Op.BINFLOAT,
  Op.EMPTY_TUPLE,
  Op.EMPTY_LIST,
  Op.EMPTY_DICT,
  Op.BININT,
  Op.BININT1,
  Op.BININT2,
  Op.BINGET,
  Op.LONG_BINGET,
  Op.BINPUT,
  Op.LONG_BINPUT,
  Op.BINSTRING,
  Op.SHORT_BINSTRING,
  Op.BINUNICODE,
  Op.BINPERSID,
  Op.OBJ,
  Op.APPENDS,
  Op.SETITEMS,
  Op.POP_MARK,
]);

function protocolOf(code: number): number {
  if (code === Op.PROTO) return 2;
  if (code >= Op.BYTEARRAY8) return 5;
  if (code >= Op.SHORT_BINUNICODE || code === Op.FRAME) return 4;
  if (code === Op.BINBYTES || code === Op.SHORT_BINBYTES) return 3;
  if (code >= Op.PROTO) return 2;
  return PROTOCOL_1.has(code) ? 1 : 0;
}
