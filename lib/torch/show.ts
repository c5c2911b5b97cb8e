/**
 * Renders a decoded checkpoint as an indented tree (for people) or as typed
 * JSON (for programs). Shared objects and cycles are shown once and then
 * referred to, so hostile graphs cannot blow the output up.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";
import { PyByteArray } from "../pickle/py_bytearray.ts";
import { PyDict } from "../pickle/py_dict.ts";
import { PyFloat } from "../pickle/py_float.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { PyFrozenSet, PySet } from "../pickle/py_set.ts";
import { PyStr } from "../pickle/py_str.ts";
import { bytesRepr, scalarRepr, strRepr } from "../pickle/repr.ts";
import { stringMapKey } from "../pickle/_hash_key.ts";
import { Tuple } from "../pickle/tuple.ts";
import { readNdarray, readNumpyScalar } from "./ndarray.ts";
import { isOmegaconfNode, omegaconfValues } from "./omegaconf_values.ts";
import { Parameter, Tensor } from "./tensor.ts";

/** Options for {@linkcode formatTree}, {@linkcode toJsonTree} and {@linkcode toPlainJson}. */
export interface ShowOptions {
  /** Containers deeper than this are summarised (default 6, at most 1000). */
  depth?: number;
  /** Items shown per container before "... N more" (default: all). */
  maxItems?: number;
  /**
   * Show omegaconf configs as their pickled nodes (metadata, parents,
   * flags) instead of their values (default false).
   */
  raw?: boolean;
}

/** Replaces omegaconf nodes by their values, once per node, unless `raw`. */
function configValues(raw: boolean | undefined): (value: unknown) => unknown {
  if (raw) return (value) => value;
  const converted = new Map<object, unknown>();
  return (value) => {
    if (!isOmegaconfNode(value)) return value;
    let found = converted.get(value);
    if (found === undefined) converted.set(value, found = omegaconfValues(value));
    return found;
  };
}

const MAX_DEPTH = 1000;

function items(n: number): string {
  return n === 1 ? "1 item" : `${n} items`;
}
const MAX_SCALAR = 120;
const LONG_STRING = 256;

function limits(options: ShowOptions): { depth: number; maxItems: number } {
  return {
    depth: Math.min(options.depth ?? 6, MAX_DEPTH),
    maxItems: options.maxItems ?? Infinity,
  };
}

interface Children {
  label: string;
  entries: Array<[string | undefined, unknown]>;
}

/** A one-line summary of a tensor: dtype, shape, stride, offset, storage. */
export function tensorSummary(value: Tensor | Parameter): string {
  const tensor = value instanceof Parameter ? value.data : value;
  const kind = value instanceof Parameter ? "Parameter" : "Tensor";
  const parts = [`${kind} ${tensor.dtype.name} [${tensor.shape.join(", ")}]`];
  if (!tensor.isContiguous) parts.push(`stride (${tensor.stride.join(", ")})`);
  if (tensor.offset !== 0) parts.push(`offset ${tensor.offset}`);
  if (value.requiresGrad) parts.push("requires_grad");
  const storage = tensor.storage;
  parts.push(`storage ${storage.key ?? "new"} (${storage.nbytes} bytes, ${storage.location})`);
  return parts.join(" ");
}

const MAX_LEAF = 400;

// A hostile tensor or array may carry a million-entry shape.
function clip(text: string | undefined): string | undefined {
  return text !== undefined && text.length > MAX_LEAF ? `${text.slice(0, MAX_LEAF - 3)}...` : text;
}

// Python itself refuses str() of ints this long (sys.int_max_str_digits).
const MAX_INT_DIGITS = 4300;
const HUGE_INT = 10n ** BigInt(MAX_INT_DIGITS);
const HUGE_INT_TEXT = `<int of more than ${MAX_INT_DIGITS} digits>`;

function isHugeInt(value: bigint): boolean {
  // Comparisons cost the size of the limit, not of the value.
  return value >= HUGE_INT || value <= -HUGE_INT;
}

