// Runs a pickle the way CPython's C unpickler does, opcode by opcode, with
// values reduced to what decides safety (see _values.ts): the same reads
// (_input.ts), the same stack, marks and fence, the same memo (MEMOIZE
// stores at the number of occupied slots), the protocol in force at each
// lookup, and the same errors, after which nothing more runs. Every global
// lookup is rated with the policy; every use of a value is checked against
// what its allowlist entry allows.
import { fromPickledName } from "../pickle/_compat_names.ts";
import { decodeRawUnicodeEscape, decodeStringLiteral } from "../pickle/_text_literals.ts";
import { decodeUtf8 } from "../pickle/_utf8.ts";
import { Op } from "../pickle/opcodes.ts";
import allowlist from "./allowlist.json" with { type: "json" };
import denylist from "./denylist.json" with { type: "json" };
import { fetchedMemoSlots, isFetched } from "./_fetched_memo.ts";
import { type InputMode, PickleInput, StreamError } from "./_input.ts";
import { type AllowEntry, isPlainName, type ScanPolicy, USE_BITS } from "./policy.ts";
import { Report } from "./_report.ts";
import type { GlobalReference, Loader, NestedPickle, ScanResult } from "./scan_result.ts";
import {
  EMPTY_TUPLE,
  F_DUNDER_KEY,
  F_HOOKS,
  F_SETATTR,
  type GlobalInfo,
  isNeverCallable,
  isNeverStr,
  isUnhashable,
  K_BOUND,
  K_BYTEARRAY,
  K_BYTES,
  K_DICT,
  K_ENUM,
  K_GLOBAL,
  K_INSTANCE,
  K_LIST,
  K_NEW,
  K_NONE,
  K_OPAQUE,
  K_PARTIAL,
  K_PRIMITIVE,
  K_RESULT,
  K_SCALAR,
  K_SET,
  K_STORAGE,
  K_STR,
  K_TUPLE,
  K_TYPE,
  NONE,
  OPAQUE,
  SCALAR,
  SCALAR_TUPLE,
  STORAGE,
  TYPE,
  Val,
  withGlobal,
} from "./_values.ts";

export interface MachineOptions {
  policy: ScanPolicy;
  loader: Loader;
  mode: InputMode;
  /** Scans a payload handed to an unpickling function. */
  nested: (
    payload: Uint8Array,
  ) => { kind: "pickle" | "zip" | "npy" | "unknown"; scan: ScanResult | undefined };
}

export interface RunOutcome {
  /** Whether STOP was reached. */
  stopped: boolean;
  /** Offset after STOP, as a linear reader counts. */
  end: number;
  /** Where a reader of several pickles from a file starts the next one. */
  filePosition: number;
  /** Whether CPython and a linear reader read different bytes. */
  diverged: boolean;
}

const STORAGE_TYPES: ReadonlySet<string> = new Set(allowlist.storageTypeNames.names);
const LOADERS: ReadonlySet<string> = new Set(denylist.loaders.globals);
const PRIMITIVES: ReadonlySet<string> = new Set([
  "getattr",
  "type",
  "getitem",
  "or",
  "reduce_or",
  "partial_new",
]);
const BASE_TYPES: ReadonlySet<string> = new Set(
  [
    "object",
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "int",
    "float",
    "complex",
    "str",
    "bytes",
    "bool",
  ]
    .map((n) => `builtins.${n}`),
);
const HARMLESS_CODECS: ReadonlySet<string> = new Set([
  "latin1",
  "latin-1",
  "utf-8",
  "utf8",
  "ascii",
]);
const CALL = USE_BITS.call;
const NEW = USE_BITS.new;
const FILL = USE_BITS.fill;
const ENUM = USE_BITS.enum;
const TYPING = USE_BITS.typing;
const ARRAY = USE_BITS.array;
const HIGHEST_PROTOCOL = 5;
const MAX_NESTED_DEPTH = 4;
const MEMO_ARRAY_LIMIT = 1 << 24;
const asciiDecoder = new TextDecoder("ascii", { fatal: true });
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

const isDunderText = (text: string) =>
  text.length > 4 && text.startsWith("__") && text.endsWith("__");

/** The prescan predicted wrongly which slots are read back: start over keeping them all. */
class Rescan extends Error {}

/** Runs one pickle of `data[start, end)` into `report`; returns where it ended. */
export function runPickle(
  data: Uint8Array,
  start: number,
  end: number,
  options: MachineOptions,
  report: Report,
  depth = 0,
): RunOutcome {
  const fetched = fetchedMemoSlots(data, start, end);
  for (const keep of fetched === undefined ? [undefined] : [fetched, undefined]) {
    const own = new Report();
    try {
      const outcome = new Machine(data, start, end, options, own, depth, keep).run();
      report.absorb(own);
      return outcome;
    } catch (error) {
      if (!(error instanceof Rescan)) throw error;
    }
  }
  throw new Error("unreachable: a scan that keeps every memo slot does not start over");
}

class Machine {
  readonly data: Uint8Array;
  readonly input: PickleInput;
  readonly options: MachineOptions;
  readonly report: Report;
  readonly depth: number;
  readonly stack: Val[] = [];
  readonly marks: number[] = [];
  fence = 0;
  memo: (Val | undefined)[] = [];
  bigMemo = new Map<number, Val>();
  occupied = new Uint8Array(1024);
  bigOccupied = new Set<number>();
  memoLen = 0;
  proto = 0;
  diverged = false;
  readonly primitives: Val[] = [];
  readonly infos = new Map<string, GlobalInfo>();
  readonly nestedSeen = new Map<Val | string, NestedPickle>();
  readonly fetched: Uint8Array | undefined;

  constructor(
    data: Uint8Array,
    start: number,
    end: number,
    options: MachineOptions,
    report: Report,
    depth: number,
    fetched: Uint8Array | undefined,
  ) {
    this.data = data;
    this.fetched = fetched;
    this.options = options;
    this.report = report;
    this.depth = depth;
    this.input = new PickleInput(data, start, end, options.mode);
    this.input.onFrame = (event) => {
      if (event.kind === "dropped") this.diverged = true;
      const about = event.kind === "dropped"
        ? "CPython's unpickler and a linear reader read different opcodes here"
        : "ckptkit's decoder refuses it; CPython reads on";
      report.finding("unknown", event.opcode, `frame boundary: ${event.detail} (${about})`);
    };
  }

  run(): RunOutcome {
    const input = this.input;
    let stopped = false;
    try {
      stopped = this.loop();
    } catch (error) {
      if (!(error instanceof StreamError)) throw error;
      this.report.error = `${error.message} at offset ${error.offset}`;
      this.report.finding(
        "unknown",
        error.offset,
        `the unpickler stops with an error: ${error.message} (everything before it has run)`,
      );
    }
    this.checkPrimitives();
    return {
      stopped,
      end: input.pos,
      filePosition: input.filePosition,
      diverged: this.diverged,
    };
  }

  fail(message: string): never {
    this.input.fail(message);
  }

  // --- the stack, as CPython's Pdata with its fence --------------------------

