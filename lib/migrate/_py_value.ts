/**
 * The Python values behind the JS values a config edit receives: their
 * Python type, `str()` and `repr()`, and the pickled shapes of enum members
 * and paths, as omegaconf's conversions and messages need them.
 *
 * @module
 */

import { PyByteArray } from "../pickle/py_bytearray.ts";
import { PyDict } from "../pickle/py_dict.ts";
import { floatRepr, PyFloat } from "../pickle/py_float.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { PyFrozenSet, PySet } from "../pickle/py_set.ts";
import { PyStr } from "../pickle/py_str.ts";
import { bytesRepr, strRepr } from "../pickle/repr.ts";
import { Tuple } from "../pickle/tuple.ts";

/**
 * The Python type of a value: JS `null` is None, safe-integer numbers and
 * bigints are ints, other numbers and `PyFloat` floats, `Uint8Array` bytes,
 * arrays lists, `Tuple` tuples, plain objects, Maps and `PyDict`s dicts.
 */
export type PyKind =
  | "NoneType"
  | "bool"
  | "int"
  | "float"
  | "str"
  | "bytes"
  | "bytearray"
  | "list"
  | "tuple"
  | "dict"
  | "set"
  | "frozenset"
  | "enum"
  | "path"
  | "DictConfig"
  | "ListConfig"
  | "object";

/** An enum member as a pickle holds it: `getattr(Color, "GREEN")` or `Color(2)`. */
export interface EnumMember {
  /** The enum class. */
  type: PyGlobal;
  /** The member's name, when the pickle or the enum's fields tell it. */
  name: string | undefined;
  /** The member's value, when the pickle or the enum's fields tell it. */
  value: unknown;
  /** Whether `value` is known. */
  hasValue: boolean;
}

/** What the config knows about an enum class: its members (`fields`, name to value). */
export interface EnumLookup {
  /** The fields of the enum `type`, when an EnumNode of the config names it. */
  fieldsOf(type: PyGlobal): PyDict | undefined;
}

const GETATTR = PyGlobal.of("builtins", "getattr");
const DICT_CONFIG = PyGlobal.of("omegaconf.dictconfig", "DictConfig");
const LIST_CONFIG = PyGlobal.of("omegaconf.listconfig", "ListConfig");
const PATH_CLASSES = new Set(["Path", "PosixPath", "WindowsPath"]);

/** The class of a pickled `pathlib` path object, or undefined for other values. */
export function pathClass(value: unknown): PyGlobal | undefined {
  if (!(value instanceof PyObject) || value.how !== "reduce") return undefined;
  const callable = value.callable;
  if (
    !(callable instanceof PyGlobal) ||
    (callable.module !== "pathlib" && callable.module !== "pathlib._local") ||
    !PATH_CLASSES.has(callable.name)
  ) {
    return undefined;
  }
  return value.args.every((arg) => typeof arg === "string" || arg instanceof PyStr)
    ? callable
    : undefined;
}

/**
 * The enum member a value is, or undefined. `getattr(Color, "GREEN")` is
 * one; so is a call of a class with one scalar argument (`Color(2)`, as
 * Python 3.12+ pickles members): the pickle does not say whether the class
 * is an Enum, and configs hold no other such calls.
 */
export function enumMember(value: unknown, enums: EnumLookup): EnumMember | undefined {
  if (!(value instanceof PyObject) || value.how !== "reduce") return undefined;
  const { callable, args } = value;
  if (callable === GETATTR) {
    const [type, name] = args;
    if (args.length !== 2 || !(type instanceof PyGlobal) || typeof name !== "string") {
      return undefined;
    }
    const fields = enums.fieldsOf(type);
    return { type, name, value: fields?.get(name), hasValue: fields?.has(name) ?? false };
  }
  if (!(callable instanceof PyGlobal) || args.length !== 1 || !isMemberCall(callable, args[0])) {
    return undefined;
  }
  const fields = enums.fieldsOf(callable);
  const name = fields === undefined ? undefined : memberName(fields, args[0]);
  return { type: callable, name, value: args[0], hasValue: true };
}

const NOT_ENUM_MODULES = new Set([
  "builtins",
  "pathlib",
  "pathlib._local",
  "collections",
  "_codecs",
]);

function isMemberCall(type: PyGlobal, arg: unknown): boolean {
  if (NOT_ENUM_MODULES.has(type.module) || type.module.startsWith("omegaconf")) return false;
  return arg === null || typeof arg === "string" || typeof arg === "number" ||
    typeof arg === "bigint" || typeof arg === "boolean" || arg instanceof PyFloat ||
    arg instanceof PyStr || arg instanceof Uint8Array || arg instanceof Tuple;
}

