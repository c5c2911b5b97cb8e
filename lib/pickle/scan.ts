/**
 * Lists every global a pickle references and rates it, without decoding
 * values: the opcodes are walked with a model of the stack that only tracks
 * what matters for security — strings (for `STACK_GLOBAL`), globals, tuples
 * and calls (for nested pickles handed to a loader).
 *
 * Python's unpickler imports and calls these globals while it loads; a
 * checkpoint that names `os.system` runs it under
 * `torch.load(weights_only=False)`.
 *
 * @module
 */

import { PickleError } from "../errors.ts";
import { fromPickledName } from "./_compat_names.ts";
import { decodeRawUnicodeEscape, decodeStringLiteral } from "./_text_literals.ts";
import { decodeUtf8 } from "./_utf8.ts";
import { instructions } from "./dis.ts";
import { Op } from "./opcodes.ts";

/** How far a global can be trusted when Python loads the pickle. */
export type Rating = "dangerous" | "unknown" | "safe";

/** A global the pickle references, with every place it does. */
export interface GlobalReference {
  /** Module, in Python 3 spelling (`__builtin__` reads as `builtins`). */
  module: string;
  /** Qualified name inside the module. */
  name: string;
  /** `module.name`, or `<computed>` for a `STACK_GLOBAL` whose operands are not literal strings. */
  path: string;
  /** The rating. */
  rating: Rating;
  /** Why a global is dangerous; undefined for the others. */
  reason: string | undefined;
  /** Number of opcodes that reference it. */
  count: number;
  /** Offsets of the first few referencing opcodes. */
  offsets: number[];
}

/** Bytes the pickle hands to a function that unpickles them when Python loads it. */
export interface NestedPickle {
  /** Offset of the first opcode that makes the call. */
  offset: number;
  /** Number of calls that load this same payload (shared through the memo). */
  count: number;
  /** The loading function, e.g. `pickle.loads`. */
  loader: string;
  /** Size of the payload, when it is a literal in this pickle. */
  size: number | undefined;
  /** What the payload is: `"pickle"`, `"zip"` (a torch.save archive), or `"unknown"`. */
  kind: "pickle" | "zip" | "unknown";
  /** The scan of the payload, when it is a pickle. */
  scan: ScanResult | undefined;
}

/** What {@linkcode scanPickle} found. */
export interface ScanResult {
  /** Every referenced global, in order of first reference. */
  globals: GlobalReference[];
  /** Payloads passed to unpickling functions. */
  nested: NestedPickle[];
  /**
   * Why the listing stopped before `STOP` (a malformed or truncated opcode
   * stream); the globals before that point are still reported, since Python
   * runs them before it meets the damage.
   */
  error: string | undefined;
}

const MAX_OFFSETS = 5;
const MAX_NESTED_DEPTH = 4;

// Builtins that evaluate code, touch files or reach any attribute.
const DANGEROUS_BUILTINS = new Set([
  "eval",
  "exec",
  "compile",
  "open",
  "getattr",
  "setattr",
  "delattr",
  "__import__",
  "globals",
  "locals",
  "vars",
  "input",
  "breakpoint",
  "exit",
  "quit",
  "help",
  "memoryview",
]);

// Modules whose every name is dangerous: processes, files, the interpreter,
// the network, code loading, and other unpicklers.
const DANGEROUS_MODULES: ReadonlyMap<string, string> = new Map([
  ...[
    "os",
    "posix",
    "nt",
    "subprocess",
    "_posixsubprocess",
    "pty",
    "shutil",
    "signal",
    "multiprocessing",
    "_winapi",
    "platform",
  ].map((m) => [m, "runs commands or changes files"] as const),
  ...["sys", "runpy", "importlib", "imp", "pkgutil", "zipimport", "ctypes", "_ctypes", "gc"]
    .map((m) => [m, "reaches the interpreter or loads code"] as const),
  ...[
    "code",
    "codeop",
    "timeit",
    "profile",
    "cProfile",
    "pdb",
    "bdb",
    "trace",
    "doctest",
    "pydoc",
    "idlelib",
  ].map((m) => [m, "runs Python source"] as const),
  ...["socket", "webbrowser", "http", "urllib", "ftplib", "smtplib", "telnetlib", "requests"]
    .map((m) => [m, "opens network connections or programs"] as const),
  ...["pickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib", "pickletools"]
    .map((m) => [m, "unpickles or unmarshals more data"] as const),
  ["numpy.f2py", "compiles and runs code"],
  ["numpy.distutils", "compiles and runs code"],
  ["numpy.testing", "runs Python source"],
  ["torch.hub", "downloads and runs code"],
  ["torch.package", "loads packaged code"],
  ["torch.jit", "loads TorchScript programs"],
  ["torch.fx", "runs generated Python source"],
  ["torch.utils.cpp_extension", "compiles and loads code"],
]);

