/**
 * What differs between two checkpoints: their state_dict tensors (only in
 * one, renamed, reshaped or retyped, changed), every other value by its
 * path (omegaconf configs by their values), and the migrations each
 * registers. Tensors are compared from the central directory (each storage
 * record's CRC-32 and size) and each view's dtype, shape, stride and
 * offset, so a diff reads only the directories and `data.pkl`; with
 * `exact`, their bytes are compared, streamed.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyFloat } from "../pickle/py_float.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { PyFrozenSet, PySet } from "../pickle/py_set.ts";
import { PyStr } from "../pickle/py_str.ts";
import { bytesRepr, scalarRepr } from "../pickle/repr.ts";
import type { Checkpoint } from "../torch/checkpoint.ts";
import { isOmegaconfNode, omegaconfValues } from "../torch/omegaconf_values.ts";
import { readNdarray } from "../torch/ndarray.ts";
import { Parameter, Tensor } from "../torch/tensor.ts";
import { crc32 } from "../zip/crc32.ts";
import { registeredMigrations } from "../migrate/registration.ts";
import { tensorChunks } from "../torch/_tensor_chunks.ts";

/** A state_dict tensor whose shape or dtype changed. */
export interface Reshaped {
  /** Its name. */
  name: string;
  /** `dtype [shape]` in A. */
  a: string;
  /** `dtype [shape]` in B. */
  b: string;
}

/** A value that differs, by its path. */
export interface ValueChange {
  /** Dotted path, e.g. `hyper_parameters.config.training.lr`. */
  path: string;
  /** Its value in A, as Python would print it; undefined when A has none. */
  a: string | undefined;
  /** Its value in B; undefined when B has none. */
  b: string | undefined;
}

/** What {@linkcode diffCheckpoints} found. */
export interface CheckpointDiff {
  /** Whether the tensors' bytes were compared (`exact`). */
  exact: boolean;
  /** The state_dict tensors. */
  tensors: {
    /** Names only A has (and not renamed). */
    onlyInA: string[];
    /** Names only B has (and not renamed). */
    onlyInB: string[];
    /** `[nameInA, nameInB]`: the same tensor (bytes, shape, dtype) under a new name. */
    renamed: [string, string][];
    /** Same name, another shape or dtype. */
    reshaped: Reshaped[];
    /** Same name, shape and dtype, other values. */
    changed: string[];
    /** How many are the same. */
    same: number;
  };
  /** Every other value that differs (config, training state, other tensors). */
  values: ValueChange[];
  /** The registered migrations each has that the other has not. */
  migrations: { onlyInA: string[]; onlyInB: string[] };
  /** Whether anything differs. */
  different: boolean;
}

/** How a tensor's values are known: its view and where its bytes are. */
type Fingerprint = string;

/**
 * Compares checkpoints `a` and `b` (see the module documentation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, diffCheckpoints, type PyDict } from "../../mod.ts";
 *
 * const a = await Checkpoint.open("tests/fixtures/training.ckpt");
 * const b = await Checkpoint.open("tests/fixtures/training.ckpt");
 * assert.equal((await diffCheckpoints(a, b)).different, false);
 * const sd = (b.root as PyDict).get("state_dict") as PyDict;
 * sd.set("renamed.weight", sd.pop("encoder.weight"));
 * const diff = await diffCheckpoints(a, b);
 * assert.deepEqual(diff.tensors.renamed, [["encoder.weight", "renamed.weight"]]);
 * a.close();
 * b.close();
 * ```
 */
