// The omegaconf vectors (tests/fixtures/omegaconf_vectors.json, recorded by
// make_config_fixtures.py on the configs of omegaconf_cases.ckpt) and their
// replay through Config: edits run on fresh copies of the case configs and
// described the way the generator describes omegaconf's outcomes.
import assert from "node:assert/strict";
import { Config } from "../lib/migrate/config.ts";
import { ConfigError } from "../lib/migrate/config_error.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { pickle } from "../lib/pickle/pickler.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { PySet } from "../lib/pickle/py_set.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { floatRepr } from "../lib/pickle/py_float.ts";
import { fixture } from "./_migrate_cli.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Outcome = Record<string, Json>;
export type Edit = {
  op: "set" | "pop" | "delete";
  path: (string | number)[];
  value?: Json;
  default?: Json;
  options?: { openDict?: boolean; readWrite?: boolean };
};

/** The recorded vectors. */
export const vectors = JSON.parse(await Deno.readTextFile(fixture("omegaconf_vectors.json")));
/** The case configs, by name. */
const casesCkpt = await Checkpoint.open(fixture("omegaconf_cases.ckpt"));
export const cases = casesCkpt.root as PyDict<string, PyObject>;
casesCkpt.close();

// The enums of tests/fixtures/stubs/ckptkit_configs.py: member name -> value.
const ENUMS: Record<string, [string, unknown][]> = {
  Color: [["RED", 1], ["GREEN", 2], ["BLUE", 3]],
  Mode: [["fast", "f"], ["SLOW", "slow"]],
  Level: [["LOW", 1], ["HIGH", 10], ["DEFAULT", 1]],
};
const GETATTR = PyGlobal.of("builtins", "getattr");

/** A fresh copy of a case config (its own object graph). */
export function fresh(name: string): PyObject {
  const node = cases.get(name);
  assert.ok(node instanceof PyObject, `case ${name}`);
  return unpickle(pickle(node)) as PyObject;
}

/** An encoded value as the value model holds it; enum members in `form`. */
export function decode(value: Json, form: "getattr" | "call"): unknown {
  if (Array.isArray(value)) return value.map((item) => decode(item, form));
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : BigInt(value);
  if (value === null || typeof value !== "object") return value;
  const [[tag, body]] = Object.entries(value);
  switch (tag) {
    case "int": {
      const big = BigInt(body as string);
      return big >= -(2n ** 53n - 1n) && big <= 2n ** 53n - 1n ? Number(big) : big;
    }
    case "float":
      return new PyFloat(floatOf(body as string));
    case "bytes":
      return new Uint8Array((body as string).match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
    case "enum": {
      const [cls, name] = body as [string, string];
      const type = PyGlobal.of("ckptkit_configs", cls);
      if (form === "getattr") return new PyObject(GETATTR, Tuple.of(type, name), "reduce");
      const member = ENUMS[cls].find(([n]) => n === name)!;
      return new PyObject(type, Tuple.of(member[1]), "reduce");
    }
    case "path": {
      const text = body as string;
      const parts = text.split("/").filter((p) => p !== "" && p !== ".");
      const args = text.startsWith("/") ? ["/", ...parts] : parts;
      return new PyObject(PyGlobal.of("pathlib", "PosixPath"), Tuple.fromArray(args), "reduce");
    }
    case "tuple":
      return Tuple.fromArray((body as Json[]).map((item) => decode(item, form)));
    case "dict":
      return new PyDict(
        (body as [Json, Json][]).map(([k, v]) => [decode(k, form), decode(v, form)]),
      );
    case "set":
      return new PySet((body as Json[]).map((item) => decode(item, form)));
  }
  throw new Error(`unknown tag ${tag}`);
}

function floatOf(text: string): number {
  return text === "nan"
    ? NaN
    : text === "inf"
    ? Infinity
    : text === "-inf"
    ? -Infinity
    : Number(text);
}

/** A stored value (or node) encoded as the generator encodes Python values. */
export function encode(value: unknown): Json {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? value : { float: floatRepr(value) };
  }
  if (typeof value === "bigint") {
    return value >= -(2n ** 53n) && value <= 2n ** 53n ? Number(value) : { int: String(value) };
  }
  if (value instanceof PyFloat) return { float: floatRepr(value.value) };
  if (value instanceof Uint8Array) {
    return { bytes: [...value].map((b) => b.toString(16).padStart(2, "0")).join("") };
  }
  if (value instanceof Tuple) return { tuple: value.map(encode) };
  if (Array.isArray(value)) return value.map(encode);
  if (value instanceof PyObject) {
    const cls = value.className ?? "";
    const state = value.state as PyDict<string, unknown> | undefined;
    if (cls.startsWith("omegaconf.nodes.")) return encode(state!.get("_val"));
    if (cls === "omegaconf.base.UnionNode") return encode(state!.get("_content"));
    if (cls === "omegaconf.dictconfig.DictConfig" || cls === "omegaconf.listconfig.ListConfig") {
      const content = state!.get("_content");
      if (content instanceof PyDict) {
        return { dict: [...content].map(([k, v]) => [encode(k), encode(v)]) };
      }
      return Array.isArray(content) ? content.map(encode) : encode(content);
    }
    if (value.callable === GETATTR) {
      return { enum: [(value.args[0] as PyGlobal).name, value.args[1] as string] };
    }
    if (cls.startsWith("ckptkit_configs.")) {
      const name = cls.slice("ckptkit_configs.".length);
      return { enum: [name, ENUMS[name].find(([, v]) => v === value.args[0])![0]] };
    }
    if (cls === "pathlib.PosixPath") {
      const [first, ...rest] = value.args as string[];
      return {
        path: first === undefined
          ? "."
          : first.endsWith("/")
          ? first + rest.join("/")
          : [first, ...rest].join("/"),
      };
    }
  }
  if (value instanceof PyDict) return { dict: [...value].map(([k, v]) => [encode(k), encode(v)]) };
  // Sorted as the generator sorts set members (by repr; the tests' members are small ints).
  if (value instanceof PySet) return { set: [...value].map(encode).sort() };
  throw new Error(`cannot encode ${Deno.inspect(value)}`);
}