const DANGEROUS_NAMES: ReadonlyMap<string, string> = new Map([
  ["functools.partial", "calls any function later"],
  ["functools.partialmethod", "calls any function later"],
  ["functools.reduce", "calls any function"],
  ["operator.attrgetter", "reaches any attribute"],
  ["operator.itemgetter", "reaches any item"],
  ["operator.methodcaller", "calls any method"],
  ["_operator.attrgetter", "reaches any attribute"],
  ["_operator.itemgetter", "reaches any item"],
  ["_operator.methodcaller", "calls any method"],
  ["torch.load", "unpickles more data"],
  ["torch.serialization.load", "unpickles more data"],
  ["torch.serialization._load", "unpickles more data"],
  ["torch.storage._load_from_bytes", "unpickles more data"],
  ["numpy.load", "unpickles more data"],
  ["numpy.loads", "unpickles more data"],
  ["pandas.read_pickle", "unpickles more data"],
  ["io.open", "opens files"],
  ["io.FileIO", "opens files"],
  ["_io.open", "opens files"],
  ["_io.FileIO", "opens files"],
  ["codecs.open", "opens files"],
  ["tempfile.mkstemp", "creates files"],
  ["types.CodeType", "builds code objects"],
  ["types.FunctionType", "builds functions"],
  ["types.LambdaType", "builds functions"],
  ["types.MethodType", "binds methods"],
  ["types.ModuleType", "builds modules"],
  ["copyreg.add_extension", "changes how later pickles resolve globals"],
  ["copyreg.pickle", "changes how objects pickle"],
  ["copyreg.constructor", "registers constructors"],
]);

// Functions that unpickle the bytes they are given.
const LOADERS = new Set([
  "pickle.loads",
  "pickle.load",
  "pickle._loads",
  "_pickle.loads",
  "_pickle.load",
  "dill.loads",
  "dill._dill.loads",
  "cloudpickle.loads",
  "joblib.load",
  "numpy.load",
  "numpy.loads",
  "pandas.read_pickle",
  "torch.load",
  "torch.serialization.load",
  "torch.serialization._load",
  "torch.storage._load_from_bytes",
  "marshal.loads",
]);

const SAFE_NAMES = new Set([
  "collections.OrderedDict",
  "collections.Counter",
  "collections.defaultdict",
  "collections.deque",
  "_codecs.encode",
  "builtins.set",
  "builtins.frozenset",
  "builtins.bytearray",
  "builtins.bytes",
  "builtins.complex",
  "builtins.slice",
  "builtins.range",
  "builtins.int",
  "builtins.float",
  "builtins.bool",
  "builtins.str",
  "builtins.tuple",
  "builtins.list",
  "builtins.dict",
  "builtins.object",
  "copyreg._reconstructor",
  "copyreg.__newobj__",
  "copyreg.__newobj_ex__",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_tensor_v3",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  "torch._utils._rebuild_qtensor",
  "torch._utils._rebuild_sparse_tensor",
  "torch._utils._rebuild_meta_tensor_no_storage",
  "torch._utils._rebuild_wrapper_subclass",
  "torch._utils._rebuild_device_tensor_from_numpy",
  "torch._utils._rebuild_device_tensor_from_cpu_tensor",
  "torch._tensor._rebuild_from_type_v2",
  "torch.serialization._get_layout",
  "torch.nn.parameter.Parameter",
  "torch.Size",
  "torch.Tensor",
  "torch.device",
  "torch.storage.UntypedStorage",
  "torch.storage.TypedStorage",
  "torch.per_tensor_affine",
  "torch.per_tensor_symmetric",
  "torch.per_channel_affine",
  "torch.per_channel_symmetric",
  "torch.per_channel_affine_float_qparams",
  "numpy.dtype",
  "numpy.ndarray",
  "numpy.core.multiarray._reconstruct",
  "numpy.core.multiarray.scalar",
  "numpy._core.multiarray._reconstruct",
  "numpy._core.multiarray.scalar",
  "numpy.core.numeric._frombuffer",
  "numpy._core.numeric._frombuffer",
]);