  underflow(): never {
    this.fail(this.marks.length > 0 ? "unexpected MARK found" : "unpickling stack underflow");
  }

  pop(): Val {
    const stack = this.stack;
    if (stack.length <= this.fence) this.underflow();
    return stack.pop()!;
  }

  marker(): number {
    const marks = this.marks;
    if (marks.length === 0) this.fail("could not find MARK");
    const mark = marks.pop()!;
    this.fence = marks.length > 0 ? marks[marks.length - 1] : 0;
    return mark;
  }

  popItems(start: number): Val[] {
    if (start < this.fence) this.underflow();
    const stack = this.stack;
    const n = stack.length - start;
    const items: Val[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = stack[start + i];
      if (v.k === K_PRIMITIVE || v.k === K_NEW) v.a++;
      items[i] = v;
    }
    stack.length = start;
    return items;
  }

  /** Counts a use of a primitive (getattr and co.) other than its allowed shape. */
  use(v: Val): void {
    if (v.k === K_PRIMITIVE || v.k === K_NEW) v.a++;
  }

  tuple(items: Val[]): Val {
    if (items.length === 0) return EMPTY_TUPLE;
    let scalars = true;
    for (let i = 0; i < items.length; i++) {
      if (items[i].k !== K_SCALAR) {
        scalars = false;
        break;
      }
    }
    if (scalars) return SCALAR_TUPLE;
    const v = new Val(K_TUPLE);
    v.items = items;
    return v;
  }

  // --- the opcode loop -------------------------------------------------------

