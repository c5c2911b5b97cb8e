// A pickle assembler for the scanner tests: each function is one opcode with
// its argument, `asm` joins them. Nothing here checks that the result loads.

const encoder = new TextEncoder();

type Part = Uint8Array | number[] | string;

function bytesOf(part: Part): Uint8Array {
  if (typeof part === "string") return encoder.encode(part);
  return part instanceof Uint8Array ? part : Uint8Array.from(part);
}

/** Joins opcodes (byte arrays, byte lists, or text as UTF-8). */
export function asm(...parts: Part[]): Uint8Array {
  const chunks = parts.map(bytesOf);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function u64(n: number): number[] {
  return [...u32(n % 2 ** 32), ...u32(Math.floor(n / 2 ** 32))];
}

export const MARK = "(";
export const STOP = ".";
export const POP = "0";
export const POP_MARK = "1";
export const DUP = "2";
export const NONE = "N";
export const TUPLE = "t";
export const EMPTY_TUPLE = ")";
export const EMPTY_LIST = "]";
export const EMPTY_DICT = "}";
export const LIST = "l";
export const DICT = "d";
export const APPEND = "a";
export const APPENDS = "e";
export const SETITEM = "s";
export const SETITEMS = "u";
export const REDUCE = "R";
export const BUILD = "b";
export const OBJ = "o";
export const TUPLE1 = [0x85];
export const TUPLE2 = [0x86];
export const TUPLE3 = [0x87];
export const NEWOBJ = [0x81];
export const NEWOBJ_EX = [0x92];
export const NEWTRUE = [0x88];
export const STACK_GLOBAL = [0x93];
export const MEMOIZE = [0x94];
export const EMPTY_SET = [0x8f];
export const BINPERSID = "Q";
export const NEXT_BUFFER = [0x97];

export const PROTO = (v: number) => [0x80, v];
export const FRAME = (n: number) => [0x95, ...u64(n)];
export const GLOBAL = (module: string, name: string) => `c${module}\n${name}\n`;
export const INST = (module: string, name: string) => `i${module}\n${name}\n`;
export const STRING = (quoted: string) => `S${quoted}\n`;
export const UNICODE = (text: string) => `V${text}\n`;
export const INT = (n: number) => `I${n}\n`;
export const BININT1 = (n: number) => [0x4b, n];
export const GET = (index: string | number) => `g${index}\n`;
export const PUT = (index: string | number) => `p${index}\n`;
export const BINGET = (index: number) => [0x68, index];
export const BINPUT = (index: number) => [0x71, index];
export const LONG_BINPUT = (index: number) => [0x72, ...u32(index)];
export const EXT1 = (code: number) => [0x82, code];
export const PERSID = (id: string) => `P${id}\n`;

/** SHORT_BINUNICODE of `text` (UTF-8). */
export function SU(text: string): Uint8Array {
  const body = encoder.encode(text);
  return asm([0x8c, body.length], body);
}

/** BINUNICODE of `text` (UTF-8). */
export function BU(text: string): Uint8Array {
  const body = encoder.encode(text);
  return asm([0x58, ...u32(body.length)], body);
}

/** SHORT_BINBYTES, or BINBYTES past 255 bytes. */
export function BYTES(body: Uint8Array): Uint8Array {
  return body.length < 256
    ? asm([0x43, body.length], body)
    : asm([0x42, ...u32(body.length)], body);
}

/** BINBYTES with a 4-byte length `n`, whatever follows. */
export const BINBYTES_LENGTH = (n: number) => [0x42, ...u32(n)];

/** STACK_GLOBAL of two SHORT_BINUNICODE operands. */
export function SG(module: string, name: string): Uint8Array {
  return asm(SU(module), SU(name), STACK_GLOBAL);
}

/** `callable(*args)` with the args in a MARK ... TUPLE. */
export function CALL(callable: Part, ...args: Part[]): Uint8Array {
  return asm(callable, MARK, ...args, TUPLE, REDUCE);
}
