// Python 2 spellings that protocol 0-2 pickles use for builtins (CPython's
// fix_imports): mapped to Python 3 on load and back on dump, so a round trip
// writes the bytes CPython would.

const PY2_NAMES: ReadonlyArray<readonly [string, string, string, string]> = [
  ["__builtin__", "long", "builtins", "int"],
  ["__builtin__", "unicode", "builtins", "str"],
  ["__builtin__", "xrange", "builtins", "range"],
  ["__builtin__", "unichr", "builtins", "chr"],
  ["__builtin__", "reduce", "functools", "reduce"],
  ["__builtin__", "intern", "sys", "intern"],
];

const PY2_MODULES: ReadonlyMap<string, string> = new Map([
  ["__builtin__", "builtins"],
  ["copy_reg", "copyreg"],
  ["exceptions", "builtins"],
]);

// Builtin exception classes that Python 2 kept in the `exceptions` module.
const PY2_EXCEPTIONS = new Set(
  ("ArithmeticError AssertionError AttributeError BaseException BufferError BytesWarning " +
    "DeprecationWarning EOFError EnvironmentError Exception FloatingPointError FutureWarning " +
    "GeneratorExit IOError ImportError ImportWarning IndentationError IndexError KeyError " +
    "KeyboardInterrupt LookupError MemoryError NameError NotImplementedError OSError " +
    "OverflowError PendingDeprecationWarning ReferenceError RuntimeError RuntimeWarning " +
    "StopIteration SyntaxError SyntaxWarning SystemError SystemExit TabError TypeError " +
    "UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError " +
    "UnicodeTranslateError UnicodeWarning UserWarning ValueError Warning ZeroDivisionError")
    .split(" "),
);
// Python 3's OSError subclasses pickle as Python 2's OSError; ModuleNotFoundError as ImportError.
const PY3_ONLY_EXCEPTIONS: ReadonlyMap<string, string> = new Map([
  ...("BrokenPipeError ChildProcessError ConnectionAbortedError ConnectionError " +
    "ConnectionRefusedError ConnectionResetError FileExistsError FileNotFoundError " +
    "InterruptedError IsADirectoryError NotADirectoryError PermissionError ProcessLookupError " +
    "TimeoutError").split(" ").map((name) => [name, "OSError"] as [string, string]),
  ["ModuleNotFoundError", "ImportError"],
]);

const toPy3 = new Map(PY2_NAMES.map(([m2, n2, m3, n3]) => [`${m2}\n${n2}`, [m3, n3] as const]));
const toPy2 = new Map(PY2_NAMES.map(([m2, n2, m3, n3]) => [`${m3}\n${n3}`, [m2, n2] as const]));

/** Python 3 module and name for a global as a protocol 0-2 pickle spells it. */
export function fromPickledName(module: string, name: string): readonly [string, string] {
  const renamed = toPy3.get(`${module}\n${name}`);
  if (renamed !== undefined) return renamed;
  const mapped = PY2_MODULES.get(module);
  return mapped === undefined ? [module, name] : [mapped, name];
}

/** The spelling CPython's protocol 2 pickler writes for a Python 3 global. */
export function toPickledName(module: string, name: string): readonly [string, string] {
  const renamed = toPy2.get(`${module}\n${name}`);
  if (renamed !== undefined) return renamed;
  if (module === "builtins") {
    if (PY2_EXCEPTIONS.has(name)) return ["exceptions", name];
    const base = PY3_ONLY_EXCEPTIONS.get(name);
    if (base !== undefined) return ["exceptions", base];
    return ["__builtin__", name];
  }
  if (module === "copyreg") return ["copy_reg", name];
  return [module, name];
}