export async function diffCheckpoints(
  a: Checkpoint,
  b: Checkpoint,
  options: { exact?: boolean } = {},
): Promise<CheckpointDiff> {
  const exact = options.exact ?? false;
  const fingerprints = new Fingerprints(exact);
  const stateA = stateDictOf(a.root);
  const stateB = stateDictOf(b.root);
  const diff: CheckpointDiff = {
    exact,
    tensors: { onlyInA: [], onlyInB: [], renamed: [], reshaped: [], changed: [], same: 0 },
    values: [],
    migrations: migrationsDiff(a.root, b.root),
    different: false,
  };
  const onlyA: [string, Tensor][] = [];
  for (const [name, tensor] of stateA) {
    const other = stateB.get(name);
    if (other === undefined) {
      onlyA.push([name, tensor]);
      continue;
    }
    if (kind(tensor) !== kind(other)) {
      diff.tensors.reshaped.push({ name, a: kind(tensor), b: kind(other) });
    } else if (await fingerprints.equal(tensor, other)) {
      diff.tensors.same++;
    } else {
      diff.tensors.changed.push(name);
    }
  }
  // A renamed tensor: one only in A whose values are one only in B's.
  const unmatched = new Map<Fingerprint, string[]>();
  for (const [name, tensor] of stateB) {
    if (stateA.has(name)) continue;
    const key = `${kind(tensor)}|${await fingerprints.of(tensor)}`;
    unmatched.set(key, [...unmatched.get(key) ?? [], name]);
  }
  for (const [name, tensor] of onlyA) {
    const candidates = unmatched.get(`${kind(tensor)}|${await fingerprints.of(tensor)}`) ?? [];
    let renamed: string | undefined;
    for (let i = 0; i < candidates.length && renamed === undefined; i++) {
      if (await fingerprints.equal(tensor, stateB.get(candidates[i])!)) {
        renamed = candidates.splice(i, 1)[0];
      }
    }
    if (renamed === undefined) diff.tensors.onlyInA.push(name);
    else diff.tensors.renamed.push([name, renamed]);
  }
  const renamedTo = new Set(diff.tensors.renamed.map(([, to]) => to));
  for (const name of stateB.keys()) {
    if (!stateA.has(name) && !renamedTo.has(name)) diff.tensors.onlyInB.push(name);
  }
  await compareValues(a.root, b.root, "", diff.values, fingerprints, new Set());
  const t = diff.tensors;
  diff.different = t.onlyInA.length + t.onlyInB.length + t.renamed.length + t.reshaped.length +
      t.changed.length + diff.values.length + diff.migrations.onlyInA.length +
      diff.migrations.onlyInB.length > 0;
  return diff;
}

/** The state_dict tensors (parameters as their data), by name; empty without a state_dict. */
function stateDictOf(root: unknown): Map<string, Tensor> {
  const map = new Map<string, Tensor>();
  const sd = root instanceof PyDict ? root.get("state_dict") : undefined;
  if (!(sd instanceof PyDict)) return map;
  for (const [name, value] of sd) {
    const tensor = value instanceof Parameter ? value.data : value;
    if (typeof name === "string" && tensor instanceof Tensor) map.set(name, tensor);
  }
  return map;
}

function kind(tensor: Tensor): string {
  return `${tensor.dtype.name} [${tensor.shape.join(", ")}]`;
}

/**
 * A tensor's values as a comparable key: its view and its storage record's
 * CRC-32 and size; or, exact, its bytes' CRC-32, confirmed byte by byte.
 */
class Fingerprints {
  #exact: boolean;
  #known = new Map<Tensor, string>();
  #storages = new Map<unknown, number>();

  constructor(exact: boolean) {
    this.#exact = exact;
  }

  async of(tensor: Tensor): Promise<string> {
    let known = this.#known.get(tensor);
    if (known === undefined) {
      known = this.#exact ? await this.#bytes(tensor) : this.#view(tensor);
      this.#known.set(tensor, known);
    }
    return known;
  }