// torch dtypes as str(dtype) spells them (torch.float32, torch.float8_e4m3fn,
// torch.uint3, ...) and storage classes (torch.FloatStorage, torch.cuda.HalfStorage).
const TORCH_DTYPE =
  /^(float(16|32|64)|bfloat16|u?int([1-7]|8|16|32|64)|bool|complex(32|64|128)|q(u?int(8|32)|uint(4x2|2x4))|float8_e\w+|float4_e\w+|bits(8|16|1x8|2x4|4x2))$/;
const TORCH_STORAGE = /^[A-Z][A-Za-z0-9]*Storage$/;
const STORAGE_MODULES = new Set(["torch", "torch.cuda", "torch.storage"]);

function isDunder(part: string): boolean {
  return part.length > 4 && part.startsWith("__") && part.endsWith("__");
}

function moduleRule(module: string): string | undefined {
  for (let m = module;;) {
    const reason = DANGEROUS_MODULES.get(m);
    if (reason !== undefined) return reason;
    const dot = m.lastIndexOf(".");
    if (dot < 0) return undefined;
    m = m.slice(0, dot);
  }
}

/**
 * Rates one global as Python 3 names it.
 *
 * Dangerous: code execution, files, processes, the network, other
 * unpicklers, attribute traversal through dunder names
 * (`x.__globals__`). Safe: what torch's own `weights_only` loader accepts
 * (tensor rebuilds, storages, dtypes), `collections.OrderedDict`, numpy
 * arrays and dtypes, a few inert builtins, copyreg's reconstructors.
 * Everything else is unknown: importing it runs its module's code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rateGlobal } from "./scan.ts";
 * assert.equal(rateGlobal("os", "system").rating, "dangerous");
 * assert.equal(rateGlobal("torch._utils", "_rebuild_tensor_v2").rating, "safe");
 * assert.equal(rateGlobal("omegaconf.dictconfig", "DictConfig").rating, "unknown");
 * ```
 */
export function rateGlobal(module: string, name: string): { rating: Rating; reason?: string } {
  const path = `${module}.${name}`;
  const named = DANGEROUS_NAMES.get(path);
  if (named !== undefined) return { rating: "dangerous", reason: named };
  const parts = name.split(".");
  if (module === "builtins" && DANGEROUS_BUILTINS.has(parts[0])) {
    return { rating: "dangerous", reason: "evaluates code or reaches any object" };
  }
  // Dotted names are resolved attribute by attribute; dunders such as
  // __globals__, __builtins__ or __subclasses__ lead from there to anything.
  if (parts.some((part, i) => isDunder(part) && (i > 0 || !SAFE_NAMES.has(path)))) {
    return { rating: "dangerous", reason: "reaches a special attribute" };
  }
  const ruled = moduleRule(module);
  if (ruled !== undefined) return { rating: "dangerous", reason: ruled };
  if (SAFE_NAMES.has(path)) return { rating: "safe" };
  if (parts.length === 1) {
    if (module === "torch" && TORCH_DTYPE.test(name)) return { rating: "safe" };
    if (STORAGE_MODULES.has(module) && TORCH_STORAGE.test(name)) return { rating: "safe" };
    if (module === "numpy.dtypes" && /^[A-Za-z0-9]+DType$/.test(name)) return { rating: "safe" };
  }
  return { rating: "unknown" };
}

// The stack model: only strings, bytes, globals, tuples and calls matter.
type Token =
  | { kind: "str"; code: number; start: number; end: number }
  | { kind: "bytes"; start: number; end: number }
  | { kind: "latin1"; text: Token & { kind: "str" } }
  | { kind: "global"; path: string }
  | { kind: "tuple"; items: Token[] }
  | { kind: "call"; callee: Token; args: Token }
  | { kind: "other" };

const OTHER: Token = { kind: "other" };
const EMPTY: Token = { kind: "tuple", items: [] };

class Scanner {
  readonly #data: Uint8Array;
  readonly #view: DataView;
  readonly #depth: number;
  readonly #globals = new Map<string, GlobalReference>();
  readonly #nested: NestedPickle[] = [];
  readonly #nestedSeen = new Map<unknown, Map<string, NestedPickle>>();
  #stack: Token[] = [];
  #marks: number[] = [];
  #memo = new Map<number, Token>();

