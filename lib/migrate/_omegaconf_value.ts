/**
 * omegaconf's value-node rules (`ValueNode._set_value` and each node's
 * `_validate_and_convert_impl`): what a FloatNode, IntegerNode, BooleanNode,
 * StringNode, EnumNode, PathNode, BytesNode or AnyNode stores for a value,
 * or the error omegaconf raises instead.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyFloat } from "../pickle/py_float.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import { interpolationProblem, isInterpolation } from "./_interpolation.ts";
import { OmegaError, substitute, UnsupportedEdit } from "./_omegaconf_error.ts";
import {
  type ConfigTree,
  flag,
  isOptional,
  refHint,
  stateOf,
  type ValueNodeClass,
} from "./_omegaconf_node.ts";
import { className, typeStr } from "./_omegaconf_types.ts";
import { pyFloat, pyInt } from "./_py_number.ts";
import {
  type EnumLookup,
  enumMember,
  isStr,
  memberName,
  pathParts,
  pyKind,
  pyStr,
  qualifiedTypeName,
  typeName,
} from "./_py_value.ts";

/** Where a value goes, for omegaconf's messages: its key and full key. */
export interface Place {
  /** The key (or list index) in its container. */
  key: unknown;
  /** omegaconf's full key from the config's root. */
  fullKey: string;
}

const POSIX_PATH = PyGlobal.of("pathlib", "PosixPath");
const PRIMITIVE_KINDS = new Set([
  "int",
  "float",
  "bool",
  "str",
  "bytes",
  "NoneType",
  "enum",
  "path",
]);
const TRUE_WORDS = new Set(["yes", "y", "on", "true"]);
const FALSE_WORDS = new Set(["no", "n", "off", "false"]);
// Python's float(int) raises OverflowError from 2**1024 - 2**970 on.
const FLOAT_LIMIT = 2n ** 1024n - 2n ** 970n;

/** The error omegaconf raises, its message template filled in for `value` at `place`. */
export function omegaError(
  pythonError: string,
  template: string,
  value: unknown,
  place: Place,
  enums: EnumLookup,
): OmegaError {
  const message = substitute(template, {
    VALUE: pyStr(value, enums),
    VALUE_TYPE: qualifiedTypeName(value, enums),
    KEY: place.key === undefined ? "None" : pyStr(place.key, enums),
    FULL_KEY: place.fullKey,
    KEY_TYPE: place.key === undefined ? "NoneType" : typeName(place.key, enums),
  });
  return new OmegaError(pythonError, message, place.fullKey);
}

/** True when omegaconf takes `value` as a primitive (AnyNode accepts it; `is_primitive_type`). */
export function isPrimitive(value: unknown, enums: EnumLookup): boolean {
  return PRIMITIVE_KINDS.has(pyKind(value, enums));
}

/** True for a str omegaconf stores as is in any node: "???" or an interpolation. */
export function isSpecialString(value: unknown): boolean {
  if (!isStr(value)) return false;
  const text = String(value);
  return text === "???" || isInterpolation(text);
}

/**
 * `ValueNode._set_value`: stores in the node's `_val` what omegaconf would
 * store for `value`, or throws its error, leaving the node as it was.
 * `readWrite` ignores the readonly flag (`read_write`).
 */
export function setValueNode(
  node: PyObject,
  cls: ValueNodeClass,
  value: unknown,
  tree: ConfigTree,
  place: Place,
  readWrite = false,
): void {
  if (!readWrite && flag(node, "readonly") === true) {
    throw omegaError(
      "ReadonlyConfigError",
      "Cannot set value of read-only config node",
      value,
      place,
      tree,
    );
  }
  const stored = validateValue(node, cls, value, tree, place);
  stateOf(node).set("_val", stored);
}