  #view(tensor: Tensor): string {
    const storage = tensor.storage;
    const entry = storage.record?.entry;
    // A storage written from memory has no record: only itself is equal to it.
    let where: string;
    if (entry !== undefined) where = `${entry.crc32}:${entry.size}`;
    else {
      let id = this.#storages.get(storage);
      if (id === undefined) this.#storages.set(storage, id = this.#storages.size);
      where = `new${id}`;
    }
    return `${tensor.dtype.name}|${where}|${tensor.offset}|${tensor.shape}|${tensor.stride}`;
  }

  /** Whether two tensors of one dtype and shape hold the same values (exact: the same bytes). */
  async equal(a: Tensor, b: Tensor): Promise<boolean> {
    if (await this.of(a) !== await this.of(b)) return false;
    return !this.#exact || await sameBytes(a, b);
  }

  async #bytes(tensor: Tensor): Promise<string> {
    let crc = 0;
    let size = 0;
    for await (const chunk of tensorChunks(tensor, "a tensor")) {
      crc = crc32(chunk, crc);
      size += chunk.length;
    }
    return `${tensor.dtype.name}|${crc}:${size}`;
  }
}

function migrationsDiff(a: unknown, b: unknown): { onlyInA: string[]; onlyInB: string[] } {
  const names = (root: unknown) => {
    try {
      return (registeredMigrations(root) ?? []).map((m) => m.name);
    } catch {
      return [];
    }
  };
  const [x, y] = [names(a), names(b)];
  return { onlyInA: x.filter((n) => !y.includes(n)), onlyInB: y.filter((n) => !x.includes(n)) };
}

/** Walks `a` and `b` together, adding each difference of a leaf to `out`; state_dict is left to the tensor diff. */
async function compareValues(
  a: unknown,
  b: unknown,
  path: string,
  out: ValueChange[],
  fingerprints: Fingerprints,
  seen: Set<unknown>,
): Promise<void> {
  if (isOmegaconfNode(a)) a = omegaconfValues(a);
  if (isOmegaconfNode(b)) b = omegaconfValues(b);
  if (a === b) return;
  const at = (key: string) => path === "" ? key : `${path}.${key}`;
  const ta = a instanceof Parameter ? a.data : a;
  const tb = b instanceof Parameter ? b.data : b;
  if (ta instanceof Tensor && tb instanceof Tensor) {
    if (kind(ta) !== kind(tb)) out.push({ path, a: `tensor ${kind(ta)}`, b: `tensor ${kind(tb)}` });
    else if (!await fingerprints.equal(ta, tb)) {
      out.push({ path, a: `tensor ${kind(ta)}`, b: `tensor ${kind(tb)} (other values)` });
    }
    return;
  }
  const arrayA = readNdarray(a);
  const arrayB = readNdarray(b);
  if (arrayA !== undefined || arrayB !== undefined) {
    const [x, y] = [describe(a), describe(b)];
    if (x !== y) out.push({ path, a: x, b: y });
    else if (!sameArrayData(arrayA!.data, arrayB!.data)) {
      out.push({ path, a: x, b: `${y} (other values)` });
    }
    return;
  }
  const leafA = leaf(a);
  const leafB = leaf(b);
  if (leafA !== undefined || leafB !== undefined) {
    if (leafA !== leafB) out.push({ path, a: leafA ?? describe(a), b: leafB ?? describe(b) });
    return;
  }
  // Containers of the same kind: by key or index; a shared one once.
  if (typeof a === "object" && a !== null && seen.has(a)) return;
  seen.add(a);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length) out.push({ path: at(String(i)), a: undefined, b: describe(b[i]) });
      else if (i >= b.length) out.push({ path: at(String(i)), a: describe(a[i]), b: undefined });
      else await compareValues(a[i], b[i], at(String(i)), out, fingerprints, seen);
    }
    return;
  }
  const fieldsA = fieldsOf(a);
  const fieldsB = fieldsOf(b);
  if (fieldsA === undefined || fieldsB === undefined || classOf(a) !== classOf(b)) {
    const [x, y] = [describe(a), describe(b)];
    if (x !== y) out.push({ path, a: x, b: y });
    return;
  }
  for (const [key, value] of fieldsA) {
    // The tensor diff and the migrations diff report these.
    if (path === "" && (key === "state_dict" || key === "migrations")) continue;
    if (!fieldsB.has(key)) out.push({ path: at(key), a: describe(value), b: undefined });
    else await compareValues(value, fieldsB.get(key), at(key), out, fingerprints, seen);
  }
  for (const [key, value] of fieldsB) {
    if (!fieldsA.has(key) && !(path === "" && (key === "state_dict" || key === "migrations"))) {
      out.push({ path: at(key), a: undefined, b: describe(value) });
    }
  }
}

