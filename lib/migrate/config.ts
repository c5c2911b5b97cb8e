/**
 * Reading and editing the training config a checkpoint stores in
 * `hyper_parameters.config`: an omegaconf `DictConfig` or a schema object,
 * kept as the pickle describes them.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyFloat } from "../pickle/py_float.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { PySet } from "../pickle/py_set.ts";
import { Tuple } from "../pickle/tuple.ts";
import { MigrationError } from "./migration_error.ts";

/**
 * A path into a config: `"model.processor.num_layers"`, a list index, or the
 * parts (`["hidden", 0]`, for keys that contain dots).
 */
export type ConfigPath = string | number | readonly (string | number)[];

/**
 * The shape of a config node: an omegaconf `"dictconfig"` or `"listconfig"`,
 * a `"schema"` object (pydantic-like: fields in its BUILD state, or in the
 * state's `__dict__`), or a plain `"dict"` or `"list"`.
 */
export type ConfigKind = "dictconfig" | "listconfig" | "schema" | "dict" | "list";

const DICT_CONFIG = PyGlobal.of("omegaconf.dictconfig", "DictConfig");
const LIST_CONFIG = PyGlobal.of("omegaconf.listconfig", "ListConfig");
const ANY_NODE = PyGlobal.of("omegaconf.nodes", "AnyNode");
const METADATA = PyGlobal.of("omegaconf.base", "Metadata");
const CONTAINER_METADATA = PyGlobal.of("omegaconf.base", "ContainerMetadata");
const TYPING_ANY = PyGlobal.of("typing", "Any");
const DEFAULTDICT = PyGlobal.of("collections", "defaultdict");
const BUILTIN_DICT = PyGlobal.of("builtins", "dict");
const BUILTIN_LIST = PyGlobal.of("builtins", "list");
const BUILTIN_INT = PyGlobal.of("builtins", "int");

/**
 * A view of a config container that reads and writes it the way omegaconf
 * (or the schema class) would: new `DictConfig` keys become `AnyNode`
 * children with their metadata and parent set, new dicts and lists become
 * `DictConfig`/`ListConfig` nodes, and a value assigned over an existing
 * value node replaces its `_val` in place. Values come back plain (`_val`);
 * containers come back as `Config`. Interpolations such as
 * `"${training.lr}"` are returned as written, not resolved.
 *
 * Python to TypeScript:
 * `ckpt["hyper_parameters"]["config"].model.processor.num_layers` is
 * `Config.of(ckpt).get("model.processor.num_layers")`;
 * `training.pop("swa", None)` is `training.pop("swa", null)`;
 * `training.weight_averaging = None` is `training.set("weight_averaging", null)`.
 *
 * @example Read and edit a DictConfig
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, Config, type CkptType } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/training.ckpt");
 * const config = Config.of(ckpt.root as CkptType);
 * assert.equal(config.get("model.processor.num_layers"), 4);
 * const training = config.at("training");
 * training.set("weight_averaging", null);
 * assert.equal(training.pop("epochs"), 3);
 * assert.deepEqual(training.keys(), ["lr", "warmup_lr", "amp", "betas", "weight_averaging"]);
 * ckpt.close();
 * ```
 */
export class Config {
  /** The wrapped node: a `PyObject` (DictConfig, ListConfig, schema), a `PyDict` or an array. */
  readonly node: unknown;
  /** Its shape. */
  readonly kind: ConfigKind;

  /** Wraps a container node; throws {@linkcode MigrationError} for anything else. */
  constructor(node: unknown) {
    const kind = kindOf(node);
    if (kind === undefined) {
      throw new MigrationError(`Cannot read config: ${describe(node)} is not a config container`);
    }
    this.node = node;
    this.kind = kind;
  }

  /** The config of a training checkpoint: `root["hyper_parameters"]["config"]`. */
  static of(root: PyDict): Config {
    const hyperParameters = root.get("hyper_parameters");
    if (!(hyperParameters instanceof PyDict) || !hyperParameters.has("config")) {
      throw new MigrationError("Cannot read config: the checkpoint has no hyper_parameters.config");
    }
    return new Config(hyperParameters.get("config"));
  }

  /** True when `path` names an existing entry. */
  has(path: ConfigPath): boolean {
    const [parent, key] = this.#parentOf(path, false);
    return parent !== undefined && parent.#hasKey(key);
  }