/** What the node would store for `value` (steps 2-5 of `_set_value`), or omegaconf's error. */
export function validateValue(
  node: PyObject,
  cls: ValueNodeClass,
  value: unknown,
  tree: ConfigTree,
  place: Place,
): unknown {
  if (isStr(value)) {
    const text = String(value);
    if (text === "???") return value;
    if (isInterpolation(text)) {
      const problem = interpolationProblem(text);
      if (problem !== undefined) {
        throw new OmegaError("GrammarParseError", problem, place.fullKey);
      }
      return value;
    }
  }
  const error = (pythonError: string, template: string) =>
    omegaError(pythonError, template, value, place, tree);
  if (value === null) {
    if (isOptional(node) || cls === "AnyNode") return null;
    throw error(
      "ValidationError",
      `Incompatible value 'None' for field of type '${typeStr(refHint(node))}'`,
    );
  }
  if (flag(node, "convert") === false) return strictValue(node, cls, value, tree, error);
  switch (cls) {
    case "AnyNode":
      if (flag(node, "allow_objects") !== true && !isPrimitive(value, tree)) {
        throw error(
          "UnsupportedValueType",
          `Value '${typeName(value, tree)}' is not a supported primitive type`,
        );
      }
      return value;
    case "FloatNode":
      return toFloat(value, tree, error);
    case "IntegerNode":
      return toInteger(value, tree, error);
    case "BooleanNode":
      return toBoolean(value, tree, error);
    case "StringNode":
      return toStr(value, tree, error);
    case "EnumNode":
      return toEnum(node, value, tree, error);
    case "PathNode": {
      const kind = pyKind(value, tree);
      if (kind !== "str" && kind !== "path") {
        throw error(
          "ValidationError",
          "Value '$VALUE' of type '$VALUE_TYPE' could not be converted to Path",
        );
      }
      return pathObject(kind === "str" ? [String(value)] : (value as PyObject).args.map(String));
    }
    case "BytesNode":
      if (!(value instanceof Uint8Array)) {
        throw error(
          "ValidationError",
          "Value '$VALUE' of type '$VALUE_TYPE' is not of type 'bytes'",
        );
      }
      return value;
  }
}

type ErrorMaker = (pythonError: string, template: string) => OmegaError;

// With the convert flag off (UnionNode members): the exact type or an error, no conversion.
function strictValue(
  node: PyObject,
  cls: ValueNodeClass,
  value: unknown,
  tree: ConfigTree,
  error: ErrorMaker,
): unknown {
  const kind = pyKind(value, tree);
  const hint = refHint(node);
  const incompatible = () =>
    error(
      "ValidationError",
      `Value '$VALUE' of type '$VALUE_TYPE' is incompatible with type hint '${
        typeStr(hint, isOptional(node))
      }'`,
    );
  switch (cls) {
    case "AnyNode":
      // typing.Any is a class from Python 3.11 on, so no value has exactly its type.
      throw incompatible();
    case "PathNode":
      if (kind !== "path") {
        throw error(
          "ValidationError",
          "Value '$VALUE' of type '$VALUE_TYPE' is not an instance of 'pathlib.Path'",
        );
      }
      return value;
    case "EnumNode":
      if (memberOf(node, value, tree) === undefined) throw incompatible();
      return value;
    default: {
      const wanted: Record<string, string> = {
        FloatNode: "float",
        IntegerNode: "int",
        BooleanNode: "bool",
        StringNode: "str",
        BytesNode: "bytes",
      };
      if (kind !== wanted[cls]) throw incompatible();
      return kind === "float" && typeof value === "number" ? new PyFloat(value) : value;
    }
  }
}

function toFloat(value: unknown, tree: ConfigTree, error: ErrorMaker): PyFloat {
  const kind = pyKind(value, tree);
  if (kind === "float") return value instanceof PyFloat ? value : new PyFloat(value as number);
  if (kind === "int") {
    if (typeof value === "bigint" && (value >= FLOAT_LIMIT || value <= -FLOAT_LIMIT)) {
      throw error("OverflowError", "int too large to convert to float");
    }
    // The int -0 is 0, whose float is 0.0.
    return new PyFloat(value === 0 ? 0 : Number(value));
  }
  if (kind === "str") {
    const parsed = pyFloat(String(value));
    if (parsed !== undefined) return new PyFloat(parsed);
  }
  throw error(
    "ValidationError",
    "Value '$VALUE' of type '$VALUE_TYPE' could not be converted to Float",
  );
}

function toInteger(value: unknown, tree: ConfigTree, error: ErrorMaker): number | bigint {
  const kind = pyKind(value, tree);
  if (kind === "int") return value as number | bigint;
  if (kind === "str") {
    const parsed = pyInt(String(value));
    if (parsed !== undefined) return intValue(parsed);
  }
  throw error(
    "ValidationError",
    "Value '$VALUE' of type '$VALUE_TYPE' could not be converted to Integer",
  );
}