/** Python's type name of a stored value, as the generator records it. */
function typeLabel(node: PyObject): string {
  const state = node.state as PyDict<string, unknown>;
  const cls = node.className!.split(".").pop()!;
  if (cls === "UnionNode") {
    const content = state.get("_content");
    return content instanceof PyObject ? typeLabel(content) : valueType(content);
  }
  if (cls === "DictConfig" || cls === "ListConfig") {
    const content = state.get("_content");
    return content instanceof PyDict || Array.isArray(content) ? cls : valueType(content);
  }
  return valueType(state.get("_val"));
}

function valueType(value: unknown): string {
  if (value === null) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "string") return "str";
  if (typeof value === "bigint") return "int";
  if (typeof value === "number") return Number.isSafeInteger(value) ? "int" : "float";
  if (value instanceof PyFloat) return "float";
  if (value instanceof Uint8Array) return "bytes";
  if (value instanceof PySet) return "set";
  if (value instanceof Tuple) return "tuple";
  if (Array.isArray(value)) return "list";
  if (value instanceof PyObject) {
    if (value.callable === GETATTR) return (value.args[0] as PyGlobal).name;
    return value.className!.split(".").pop()!;
  }
  throw new Error(`unknown value ${Deno.inspect(value)}`);
}

function metadataOf(node: PyObject): PyDict<string, unknown> {
  return ((node.state as PyDict).get("_metadata") as PyObject).state as PyDict<string, unknown>;
}

function contentOf(node: PyObject): unknown {
  return (node.state as PyDict).get("_content");
}

function childOf(container: PyObject, key: string | number): PyObject | undefined {
  const content = contentOf(container);
  if (Array.isArray(content)) {
    const index = (key as number) < 0 ? content.length + (key as number) : key as number;
    return content[index] as PyObject | undefined;
  }
  const dict = content as PyDict;
  if (dict.has(key)) return dict.get(key) as PyObject;
  // A Dict[Color, ...] key named by the member's name, "Color.NAME" or value.
  for (const [k, v] of dict) {
    if (!(k instanceof PyObject)) continue;
    const [cls, name] = (encode(k) as { enum: [string, string] }).enum;
    const value = ENUMS[cls].find(([n]) => n === name)![1];
    if (key === name || key === `${cls}.${name}` || key === value) return v as PyObject;
  }
  return typeof key === "number" ? dict.get(String(key)) as PyObject | undefined : undefined;
}

function keysOf(container: PyObject): Json {
  const content = contentOf(container);
  if (Array.isArray(content)) return content.map((_, i) => i);
  return [...(content as PyDict).keys()].map(encode);
}

function navigate(root: PyObject, parts: (string | number)[]): PyObject {
  let node = root;
  for (const part of parts) node = childOf(node, part)!;
  return node;
}