function scalar(value: unknown): string | undefined {
  // Only a prefix is rendered, since a long value may be shared a million
  // times; each item yields at least one character of its repr.
  let text: string | undefined;
  if (typeof value === "string" && value.length > MAX_SCALAR) {
    text = strRepr(value.slice(0, MAX_SCALAR));
  } else if (value instanceof PyStr && value.units.length > MAX_SCALAR) {
    text = strRepr(PyStr.fromCodePoints(value.codePoints(MAX_SCALAR)));
  } else if (value instanceof Uint8Array && value.length > MAX_SCALAR) {
    text = bytesRepr(value.subarray(0, MAX_SCALAR));
  } else if (typeof value === "bigint" && isHugeInt(value)) {
    return HUGE_INT_TEXT;
  } else text = scalarRepr(value);
  if (text === undefined) return undefined;
  return text.length > MAX_SCALAR ? `${text.slice(0, MAX_SCALAR - 3)}...` : text;
}

function leaf(value: unknown): string | undefined {
  const text = scalar(value);
  if (text !== undefined) return text;
  if (value instanceof PyGlobal) return `<global ${value.path}>`;
  if (value instanceof Tensor || value instanceof Parameter) return tensorSummary(value);
  if (value instanceof PyByteArray) return `bytearray of ${value.bytes.length} bytes`;
  const scalarValue = readNumpyScalar(value);
  if (scalarValue !== undefined) return `numpy.${scalarValue.dtype} scalar`;
  const array = readNdarray(value);
  if (array !== undefined) {
    return `ndarray ${array.dtype} [${array.shape.join(", ")}]${array.fortran ? " fortran" : ""}`;
  }
  if (value instanceof PyObject && value.isA("builtins", "complex")) {
    return `complex(${value.args.map((x) => scalar(x) ?? "?").join(", ")})`;
  }
  return undefined;
}

function children(value: unknown): Children | undefined {
  if (value instanceof Tuple) {
    return { label: `tuple (${value.length})`, entries: value.map((v) => [undefined, v]) };
  }
  if (Array.isArray(value)) {
    return { label: `list (${value.length})`, entries: value.map((v) => [undefined, v]) };
  }
  if (value instanceof PySet || value instanceof PyFrozenSet) {
    const kind = value instanceof PySet ? "set" : "frozenset";
    return { label: `${kind} (${value.size})`, entries: [...value].map((v) => [undefined, v]) };
  }
  if (value instanceof PyObject) {
    const entries: Array<[string | undefined, unknown]> = [];
    for (const [k, v] of value.entries()) entries.push([keyText(k), v]);
    for (const item of value.listItems ?? []) entries.push([undefined, item]);
    const isEmptyCall = value.args.length === 0;
    if (!isEmptyCall) entries.push(["(args)", value.args]);
    if (value.state !== undefined) entries.push(["(state)", value.state]);
    const size = value.size > 0 ? ` (${items(value.size)})` : "";
    return { label: `${value.className ?? "object"}${size}`, entries };
  }
  if (value instanceof PyDict) {
    const entries: Array<[string | undefined, unknown]> = [];
    for (const [k, v] of value.entries()) entries.push([keyText(k), v]);
    return { label: `dict (${items(value.size)})`, entries };
  }
  return undefined;
}

function keyText(key: unknown, depth = 0): string {
  if (key instanceof Tuple && depth < 3) {
    // Tuple keys read as Python writes them; a few levels are enough for a key.
    const items = key.slice(0, 8).map((item) => keyText(item, depth + 1));
    if (key.length > 8) items.push("...");
    return `(${items.join(", ")}${key.length === 1 ? "," : ""})`;
  }
  return scalar(key) ?? leaf(key) ?? (key instanceof PyStr ? key.units : `<${typeName(key)}>`);
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== "object") return typeof value;
  return value.constructor.name;
}

/**
 * Renders `root` as an indented tree, one value per line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTree } from "./show.ts";
 * import { PyDict } from "../pickle/py_dict.ts";
 * const tree = formatTree(new PyDict([["epoch", 3]]));
 * assert.equal(tree, "dict (1 item)\n  'epoch': 3");
 * ```
 */
