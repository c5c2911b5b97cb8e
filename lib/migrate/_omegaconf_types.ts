/**
 * The type annotations omegaconf pickles in node metadata (`ref_type`,
 * `key_type`, `element_type`): globals such as `builtins.float`, and
 * `_operator.getitem(typing.List, int)`-style reduce calls for generic
 * ones. Parsed into {@linkcode TypeHint}s, named as omegaconf's `type_str`
 * names them, and written back as pickled objects.
 *
 * @module
 */

import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";

/** A parsed annotation; `raw` is the pickled object it came from, written back as is. */
export type TypeHint =
  | { kind: "any" | "none" | "ellipsis" }
  | { kind: "int" | "float" | "bool" | "str" | "bytes" | "path"; raw: unknown }
  | { kind: "class"; type: PyGlobal }
  | { kind: "list"; element: TypeHint; tuple: Tuple | undefined; raw: unknown }
  | { kind: "dict"; key: TypeHint; value: TypeHint; raw: unknown }
  | { kind: "union"; members: TypeHint[]; raw: unknown }
  | { kind: "unknown"; raw: unknown };

export const TYPING_ANY: PyGlobal = PyGlobal.of("typing", "Any");
export const TYPING_LIST: PyGlobal = PyGlobal.of("typing", "List");
export const TYPING_DICT: PyGlobal = PyGlobal.of("typing", "Dict");
const GETITEM = PyGlobal.of("_operator", "getitem");
const BUILTIN_TYPE = PyGlobal.of("builtins", "type");

const ANY: TypeHint = { kind: "any" };
const SCALARS = new Map<string, "int" | "float" | "bool" | "str" | "bytes">([
  ["builtins.int", "int"],
  ["builtins.float", "float"],
  ["builtins.bool", "bool"],
  ["builtins.str", "str"],
  ["builtins.bytes", "bytes"],
]);
const PATHS = new Set(["pathlib.Path", "pathlib._local.Path"]);

/** The annotation a pickled type object stands for. */
export function parseHint(raw: unknown): TypeHint {
  if (raw instanceof PyGlobal) {
    const scalar = SCALARS.get(raw.path);
    if (scalar !== undefined) return { kind: scalar, raw };
    if (PATHS.has(raw.path)) return { kind: "path", raw };
    switch (raw.path) {
      case "typing.Any":
        return ANY;
      case "builtins.Ellipsis":
        return { kind: "ellipsis" };
      case "typing.List":
      case "builtins.list":
        return { kind: "list", element: ANY, tuple: undefined, raw };
      case "typing.Tuple":
      case "builtins.tuple":
        return { kind: "list", element: ANY, tuple: Tuple.of(), raw };
      case "typing.Dict":
      case "builtins.dict":
        return { kind: "dict", key: ANY, value: ANY, raw };
    }
    return raw.module === "typing" ? { kind: "unknown", raw } : { kind: "class", type: raw };
  }
  if (!(raw instanceof PyObject) || raw.how !== "reduce") return { kind: "unknown", raw };
  if (raw.callable === BUILTIN_TYPE && raw.args.length === 1 && raw.args[0] === null) {
    return { kind: "none" };
  }
  if (raw.callable !== GETITEM || raw.args.length !== 2) return { kind: "unknown", raw };
  const [origin, args] = raw.args;
  const items = args instanceof Tuple ? [...args] : [args];
  if (!(origin instanceof PyGlobal)) return { kind: "unknown", raw };
  switch (origin.path) {
    case "typing.List":
    case "builtins.list":
      return { kind: "list", element: parseHint(items[0]), tuple: undefined, raw };
    case "typing.Tuple":
    case "builtins.tuple":
      return {
        kind: "list",
        element: parseHint(items[0]),
        tuple: Tuple.fromArray(items),
        raw,
      };
    case "typing.Dict":
    case "builtins.dict":
      return items.length === 2
        ? { kind: "dict", key: parseHint(items[0]), value: parseHint(items[1]), raw }
        : { kind: "unknown", raw };
    case "typing.Union":
      return { kind: "union", members: items.map(parseHint), raw };
    case "typing.Optional":
      return { kind: "union", members: [parseHint(items[0]), { kind: "none" }], raw };
  }
  return { kind: "unknown", raw };
}