/** Runs an edit through Config on a fresh copy of `caseName`; what happened, as recorded. */
export function replay(caseName: string, edit: Edit, form: "getattr" | "call"): Outcome {
  return run(caseName, edit, form).outcome;
}

/** Runs an edit through Config on a fresh copy of `caseName`: the copy, and what happened. */
export function run(
  caseName: string,
  edit: Edit,
  form: "getattr" | "call",
): { root: PyObject; outcome: Outcome } {
  const root = fresh(caseName);
  const container = navigate(root, edit.path.slice(0, -1));
  const key = edit.path[edit.path.length - 1];
  const before = pickle(root);
  const beforeKeys = JSON.stringify(keysOf(container));
  const beforeNode = childOf(container, key);
  let config = new Config(root);
  if (edit.options?.openDict) config = config.openDict();
  if (edit.options?.readWrite) config = config.readWrite();
  let result: Outcome;
  try {
    if (edit.op === "set") {
      // {"node": path}: the config at path, assigned as a config.
      const value = edit.value as { node?: (string | number)[] };
      config.set(
        edit.path,
        value !== null && typeof value === "object" && "node" in value
          ? config.get(value.node!)
          : decode(edit.value!, form),
      );
      const after = childOf(container, key)!;
      result = {
        node: after.className!.split(".").pop()!,
        same: after === beforeNode,
        optional: metadataOf(after).get("optional") as boolean,
        value: encode(after),
        type: typeLabel(after),
      };
      const cls = result.node;
      if (cls === "DictConfig" || cls === "ListConfig") {
        const objectType = metadataOf(after).get("object_type");
        result.object_type = objectType instanceof PyGlobal ? objectType.name : null;
      }
    } else if (edit.op === "pop") {
      const returned = "default" in edit
        ? config.pop(edit.path, decode(edit.default!, form))
        : config.pop(edit.path);
      result = {
        returned: returned instanceof Config
          ? {
            config: (returned.node as PyObject).className!.split(".").pop()!,
            content: encode(returned.node),
          }
          : encode(returned),
      };
    } else {
      result = { returned: config.delete(edit.path) };
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    assert.deepEqual(
      pickle(root),
      before,
      `${caseName} ${JSON.stringify(edit)}: refused but changed`,
    );
    return {
      root,
      outcome: { error: error.pythonError ?? "ckptkit", message: error.pythonMessage },
    };
  }
  const afterKeys = keysOf(container);
  if (JSON.stringify(afterKeys) !== beforeKeys) result.keys = afterKeys;
  return { root, outcome: result };
}

/** Why a mismatch is one of the documented differences, or undefined. */
export function deliberate(edit: Edit, want: Outcome, got: Outcome): string | undefined {
  if (want.error === "GrammarParseError" && got.error === "GrammarParseError") {
    return "GrammarParseError messages are ckptkit's own";
  }
  // Python 3.11 takes Level.HIGH (an IntEnum) as the int 10: str() "10",
  // True for a BooleanNode, looked up by value in other enums (Color(1)).
  if (
    JSON.stringify(edit.value ?? null).includes('"Level"') &&
    /Level/.test(JSON.stringify(got)) &&
    (/'10?'|value: 10?"|"value":"10?"|"type":"bool"/.test(JSON.stringify(want)) ||
      (!("error" in want) && "error" in got))
  ) {
    return "an IntEnum member is an int to Python; pickles do not say which enums are IntEnums";
  }
  // A member pickled as Color(2), or a new Color key, in a config without an
  // EnumNode of Color: the pickle does not say its name or members.
  if (/\b[A-Z]\w*\(\d+\)|no EnumNode of/.test(JSON.stringify(got))) {
    return "an enum's members are known only from an EnumNode of its class";
  }
  if (want.changed === true && got.error === want.error) {
    return "omegaconf leaves part of some refused edits in place; ckptkit changes nothing";
  }
  if (got.error === "ckptkit" && String(got.message).includes("node by node")) {
    return "ckptkit does not copy typed or nested configs into typed containers node by node";
  }
  const key = edit.path[edit.path.length - 1];
  if (
    edit.op === "pop" && (key === "interp" || key === "missing") &&
    (want.error === "MissingMandatoryValue" || "returned" in want) &&
    (got.returned === "???" || String(got.returned).startsWith("${"))
  ) {
    return "pop returns the value as stored; omegaconf resolves it";
  }
  return undefined;
}