  /**
   * The value at `path`: plain for values, a `Config` for containers.
   * Throws {@linkcode MigrationError} when it is missing, unless `fallback` is given.
   */
  get(path: ConfigPath, ...fallback: [unknown?]): unknown {
    const [parent, key] = this.#parentOf(path, fallback.length === 0);
    if (parent === undefined || !parent.#hasKey(key)) {
      if (fallback.length > 0) return fallback[0];
      throw new MigrationError(`Cannot read config: ${showPath(path)} is missing`);
    }
    return present(parent.#rawGet(key));
  }

  /** The container at `path` as a `Config`; throws when it is missing or not a container. */
  at(path: ConfigPath): Config {
    const value = this.get(path);
    if (!(value instanceof Config)) {
      throw new MigrationError(`Cannot read config: ${showPath(path)} is ${describe(value)}`);
    }
    return value;
  }

  /**
   * Sets `path` (its parent must exist) to `value`: a JS value (`null` for
   * None, objects/Maps/PyDicts become dicts, arrays lists) or a `Config`,
   * whose node moves here.
   */
  set(path: ConfigPath, value: unknown): this {
    const [parent, key] = this.#parentOf(path, true);
    parent!.#rawSet(key, value);
    return this;
  }

  /**
   * Removes `path` and returns its value (plain, or a `Config`). Throws when
   * it is missing, unless `fallback` is given.
   */
  pop(path: ConfigPath, ...fallback: [unknown?]): unknown {
    const [parent, key] = this.#parentOf(path, fallback.length === 0);
    if (parent === undefined || !parent.#hasKey(key)) {
      if (fallback.length > 0) return fallback[0];
      throw new MigrationError(`Cannot edit config: ${showPath(path)} is missing`);
    }
    const value = present(parent.#rawGet(key));
    parent.#rawDelete(key);
    return value;
  }

  /** Removes `path`; returns whether it was there. */
  delete(path: ConfigPath): boolean {
    const [parent, key] = this.#parentOf(path, false);
    if (parent === undefined || !parent.#hasKey(key)) return false;
    parent.#rawDelete(key);
    return true;
  }

  /** The keys (indices for lists), in order. */
  keys(): (string | number)[] {
    const items = this.#items();
    if (Array.isArray(items)) return items.map((_, i) => i);
    return items === undefined ? [] : [...items.keys()] as (string | number)[];
  }

  /** Number of entries. */
  get length(): number {
    return this.keys().length;
  }

  /** The entries as `[key, value]` pairs, values as {@linkcode Config.get} returns them. */
  entries(): [string | number, unknown][] {
    return this.keys().map((key) => [key, present(this.#rawGet(key))]);
  }

  /**
   * A plain JS copy (objects, arrays, primitives; PyFloat as number), for
   * reading and comparing. Dict keys become object keys.
   */
  toPlain(): unknown {
    const items = this.#items();
    if (items === undefined) return rawContent(this.node);
    if (Array.isArray(items)) return items.map((_, i) => plain(present(this.#rawGet(i))));
    const object: Record<string, unknown> = {};
    for (const key of items.keys()) object[String(key)] = plain(present(this.#rawGet(key)));
    return object;
  }

  // The key/value store of this container: a PyDict of fields or nodes, or
  // an array; undefined for a DictConfig/ListConfig whose content is None
  // or a string ("???", an interpolation).
  #items(): PyDict | unknown[] | undefined {
    switch (this.kind) {
      case "dictconfig":
      case "listconfig": {
        const content = omegaState(this.node).get("_content");
        return content instanceof PyDict || Array.isArray(content) ? content : undefined;
      }
      case "schema":
        return schemaFields(this.node as PyObject);
      case "dict":
        return this.node as PyDict;
      case "list":
        return this.node as unknown[];
    }
  }

  #writableItems(): PyDict | unknown[] {
    const items = this.#items();
    if (items !== undefined) return items;
    // A DictConfig/ListConfig set to None: it gets content again.
    const content = this.kind === "listconfig" ? [] : new PyDict();
    omegaState(this.node).set("_content", content);
    return content;
  }

  #hasKey(key: string | number): boolean {
    const items = this.#items();
    if (items === undefined) return false;
    if (Array.isArray(items)) return typeof key === "number" && indexIn(items, key) !== undefined;
    return items.has(dictKey(items, key));
  }

  #rawGet(key: unknown): unknown {
    const items = this.#items()!;
    if (Array.isArray(items)) return items[indexIn(items, key as number)!];
    return items.get(dictKey(items, key));
  }

  #rawDelete(key: string | number): void {
    const items = this.#items()!;
    if (Array.isArray(items)) {
      items.splice(indexIn(items, key as number)!, 1);
      if (this.kind === "listconfig") items.forEach((node, i) => setNodeKey(node, i));
      return;
    }
    items.delete(dictKey(items, key));
    if (this.kind === "schema") pydanticFieldsSet(this.node as PyObject)?.delete(key);
  }

  #rawSet(key: string | number, value: unknown): void {
    if (value === undefined) {
      throw new MigrationError("Cannot edit config: undefined is not a value (use null for None)");
    }
    const items = this.#writableItems();
    let index: number | string | unknown = key;
    if (Array.isArray(items)) {
      if (typeof key !== "number") {
        throw new MigrationError(`Cannot edit config: list index '${key}' is not a number`);
      }
      index = key === items.length ? key : indexIn(items, key);
      if (index === undefined) {
        throw new MigrationError(`Cannot edit config: index ${key} is out of range`);
      }
    } else {
      index = dictKey(items, key);
      // A new key from a dotted path such as "a.0" is the string "0".
      if (typeof index === "number" && !items.has(index)) index = String(index);
    }
    if (this.kind === "dictconfig" || this.kind === "listconfig") {
      const existing = Array.isArray(items) ? items[index as number] : (items as PyDict).get(index);
      if (isValueNode(existing) && isScalar(value)) {
        omegaState(existing).set("_val", value);
        return;
      }
      const node = toNode(value, index as string | number, this.node, templateOf(this.node));
      if (Array.isArray(items)) items[index as number] = node;
      else (items as PyDict).set(index, node);
      return;
    }
    const converted = value instanceof Config ? value.node : toPython(value);
    if (Array.isArray(items)) items[index as number] = converted;
    else (items as PyDict).set(index, converted);
    if (this.kind === "schema") pydanticFieldsSet(this.node as PyObject)?.add(index);
  }

  // The container holding the last part of `path`, and that part.
  #parentOf(path: ConfigPath, strict: boolean): [Config | undefined, string | number] {
    const parts = splitPath(path);
    let current: Config | undefined;
    for (let i = 0; i < parts.length - 1; i++) {
      const key = parts[i];
      const container: Config = current ?? this;
      const next = container.#hasKey(key) ? present(container.#rawGet(key)) : undefined;
      if (!(next instanceof Config)) {
        if (!strict) return [undefined, parts[parts.length - 1]];
        const where = showPath(parts.slice(0, i + 1));
        throw new MigrationError(
          next === undefined
            ? `Cannot use config path ${showPath(path)}: ${where} is missing`
            : `Cannot use config path ${showPath(path)}: ${where} is ${describe(next)}`,
        );
      }
      current = next;
    }
    return [current ?? this, parts[parts.length - 1]];
  }
}

// Dict subclasses that reach configs; other reduced objects count as dicts only with items.
const DICT_CLASSES = new Set([
  "collections.OrderedDict",
  "collections.defaultdict",
  "pytorch_lightning.utilities.parsing.AttributeDict",
  "lightning_fabric.utilities.data.AttributeDict",
  "lightning.fabric.utilities.data.AttributeDict",
]);

function kindOf(node: unknown): ConfigKind | undefined {
  if (node instanceof PyObject) {
    if (node.callable === DICT_CONFIG) return "dictconfig";
    if (node.callable === LIST_CONFIG) return "listconfig";
    if (node.size > 0 || DICT_CLASSES.has(node.className ?? "")) return "dict";
    if (node.state instanceof PyDict && !isValueNode(node)) return "schema";
    return undefined;
  }
  if (node instanceof PyDict) return "dict";
  if (Array.isArray(node) && !(node instanceof Tuple)) return "list";
  return undefined;
}

// What a stored entry reads as: a value node's `_val`, a container wrapped.
function present(stored: unknown): unknown {
  if (isValueNode(stored)) return omegaState(stored).get("_val");
  if (
    stored instanceof PyObject &&
    (stored.callable === DICT_CONFIG || stored.callable === LIST_CONFIG)
  ) {
    const content = omegaState(stored).get("_content");
    // None and "???"/interpolations read as themselves.
    if (!(content instanceof PyDict) && !Array.isArray(content)) return content;
    return new Config(stored);
  }
  return kindOf(stored) === undefined ? stored : new Config(stored);
}

function isValueNode(node: unknown): node is PyObject {
  return node instanceof PyObject && node.callable instanceof PyGlobal &&
    node.callable.module === "omegaconf.nodes" && node.state instanceof PyDict;
}

function omegaState(node: unknown): PyDict<string, unknown> {
  const state = (node as PyObject).state;
  if (!(state instanceof PyDict)) {
    throw new MigrationError(`Cannot read config: ${describe(node)} has no state`);
  }
  return state as PyDict<string, unknown>;
}

function rawContent(node: unknown): unknown {
  return node instanceof PyObject && node.state instanceof PyDict
    ? node.state.get("_content")
    : undefined;
}

function schemaFields(node: PyObject): PyDict {
  const state = node.state as PyDict;
  const inner = state.get("__dict__");
  return inner instanceof PyDict ? inner : state;
}

function pydanticFieldsSet(node: PyObject): PySet | undefined {
  const state = node.state as PyDict;
  if (!(state.get("__dict__") instanceof PyDict)) return undefined;
  const fieldsSet = state.get("__pydantic_fields_set__") ?? state.get("__fields_set__");
  return fieldsSet instanceof PySet ? fieldsSet : undefined;
}

// Dict keys are strings; a numeric path part also finds an int key.
function dictKey(items: PyDict, key: unknown): unknown {
  if (items.has(key)) return key;
  if (typeof key === "string" && /^-?\d+$/.test(key) && items.has(Number(key))) return Number(key);
  if (typeof key === "number" && items.has(String(key))) return String(key);
  return key;
}

function indexIn(items: unknown[], key: number): number | undefined {
  if (!Number.isInteger(key)) return undefined;
  const index = key < 0 ? items.length + key : key;
  return index >= 0 && index < items.length ? index : undefined;
}

function splitPath(path: ConfigPath): (string | number)[] {
  const parts = typeof path === "string"
    ? path.split(".").map((part) => (/^\d+$/.test(part) ? Number(part) : part))
    : typeof path === "number"
    ? [path]
    : [...path];
  if (parts.length === 0 || parts.some((part) => part === "")) {
    throw new MigrationError(`Cannot use config path '${showPath(path)}': it has an empty part`);
  }
  return parts;
}

function showPath(path: ConfigPath): string {
  return typeof path === "object" ? path.join(".") : String(path);
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value === "string" || typeof value === "number" ||
    typeof value === "boolean" || typeof value === "bigint" || value instanceof PyFloat;
}

function describe(value: unknown): string {
  if (value === null) return "None";
  if (value instanceof Config) return `a ${value.kind}`;
  if (value instanceof PyObject) return `a ${value.className ?? "object"}`;
  if (value instanceof PyDict) return "a dict";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

/** Converts a JS value to the value model: objects and Maps to dicts, arrays to lists. */
function toPython(value: unknown): unknown {
  if (value instanceof Config) return value.node;
  if (value instanceof Map) {
    return new PyDict([...value].map(([k, v]) => [k, toPython(v)] as [unknown, unknown]));
  }
  if (Array.isArray(value) && !(value instanceof Tuple)) return value.map(toPython);
  if (isPlainObject(value)) {
    return new PyDict(Object.entries(value).map(([k, v]) => [k, toPython(v)] as [string, unknown]));
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function plain(value: unknown): unknown {
  if (value instanceof Config) return value.toPlain();
  if (value instanceof PyFloat) return value.value;
  if (value instanceof PyDict && !(value instanceof PyObject)) {
    return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v)]));
  }
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

// ---- writing omegaconf nodes -------------------------------------------

interface Templates {
  value: PyDict | undefined;
  container: PyDict | undefined;
}

// Metadata states already in the tree, so new nodes carry the same fields as
// the omegaconf version that wrote the checkpoint.
function templateOf(node: unknown): Templates {
  const found: Templates = { value: undefined, container: undefined };
  const seen = new Set<unknown>();
  let root = node;
  while (root instanceof PyObject && root.state instanceof PyDict) {
    const parent = root.state.get("_parent");
    if (!(parent instanceof PyObject) || seen.has(parent)) break;
    seen.add(parent);
    root = parent;
  }
  const stack = [root];
  seen.clear();
  while (stack.length > 0 && (found.value === undefined || found.container === undefined)) {
    const current = stack.pop();
    if (!(current instanceof PyObject) || seen.has(current)) continue;
    seen.add(current);
    const state = current.state;
    if (!(state instanceof PyDict)) continue;
    const metadata = state.get("_metadata");
    if (metadata instanceof PyObject && metadata.state instanceof PyDict) {
      if (metadata.callable === METADATA) found.value ??= metadata.state;
      if (metadata.callable === CONTAINER_METADATA) found.container ??= metadata.state;
    }
    const content = state.get("_content");
    if (content instanceof PyDict) stack.push(...content.values());
    else if (Array.isArray(content)) stack.push(...content);
  }
  return found;
}

function toNode(
  value: unknown,
  key: string | number,
  parent: unknown,
  templates: Templates,
): PyObject {
  if (value instanceof Config) {
    const node: PyObject = value.kind === "dictconfig" || value.kind === "listconfig"
      ? value.node as PyObject
      : toNode(value.toPlain(), key, parent, templates);
    const state = omegaState(node);
    state.set("_parent", parent);
    setNodeKey(node, key);
    return node;
  }
  const converted = value instanceof PyDict && !(value instanceof PyObject)
    ? value
    : toPython(value);
  if (converted instanceof PyDict && !(converted instanceof PyObject)) {
    const node = new PyObject(DICT_CONFIG, Tuple.of(), "newobj");
    const content = new PyDict();
    node.state = new PyDict<string, unknown>([
      ["_metadata", metadataObject(true, key, BUILTIN_DICT, TYPING_ANY, templates)],
      ["_parent", parent],
      ["_content", content],
    ]);
    for (const [k, v] of converted) content.set(k, toNode(v, k as string, node, templates));
    return node;
  }
  if (Array.isArray(converted) && !(converted instanceof Tuple)) {
    const node = new PyObject(LIST_CONFIG, Tuple.of(), "newobj");
    node.state = new PyDict<string, unknown>([
      ["_metadata", metadataObject(true, key, BUILTIN_LIST, BUILTIN_INT, templates)],
      ["_parent", parent],
      ["_content", converted.map((v, i) => toNode(v, i, node, templates))],
    ]);
    return node;
  }
  return new PyObject(
    ANY_NODE,
    Tuple.of(),
    "newobj",
    new PyDict<string, unknown>([
      ["_metadata", metadataObject(false, key, null, undefined, templates)],
      ["_parent", parent],
      ["_val", converted],
    ]),
  );
}

function metadataObject(
  container: boolean,
  key: string | number,
  objectType: PyGlobal | null,
  keyType: PyGlobal | undefined,
  templates: Templates,
): PyObject {
  const defaults = new Map<string, () => unknown>([
    ["ref_type", () => TYPING_ANY],
    ["object_type", () => objectType],
    ["optional", () => true],
    ["key", () => key],
    ["flags", () => new PyDict()],
    ["flags_root", () => false],
    ["resolver_cache", () => new PyObject(DEFAULTDICT, Tuple.of(BUILTIN_DICT))],
  ]);
  if (container) {
    defaults.set("key_type", () => keyType);
    defaults.set("element_type", () => TYPING_ANY);
  }
  const template = container ? templates.container : templates.value;
  const state = new PyDict<string, unknown>();
  if (template === undefined) {
    for (const [field, make] of defaults) state.set(field, make());
  } else {
    for (const [field, value] of template) {
      const make = defaults.get(field as string);
      state.set(field as string, make === undefined ? value : make());
    }
  }
  return new PyObject(container ? CONTAINER_METADATA : METADATA, Tuple.of(), "newobj", state);
}

function setNodeKey(node: unknown, key: string | number): void {
  if (!(node instanceof PyObject) || !(node.state instanceof PyDict)) return;
  const metadata = node.state.get("_metadata");
  if (metadata instanceof PyObject && metadata.state instanceof PyDict) {
    metadata.state.set("key", key);
  }
}