  loop(): boolean {
    const input = this.input;
    const data = this.data;
    const view = input.view;
    const stack = this.stack;
    for (;;) {
      const at = input.begin();
      if (at >= input.end) this.fail("Ran out of input (EOFError)");
      const op = data[input.read(1)];
      switch (op) {
        case 0x28: // MARK
          this.marks.push(stack.length);
          this.fence = stack.length;
          break;
        case 0x2e: { // STOP
          const top = this.pop();
          this.use(top);
          this.report.end ??= input.pos;
          return true;
        }
        case 0x30: { // POP
          const marks = this.marks;
          if (marks.length > 0 && marks[marks.length - 1] === stack.length) {
            marks.pop();
            this.fence = marks.length > 0 ? marks[marks.length - 1] : 0;
          } else if (stack.length <= this.fence) this.underflow();
          else stack.pop();
          break;
        }
        case 0x31: // POP_MARK
          stack.length = this.marker();
          break;
        case 0x32: // DUP
          if (stack.length <= this.fence) this.underflow();
          stack.push(stack[stack.length - 1]);
          break;
        case 0x4e: // NONE
          stack.push(NONE);
          break;
        case 0x88: // NEWTRUE
        case 0x89: // NEWFALSE
          stack.push(SCALAR);
          break;
        case 0x4a: // BININT
          input.read(4);
          stack.push(SCALAR);
          break;
        case 0x4b: // BININT1
          input.read(1);
          stack.push(SCALAR);
          break;
        case 0x4d: // BININT2
          input.read(2);
          stack.push(SCALAR);
          break;
        case 0x47: // BINFLOAT
          input.read(8);
          stack.push(SCALAR);
          break;
        case 0x49: // INT
        case 0x4c: // LONG
        case 0x46: { // FLOAT
          const [s, e] = input.readLine();
          if (e === s) this.fail("pickle data was truncated");
          stack.push(SCALAR);
          break;
        }
        case 0x8a: // LONG1
          input.read(data[input.read(1)]);
          stack.push(SCALAR);
          break;
        case 0x8b: { // LONG4
          const n = view.getInt32(input.read(4), true);
          if (n < 0) this.fail("LONG pickle has negative byte count");
          input.read(n);
          stack.push(SCALAR);
          break;
        }
        case 0x53: { // STRING
          const [s, e] = input.readLine();
          const bytes = decodeStringLiteral(latin1(data, s, e));
          if (bytes === undefined) {
            this.fail("the STRING opcode argument must be quoted, with valid escapes");
          }
          stack.push(this.legacyString(bytes));
          break;
        }
        case 0x54: { // BINSTRING
          const n = view.getInt32(input.read(4), true);
          if (n < 0) this.fail("BINSTRING pickle has negative byte count");
          const s = input.read(n);
          stack.push(this.legacyString(data.subarray(s, s + n)));
          break;
        }
        case 0x55: { // SHORT_BINSTRING
          const n = data[input.read(1)];
          const s = input.read(n);
          stack.push(this.legacyString(data.subarray(s, s + n)));
          break;
        }
        case 0x56: { // UNICODE
          const [s, e] = input.readLine();
          const text = decodeRawUnicodeEscape(latin1(data, s, e));
          if (text === undefined) {
            this.fail("cannot decode the UNICODE argument (raw-unicode-escape)");
          }
          const v = new Val(K_STR, s, e);
          v.text = String(text);
          stack.push(v);
          break;
        }
        case 0x58: { // BINUNICODE
          const n = view.getUint32(input.read(4), true);
          const s = input.read(n);
          stack.push(new Val(K_STR, s, s + n));
          break;
        }
        case 0x8c: { // SHORT_BINUNICODE
          const n = data[input.read(1)];
          const s = input.read(n);
          stack.push(new Val(K_STR, s, s + n));
          break;
        }
        case 0x8d: { // BINUNICODE8
          const n = this.size8();
          const s = input.read(n);
          stack.push(new Val(K_STR, s, s + n));
          break;
        }
        case 0x42: { // BINBYTES
          const n = view.getUint32(input.read(4), true);
          const s = input.readInto(n);
          stack.push(new Val(K_BYTES, s, s + n));
          break;
        }
        case 0x43: { // SHORT_BINBYTES
          const n = data[input.read(1)];
          const s = input.readInto(n);
          stack.push(new Val(K_BYTES, s, s + n));
          break;
        }
        case 0x8e: // BINBYTES8
        case 0x96: { // BYTEARRAY8
          const n = this.size8();
          const s = input.readInto(n);
          stack.push(new Val(op === Op.BINBYTES8 ? K_BYTES : K_BYTEARRAY, s, s + n));
          break;
        }
        case 0x97: // NEXT_BUFFER
          this.fail("pickle stream refers to out-of-band data but no *buffers* argument was given");
          break;
        case 0x98: { // READONLY_BUFFER
          if (stack.length <= this.fence) this.underflow();
          const k = stack[stack.length - 1].k;
          if (k !== K_BYTES && k !== K_BYTEARRAY && k !== K_OPAQUE && k !== K_RESULT) {
            this.fail("READONLY_BUFFER of an object without the buffer protocol");
          }
          break;
        }
        case 0x29: // EMPTY_TUPLE
          stack.push(EMPTY_TUPLE);
          break;
        case 0x85: // TUPLE1
        case 0x86: // TUPLE2
        case 0x87: { // TUPLE3
          const n = op - Op.TUPLE1 + 1;
          if (stack.length < n) this.underflow();
          stack.push(this.tuple(this.popItems(stack.length - n)));
          break;
        }
        case 0x74: // TUPLE
          stack.push(this.tuple(this.popItems(this.marker())));
          break;
        case 0x5d: // EMPTY_LIST
          stack.push(new Val(K_LIST));
          break;
        case 0x6c: // LIST
          stack.push(new Val(K_LIST, this.popItems(this.marker()).length));
          break;
        case 0x7d: // EMPTY_DICT
          stack.push(new Val(K_DICT));
          break;
        case 0x64: { // DICT
          const mark = this.marker();
          if ((stack.length - mark) % 2 !== 0) this.fail("odd number of items for DICT");
          const dict = new Val(K_DICT);
          this.addPairs(dict, this.popItems(mark));
          stack.push(dict);
          break;
        }
        case 0x8f: // EMPTY_SET
          stack.push(new Val(K_SET));
          break;
        case 0x91: // FROZENSET
          this.popItems(this.marker());
          stack.push(new Val(K_SET, 0, 1));
          break;
        case 0x90: { // ADDITEMS
          const mark = this.marker();
          if (mark > stack.length || mark <= this.fence) this.underflow();
          if (mark === stack.length) break;
          const target = stack[mark - 1];
          this.fill(target, this.popItems(mark), "ADDITEMS", at);
          break;
        }
        case 0x61: // APPEND
          if (stack.length - 1 <= this.fence) this.underflow();
          this.doAppend(stack.length - 1, at);
          break;
        case 0x65: // APPENDS
          this.doAppend(this.marker(), at);
          break;
        case 0x73: // SETITEM
          this.doSetItems(stack.length - 2, at);
          break;
        case 0x75: // SETITEMS
          this.doSetItems(this.marker(), at);
          break;
        case 0x63: { // GLOBAL
          const module = this.nameLine(utf8Strict, "UTF-8");
          const name = this.nameLine(utf8Strict, "UTF-8");
          stack.push(this.findClass(module, name, at));
          break;
        }
        case 0x69: { // INST
          const mark = this.marker();
          const module = this.nameLine(asciiDecoder, "ASCII");
          const name = this.nameLine(asciiDecoder, "ASCII");
          const cls = this.findClass(module, name, at);
          const args = this.popItems(mark);
          stack.push(this.call(cls, this.tuple(args), at, "INST"));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          this.use(name);
          this.use(module);
          stack.push(this.stackGlobal(module, name, at));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const callee = this.pop();
          stack.push(this.call(callee, args, at, "REDUCE"));
          break;
        }
        case 0x6f: { // OBJ
          const mark = this.marker();
          if (stack.length - mark < 1) this.underflow();
          const args = this.popItems(mark + 1);
          const callee = this.pop();
          stack.push(this.call(callee, this.tuple(args), at, "OBJ"));
          break;
        }
        case 0x81: // NEWOBJ
        case 0x92: { // NEWOBJ_EX
          const kwargs = op === Op.NEWOBJ_EX ? this.pop() : undefined;
          const args = this.pop();
          const cls = this.pop();
          if (kwargs !== undefined) this.use(kwargs);
          this.use(args);
          stack.push(this.newObject(cls, args, at, op === Op.NEWOBJ ? "NEWOBJ" : "NEWOBJ_EX"));
          break;
        }
        case 0x62: { // BUILD
          if (stack.length - 2 < this.fence) this.underflow();
          const state = this.pop();
          this.use(state);
          this.build(stack[stack.length - 1], state, at);
          break;
        }
        case 0x50: // PERSID
          this.persid(at);
          break;
        case 0x51: { // BINPERSID
          if (this.options.loader === "plain") this.noPersistentLoad();
          const pid = this.pop();
          this.use(pid);
          stack.push(this.persistentLoad(pid, at));
          break;
        }
        case 0x67: { // GET
          const [s, e] = input.readLine();
          if (e === s) this.fail("pickle data was truncated");
          const index = parsePythonInt(latin1(data, s, e));
          if (index === undefined) this.fail("invalid literal for int() in GET");
          stack.push(this.memoGet(index));
          break;
        }
        case 0x68: // BINGET
          stack.push(this.memoGet(data[input.read(1)]));
          break;
        case 0x6a: // LONG_BINGET
          stack.push(this.memoGet(view.getUint32(input.read(4), true)));
          break;
        case 0x70: { // PUT
          const [s, e] = input.readLine();
          if (e === s) this.fail("pickle data was truncated");
          if (stack.length <= this.fence) this.underflow();
          const index = parsePythonInt(latin1(data, s, e));
          if (index === undefined) this.fail("invalid literal for int() in PUT");
          if (index < 0) this.fail("negative PUT argument");
          this.memoPut(index, stack[stack.length - 1]);
          break;
        }
        case 0x71: { // BINPUT
          const index = data[input.read(1)];
          if (stack.length <= this.fence) this.underflow();
          this.memoPut(index, stack[stack.length - 1]);
          break;
        }
        case 0x72: { // LONG_BINPUT
          const index = view.getUint32(input.read(4), true);
          if (stack.length <= this.fence) this.underflow();
          this.memoPut(index, stack[stack.length - 1]);
          break;
        }
        case 0x94: // MEMOIZE
          if (stack.length <= this.fence) this.underflow();
          this.memoPut(this.memoLen, stack[stack.length - 1]);
          break;
        case 0x80: { // PROTO
          const version = data[input.read(1)];
          if (version > HIGHEST_PROTOCOL) this.fail(`unsupported pickle protocol: ${version}`);
          this.proto = version;
          break;
        }
        case 0x95: // FRAME
          input.frame(this.size8());
          break;
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: { // EXT4
          const code = op === Op.EXT1
            ? data[input.read(1)]
            : op === Op.EXT2
            ? view.getUint16(input.read(2), true)
            : view.getInt32(input.read(4), true);
          if (code <= 0) this.fail("EXT specifies code <= 0");
          this.report.finding(
            "unknown",
            at,
            `EXT code ${code} names a global through copyreg's extension registry, which the loading process controls (empty in a stock process, where the load fails here)`,
          );
          stack.push(OPAQUE);
          break;
        }
        default:
          this.fail(
            `invalid load key, ${
              op >= 0x20 && op <= 0x7e && op !== 0x27 && op !== 0x5c
                ? `'${String.fromCharCode(op)}'`
                : `'\\x${op.toString(16).padStart(2, "0")}'`
            }`,
          );
      }
    }
  }

  size8(): number {
    const view = this.input.view;
    const at = this.input.read(8);
    const high = view.getUint32(at + 4, true);
    if (high >= 0x80000000) this.fail("size exceeds the system's maximum");
    return view.getUint32(at, true) + high * 2 ** 32;
  }

  nameLine(decoder: TextDecoder, encoding: string): string {
    const [s, e] = this.input.readLine();
    if (e === s) this.fail("pickle data was truncated");
    try {
      return decoder.decode(this.data.subarray(s, e));
    } catch {
      this.fail(`a global's name is not ${encoding}`);
    }
  }

