/**
 * Reading and editing the training config a checkpoint stores in
 * `hyper_parameters.config`: an omegaconf `DictConfig` or a schema object,
 * kept as the pickle describes them.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyFloat } from "../pickle/py_float.ts";
import { PyObject } from "../pickle/py_object.ts";
import { PySet } from "../pickle/py_set.ts";
import { Tuple } from "../pickle/tuple.ts";
import { dictSet, listSet } from "./_omegaconf_assign.ts";
import { Edit, type EditOptions } from "./_omegaconf_edit.ts";
import { findKey } from "./_omegaconf_keys.ts";
import { deleteNode, popNode } from "./_omegaconf_remove.ts";
import { OmegaError, UnsupportedEdit } from "./_omegaconf_error.ts";
import {
  contentOf,
  fullKey,
  isAnyValueNode,
  keyHint,
  nodeClass,
  stateOf,
} from "./_omegaconf_node.ts";
import { type ConfigAction, ConfigError } from "./config_error.ts";
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

/**
 * A view of a config container that reads and edits it as omegaconf (or
 * the schema class) would. Values come back as stored (a value node's
 * `_val`); containers come back as `Config`. Interpolations such as
 * `"${training.lr}"` and `"???"` are returned as written, not resolved.
 *
 * Edits of an omegaconf `DictConfig`/`ListConfig` follow omegaconf 2.2/2.3
 * (`cfg.key = value`, `cfg[index] = value`, `pop`, `del`):
 * - typed nodes keep their node and metadata and store the converted value
 *   (a FloatNode stores `1` as the float 1.0, an IntegerNode `"5"` as 5, a
 *   BooleanNode `"yes"` as True, a StringNode `1.5` as "1.5", an EnumNode
 *   `"GREEN"` or the value 2 as `Color.GREEN`, a PathNode `"a/b"` as a
 *   path), or refuse it as omegaconf does; `"???"` and interpolations are
 *   stored as they are in any node; None only where Optional;
 * - new keys get the node the container's element type says (`AnyNode`
 *   for plain configs, a `FloatNode` in a `Dict[str, float]`), dicts and
 *   lists become `DictConfig`/`ListConfig` nodes, a `Config` moves here
 *   (a copy when it is still in a config, as Python's deepcopy); assigned
 *   to a typed container, a config's AnyNode items go in as values, and
 *   other configs are refused (omegaconf's node-by-node copy is not ported:
 *   assign their plain content);
 * - struct mode and structured (dataclass) configs refuse new keys, pops
 *   and deletions; read-only configs refuse every change. The flags are
 *   read from the node and its parents, as omegaconf does.
 *
 * A refused edit throws {@linkcode ConfigError} (omegaconf's exception
 * class and message) and changes nothing. {@linkcode Config.openDict} and
 * {@linkcode Config.readWrite} are Python's `open_dict` and `read_write`:
 * edits through them ignore struct mode or readonly, and the flags stored
 * in the config stay as they are.
 *
 * Values in JS: `null` is None, safe integers and bigints are ints, other
 * numbers and `PyFloat` floats, `Uint8Array` bytes, arrays lists, `Tuple`
 * tuples, plain objects, Maps and `PyDict`s dicts; enum members and paths
 * are the objects the pickle holds (`Color(2)`, `getattr(Color, "GREEN")`,
 * `PosixPath("a", "b")`), which a config reads back from its nodes. An
 * interpolation is checked against omegaconf's grammar (2.3's, which lets
 * resolver names contain `-`); a malformed one is refused with
 * GrammarParseError, whose message is ckptkit's own.
 *
 * Python to TypeScript:
 * `ckpt["hyper_parameters"]["config"].model.processor.num_layers` is
 * `Config.of(ckpt).get("model.processor.num_layers")`;
 * `training.pop("swa", None)` is `training.pop("swa", null)`;
 * `training.weight_averaging = None` is `training.set("weight_averaging", null)`;
 * `with open_dict(training): training.new = 1` is
 * `training.openDict().set("new", 1)`.
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
 *
 * @example Typed nodes convert; struct mode needs openDict
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, Config, ConfigError, type CkptType, PyFloat } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/structured_config.ckpt");
 * const training = Config.of(ckpt.root as CkptType).at("training");
 * training.set("lr", 1); // a FloatNode: stored as the float 1.0
 * assert.ok(training.get("lr") instanceof PyFloat);
 * assert.throws(() => training.set("weight_averaging", null), ConfigError);
 * training.openDict().set("weight_averaging", null);
 * training.openDict().pop("swa");
 * assert.equal(training.has("swa"), false);
 * ckpt.close();
 * ```
 */