  constructor(data: Uint8Array, depth: number) {
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#depth = depth;
  }

  run(): ScanResult {
    let error: string | undefined;
    try {
      for (const { offset, code } of instructions(this.#data)) this.#step(offset, code);
    } catch (caught) {
      if (!(caught instanceof PickleError)) throw caught;
      error = caught.message.replace(/^Cannot list pickle: /, "Cannot scan pickle: ");
    }
    return { globals: [...this.#globals.values()], nested: this.#nested, error };
  }

  #pop(): Token {
    // An underflow fails in Python too; the model keeps going so that later
    // GLOBAL opcodes are still listed.
    const floor = this.#marks.length > 0 ? this.#marks[this.#marks.length - 1] : 0;
    return this.#stack.length > floor ? this.#stack.pop()! : OTHER;
  }

  #top(): Token {
    return this.#stack.length > 0 ? this.#stack[this.#stack.length - 1] : OTHER;
  }

  #popMark(): Token[] {
    const mark = this.#marks.pop();
    if (mark === undefined) return [];
    return this.#stack.splice(mark);
  }

  #reference(module: string, name: string, offset: number): Token {
    const [mod, qualname] = fromPickledName(module, name);
    return this.#record(`${mod}.${qualname}`, mod, qualname, offset);
  }