  /** STRING and BINSTRING: str decoded with torch's encoding='utf-8', or pickle's default ASCII. */
  legacyString(bytes: Uint8Array): Val {
    let text: string;
    try {
      text = (this.options.loader === "plain" ? asciiDecoder : utf8Strict).decode(bytes);
    } catch {
      this.fail("cannot decode a Python 2 string");
    }
    const v = new Val(K_STR);
    v.text = text;
    return v;
  }

  text(v: Val): string | undefined {
    if (v.k !== K_STR) return undefined;
    if (v.text === undefined) {
      const decoded = decodeUtf8(this.data, v.a, v.b);
      if (decoded === undefined) return undefined;
      v.text = String(decoded);
    }
    return v.text;
  }

  // --- memo ------------------------------------------------------------------

  memoGet(index: number): Val {
    let v: Val | undefined;
    if (this.fetched === undefined) {
      v = index < MEMO_ARRAY_LIMIT ? this.memo[index] : this.bigMemo.get(index);
    } else {
      v = this.bigMemo.get(index);
      if (v === undefined && this.isOccupied(index)) throw new Rescan();
    }
    if (v === undefined) this.fail(`Memo value not found at index ${index}`);
    return v;
  }

  memoPut(index: number, v: Val): void {
    const fetched = this.fetched;
    if (fetched !== undefined) {
      // Only slots some GET reads are kept; the others only count, as
      // MEMOIZE stores at the number of occupied slots.
      if (!this.occupy(index)) this.memoLen++;
      if (isFetched(fetched, index)) this.bigMemo.set(index, v);
      return;
    }
    if (index < MEMO_ARRAY_LIMIT) {
      const memo = this.memo;
      if (index >= memo.length) {
        // Holes become undefined slots, as CPython's NULL ones.
        while (memo.length < index) memo.push(undefined);
        memo.push(v);
        this.memoLen++;
        return;
      }
      if (memo[index] === undefined) this.memoLen++;
      memo[index] = v;
      return;
    }
    if (!this.bigMemo.has(index)) this.memoLen++;
    this.bigMemo.set(index, v);
  }

  /** Marks slot `index` occupied; returns whether it already was. */
  occupy(index: number): boolean {
    let bits = this.occupied;
    const byte = index >>> 3;
    if (index >= MEMO_ARRAY_LIMIT) {
      const was = this.bigOccupied.has(index);
      this.bigOccupied.add(index);
      return was;
    }
    if (byte >= bits.length) {
      const grown = new Uint8Array(Math.max(bits.length * 2, byte + 1));
      grown.set(bits);
      this.occupied = bits = grown;
    }
    const bit = 1 << (index & 7);
    const was = (bits[byte] & bit) !== 0;
    bits[byte] |= bit;
    return was;
  }

  isOccupied(index: number): boolean {
    if (index >= MEMO_ARRAY_LIMIT) return this.bigOccupied.has(index);
    const byte = index >>> 3;
    return byte < this.occupied.length && (this.occupied[byte] & (1 << (index & 7))) !== 0;
  }

  // --- globals ---------------------------------------------------------------

  /** find_class: torch's override, _compat_pickle under protocol 3, then the policy. */
  findClass(rawModule: string, rawName: string, at: number): Val {
    const loader = this.options.loader;
    const compat = this.proto < 3;
    const key = `${rawModule}\n${rawName}\n${compat ? 2 : 3}`;
    let info = this.infos.get(key);
    if (info === undefined) {
      info = this.resolve(rawModule, rawName, compat, loader);
      this.infos.set(key, info);
    }
    this.reference(info, at, rawModule, rawName);
    if (info.primitive !== undefined) {
      const v = withGlobal(K_PRIMITIVE, info);
      v.at = at;
      this.primitives.push(v);
      return v;
    }
    return withGlobal(K_GLOBAL, info);
  }

  resolve(rawModule: string, rawName: string, compat: boolean, loader: Loader): GlobalInfo {
    const policy = this.options.policy;
    if (loader !== "plain" && STORAGE_TYPES.has(rawName)) {
      return {
        module: rawModule,
        name: rawName,
        path: `${rawModule}.${rawName}`,
        rating: {
          rating: "allowed",
          reason: allowlist.storageTypeNames.why,
          source: allowlist.storageTypeNames.source,
          entry: undefined,
        },
        entry: undefined,
        primitive: undefined,
        uses: 0,
        loader: false,
      };
    }
    const module = loader === "torch" && rawModule === "torch.tensor" ? "torch._tensor" : rawModule;
    const [mapped, mappedName] = fromPickledName(module, rawName);
    // CPython maps Python 2 names only under protocol < 3; ckptkit's decoder
    // always does. The spelling not in force is rated too: dangerous in
    // either is dangerous.
    const [effModule, effName] = compat ? [mapped, mappedName] : [module, rawName];
    const [altModule, altName] = compat ? [module, rawName] : [mapped, mappedName];
    let rating = policy.rate(effModule, effName);
    if (rating.rating !== "allowed" && (altModule !== effModule || altName !== effName)) {
      const alt = policy.rate(altModule, altName);
      if (alt.rating === "dangerous") rating = alt;
    }
    const entry = rating.rating === "allowed" ? rating.entry : undefined;
    const primitive = entry?.shape !== undefined && PRIMITIVES.has(entry.shape)
      ? entry.shape
      : undefined;
    const path = `${effModule}.${effName}`;
    return {
      module: effModule,
      name: effName,
      path,
      rating,
      entry,
      primitive,
      uses: entry?.useBits ?? 0,
      loader: LOADERS.has(path),
    };
  }

  reference(info: GlobalInfo, at: number, rawModule?: string, rawName?: string): GlobalReference {
    const spelled = rawModule === undefined ? undefined : `${rawModule}.${rawName}`;
    return this.report.reference(info.path, {
      module: info.module,
      name: info.name,
      path: info.path,
      spelling: spelled !== undefined && spelled !== info.path ? spelled : undefined,
      rating: info.rating.rating,
      reason: info.rating.reason,
      source: info.rating.source,
    }, at);
  }

  escalate(info: GlobalInfo, rating: "unknown" | "dangerous", reason: string, at: number): void {
    const ref = this.report.globals.get(info.path);
    if (ref !== undefined) this.report.escalate(ref, rating, reason);
    this.report.finding(rating, at, `${info.path}: ${reason}`);
  }

  stackGlobal(module: Val, name: Val, at: number): Val {
    if (isNeverStr(module) || isNeverStr(name)) this.fail("STACK_GLOBAL requires str");
    if (module.k !== K_STR || name.k !== K_STR) {
      this.report.finding(
        "dangerous",
        at,
        "STACK_GLOBAL of a module or name computed at load time: the global cannot be known before Python runs it",
      );
      return OPAQUE;
    }
    const moduleText = this.text(module);
    const nameText = this.text(name);
    if (moduleText === undefined || nameText === undefined) {
      this.fail("a STACK_GLOBAL operand is not valid UTF-8");
    }
    return this.findClass(moduleText, nameText, at);
  }