export function formatTree(root: unknown, options: ShowOptions = {}): string {
  const { depth, maxItems } = limits(options);
  const lines: string[] = [];
  // Containers are listed once; leaves are described once per object. Both
  // keep the work linear in the pickle's size however often it shares them.
  const seen = new Map<object, { line: number; label: string }>();
  const leaves = new Map<object, string | undefined>();
  const values = configValues(options.raw);
  const visit = (original: unknown, prefix: string, level: number) => {
    const value = values(original);
    const indent = "  ".repeat(level);
    const isObject = typeof value === "object" && value !== null;
    const shown = isObject ? seen.get(value) : undefined;
    if (shown !== undefined) {
      lines.push(`${indent}${prefix}${shown.label} <same object as line ${shown.line}>`);
      return;
    }
    let simple = isObject ? leaves.get(value) : undefined;
    if (simple === undefined && !(isObject && leaves.has(value))) {
      simple = clip(leaf(value));
      if (isObject) leaves.set(value, simple);
    }
    if (simple !== undefined) {
      lines.push(`${indent}${prefix}${simple}`);
      return;
    }
    const node = children(value);
    if (node === undefined) {
      lines.push(`${indent}${prefix}<${typeName(value)}>`);
      return;
    }
    seen.set(value as object, { line: lines.length + 1, label: node.label });
    if (level >= depth && node.entries.length > 0) {
      lines.push(`${indent}${prefix}${node.label} ...`);
      return;
    }
    lines.push(`${indent}${prefix}${node.label}`);
    const count = Math.min(node.entries.length, maxItems);
    for (let i = 0; i < count; i++) {
      const [key, item] = node.entries[i];
      visit(item, key === undefined ? "" : `${key}: `, level + 1);
    }
    if (node.entries.length > count) {
      lines.push(`${"  ".repeat(level + 1)}... ${node.entries.length - count} more`);
    }
  };
  visit(root, "", 0);
  return lines.join("\n");
}

/** A JSON-safe typed node of {@linkcode toJsonTree}. */
export type JsonNode = { [key: string]: unknown };

/**
 * Converts `root` to typed JSON: every node has a `type`; ints beyond 2**53
 * and floats that JSON cannot hold are strings; shared objects appear once
 * with an `id` and later as `{"type": "ref", "id": n}`, and so do strings of
 * 256 characters or more. Ints of more than 4300 digits (Python's own limit
 * for `str()`) have `value: null` and a `note`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJsonTree } from "./show.ts";
 * import { PyDict } from "../pickle/py_dict.ts";
 * const json = toJsonTree(new PyDict([["epoch", 3]]));
 * assert.deepEqual(json, {
 *   type: "dict", id: 0, items: [[{ type: "str", value: "epoch" }, { type: "int", value: 3 }]],
 * });
 * ```
 */