/** The name of the first member whose value equals `value` (Python's `Enum(value)`). */
export function memberName(fields: PyDict, value: unknown): string | undefined {
  for (const [name, member] of fields) {
    if (pyEquals(member, value)) return name as string;
  }
  return undefined;
}

/** Python `==` for the scalars enum values are: numbers across int/float/bool, strs, bytes, tuples. */
export function pyEquals(a: unknown, b: unknown): boolean {
  const x = numeric(a);
  const y = numeric(b);
  if (x !== undefined || y !== undefined) {
    if (x === undefined || y === undefined) return false;
    if (typeof x === "bigint" || typeof y === "bigint") {
      const big = (typeof x === "bigint" ? x : y) as bigint;
      const other = typeof x === "bigint" ? y : x;
      if (typeof other === "bigint") return other === big;
      return Number.isInteger(other) && BigInt(other) === big;
    }
    return x === y;
  }
  if (isStr(a) && isStr(b)) return String(a) === String(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }
  if (a instanceof Tuple && b instanceof Tuple) {
    return a.length === b.length && a.every((item, i) => pyEquals(item, b[i]));
  }
  return a === b;
}

function numeric(value: unknown): number | bigint | undefined {
  if (typeof value === "number" || typeof value === "bigint") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof PyFloat) return value.value;
  return undefined;
}

/** True for a Python str: a JS string or a `PyStr`. */
export function isStr(value: unknown): value is string | PyStr {
  return typeof value === "string" || value instanceof PyStr;
}

/** The Python type of `value`. */
export function pyKind(value: unknown, enums: EnumLookup): PyKind {
  switch (typeof value) {
    case "boolean":
      return "bool";
    case "number":
      return Number.isSafeInteger(value) ? "int" : "float";
    case "bigint":
      return "int";
    case "string":
      return "str";
  }
  if (value === null) return "NoneType";
  if (value instanceof PyFloat) return "float";
  if (value instanceof PyStr) return "str";
  if (value instanceof Uint8Array) return "bytes";
  if (value instanceof PyByteArray) return "bytearray";
  if (value instanceof Tuple) return "tuple";
  if (Array.isArray(value)) return "list";
  if (value instanceof PySet) return "set";
  if (value instanceof PyFrozenSet) return "frozenset";
  if (value instanceof PyObject) {
    if (value.callable === DICT_CONFIG) return "DictConfig";
    if (value.callable === LIST_CONFIG) return "ListConfig";
    if (pathClass(value) !== undefined) return "path";
    if (enumMember(value, enums) !== undefined) return "enum";
    return "object";
  }
  if (value instanceof PyDict || value instanceof Map || isPlainObject(value)) return "dict";
  return "object";
}

/** True for `{...}` object literals (and objects without a prototype). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The entries of a dict value: a `PyDict`, a Map or a plain object. */
export function dictEntries(value: unknown): [unknown, unknown][] {
  if (value instanceof PyDict || value instanceof Map) return [...value];
  return Object.entries(value as Record<string, unknown>);
}

/** `type(value).__name__`. */
export function typeName(value: unknown, enums: EnumLookup): string {
  const kind = pyKind(value, enums);
  switch (kind) {
    case "enum":
      return lastName(enumMember(value, enums)!.type);
    case "path":
      return pathClass(value)!.name === "WindowsPath" ? "WindowsPath" : "PosixPath";
    case "object":
      return value instanceof PyObject && value.callable instanceof PyGlobal
        ? lastName(value.callable)
        : "object";
    default:
      return kind;
  }
}

/** omegaconf's `type_str(type(value), include_module_name=True)`: the module for non-builtins. */
export function qualifiedTypeName(value: unknown, enums: EnumLookup): string {
  const kind = pyKind(value, enums);
  switch (kind) {
    case "enum":
      return enumMember(value, enums)!.type.path;
    case "path":
      return `pathlib.${typeName(value, enums)}`;
    case "object":
      return value instanceof PyObject && value.callable instanceof PyGlobal
        ? value.callable.path
        : "object";
    default:
      return kind;
  }
}

function lastName(type: PyGlobal): string {
  return type.name.slice(type.name.lastIndexOf(".") + 1);
}