  /** Primitives (getattr, type, getitem, or_, reduce) must only be used in their shapes. */
  checkPrimitives(): void {
    for (const v of this.primitives) {
      if (v.a <= v.b) continue;
      const shape = v.k === K_NEW
        ? `getattr(cls, '__new__') only inside ${allowlist.shapes.partial_new}`
        : allowlist.shapes[v.g!.primitive as "getattr"];
      this.escalate(v.g!, "dangerous", `used outside its allowed shape (${shape})`, v.at);
    }
  }

  // --- calls -----------------------------------------------------------------

  call(callee: Val, args: Val, at: number, how: string): Val {
    if (args.k !== K_TUPLE && !maybeTuple(args)) this.fail("argument list must be a tuple");
    this.use(callee);
    switch (callee.k) {
      case K_GLOBAL:
        return this.callGlobal(callee.g!, args, at, how);
      case K_PRIMITIVE:
        return this.callPrimitive(callee, args, at);
      case K_BOUND:
        this.report.finding(
          "dangerous",
          at,
          `${how} calls ${
            callee.g!.path
          }.${callee.text}, a method fetched with getattr from an object the pickle built`,
        );
        return OPAQUE;
      case K_ENUM:
        this.report.finding(
          "dangerous",
          at,
          `${how} calls a member of ${
            callee.g!.path
          } fetched with getattr: members are never called`,
        );
        return OPAQUE;
      case K_PARTIAL:
        if (callee.b !== 1) {
          this.report.finding(
            "dangerous",
            at,
            `${how} calls a functools.partial never set to the __newobj_ex__ form`,
          );
          return OPAQUE;
        }
        return this.newInstance(callee.g!, at, "__newobj_ex__");
      default:
        if (isNeverCallable(callee)) this.fail(`${how} of an object that is not callable`);
        this.report.finding("unknown", at, `${how} calls a value built at load time`);
        return OPAQUE;
    }
  }

  callGlobal(g: GlobalInfo, args: Val, at: number, how: string): Val {
    if (g.loader) this.nestedPayloads(g, args, at);
    if (g.rating.rating !== "allowed") {
      if (g.path === "_io.BytesIO" || g.path === "io.BytesIO") {
        // Kept so that numpy.load(BytesIO(payload)) still finds the payload.
        const v = new Val(K_OPAQUE);
        let source = args.items?.[0];
        // BytesIO(BytesIO(b)) holds b: no chain to follow later.
        if (source?.k === K_OPAQUE) source = source.items?.[0];
        if (source !== undefined && this.payloadOf(source) !== undefined) v.items = [source];
        return v;
      }
      // Unknown classes are reported already; their instances stay theirs.
      return g.rating.rating === "unknown" ? this.instance(g) : OPAQUE;
    }
    const entry = g.entry;
    if (entry === undefined) return STORAGE;
    if (entry.shape !== undefined) return this.callShape(g, entry, args, at);
    const uses = g.uses;
    const items = args.items;
    if (uses & CALL) return uses & (NEW | FILL) ? this.instance(g) : this.result(g);
    if ((uses & ENUM) && items !== undefined && items.length === 1) return withGlobal(K_ENUM, g);
    if ((uses & (NEW | FILL)) && args === EMPTY_TUPLE) return this.instance(g);
    this.escalate(g, "unknown", `${how} calls it, which its allowlist entry does not allow`, at);
    return OPAQUE;
  }

  instance(g: GlobalInfo): Val {
    return withGlobal(K_INSTANCE, g);
  }

  result(g: GlobalInfo): Val {
    return withGlobal(K_RESULT, g);
  }

  /** Functions allowed with argument rules (see allowlist.json "shapes"). */
  callShape(g: GlobalInfo, entry: AllowEntry, args: Val, at: number): Val {
    const items = args.items ?? [];
    let produced: Val = this.result(g);
    for (const { kind, index } of entry.rules) {
      const arg = items[index];
      switch (kind) {
        case "hooks":
          if (arg !== undefined) this.checkHooks(g, arg, at);
          break;
        case "state":
          if (arg !== undefined) this.checkSetattrState(g, arg, at);
          break;
        case "class":
          if (arg === undefined || arg.k !== K_GLOBAL) {
            this.escalate(g, "unknown", `its argument ${index} is not a class`, at);
          } else if (arg.g!.rating.rating === "allowed" && arg.g!.entry === undefined) {
            this.escalate(g, "unknown", `its argument ${index} is not an allowed class`, at);
          }
          break;
        case "array":
          // A global not allowed is reported on its own.
          if (arg?.k === K_GLOBAL && arg.g!.rating.rating !== "allowed") break;
          if (arg?.k !== K_GLOBAL || !(arg.g!.uses & ARRAY)) {
            this.escalate(g, "unknown", `its argument ${index} is not an allowed array class`, at);
          } else if (index === 0) produced = this.instance(arg.g!);
          break;
        case "rebuild_from_type":
          return this.rebuildFromType(g, items, at);
        case "codecs":
          return this.codecsEncode(g, items, at);
        case "reconstructor":
          return this.reconstruct(g, items[0], items[1], at);
        case "newobj":
          return this.reconstruct(g, items[0], undefined, at);
        case "defaultdict":
          return this.defaultdict(g, items, at);
        case "generic_alias":
          if (items.length !== 2 || items[0].k !== K_GLOBAL || !this.typeLike(items[1], true)) {
            this.escalate(g, "unknown", "called with arguments that are not a class and types", at);
            return OPAQUE;
          }
          return TYPE;
        default:
          throw new Error(`unknown allowlist shape ${entry.shape}`);
      }
    }
    return produced;
  }

  checkHooks(g: GlobalInfo, hooks: Val, at: number): void {
    if (hooks.k === K_NONE) return;
    const empty = (hooks.k === K_DICT ||
      (hooks.k === K_INSTANCE && hooks.g!.path === "collections.OrderedDict")) && hooks.a === 0;
    if (!empty) {
      this.escalate(
        g,
        "unknown",
        "the tensor carries backward hooks: callables that run later, during backward",
        at,
      );
    }
    if (hooks.k === K_DICT || hooks.k === K_INSTANCE) hooks.b |= F_HOOKS;
  }

  checkSetattrState(g: GlobalInfo, state: Val, at: number): void {
    if (state.k === K_NONE || state.k === K_SCALAR) return;
    if (state.k === K_DICT) {
      if (state.b & F_DUNDER_KEY) {
        this.escalate(g, "dangerous", "it sets special attributes (__x__) with setattr", at);
      }
      state.b |= F_SETATTR;
      return;
    }
    this.escalate(g, "unknown", "the attributes it sets are not a plain dict", at);
  }

  rebuildFromType(g: GlobalInfo, items: Val[], at: number): Val {
    const [func, cls, , state] = items;
    if (func === undefined || func.k !== K_GLOBAL) {
      this.escalate(g, "dangerous", "it calls its first argument, which is not a global", at);
      return OPAQUE;
    }
    const target = func.g!;
    if (target.rating.rating === "allowed") {
      if (target.entry?.shape === undefined && !(target.uses & CALL)) {
        this.escalate(
          g,
          "unknown",
          `it calls ${target.path}, which is not allowed to be called`,
          at,
        );
      }
    }
    if (cls === undefined || cls.k !== K_GLOBAL) {
      this.escalate(g, "unknown", "its second argument is not a class", at);
    }
    if (state !== undefined) this.checkSetattrState(g, state, at);
    return this.result(g);
  }