/** A dict's items, or an object's items and state fields, by their printed key. */
function fieldsOf(value: unknown): Map<string, unknown> | undefined {
  if (!(value instanceof PyDict)) return undefined;
  const fields = new Map<string, unknown>();
  for (const [key, item] of value) fields.set(keyText(key), item);
  if (value instanceof PyObject) {
    value.args.forEach((item, i) => fields.set(`(args)[${i}]`, item));
    if (value.state instanceof PyDict) {
      for (const [key, item] of value.state) fields.set(keyText(key), item);
    } else if (value.state !== undefined) fields.set("(state)", value.state);
  }
  return fields;
}

function classOf(value: unknown): string {
  return value instanceof PyObject ? value.className ?? "object" : "dict";
}

function keyText(key: unknown): string {
  if (typeof key === "string") return key;
  if (key instanceof PyStr) return key.units;
  return scalarRepr(key) ?? String(key);
}

/** The printed form of a scalar value, or undefined for containers and objects. */
function leaf(value: unknown): string | undefined {
  if (value instanceof PyGlobal) return value.path;
  if (value instanceof PySet || value instanceof PyFrozenSet) {
    const items = [...value].map((item) => leaf(item) ?? describe(item)).sort();
    const text = `{${items.join(", ")}}`;
    return text.length <= 200 ? text : `${text.slice(0, 197)}...`;
  }
  if (value instanceof Uint8Array) {
    return bytesRepr(value.subarray(0, 64)) + (value.length > 64 ? "..." : "");
  }
  if (
    value instanceof PyFloat || value instanceof PyStr || typeof value !== "object" ||
    value === null
  ) {
    const text = scalarRepr(value);
    return text === undefined || text.length <= 200 ? text : `${text.slice(0, 197)}...`;
  }
  return undefined;
}

function describe(value: unknown): string {
  const text = leaf(value);
  if (text !== undefined) return text;
  if (value instanceof Tensor || value instanceof Parameter) {
    return `tensor ${kind(value instanceof Parameter ? value.data : value)}`;
  }
  const array = readNdarray(value);
  if (array !== undefined) return `ndarray ${array.dtype} [${array.shape.join(", ")}]`;
  if (value instanceof PySet || value instanceof PyFrozenSet) return `set of ${value.size}`;
  if (Array.isArray(value)) return `list of ${value.length}`;
  if (value instanceof PyObject) return `${value.className ?? "object"}`;
  if (value instanceof PyDict) return `dict of ${value.size}`;
  return typeof value;
}

/** Whether the row-major bytes of `a` and `b` are equal, streamed side by side. */
async function sameBytes(a: Tensor, b: Tensor): Promise<boolean> {
  const left = tensorChunks(a, "a tensor");
  const right = tensorChunks(b, "a tensor");
  let x: Uint8Array = new Uint8Array(0);
  let y: Uint8Array = new Uint8Array(0);
  for (;;) {
    if (x.length === 0) {
      const next = await left.next();
      x = next.done ? x : next.value;
    }
    if (y.length === 0) {
      const next = await right.next();
      y = next.done ? y : next.value;
    }
    if (x.length === 0 || y.length === 0) return x.length === y.length;
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return false;
    x = x.subarray(n);
    y = y.subarray(n);
  }
}

function sameArrayData(a: Uint8Array | unknown[], b: Uint8Array | unknown[]): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }
  // Object arrays: their items as printed.
  return a.length === b.length &&
    (a as unknown[]).every((item, i) => describe(item) === describe((b as unknown[])[i]));
}