/**
 * omegaconf's `_resolve_optional`: whether the annotation allows None, and
 * the annotation without the None (Any allows None).
 */
export function resolveOptional(hint: TypeHint): { optional: boolean; hint: TypeHint } {
  if (hint.kind === "any" || hint.kind === "none") return { optional: true, hint };
  if (hint.kind !== "union") return { optional: false, hint };
  const rest = hint.members.filter((member) => member.kind !== "none");
  const optional = rest.length < hint.members.length;
  if (rest.length === 1) return { optional, hint: rest[0] };
  return { optional, hint: optional ? { kind: "union", members: rest, raw: undefined } : hint };
}

/**
 * omegaconf's `type_str`: `float`, `Dict[str, float]`, `Optional[Inner]`,
 * `Union[int, str]`; the module before classes when `withModule`.
 * `optional` names `Optional[hint]` (a node's `type_hint` when its metadata
 * says optional).
 */
export function typeStr(hint: TypeHint, optional = false, withModule = false): string {
  const resolved = resolveOptional(hint);
  const bare = resolved.hint;
  if (bare.kind === "none") return "NoneType";
  if (bare.kind === "any") return "Any";
  if (bare.kind === "ellipsis") return "...";
  const text = bareTypeStr(bare, withModule);
  return optional || resolved.optional ? `Optional[${text}]` : text;
}

function bareTypeStr(hint: TypeHint, withModule: boolean): string {
  const inner = (h: TypeHint) => typeStr(h, false, withModule);
  switch (hint.kind) {
    case "any":
      return "Any";
    case "none":
      return "NoneType";
    case "ellipsis":
      return "...";
    case "path":
      return withModule ? "pathlib.Path" : "Path";
    case "int":
    case "float":
    case "bool":
    case "str":
    case "bytes":
      return hint.kind;
    case "class":
      return withModule ? hint.type.path : className(hint.type);
    case "list":
      if (hint.tuple !== undefined) {
        return hint.tuple.length === 0
          ? "Tuple"
          : `Tuple[${[...hint.tuple].map((t) => inner(parseHint(t))).join(", ")}]`;
      }
      return `List[${inner(hint.element)}]`;
    case "dict":
      return `Dict[${inner(hint.key)}, ${inner(hint.value)}]`;
    case "union":
      return `Union[${hint.members.map(inner).join(", ")}]`;
    case "unknown":
      return hint.raw instanceof PyGlobal ? hint.raw.name : String(hint.raw);
  }
}

/** The last part of a class's qualified name (`__name__`). */
export function className(type: PyGlobal): string {
  return type.name.slice(type.name.lastIndexOf(".") + 1);
}

/**
 * The pickled object of an annotation: the global or reduce call it was
 * read from, or the global of a scalar, path or Any.
 */
export function pickledHint(hint: TypeHint): unknown {
  switch (hint.kind) {
    case "any":
      return TYPING_ANY;
    case "class":
      return hint.type;
    case "none":
      return new PyObject(BUILTIN_TYPE, Tuple.of(null), "reduce");
    case "ellipsis":
      return PyGlobal.of("builtins", "Ellipsis");
    default:
      return hint.raw;
  }
}

/**
 * The `ref_type` omegaconf pickles for a container of this annotation: bare
 * `typing.List`/`typing.Dict` (it rebuilds the arguments from `key_type` and
 * `element_type` on load), other annotations as they are.
 */
export function pickledContainerRef(hint: TypeHint): unknown {
  if (hint.kind === "list" && hint.tuple === undefined) return TYPING_LIST;
  if (hint.kind === "dict") return TYPING_DICT;
  return pickledHint(hint);
}

/**
 * The annotation of a container from its pickled metadata: a bare
 * `typing.List`/`typing.Dict` ref_type gets its arguments back from
 * `key_type` and `element_type`.
 */
export function containerHint(refType: unknown, keyType: unknown, elementType: unknown): TypeHint {
  const hint = parseHint(refType);
  if (hint.kind === "list" && hint.tuple === undefined && !(hint.raw instanceof PyObject)) {
    return { ...hint, element: parseHint(elementType) };
  }
  if (hint.kind === "dict" && !(hint.raw instanceof PyObject)) {
    return { ...hint, key: parseHint(keyType), value: parseHint(elementType) };
  }
  return hint;
}