  codecsEncode(g: GlobalInfo, items: Val[], at: number): Val {
    const [text, encoding] = items;
    const name = encoding === undefined ? "utf-8" : this.text(encoding)?.toLowerCase();
    if (text === undefined || name === undefined || !HARMLESS_CODECS.has(name)) {
      this.escalate(g, "unknown", "called with a codec other than latin1, utf-8 or ascii", at);
      return OPAQUE;
    }
    const v = new Val(K_BYTES, 0, 0);
    // The bytes matter only if an unpickler is given them: decoded then.
    if (text.k === K_STR && (name === "latin1" || name === "latin-1")) v.items = [text];
    return v;
  }

  /** copyreg._reconstructor(cls, base, state) and copyreg.__newobj__(cls, ...). */
  reconstruct(g: GlobalInfo, cls: Val | undefined, base: Val | undefined, at: number): Val {
    if (cls === undefined || cls.k !== K_GLOBAL) {
      this.escalate(g, "dangerous", "its class argument is not a global", at);
      return OPAQUE;
    }
    if (base !== undefined && (base.k !== K_GLOBAL || !BASE_TYPES.has(base.g!.path))) {
      this.escalate(g, "unknown", "its base argument is not a built-in type", at);
    }
    return this.newInstance(cls.g!, at, g.path);
  }

  defaultdict(g: GlobalInfo, items: Val[], at: number): Val {
    const factory = items[0];
    if (factory !== undefined && factory.k !== K_NONE) {
      if (factory.k === K_PRIMITIVE) {
        // Counted as a use outside getattr's shape by checkPrimitives.
      } else if (factory.k === K_GLOBAL) {
        const f = factory.g!;
        if (
          f.rating.rating === "allowed" && f.entry !== undefined && f.entry.shape === undefined &&
          !(f.uses & (CALL | NEW | FILL))
        ) {
          this.escalate(f, "unknown", "it is a defaultdict's factory, called on missing keys", at);
        }
      } else {
        this.escalate(
          g,
          "unknown",
          "its factory, called later on every missing key, is a value built at load time",
          at,
        );
      }
    }
    return this.instance(g);
  }

  newObject(cls: Val, args: Val, at: number, how: string): Val {
    if (args.k !== K_TUPLE && !maybeTuple(args)) this.fail(`${how} args argument must be a tuple`);
    this.use(cls);
    if (cls.k === K_GLOBAL) return this.newInstance(cls.g!, at, how);
    if (cls.k === K_ENUM && cls.items !== undefined) {
      const nested = cls.items[0].g!;
      this.reference(nested, at);
      return this.newInstance(nested, at, how);
    }
    if (cls.k === K_BOUND) {
      this.report.finding("dangerous", at, `${how} of a method fetched with getattr`);
      return OPAQUE;
    }
    if (isNeverCallable(cls) || cls.k === K_PRIMITIVE) {
      // Counted for primitives by checkPrimitives; CPython refuses non-types.
      if (cls.k !== K_PRIMITIVE) this.fail(`${how} class argument must be a type`);
      return OPAQUE;
    }
    this.report.finding("unknown", at, `${how} of a class built at load time`);
    return OPAQUE;
  }

  /** An object created without its constructor: the class must allow "new" (or "fill", "enum"). */
  newInstance(g: GlobalInfo, at: number, how: string): Val {
    if (g.rating.rating === "allowed") {
      const uses = g.uses;
      if (!(uses & (NEW | FILL | ENUM))) {
        this.escalate(
          g,
          "unknown",
          `${how} creates it, which its allowlist entry does not allow`,
          at,
        );
      } else if ((uses & ENUM) && !(uses & (NEW | FILL))) {
        return withGlobal(K_ENUM, g);
      }
    }
    return this.instance(g);
  }

  /** getattr, type, operator.getitem, operator.or_ and functools.reduce. */
  callPrimitive(callee: Val, args: Val, at: number): Val {
    const items = args.items;
    const g = callee.g!;
    const bad = (why: string): Val => {
      this.escalate(g, "dangerous", why, at);
      return OPAQUE;
    };
    if (items === undefined) return bad("called with arguments of the wrong shape");
    let produced: Val;
    switch (g.primitive) {
      case "getattr": {
        if (items.length !== 2) return bad("called with other than (object, 'name')");
        const name = this.text(items[1]);
        if (name === undefined) return bad("the attribute name is not a literal str");
        const owner = items[0];
        if (name === "__new__" && owner.k === K_GLOBAL) {
          // Only for functools.partial(cls.__new__, cls, ...): checked at the end.
          produced = withGlobal(K_NEW, g);
          produced.items = [owner];
          produced.at = at;
          this.primitives.push(produced);
          break;
        }
        if (!isPlainName(name)) return bad(`fetches the special attribute ${JSON.stringify(name)}`);
        if (owner.k === K_GLOBAL) produced = this.attributeOfGlobal(owner.g!, name, at);
        else if (owner.k === K_INSTANCE || owner.k === K_RESULT) {
          produced = withGlobal(K_BOUND, owner.g!);
          produced.text = name;
        } else return bad("fetches an attribute of a value built at load time");
        break;
      }
      case "type":
        if (items.length !== 1 || items[0].k !== K_NONE) {
          return bad("called with other than None (type(None) is NoneType)");
        }
        produced = TYPE;
        break;
      case "getitem": {
        if (
          items.length !== 2 || items[0].k !== K_GLOBAL || !(items[0].g!.uses & TYPING) ||
          !this.typeLike(items[1], true)
        ) {
          return bad("subscripts something other than a typing special form with types");
        }
        produced = TYPE;
        break;
      }
      case "or": {
        const [a, b] = items;
        if (items.length !== 2) return bad("called with other than two operands");
        if (a.k === K_ENUM && b.k === K_ENUM && a.g === b.g) produced = a;
        else if (this.typeLike(a, false) && this.typeLike(b, false)) produced = TYPE;
        else return bad("combines values other than members of one enum, or types");
        break;
      }
      case "reduce_or": {
        const [fn, operands] = items;
        if (
          items.length !== 2 || fn.k !== K_PRIMITIVE || fn.g!.primitive !== "or" ||
          !this.typeLike(operands, true) || operands.k !== K_TUPLE
        ) {
          return bad("called with other than (operator.or_, (types...))");
        }
        fn.b++;
        produced = TYPE;
        break;
      }
      case "partial_new": {
        if (items.length !== 1 || items[0].k !== K_NEW) {
          return bad("binds something other than a class's __new__ (the __newobj_ex__ form)");
        }
        items[0].b++;
        produced = new Val(K_PARTIAL);
        produced.items = [items[0]];
        break;
      }
      default:
        return bad("unknown primitive");
    }
    callee.b++;
    return produced;
  }