/** A Python int as the value model holds it: a number when safe, else a bigint. */
export function intValue(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

function toBoolean(value: unknown, tree: ConfigTree, error: ErrorMaker): boolean {
  const kind = pyKind(value, tree);
  if (kind === "bool") return value as boolean;
  // An IntEnum member is an int to Python, but the pickle does not say
  // which enums are IntEnums: members are refused like other enums'.
  if (kind === "int") return value !== 0 && value !== 0n;
  if (kind === "str") {
    const text = String(value);
    const parsed = pyInt(text);
    if (parsed !== undefined) return parsed !== 0n;
    const lower = text.toLowerCase();
    if (TRUE_WORDS.has(lower)) return true;
    if (FALSE_WORDS.has(lower)) return false;
  }
  throw error("ValidationError", "Value '$VALUE' is not a valid bool (type $VALUE_TYPE)");
}

function toStr(value: unknown, tree: ConfigTree, error: ErrorMaker): string {
  const kind = pyKind(value, tree);
  if (
    kind === "DictConfig" || kind === "ListConfig" || kind === "list" || kind === "tuple" ||
    kind === "dict" || kind === "bytes"
  ) {
    throw error("ValidationError", "Cannot convert '$VALUE_TYPE' to string: '$VALUE'");
  }
  if (kind === "str") return String(value);
  if (kind === "enum" && enumMember(value, tree)!.name === undefined) {
    throw new UnsupportedEdit(
      `the name of enum member ${pyStr(value, tree)} is unknown (no EnumNode of its class)`,
    );
  }
  if (kind === "object") {
    throw new UnsupportedEdit(`Python's str() of ${qualifiedTypeName(value, tree)} is unknown`);
  }
  return pyStr(value, tree);
}

/** The member of the node's enum a value is (as given), or undefined. */
function memberOf(node: PyObject, value: unknown, tree: ConfigTree): PyObject | undefined {
  const member = enumMember(value, tree);
  const enumType = stateOf(node).get("enum_type");
  const fields = stateOf(node).get("fields");
  if (member === undefined || member.type !== enumType || !(fields instanceof PyDict)) {
    return undefined;
  }
  const known = member.name !== undefined
    ? fields.has(member.name)
    : memberName(fields, member.value) !== undefined;
  return known ? value as PyObject : undefined;
}

function toEnum(node: PyObject, value: unknown, tree: ConfigTree, error: ErrorMaker): unknown {
  const state = stateOf(node);
  const enumType = state.get("enum_type");
  const fields = state.get("fields");
  if (!(enumType instanceof PyGlobal) || !(fields instanceof PyDict)) {
    throw new UnsupportedEdit("the EnumNode has no enum_type and fields");
  }
  const member = memberOf(node, value, tree);
  if (member !== undefined) return member;
  const kind = pyKind(value, tree);
  const name = className(enumType);
  if (kind !== "str" && kind !== "int" && kind !== "bool") {
    throw error(
      "ValidationError",
      `Value $VALUE ($VALUE_TYPE) is not a valid input for <enum '${name}'>`,
    );
  }
  let found: string | undefined;
  if (kind === "int") found = memberName(fields, value);
  if (kind === "str") {
    const text = String(value);
    const bare = text.startsWith(`${name}.`) ? text.slice(name.length + 1) : text;
    if (fields.has(bare)) found = bare;
  }
  if (found === undefined) {
    const valid = [...fields.keys()].join(", ");
    throw error("ValidationError", `Invalid value '$VALUE', expected one of [${valid}]`);
  }
  // Enum(value) loads on every Python (3.11 pickles getattr(Enum, name) too).
  return new PyObject(enumType, Tuple.of(fields.get(found)), "reduce");
}

/** A `pathlib.PosixPath` object as CPython up to 3.12 pickles it: one argument per part. */
export function pathObject(args: readonly string[]): PyObject {
  const { root, parts } = pathParts(args);
  const all = root === "" ? parts : [root, ...parts];
  return new PyObject(POSIX_PATH, Tuple.fromArray(all), "reduce");
}