export function toJsonTree(root: unknown, options: ShowOptions = {}): JsonNode {
  const { depth, maxItems } = limits(options);
  const ids = new Map<object, number>();
  // Long strings are values in JS, not objects: they get ids of their own so
  // that a string shared a million times is written once.
  const strings = new Map<string, number>();
  let nextId = 0;
  const values = configValues(options.raw);
  const text = (value: string): JsonNode => {
    if (value.length < LONG_STRING) return { type: "str", value };
    const known = strings.get(stringMapKey(value));
    if (known !== undefined) return { type: "ref", id: known };
    const id = nextId++;
    strings.set(stringMapKey(value), id);
    return { type: "str", id, value };
  };
  const visit = (original: unknown, level: number): JsonNode => {
    const value = values(original);
    if (value === null) return { type: "none" };
    switch (typeof value) {
      case "boolean":
        return { type: "bool", value };
      case "number":
        return Number.isSafeInteger(value)
          ? { type: "int", value }
          : { type: "float", value: Number.isFinite(value) ? value : String(value) };
      case "bigint":
        return isHugeInt(value)
          ? { type: "int", value: null, note: HUGE_INT_TEXT }
          : { type: "int", value: String(value) };
      case "string":
        return text(value);
    }
    if (value instanceof PyFloat) {
      return {
        type: "float",
        value: Number.isFinite(value.value) ? value.value : value.toString(),
      };
    }
    // A long str is a PyStr: shared by identity, like the other objects.
    if (value instanceof PyStr && value.units.length >= LONG_STRING) {
      const known = ids.get(value);
      if (known !== undefined) return { type: "ref", id: known };
      const id = nextId++;
      ids.set(value, id);
      return { type: "str", id, value: value.units };
    }
    if (value instanceof PyStr) return text(value.units);
    if (value instanceof Uint8Array) return { type: "bytes", size: value.length };
    if (value instanceof PyGlobal) return { type: "global", value: value.path };
    const object = value as object;
    const known = ids.get(object);
    if (known !== undefined) return { type: "ref", id: known };
    const id = nextId++;
    ids.set(object, id);
    if (value instanceof Tensor || value instanceof Parameter) {
      const tensor = value instanceof Parameter ? value.data : value;
      return {
        type: value instanceof Parameter ? "parameter" : "tensor",
        id,
        dtype: tensor.dtype.name,
        shape: tensor.shape,
        stride: tensor.stride,
        offset: tensor.offset,
        requires_grad: value.requiresGrad,
        storage: tensor.storage.key ?? null,
        storage_nbytes: tensor.storage.nbytes,
        location: tensor.storage.location,
      };
    }
    if (value instanceof PyByteArray) return { type: "bytearray", id, size: value.bytes.length };
    const array = readNdarray(value);
    if (array !== undefined) {
      return {
        type: "ndarray",
        id,
        dtype: array.dtype,
        shape: array.shape,
        fortran: array.fortran,
      };
    }
    const scalarValue = readNumpyScalar(value);
    if (scalarValue !== undefined) return { type: "npscalar", id, dtype: scalarValue.dtype };
    const truncated = level >= depth;
    const list = (items: Iterable<unknown>): JsonNode[] | undefined => {
      if (truncated) return undefined;
      const out: JsonNode[] = [];
      for (const item of items) {
        if (out.length >= maxItems) break;
        out.push(visit(item, level + 1));
      }
      return out;
    };
    const pairs = (dict: PyDict): JsonNode[][] | undefined => {
      if (truncated) return undefined;
      const out: JsonNode[][] = [];
      for (const [k, v] of dict.entries()) {
        if (out.length >= maxItems) break;
        out.push([visit(k, level + 1), visit(v, level + 1)]);
      }
      return out;
    };
    const base = (type: string, extra: JsonNode): JsonNode => ({
      type,
      id,
      ...extra,
      ...(truncated ? { truncated: true } : {}),
    });
    if (value instanceof Tuple) return base("tuple", { items: list(value) });
    if (Array.isArray(value)) return base("list", { items: list(value) });
    if (value instanceof PySet) return base("set", { items: list(value) });
    if (value instanceof PyFrozenSet) return base("frozenset", { items: list(value) });
    if (value instanceof PyObject) {
      return base("object", {
        class: value.className ?? null,
        how: value.how,
        args: list(value.args),
        items: value.size > 0 ? pairs(value) : undefined,
        list_items: value.listItems === undefined ? undefined : list(value.listItems),
        state: value.state === undefined || truncated ? undefined : visit(value.state, level + 1),
      });
    }
    if (value instanceof PyDict) return base("dict", { items: pairs(value) });
    return { type: "unknown", id, class: typeName(value) };
  };
  return visit(root, 0);
}

/**
 * Converts `root` to plain JSON for tools such as `jq`: dicts (and dict
 * subclasses such as `OrderedDict`) become objects of their items (keys as
 * Python's `str()` gives them), lists and tuples arrays,
 * tensors `{dtype, shape, stride, offset, storage, requires_grad}`, other
 * objects `{"__class__": ..., ...}` with their dict state or items, omegaconf
 * configs their values (unless `raw`). Shared objects are written each time
 * they are reached; one reached again inside itself becomes `"<cycle>"`.
 * Ints beyond 2**53 and floats JSON cannot hold are strings.
 *
 * @throws {CkptkitError} when expanding shared objects would write more
 * than `limit` values (default 2,000,000): use {@linkcode toJsonTree}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, toPlainJson } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/training.ckpt");
 * const at = (value: unknown, ...keys: string[]) =>
 *   keys.reduce((node, key) => (node as Record<string, unknown>)[key], value);
 * const plain = toPlainJson(ckpt.root);
 * assert.deepEqual(at(plain, "state_dict", "encoder.weight", "shape"), [3, 4]);
 * assert.equal(at(plain, "hyper_parameters", "config", "training", "epochs"), 3);
 * ckpt.close();
 * ```
 */