  /**
   * BUILD of functools.partial(cls.__new__) with (cls.__new__, (cls,), kwargs,
   * None): protocol 2's spelling of copyreg.__newobj_ex__(cls, (), kwargs).
   */
  buildPartial(partial: Val, state: Val, at: number): void {
    const newFn = partial.items![0];
    const [fn, args, kwargs, dict] = state.items ?? [];
    const cls = args?.items?.[0];
    if (
      state.k !== K_TUPLE || state.items?.length !== 4 || fn !== newFn ||
      args.k !== K_TUPLE || cls === undefined || cls.k !== K_GLOBAL ||
      (kwargs.k !== K_DICT && kwargs.k !== K_NONE) || (dict.k !== K_DICT && dict.k !== K_NONE)
    ) {
      this.report.finding(
        "dangerous",
        at,
        "BUILD sets a functools.partial to something other than the __newobj_ex__ form (cls.__new__, (cls,), kwargs)",
      );
      return;
    }
    // The class whose __new__ is bound must be the class created (or object's).
    const owner = newFn.items![0].g!;
    if (owner !== cls.g && owner.path !== "builtins.object") {
      this.report.finding("dangerous", at, `${owner.path}.__new__ creates a ${cls.g!.path}`);
      return;
    }
    newFn.b++;
    partial.g = cls.g;
    partial.b = 1;
  }

  attributeOfGlobal(owner: GlobalInfo, name: string, at: number): Val {
    // getattr(Outer, "Inner") is how protocol 2 names Outer.Inner: rate it so.
    const info = this.resolve(owner.module, `${owner.name}.${name}`, false, "plain");
    if (owner.rating.rating === "allowed" && (owner.uses & ENUM)) {
      // An enum member: never called, but NEWOBJ of it is a nested class
      // (of an owner allowed as a class and an enum), rated as itself.
      const member = withGlobal(K_ENUM, owner);
      member.items = [withGlobal(K_GLOBAL, info)];
      return member;
    }
    this.reference(info, at);
    if (info.primitive !== undefined) {
      const v = withGlobal(K_PRIMITIVE, info);
      v.at = at;
      this.primitives.push(v);
      return v;
    }
    return withGlobal(K_GLOBAL, info);
  }

  /** A type, typing value, enum member or literal (for Literal[...]); a tuple of them when `tuples`. */
  typeLike(v: Val, tuples: boolean): boolean {
    switch (v.k) {
      case K_GLOBAL:
      case K_TYPE:
      case K_NONE:
      case K_ENUM:
      case K_STR:
      case K_SCALAR:
        return true;
      case K_TUPLE:
        if (!tuples) return false;
        if (v.items === undefined) return true;
        return v.items.every((item) => this.typeLike(item, false));
      default:
        return false;
    }
  }

  // --- nested pickles --------------------------------------------------------

  /** The bytes `v` holds: literal bytes, _codecs.encode(text, 'latin1'), or a BytesIO of either. */
  payloadOf(v: Val | undefined): Uint8Array | undefined {
    if (v === undefined) return undefined;
    if (v.k === K_OPAQUE) return v.items === undefined ? undefined : this.payloadOf(v.items[0]);
    if (v.k === K_BYTES && v.items !== undefined) {
      // Protocol 2's spelling of bytes; decoded once per text, however often encoded.
      const text = v.items[0];
      if (text.payload === undefined) {
        const content = this.text(text);
        if (content === undefined) return undefined;
        const bytes = new Uint8Array(content.length);
        for (let i = 0; i < content.length; i++) bytes[i] = content.charCodeAt(i) & 0xff;
        text.payload = bytes;
      }
      return text.payload;
    }
    if (v.k === K_BYTES || v.k === K_BYTEARRAY) return this.data.subarray(v.a, v.b);
    return undefined;
  }

  /** What identifies a payload across calls (the memo shares values, not copies). */
  payloadKey(v: Val): Val | string {
    if (v.k === K_OPAQUE && v.items !== undefined) return this.payloadKey(v.items[0]);
    if (v.k === K_BYTES && v.items !== undefined) return v.items[0];
    return `${v.a}:${v.b}`;
  }

  nestedPayloads(g: GlobalInfo, args: Val, at: number): void {
    const loader = g.path;
    for (const item of args.items ?? []) {
      const payload = this.payloadOf(item);
      if (payload === undefined) continue;
      // The same payload loaded again (through the memo) is scanned once.
      const key = this.payloadKey(item);
      const seen = this.nestedSeen.get(key);
      if (seen !== undefined) {
        seen.count++;
        return;
      }
      if (this.depth >= MAX_NESTED_DEPTH) {
        this.report.finding(
          "unknown",
          at,
          `a payload nested more than ${MAX_NESTED_DEPTH} deep is not scanned`,
        );
        return;
      }
      const { kind, scan } = this.options.nested(payload);
      const nested = { offset: at, count: 1, loader, size: payload.length, kind, scan };
      this.nestedSeen.set(key, nested);
      this.report.nested.push(nested);
      return;
    }
    if (g.rating.rating === "dangerous") {
      this.report.finding(
        "dangerous",
        at,
        `${loader} unpickles data built at load time, which cannot be scanned`,
      );
    }
  }

  // --- BUILD, APPEND, SETITEM ------------------------------------------------

  build(target: Val, state: Val, at: number): void {
    switch (target.k) {
      case K_PARTIAL:
        this.buildPartial(target, state, at);
        return;
      case K_GLOBAL:
      case K_PRIMITIVE:
        this.escalate(
          target.g!,
          "dangerous",
          "BUILD sets attributes on it: a class, function or module changed for the whole process",
          at,
        );
        return;
      case K_ENUM:
      case K_TYPE:
        this.report.finding(
          "dangerous",
          at,
          "BUILD sets attributes on a shared class or enum member",
        );
        return;
      case K_BOUND:
        this.report.finding("dangerous", at, "BUILD on a method fetched with getattr");
        return;
      case K_INSTANCE:
      case K_RESULT: {
        const g = target.g!;
        if (g.rating.rating === "allowed" && g.entry !== undefined) {
          if ((g.uses & FILL) && !(g.uses & NEW)) {
            this.escalate(
              g,
              "dangerous",
              "BUILD on it looks up __setstate__ through its item-forwarding __getattr__, calling an item",
              at,
            );
            return;
          }
        }
        this.checkSlotState(state, at);
        return;
      }
      case K_STORAGE:
      case K_OPAQUE:
        this.report.finding("unknown", at, "BUILD on a value built at load time");
        this.checkSlotState(state, at);
        return;
      default:
        this.fail("BUILD on an object without attributes");
    }
  }

  /** A (dict, slots) state sets slots with setattr: special attributes there change the object's class. */
  checkSlotState(state: Val, at: number): void {
    if (state.k !== K_TUPLE || state.items?.length !== 2) return;
    const slots = state.items[1];
    if (slots.k === K_DICT) {
      if (slots.b & F_DUNDER_KEY) {
        this.report.finding("dangerous", at, "BUILD sets special attributes (__x__) with setattr");
      }
      slots.b |= F_SETATTR;
    } else if (slots.k !== K_NONE) {
      this.report.finding("unknown", at, "BUILD with slot state that is not a plain dict");
    }
  }

