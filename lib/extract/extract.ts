/**
 * Extracting the weights of a checkpoint: the state_dict of a training
 * checkpoint, any dict of tensors, or the state_dict a pickled `nn.Module`
 * would give, written as `.safetensors` or as a torch file that
 * `torch.load(weights_only=True)` accepts.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import type { Checkpoint } from "../torch/checkpoint.ts";
import { selectPath } from "../torch/select_path.ts";
import { Parameter, Tensor } from "../torch/tensor.ts";
import { ExtractError } from "./extract_error.ts";
import { detached, isModule, moduleStateDict } from "./module_state_dict.ts";
import { type SafetensorsResult, writeSafetensors } from "./safetensors.ts";

const ORDERED_DICT = PyGlobal.of("collections", "OrderedDict");

/** The weights found in a checkpoint. */
export interface Weights {
  /** Where they came from: a pickled `"module"` or a `"state_dict"` (a dict of tensors). */
  kind: "module" | "state_dict";
  /** The path inside the checkpoint (`""` for the root). */
  key: string;
  /** `[name, tensor]` in order; tensors are detached views of the source's storages. */
  entries: [string, Tensor][];
  /** The state_dict's `_metadata` (`prefix -> {version}`), when it has one. */
  metadata: PyObject | undefined;
}

/**
 * The weights of a decoded checkpoint. With `key`, the dict of tensors or
 * the pickled module at that path (see `selectPath`); without, a pickled
 * module at the root, else the root's `state_dict`, else a root that is
 * itself a dict of tensors.
 *
 * @throws {ExtractError} when nothing there is a state_dict, or a value of
 * the dict is not a tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, findWeights } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/training.ckpt");
 * const weights = findWeights(ckpt.root);
 * assert.equal(weights.key, "state_dict");
 * assert.deepEqual(weights.entries.map(([name]) => name), [
 *   "encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias",
 * ]);
 * ckpt.close();
 * ```
 */
export function findWeights(root: unknown, key?: string): Weights {
  if (key !== undefined) return weightsAt(selectPath(root, key), key);
  if (isModule(root)) return weightsAt(root, "");
  if (root instanceof PyDict && root.has("state_dict")) {
    return weightsAt(root.get("state_dict"), "state_dict");
  }
  if (root instanceof PyDict && root.size > 0 && [...root.values()].every(isTensorLike)) {
    return weightsAt(root, "");
  }
  throw new ExtractError(
    "Cannot extract weights: the checkpoint has no state_dict and is no pickled module; " +
      "name the dict of tensors with --key",
  );
}

function weightsAt(value: unknown, key: string): Weights {
  const where = key === "" ? "the root" : key;
  if (isModule(value)) {
    const { entries, metadata } = moduleStateDict(value);
    const versions = new PyObject(ORDERED_DICT);
    for (const [prefix, version] of metadata) {
      versions.set(prefix, new PyDict<string, unknown>([["version", version]]));
    }
    return { kind: "module", key, entries, metadata: versions };
  }
  if (!(value instanceof PyDict)) {
    throw new ExtractError(
      `Cannot extract weights: ${where} is neither a dict of tensors nor a module`,
    );
  }
  const entries: [string, Tensor][] = [];
  for (const [name, item] of value) {
    if (typeof name !== "string") {
      throw new ExtractError(`Cannot extract weights: ${where} has a key that is not a str`);
    }
    if (!isTensorLike(item)) {
      throw new ExtractError(`Cannot extract weights: ${where}['${name}'] is not a tensor`);
    }
    entries.push([name, detached(item, name)]);
  }
  const state = value instanceof PyObject && value.state instanceof PyDict
    ? value.state
    : undefined;
  const metadata = state?.get("_metadata");
  return {
    kind: "state_dict",
    key,
    entries,
    metadata: metadata instanceof PyObject ? metadata : undefined,
  };
}

function isTensorLike(value: unknown): boolean {
  return value instanceof Tensor || value instanceof Parameter;
}

/** What {@linkcode extractWeights} wrote. */
export interface ExtractReport {
  /** The file written. */
  path: string;
  /** `"safetensors"` or `"pt"`. */
  format: "safetensors" | "pt";
  /** Where the weights came from. */
  kind: Weights["kind"];
  /** Their path in the checkpoint (`""` for the root). */
  key: string;
  /** The number of tensors, and of bytes of tensor data written. */
  tensors: number;
  /** Tensor data bytes. */
  bytes: number;
  /** For safetensors: names stored as another name's tensor (`[name, kept]`). */
  shared: [string, string][];
}

/**
 * Writes the weights of `checkpoint` (see {@linkcode findWeights}) to
 * `path`: `.safetensors` (see {@linkcode writeSafetensors}), or a torch
 * file of an `OrderedDict` of detached tensors and its `_metadata`, which
 * `torch.load(weights_only=True)` loads equal to `state_dict()`: storages
 * are copied as byte ranges (shared ones once), views and their strides
 * kept, the records torch does not write (such as anemoi's metadata) left
 * out. The format comes from `options.format`, else from the extension
 * (`.safetensors`, or a torch file for anything else). The checkpoint is
 * left as it was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, extractWeights } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/module.pt");
 * const out = await Deno.makeTempFile({ suffix: ".pt" });
 * const report = await extractWeights(ckpt, out);
 * assert.equal(report.kind, "module");
 * assert.equal(report.tensors, 14);
 * ckpt.close();
 * const weights = await Checkpoint.open(out);
 * assert.deepEqual(weights.recordNames.filter((n) => !n.startsWith("data/")), ["data.pkl", "version"]);
 * weights.close();
 * await Deno.remove(out);
 * ```
 */
export async function extractWeights(
  checkpoint: Checkpoint,
  path: string,
  options: { key?: string; format?: "safetensors" | "pt" } = {},
): Promise<ExtractReport> {
  const weights = findWeights(checkpoint.root, options.key);
  const format = options.format ??
    (path.toLowerCase().endsWith(".safetensors") ? "safetensors" : "pt");
  const bytes = weights.entries.reduce((sum, [, t]) => sum + t.numel * t.dtype.itemsize, 0);
  const report = {
    path,
    format,
    kind: weights.kind,
    key: weights.key,
    tensors: weights.entries.length,
    bytes,
    shared: [] as [string, string][],
  };
  if (format === "safetensors") {
    const result: SafetensorsResult = await writeSafetensors(path, weights.entries, {
      metadata: { format: "pt" },
    });
    report.shared = result.shared;
    report.bytes = result.tensors.reduce((sum, t) => sum + t.offsets[1] - t.offsets[0], 0);
    return report;
  }
  const stateDict = new PyObject(
    ORDERED_DICT,
    Tuple.of(),
    "reduce",
    weights.metadata === undefined ? undefined : new PyDict([["_metadata", weights.metadata]]),
  );
  for (const [name, tensor] of weights.entries) stateDict.set(name, tensor);
  const root = checkpoint.root;
  checkpoint.root = stateDict;
  try {
    await checkpoint.save(path, { strategy: "stream", extraRecords: "drop" });
  } finally {
    checkpoint.root = root;
  }
  return report;
}