export class Config {
  /** The wrapped node: a `PyObject` (DictConfig, ListConfig, schema), a `PyDict` or an array. */
  readonly node: unknown;
  /** Its shape. */
  readonly kind: ConfigKind;
  #options: EditOptions = {};

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

  /**
   * This config as Python's `open_dict` gives it: edits through it (and the
   * configs it returns) may add keys in struct mode or to structured
   * configs, and pop or delete there. The struct flags stored in the
   * config do not change. Unlike `open_dict`, which opens only the
   * structured config it is given, this opens the ones below too.
   */
  openDict(): Config {
    return this.#view({ openDict: true });
  }

  /**
   * This config as Python's `read_write` gives it: edits through it (and
   * the configs it returns) ignore readonly flags, also one set on the
   * edited node itself; the flags stay stored as they are.
   */
  readWrite(): Config {
    return this.#view({ readWrite: true });
  }

  #view(options: EditOptions): Config {
    const view = new Config(this.node);
    view.#options = { ...this.#options, ...options };
    return view;
  }

  /** True when `path` names an existing entry. */
  has(path: ConfigPath): boolean {
    const [parent, key] = this.#parentOf(path, false);
    return parent !== undefined && parent.#hasKey(key);
  }

  /**
   * The value at `path`: as stored for values, a `Config` for containers.
   * Throws {@linkcode MigrationError} when it is missing, unless `fallback` is given.
   */
  get(path: ConfigPath, ...fallback: [unknown?]): unknown {
    const [parent, key] = this.#parentOf(path, fallback.length === 0);
    if (parent === undefined || !parent.#hasKey(key)) {
      if (fallback.length > 0) return fallback[0];
      throw new MigrationError(`Cannot read config: ${showPath(path)} is missing`);
    }
    return this.#present(parent.#rawGet(key));
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
   * Sets `path` (its parent must exist) to `value` (see the class
   * documentation for JS values); a `Config` moves here. In a `ListConfig`,
   * the index just past the end appends.
   *
   * @throws {ConfigError} when omegaconf would refuse the edit; nothing changed.
   */
  set(path: ConfigPath, value: unknown): this {
    const [parent, key] = this.#parentOf(path, true);
    parent!.#rawSet(key, value);
    return this;
  }

  /**
   * Removes `path` and returns its value (as stored, or a `Config`).
   * Throws when it is missing, unless `fallback` is given.
   *
   * @throws {ConfigError} when omegaconf would refuse the pop (struct mode,
   * a structured config, read-only), even with a fallback.
   */
  pop(path: ConfigPath, ...fallback: [unknown?]): unknown {
    const [parent, key] = this.#parentOf(path, fallback.length === 0);
    if (parent === undefined) return fallback[0];
    if (parent.kind === "dictconfig" || parent.kind === "listconfig") {
      const node = parent.#omega(
        "pop",
        key,
        (edit, container, k) => popNode(container, k, fallback.length > 0, edit),
      );
      return node === undefined ? fallback[0] : this.#present(node);
    }
    if (!parent.#hasKey(key)) {
      if (fallback.length > 0) return fallback[0];
      throw new MigrationError(`Cannot edit config: ${showPath(path)} is missing`);
    }
    const value = this.#present(parent.#rawGet(key));
    parent.#rawDelete(key);
    return value;
  }

  /**
   * Removes `path`; returns whether it was there.
   *
   * @throws {ConfigError} when omegaconf would refuse the deletion (struct
   * mode, a structured config, read-only), even of a missing key.
   */
  delete(path: ConfigPath): boolean {
    const [parent, key] = this.#parentOf(path, false);
    if (parent === undefined) return false;
    if (parent.kind === "dictconfig" || parent.kind === "listconfig") {
      return parent.#omega("delete", key, (edit, container, k) => deleteNode(container, k, edit));
    }
    if (!parent.#hasKey(key)) return false;
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
    return this.keys().map((key) => [key, this.#present(this.#rawGet(key))]);
  }

  /**
   * A plain JS copy (objects, arrays, primitives; PyFloat as number), for
   * reading and comparing. Dict keys become object keys.
   */
  toPlain(): unknown {
    const items = this.#items();
    if (items === undefined) return rawContent(this.node);
    if (Array.isArray(items)) return items.map((_, i) => plain(this.#present(this.#rawGet(i))));
    const object: Record<string, unknown> = {};
    for (const key of items.keys()) object[String(key)] = plain(this.#present(this.#rawGet(key)));
    return object;
  }

  // What a stored entry reads as: a value node's _val, a UnionNode's value,
  // a container wrapped (with this view's options).
  #present(stored: unknown): unknown {
    const value = present(stored);
    if (value instanceof Config) value.#options = this.#options;
    return value;
  }

  // The key/value store of this container: a PyDict of fields or nodes, or
  // an array; undefined for a DictConfig/ListConfig whose content is None
  // or a string ("???", an interpolation).
  #items(): PyDict | unknown[] | undefined {
    switch (this.kind) {
      case "dictconfig":
      case "listconfig": {
        const content = contentOf(this.node as PyObject);
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

  #hasKey(key: string | number): boolean {
    const items = this.#items();
    if (items === undefined) return false;
    if (Array.isArray(items)) return typeof key === "number" && indexIn(items, key) !== undefined;
    return items.has(this.#dictKey(items, key));
  }

  #rawGet(key: unknown): unknown {
    const items = this.#items()!;
    if (Array.isArray(items)) return items[indexIn(items, key as number)!];
    return items.get(this.#dictKey(items, key));
  }

  // The dict key a path part names: for a DictConfig also an enum member key
  // by name or value.
  #dictKey(items: PyDict, key: unknown): unknown {
    if (this.kind !== "dictconfig") return dictKey(items, key);
    return findKey(this.node as PyObject, key) ?? key;
  }

  #rawDelete(key: string | number): void {
    const items = this.#items()!;
    if (Array.isArray(items)) {
      items.splice(indexIn(items, key as number)!, 1);
      return;
    }
    items.delete(dictKey(items, key));
    if (this.kind === "schema") pydanticFieldsSet(this.node as PyObject)?.delete(key);
  }

  #rawSet(key: string | number, value: unknown): void {
    if (this.kind === "dictconfig" || this.kind === "listconfig") {
      const converted = toPython(value);
      this.#omega("set", key, (edit, container, k) => {
        if (this.kind === "listconfig") listSet(container, k, converted, edit);
        else dictSet(container, k, converted, edit);
      });
      return;
    }
    const converted = value instanceof Config ? value.node : toPython(value);
    const items = this.#items()!;
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
    if (Array.isArray(items)) items[index as number] = converted;
    else (items as PyDict).set(index, converted);
    if (this.kind === "schema") pydanticFieldsSet(this.node as PyObject)?.add(index);
  }

  /**
   * Runs an omegaconf edit of this container at `key` (as the dict's keys
   * are spelled), turning omegaconf's refusals into {@linkcode ConfigError}.
   */
  #omega<T>(
    action: ConfigAction,
    key: string | number,
    run: (edit: Edit, container: PyObject, key: unknown) => T,
  ): T {
    const container = this.node as PyObject;
    const omegaKey = this.kind === "dictconfig" ? this.#dictConfigKey(key) : key;
    try {
      return run(new Edit(container, this.#options), container, omegaKey);
    } catch (error) {
      const where = fullKey(container, omegaKey);
      if (error instanceof OmegaError) {
        throw new ConfigError(action, where, error.pythonError, error.message, error.fullKey);
      }
      if (error instanceof UnsupportedEdit) {
        throw new ConfigError(action, where, undefined, error.message);
      }
      throw error;
    }
  }

  // The key a path part names in this DictConfig: an existing key as it is
  // spelled ("0" or 0), else a str, or an int where the dict's keys are ints.
  #dictConfigKey(key: string | number): unknown {
    const existing = findKey(this.node as PyObject, key);
    if (existing !== undefined) return existing;
    if (typeof key !== "number") return key;
    const keyType = keyHint(this.node as PyObject).kind;
    return keyType === "int" || keyType === "float" || keyType === "bool" ? key : String(key);
  }

  // The container holding the last part of `path`, and that part.
  #parentOf(path: ConfigPath, strict: boolean): [Config | undefined, string | number] {
    const parts = splitPath(path);
    let current: Config | undefined;
    for (let i = 0; i < parts.length - 1; i++) {
      const key = parts[i];
      const container: Config = current ?? this;
      const next = container.#hasKey(key) ? this.#present(container.#rawGet(key)) : undefined;
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
    const cls = nodeClass(node);
    if (cls === "DictConfig") return "dictconfig";
    if (cls === "ListConfig") return "listconfig";
    if (cls !== undefined || isAnyValueNode(node)) return undefined;
    if (node.size > 0 || DICT_CLASSES.has(node.className ?? "")) return "dict";
    if (node.state instanceof PyDict) return "schema";
    return undefined;
  }
  if (node instanceof PyDict) return "dict";
  if (Array.isArray(node) && !(node instanceof Tuple)) return "list";
  return undefined;
}

// What a stored entry reads as: a value node's `_val`, a UnionNode's value,
// a container wrapped; None, "???" and interpolation contents as themselves.
function present(stored: unknown): unknown {
  if (isAnyValueNode(stored)) return stateOf(stored).get("_val");
  const cls = nodeClass(stored);
  if (cls === "UnionNode") return present(stateOf(stored as PyObject).get("_content"));
  if (cls === "DictConfig" || cls === "ListConfig") {
    const content = contentOf(stored as PyObject);
    if (!(content instanceof PyDict) && !Array.isArray(content)) return content;
    return new Config(stored);
  }
  return kindOf(stored) === undefined ? stored : new Config(stored);
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

function describe(value: unknown): string {
  if (value === null) return "None";
  if (value instanceof Config) return `a ${value.kind}`;
  if (value instanceof PyObject) return `a ${value.className ?? "object"}`;
  if (value instanceof PyDict) return "a dict";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

/**
 * Converts a JS value to the value model: Configs to their nodes, objects
 * and Maps to dicts, arrays to lists; `PyDict`s and tuples are kept unless
 * they hold something to convert.
 */
function toPython(value: unknown): unknown {
  if (value === undefined) {
    throw new MigrationError("Cannot edit config: undefined is not a value (use null for None)");
  }
  if (value instanceof Config) return configValue(value);
  if (value instanceof Map) {
    return new PyDict([...value].map(([k, v]) => [k, toPython(v)] as [unknown, unknown]));
  }
  if (value instanceof Tuple) {
    const items = value.map(toPython);
    return items.every((item, i) => item === value[i]) ? value : Tuple.fromArray(items);
  }
  if (Array.isArray(value)) return value.map(toPython);
  if (value instanceof PyDict && !(value instanceof PyObject)) {
    const entries = [...value].map(([k, v]) => [k, toPython(v)] as [unknown, unknown]);
    return entries.every(([k, v]) => value.get(k) === v) ? value : new PyDict(entries);
  }
  if (isPlainObject(value)) {
    return new PyDict(Object.entries(value).map(([k, v]) => [k, toPython(v)] as [string, unknown]));
  }
  return value;
}

// What a Config stands for as a value: an omegaconf node as it is; a plain
// dict, list or schema object as a dict or list of its entries.
function configValue(config: Config): unknown {
  switch (config.kind) {
    case "dictconfig":
    case "listconfig":
      return config.node;
    case "list":
      return (config.node as unknown[]).map(toPython);
    default: {
      const node = config.node as PyDict;
      const fields = config.kind === "schema" ? schemaFields(node as PyObject) : node;
      return new PyDict([...fields].map(([k, v]) => [k, toPython(v)] as [unknown, unknown]));
    }
  }
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