  doAppend(x: number, at: number): void {
    const stack = this.stack;
    if (x > stack.length || x <= this.fence) this.underflow();
    if (x === stack.length) return;
    const target = stack[x - 1];
    this.fill(target, this.popItems(x), "APPENDS", at);
  }

  doSetItems(x: number, at: number): void {
    const stack = this.stack;
    if (x > stack.length || x <= this.fence) this.underflow();
    if (x === stack.length) return;
    if ((stack.length - x) % 2 !== 0) this.fail("odd number of items for SETITEMS");
    const target = stack[x - 1];
    const items = this.popItems(x);
    if (target.k === K_DICT) this.addPairs(target, items);
    else this.fill(target, items, "SETITEMS", at, true);
  }

  addPairs(dict: Val, items: Val[]): void {
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (isUnhashable(key)) this.fail("unhashable dict key");
      if (key.k === K_STR && this.isDunderKey(key)) dict.b |= F_DUNDER_KEY;
    }
    dict.a += items.length / 2;
    if ((dict.b & F_SETATTR) && (dict.b & F_DUNDER_KEY)) {
      this.report.finding(
        "dangerous",
        this.input.opcode,
        "special attributes (__x__) added to a dict that sets attributes",
      );
    }
    if ((dict.b & F_HOOKS) && items.length > 0) {
      this.report.finding(
        "unknown",
        this.input.opcode,
        "backward hooks added to a tensor after it was built",
      );
    }
  }

  isDunderKey(key: Val): boolean {
    const data = this.data;
    if (key.text === undefined) {
      // Bytes first: most keys are not special, and decoding every key costs.
      const n = key.b - key.a;
      if (n <= 4 || data[key.a] !== 0x5f || data[key.a + 1] !== 0x5f) return false;
    }
    const text = this.text(key);
    return text !== undefined && isDunderText(text);
  }

  /** APPENDS, SETITEMS, ADDITEMS on something other than a plain container: a method call. */
  fill(target: Val, items: Val[], how: string, at: number, pairs = false): void {
    switch (target.k) {
      case K_LIST:
      case K_BYTEARRAY:
        target.a += items.length;
        return;
      case K_SET:
        if (target.b === 0) return;
        this.fail(`${how} on a frozenset`);
        break;
      case K_INSTANCE:
      case K_RESULT: {
        const g = target.g!;
        if (pairs) {
          for (let i = 0; i < items.length; i += 2) {
            if (items[i].k === K_STR && this.isDunderKey(items[i])) target.b |= F_DUNDER_KEY;
          }
        }
        target.a += pairs ? items.length / 2 : items.length;
        if ((target.b & F_HOOKS) && items.length > 0) {
          this.report.finding("unknown", at, "backward hooks added to a tensor after it was built");
        }
        if (g.rating.rating === "allowed" && g.entry !== undefined) {
          if (!(g.uses & (NEW | FILL | CALL))) {
            this.escalate(
              g,
              "unknown",
              `${how} on an instance its allowlist entry does not allow`,
              at,
            );
          }
        }
        return;
      }
      case K_GLOBAL:
      case K_PRIMITIVE:
        this.escalate(target.g!, "dangerous", `${how} calls a method of the global itself`, at);
        return;
      case K_STORAGE:
      case K_OPAQUE:
      case K_ENUM:
      case K_TYPE:
      case K_BOUND:
        this.report.finding(
          "unknown",
          at,
          `${how} on a value built at load time calls its methods`,
        );
        return;
      default:
        this.fail(`${how} on an object without that method`);
    }
  }

  // --- persistent ids --------------------------------------------------------

  noPersistentLoad(): never {
    this.fail(
      "A load persistent id instruction was encountered, but no persistent_load function was specified",
    );
  }

  persid(at: number): void {
    if (this.options.loader === "plain") this.noPersistentLoad();
    const [s, e] = this.input.readLine();
    try {
      asciiDecoder.decode(this.data.subarray(s, e));
    } catch {
      this.fail("persistent IDs in protocol 0 must be ASCII strings");
    }
    this.report.finding("unknown", at, "a text persistent id, which torch.load refuses");
    this.fail("torch.load's persistent_load asserts a tuple");
  }

  /** 'storage' (str or bytes): compared as bytes, as every tensor has one. */
  isStorageName(v: Val | undefined): boolean {
    if (v === undefined || (v.k !== K_STR && v.k !== K_BYTES)) return false;
    if (v.text !== undefined) return v.text === "storage";
    const data = this.data;
    const a = v.a;
    return v.b - a === 7 && data[a] === 0x73 && data[a + 1] === 0x74 && data[a + 2] === 0x6f &&
      data[a + 3] === 0x72 && data[a + 4] === 0x61 && data[a + 5] === 0x67 && data[a + 6] === 0x65;
  }

  /**
   * torch.load's persistent_load: the zip path unpacks (typename,
   * storage_type, key, location, numel); the legacy path adds view_metadata
   * and also accepts 'module' ids.
   */
  persistentLoad(pid: Val, at: number): Val {
    if (pid.k !== K_TUPLE) {
      if (maybeTuple(pid)) {
        this.report.finding("unknown", at, "a persistent id built at load time");
        return OPAQUE;
      }
      this.report.finding(
        "unknown",
        at,
        "a persistent id that is not a tuple, which torch.load refuses",
      );
      this.fail("torch.load's persistent_load asserts a tuple");
    }
    const items = pid.items ?? [];
    const first = items[0];
    const legacy = this.options.loader === "torch-legacy";
    if (items.length === (legacy ? 6 : 5) && this.isStorageName(first)) return STORAGE;
    const typename = first === undefined
      ? undefined
      : first.k === K_STR
      ? this.text(first)
      : first.k === K_BYTES
      ? latin1(this.data, first.a, first.b)
      : undefined;

    if (typename === "module" && legacy && items.length >= 2) {
      return items[1];
    }
    this.report.finding(
      "unknown",
      at,
      `a persistent id ${typename === undefined ? "" : `'${typename}' `}that torch.load refuses`,
    );
    this.fail("torch.load's persistent_load refuses the persistent id");
  }
}

/** A value that may be a tuple at run time (a call result). */
function maybeTuple(v: Val): boolean {
  return v.k === K_OPAQUE || v.k === K_RESULT || v.k === K_INSTANCE || v.k === K_STORAGE;
}

function latin1(data: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i += 8192) {
    text += String.fromCharCode(...data.subarray(i, Math.min(end, i + 8192)));
  }
  return text;
}

/** Python's int(text, 10): surrounding whitespace, a sign, underscores between digits. */
function parsePythonInt(text: string): number | undefined {
  const match = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(text);
  if (match === null) return undefined;
  const value = Number(match[2].replaceAll("_", ""));
  return match[1] === "-" ? -value : value;
}