  #record(path: string, module: string, name: string, offset: number): Token {
    let found = this.#globals.get(path);
    if (found === undefined) {
      const { rating, reason } = module === "" && name === ""
        ? { rating: "dangerous" as const, reason: "STACK_GLOBAL of a name built at load time" }
        : rateGlobal(module, name);
      found = { module, name, path, rating, reason, count: 0, offsets: [] };
      this.#globals.set(path, found);
    }
    found.count++;
    if (found.offsets.length < MAX_OFFSETS) found.offsets.push(offset);
    return { kind: "global", path };
  }

  #text(token: Token): string | undefined {
    if (token.kind !== "str") return undefined;
    const data = this.#data;
    switch (token.code) {
      case Op.UNICODE:
        return asString(decodeRawUnicodeEscape(latin1(data, token.start, token.end)));
      case Op.STRING: {
        const bytes = decodeStringLiteral(latin1(data, token.start, token.end));
        return bytes === undefined ? undefined : asString(decodeUtf8(bytes, 0, bytes.length));
      }
      default:
        return asString(decodeUtf8(data, token.start, token.end));
    }
  }

  #payload(token: Token): Uint8Array | undefined {
    if (token.kind === "bytes") return this.#data.subarray(token.start, token.end);
    if (token.kind === "latin1") {
      const text = this.#text(token.text);
      if (text === undefined) return undefined;
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) {
        const unit = text.charCodeAt(i);
        if (unit > 0xff) return undefined;
        bytes[i] = unit;
      }
      return bytes;
    }
    return undefined;
  }

  #call(callee: Token, args: Token, offset: number): Token {
    if (callee.kind === "global") {
      if (callee.path === "_codecs.encode" && args.kind === "tuple" && args.items.length === 2) {
        const [text, encoding] = args.items;
        const name = this.#text(encoding);
        if (text.kind === "str" && (name === "latin1" || name === "latin-1")) {
          return { kind: "latin1", text };
        }
      }
      if (LOADERS.has(callee.path)) this.#flagNested(callee.path, args, offset);
    }
    return { kind: "call", callee, args };
  }

  #flagNested(loader: string, args: Token, offset: number): void {
    const first = args.kind === "tuple" ? args.items[0] : undefined;
    // A payload loaded again through the memo is listed (and scanned) once.
    const key = first === undefined || first === OTHER ? loader : first;
    let byLoader = this.#nestedSeen.get(key);
    if (byLoader === undefined) this.#nestedSeen.set(key, byLoader = new Map());
    const seen = byLoader.get(loader);
    if (seen !== undefined) {
      seen.count++;
      return;
    }
    const payload = first === undefined ? undefined : this.#payload(first);
    let kind: NestedPickle["kind"] = "unknown";
    let scan: ScanResult | undefined;
    if (payload !== undefined && payload.length >= 4) {
      if (payload[0] === 0x50 && payload[1] === 0x4b && payload[2] === 3 && payload[3] === 4) {
        kind = "zip";
      } else if (payload[0] === Op.PROTO || payload[payload.length - 1] === Op.STOP) {
        kind = "pickle";
        if (this.#depth < MAX_NESTED_DEPTH) scan = new Scanner(payload, this.#depth + 1).run();
      }
    }
    const nested = { offset, loader, size: payload?.length, kind, scan, count: 1 };
    byLoader.set(loader, nested);
    this.#nested.push(nested);
  }

  #line(at: number): [number, number] {
    const end = this.#data.indexOf(0x0a, at);
    return [at, end];
  }

  #lengthAt(at: number, width: 1 | 4 | 8): number {
    if (width === 1) return this.#data[at];
    if (width === 4) return this.#view.getUint32(at, true);
    return this.#view.getUint32(at, true) + this.#view.getUint32(at + 4, true) * 2 ** 32;
  }

  #sized(offset: number, width: 1 | 4 | 8): [number, number] {
    const start = offset + 1 + width;
    return [start, start + this.#lengthAt(offset + 1, width)];
  }

  #memoIndex(code: number, offset: number): number {
    if (code === Op.BINGET || code === Op.BINPUT) return this.#data[offset + 1];
    if (code === Op.LONG_BINGET || code === Op.LONG_BINPUT) {
      return this.#view.getUint32(offset + 1, true);
    }
    const [start, end] = this.#line(offset + 1);
    return Number(latin1(this.#data, start, end));
  }

  #step(offset: number, code: number): void {
    const stack = this.#stack;
    switch (code) {
      case Op.MARK:
        this.#marks.push(stack.length);
        return;
      case Op.POP:
        if (this.#marks.length > 0 && this.#marks[this.#marks.length - 1] === stack.length) {
          this.#popMark();
        } else this.#pop();
        return;
      case Op.POP_MARK:
        this.#popMark();
        return;
      case Op.DUP:
        stack.push(this.#top());
        return;
      case Op.SHORT_BINUNICODE:
      case Op.SHORT_BINSTRING: {
        const [start, end] = this.#sized(offset, 1);
        stack.push({ kind: "str", code, start, end });
        return;
      }
      case Op.BINUNICODE:
      case Op.BINSTRING: {
        const [start, end] = this.#sized(offset, 4);
        stack.push({ kind: "str", code, start, end });
        return;
      }
      case Op.BINUNICODE8: {
        const [start, end] = this.#sized(offset, 8);
        stack.push({ kind: "str", code, start, end });
        return;
      }
      case Op.UNICODE:
      case Op.STRING: {
        const [start, end] = this.#line(offset + 1);
        stack.push({ kind: "str", code, start, end });
        return;
      }
      case Op.SHORT_BINBYTES: {
        const [start, end] = this.#sized(offset, 1);
        stack.push({ kind: "bytes", start, end });
        return;
      }
      case Op.BINBYTES: {
        const [start, end] = this.#sized(offset, 4);
        stack.push({ kind: "bytes", start, end });
        return;
      }
      case Op.BINBYTES8:
      case Op.BYTEARRAY8: {
        const [start, end] = this.#sized(offset, 8);
        stack.push({ kind: "bytes", start, end });
        return;
      }
      case Op.EMPTY_TUPLE:
        stack.push(EMPTY);
        return;
      case Op.TUPLE1:
      case Op.TUPLE2:
      case Op.TUPLE3: {
        const items: Token[] = [];
        for (let n = code - Op.TUPLE1 + 1; n > 0; n--) items.unshift(this.#pop());
        stack.push({ kind: "tuple", items });
        return;
      }
      case Op.TUPLE:
        stack.push({ kind: "tuple", items: this.#popMark() });
        return;
      case Op.LIST:
      case Op.DICT:
      case Op.FROZENSET:
        this.#popMark();
        stack.push(OTHER);
        return;
      case Op.APPEND:
      case Op.BUILD:
        this.#pop();
        return;
      case Op.SETITEM:
        this.#pop();
        this.#pop();
        return;
      case Op.APPENDS:
      case Op.SETITEMS:
      case Op.ADDITEMS:
        this.#popMark();
        return;
      case Op.GLOBAL: {
        const [moduleStart, moduleEnd] = this.#line(offset + 1);
        const [nameStart, nameEnd] = this.#line(moduleEnd + 1);
        stack.push(
          this.#reference(
            lenientUtf8(this.#data, moduleStart, moduleEnd),
            lenientUtf8(this.#data, nameStart, nameEnd),
            offset,
          ),
        );
        return;
      }
      case Op.INST: {
        const [moduleStart, moduleEnd] = this.#line(offset + 1);
        const [nameStart, nameEnd] = this.#line(moduleEnd + 1);
        const callee = this.#reference(
          lenientUtf8(this.#data, moduleStart, moduleEnd),
          lenientUtf8(this.#data, nameStart, nameEnd),
          offset,
        );
        stack.push(this.#call(callee, { kind: "tuple", items: this.#popMark() }, offset));
        return;
      }
      case Op.STACK_GLOBAL: {
        const name = this.#text(this.#pop());
        const module = this.#text(this.#pop());
        stack.push(
          module === undefined || name === undefined
            ? this.#record("<computed>", "", "", offset)
            : this.#reference(module, name, offset),
        );
        return;
      }
      case Op.EXT1:
      case Op.EXT2:
      case Op.EXT4: {
        // Extension codes name globals through copyreg's registry, which
        // the loading process controls.
        stack.push(
          this.#record("copyreg._extension_registry", "copyreg", "_extension_registry", offset),
        );
        return;
      }
      case Op.REDUCE: {
        const args = this.#pop();
        const callee = this.#pop();
        stack.push(this.#call(callee, args, offset));
        return;
      }
      case Op.OBJ: {
        const items = this.#popMark();
        stack.push(this.#call(items[0] ?? OTHER, { kind: "tuple", items: items.slice(1) }, offset));
        return;
      }
      case Op.NEWOBJ:
        this.#pop();
        this.#pop();
        stack.push(OTHER);
        return;
      case Op.NEWOBJ_EX:
        this.#pop();
        this.#pop();
        this.#pop();
        stack.push(OTHER);
        return;
      case Op.BINPERSID:
        this.#pop();
        stack.push(OTHER);
        return;
      case Op.GET:
      case Op.BINGET:
      case Op.LONG_BINGET:
        stack.push(this.#memo.get(this.#memoIndex(code, offset)) ?? OTHER);
        return;
      case Op.PUT:
      case Op.BINPUT:
      case Op.LONG_BINPUT:
        this.#memo.set(this.#memoIndex(code, offset), this.#top());
        return;
      case Op.MEMOIZE:
        this.#memo.set(this.#memo.size, this.#top());
        return;
      case Op.PROTO:
      case Op.FRAME:
      case Op.STOP:
      case Op.READONLY_BUFFER:
        return;
      default:
        // Every other opcode pushes one value that cannot name a global.
        stack.push(OTHER);
    }
  }
}

function latin1(data: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i += 8192) {
    text += String.fromCharCode(...data.subarray(i, Math.min(end, i + 8192)));
  }
  return text;
}

function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

const lenientDecoder = new TextDecoder();

function lenientUtf8(data: Uint8Array, start: number, end: number): string {
  return lenientDecoder.decode(data.subarray(start, end));
}

/**
 * Lists the globals a pickle references, rated, and the nested pickles it
 * hands to loaders, without building any value.
 *
 * @example A pickle that calls `os.system`
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanPickle } from "./scan.ts";
 *
 * // cos\nsystem\n(S'echo hi'\ntR.
 * const data = new TextEncoder().encode("cos\nsystem\n(S'echo hi'\ntR.");
 * const { globals } = scanPickle(data);
 * assert.equal(globals[0].path, "os.system");
 * assert.equal(globals[0].rating, "dangerous");
 * ```
 *
 * @param data The pickle bytes.
 * @returns The globals in order of first reference, nested pickles, and the
 * error that stopped the listing early, if any.
 */
export function scanPickle(data: Uint8Array): ScanResult {
  return new Scanner(data, 0).run();
}

/**
 * The dotted paths of every dangerous global in `data` and in the pickles
 * it nests, sorted; empty when there is none. A `STACK_GLOBAL` whose name
 * is computed at load time is listed as `<computed>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dangerousGlobals } from "./scan.ts";
 * const data = new TextEncoder().encode("cos\nsystem\n(S'echo hi'\ntR.");
 * assert.deepEqual(dangerousGlobals(data), ["os.system"]);
 * ```
 */
export function dangerousGlobals(data: Uint8Array): string[] {
  const found = new Set<string>();
  const visit = (result: ScanResult) => {
    for (const g of result.globals) if (g.rating === "dangerous") found.add(g.path);
    for (const n of result.nested) if (n.scan !== undefined) visit(n.scan);
  };
  visit(scanPickle(data));
  return [...found].sort();
}