/** The text of a path object: `str(PosixPath(*args))`. */
export function pathText(args: readonly unknown[]): string {
  const { root, parts } = pathParts(args.map(String));
  return root + parts.join("/") || ".";
}

/**
 * How `PosixPath(*args)` splits its arguments: a root (`"/"`, or `"//"` for
 * exactly two leading slashes) and the parts, without empty and `.` parts;
 * an absolute argument starts over.
 */
export function pathParts(args: readonly string[]): { root: string; parts: string[] } {
  let root = "";
  let parts: string[] = [];
  for (const arg of args) {
    if (arg.startsWith("/")) {
      root = arg.startsWith("//") && !arg.startsWith("///") ? "//" : "/";
      parts = [];
    }
    for (const part of arg.split("/")) if (part !== "" && part !== ".") parts.push(part);
  }
  return { root, parts };
}

/** Python's `str(value)`. */
export function pyStr(value: unknown, enums: EnumLookup): string {
  if (isStr(value)) return typeof value === "string" ? value : value.units;
  switch (pyKind(value, enums)) {
    case "enum": {
      const member = enumMember(value, enums)!;
      return member.name === undefined
        ? `${lastName(member.type)}(${pyRepr(member.value, enums)})`
        : `${lastName(member.type)}.${member.name}`;
    }
    case "path":
      return pathText((value as PyObject).args);
    case "DictConfig":
    case "ListConfig": {
      const content = configState(value)?.get("_content");
      return content instanceof PyDict || Array.isArray(content)
        ? pyRepr(content, enums, true)
        : pyStr(content, enums);
    }
    default:
      return pyRepr(value, enums);
  }
}

/** Python's `repr(value)`; `nodes` reads omegaconf nodes in containers as their values. */
export function pyRepr(value: unknown, enums: EnumLookup, nodes = false): string {
  if (nodes) value = nodeValue(value);
  const inner = (item: unknown) => pyRepr(item, enums, nodes);
  switch (typeof value) {
    case "string":
      return strRepr(value);
    case "boolean":
      return value ? "True" : "False";
    case "number":
      return Number.isSafeInteger(value) ? String(value) : floatRepr(value);
    case "bigint":
      return String(value);
  }
  if (value === null) return "None";
  if (value instanceof PyFloat) return floatRepr(value.value);
  if (value instanceof PyStr) return strRepr(value);
  if (value instanceof Uint8Array) return bytesRepr(value);
  if (value instanceof PyByteArray) return `bytearray(${bytesRepr(value.bytes)})`;
  if (value instanceof Tuple) {
    return value.length === 1 ? `(${inner(value[0])},)` : `(${value.map(inner).join(", ")})`;
  }
  if (Array.isArray(value)) return `[${value.map(inner).join(", ")}]`;
  if (value instanceof PySet) {
    return value.size === 0 ? "set()" : `{${[...value].map(inner).join(", ")}}`;
  }
  if (value instanceof PyFrozenSet) {
    return `frozenset(${value.size === 0 ? "" : `{${[...value].map(inner).join(", ")}}`})`;
  }
  const kind = pyKind(value, enums);
  if (kind === "enum") {
    const member = enumMember(value, enums)!;
    return member.name === undefined
      ? pyStr(value, enums)
      : `<${lastName(member.type)}.${member.name}: ${pyRepr(member.value, enums)}>`;
  }
  if (kind === "path") return `${typeName(value, enums)}(${strRepr(pyStr(value, enums))})`;
  if (kind === "DictConfig" || kind === "ListConfig") return pyStr(value, enums);
  if (kind === "dict") {
    const items = dictEntries(value).map(([k, v]) => `${inner(k)}: ${inner(v)}`);
    return `{${items.join(", ")}}`;
  }
  return value instanceof PyObject && value.callable instanceof PyGlobal
    ? `<${value.callable.path} object>`
    : String(value);
}

// The value an omegaconf node stands for in its container's str(): a value
// node's _val, a UnionNode's content; containers stay (their str is their content).
function nodeValue(value: unknown): unknown {
  if (!(value instanceof PyObject) || !(value.callable instanceof PyGlobal)) return value;
  const state = configState(value);
  if (state === undefined) return value;
  if (value.callable.module === "omegaconf.nodes") return state.get("_val");
  if (value.callable.path === "omegaconf.base.UnionNode") return nodeValue(state.get("_content"));
  return value;
}

function configState(value: unknown): PyDict<string, unknown> | undefined {
  return value instanceof PyObject && value.state instanceof PyDict
    ? value.state as PyDict<string, unknown>
    : undefined;
}
