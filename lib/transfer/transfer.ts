/**
 * Transfer learning without Python: a checkpoint whose state_dict tensors
 * are replaced by another checkpoint's tensors of the same name, where
 * shape and dtype match. Tensor bytes are copied as byte ranges from both
 * files when the result is saved, so memory stays flat.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";
import { PyDict } from "../pickle/py_dict.ts";
import type { Checkpoint } from "../torch/checkpoint.ts";
import { selectPath } from "../torch/select_path.ts";
import { Parameter, Tensor } from "../torch/tensor.ts";
import { findWeights } from "../extract/extract.ts";

/** Options for {@linkcode transferWeights}. */
export interface TransferOptions {
  /** Transfer only the names this matches (default: all). */
  include?: RegExp;
  /** Never transfer the names this matches. */
  exclude?: RegExp;
  /**
   * The target's optimizer state: `"keep"` it (the default; the moments of
   * transferred tensors then describe the weights they replaced) or
   * `"drop"` it (`optimizer_states` becomes empty, so a resumed run starts
   * its optimizers afresh).
   */
  optimizer?: "keep" | "drop";
  /** Where the target's state_dict is (default `state_dict`). */
  targetKey?: string;
  /** Where the source's weights are (default: as `findWeights` finds them). */
  sourceKey?: string;
}

/** A tensor of the target that has a same-named one in the source that does not fit. */
export interface SkippedTensor {
  /** Its name. */
  name: string;
  /** Why: the dtypes and shapes of both. */
  reason: string;
}

/** What {@linkcode transferWeights} did. */
export interface TransferReport {
  /** Names whose tensor now comes from the source. */
  transferred: string[];
  /** Same names whose shape or dtype differ, kept from the target. */
  skipped: SkippedTensor[];
  /** Names in both, left out by `include`/`exclude`. */
  filtered: string[];
  /** Names only the target has (kept). */
  onlyInTarget: string[];
  /** Names only the source has (not added). */
  onlyInSource: string[];
  /** What became of the target's optimizer state. */
  optimizer: "kept" | "dropped";
}

/**
 * Replaces, in `target`'s state_dict, every tensor that `source` has under
 * the same name with the same shape and dtype (and that the filters let
 * through) by the source's tensor; `target.root` is edited in place, so
 * save `target` afterwards, keeping `source` open until then. A target
 * value that is a `Parameter` stays one, keeping its `requires_grad`.
 *
 * @throws {CkptkitError} when either has no state_dict where expected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, transferWeights } from "../../mod.ts";
 *
 * const target = await Checkpoint.open("tests/fixtures/training.ckpt");
 * const source = await Checkpoint.open("tests/fixtures/training.ckpt");
 * const report = transferWeights(source, target, { exclude: /^decoder\./ });
 * assert.deepEqual(report.transferred, ["encoder.weight", "encoder.bias"]);
 * assert.deepEqual(report.filtered, ["decoder.weight", "decoder.bias"]);
 * source.close();
 * target.close();
 * ```
 */
export function transferWeights(
  source: Checkpoint,
  target: Checkpoint,
  options: TransferOptions = {},
): TransferReport {
  const targetKey = options.targetKey ?? "state_dict";
  const stateDict = selectPath(target.root, targetKey);
  if (!(stateDict instanceof PyDict)) {
    throw new CkptkitError(`Cannot transfer weights: the target's ${targetKey} is not a dict`);
  }
  const from = new Map(findWeights(source.root, options.sourceKey).entries);
  const report: TransferReport = {
    transferred: [],
    skipped: [],
    filtered: [],
    onlyInTarget: [],
    onlyInSource: [],
    optimizer: options.optimizer === "drop" ? "dropped" : "kept",
  };
  const names = new Set<string>();
  for (const [name, value] of stateDict) {
    if (typeof name !== "string") continue;
    names.add(name);
    const current = value instanceof Parameter ? value.data : value;
    const replacement = from.get(name);
    if (!(current instanceof Tensor) || replacement === undefined) {
      report.onlyInTarget.push(name);
      continue;
    }
    if (options.include?.test(name) === false || options.exclude?.test(name)) {
      report.filtered.push(name);
      continue;
    }
    if (
      current.dtype !== replacement.dtype ||
      current.shape.length !== replacement.shape.length ||
      current.shape.some((size, d) => size !== replacement.shape[d])
    ) {
      report.skipped.push({
        name,
        reason: `target ${describe(current)}, source ${describe(replacement)}`,
      });
      continue;
    }
    const tensor = new Tensor({
      storage: replacement.storage,
      offset: replacement.offset,
      shape: [...replacement.shape],
      stride: [...replacement.stride],
      dtype: replacement.dtype,
      rebuild: replacement.rebuild,
      requiresGrad: current.requiresGrad,
    });
    stateDict.set(
      name,
      value instanceof Parameter
        ? new Parameter(tensor, value.requiresGrad, value.backwardHooks, value.state)
        : tensor,
    );
    report.transferred.push(name);
  }
  for (const name of from.keys()) if (!names.has(name)) report.onlyInSource.push(name);
  if (options.optimizer === "drop" && target.root instanceof PyDict) {
    if (target.root.has("optimizer_states")) target.root.set("optimizer_states", []);
  }
  return report;
}

function describe(tensor: Tensor): string {
  return `${tensor.dtype.name} [${tensor.shape.join(", ")}]`;
}