export function toPlainJson(
  root: unknown,
  options: ShowOptions & { limit?: number } = {},
): unknown {
  const { depth, maxItems } = limits({ ...options, depth: options.depth ?? MAX_DEPTH });
  const limit = options.limit ?? 2_000_000;
  const values = configValues(options.raw);
  const path = new Set<object>();
  let written = 0;
  const visit = (original: unknown, level: number): unknown => {
    if (++written > limit) {
      throw new CkptkitError(
        `Cannot write plain JSON: expanding shared objects would write more than ${limit} values; use --json`,
      );
    }
    const value = values(original);
    if (value === null || value === undefined) return null;
    switch (typeof value) {
      case "boolean":
      case "string":
        return value;
      case "number":
        return Number.isSafeInteger(value) ? value : floatJson(value);
      case "bigint":
        return isHugeInt(value) ? HUGE_INT_TEXT : String(value);
    }
    if (value instanceof PyFloat) return floatJson(value.value);
    if (value instanceof PyStr) return value.units;
    if (value instanceof PyGlobal) return value.path;
    if (value instanceof Uint8Array) return `<bytes of ${value.length}>`;
    if (value instanceof Tensor || value instanceof Parameter) return tensorJson(value);
    if (value instanceof PyByteArray) return `<bytearray of ${value.bytes.length}>`;
    const array = readNdarray(value);
    if (array !== undefined) {
      return { __class__: "numpy.ndarray", dtype: array.dtype, shape: array.shape };
    }
    const scalarValue = readNumpyScalar(value);
    if (scalarValue !== undefined) return { __class__: "numpy.generic", dtype: scalarValue.dtype };
    const object = value as object;
    if (path.has(object)) return "<cycle>";
    if (level >= depth) return "<...>";
    path.add(object);
    try {
      const list = (items: Iterable<unknown>) => {
        const out: unknown[] = [];
        for (const item of items) {
          if (out.length >= maxItems) break;
          out.push(visit(item, level + 1));
        }
        return out;
      };
      const fields = (dict: PyDict, into: Record<string, unknown>) => {
        let n = 0;
        for (const [key, item] of dict) {
          if (n++ >= maxItems) break;
          into[plainKey(key)] = visit(item, level + 1);
        }
        return into;
      };
      if (Array.isArray(value)) return list(value);
      if (value instanceof PySet || value instanceof PyFrozenSet) return list(value);
      // A dict subclass (OrderedDict, AttributeDict, defaultdict) reads as its items.
      if (value instanceof PyObject && (value.size > 0 || DICT_LIKE.has(value.className!))) {
        return fields(value, {});
      }
      if (value instanceof PyObject) {
        const out: Record<string, unknown> = { __class__: value.className ?? "object" };
        if (value.args.length > 0) out.__args__ = list(value.args);
        if (value.listItems !== undefined) out.__items__ = list(value.listItems);
        fields(value, out);
        if (value.state instanceof PyDict) fields(value.state, out);
        else if (value.state !== undefined) out.__state__ = visit(value.state, level + 1);
        return out;
      }
      if (value instanceof PyDict) return fields(value, {});
      return `<${typeName(value)}>`;
    } finally {
      path.delete(object);
    }
  };
  return visit(root, 0);
}

const DICT_LIKE = new Set([
  "collections.OrderedDict",
  "collections.defaultdict",
  "pytorch_lightning.utilities.parsing.AttributeDict",
  "lightning_fabric.utilities.data.AttributeDict",
  "lightning.fabric.utilities.data.AttributeDict",
]);

function floatJson(value: number): number | string {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf";
}

function plainKey(key: unknown): string {
  if (typeof key === "string") return key;
  if (key instanceof PyStr) return key.units;
  return keyText(key);
}

function tensorJson(value: Tensor | Parameter): Record<string, unknown> {
  const tensor = value instanceof Parameter ? value.data : value;
  return {
    __class__: value instanceof Parameter ? "torch.nn.Parameter" : "torch.Tensor",
    dtype: tensor.dtype.name,
    shape: tensor.shape,
    stride: tensor.stride,
    offset: tensor.offset,
    requires_grad: value.requiresGrad,
    storage: tensor.storage.key ?? null,
    storage_nbytes: tensor.storage.nbytes,
    location: tensor.storage.location,
  };
}
