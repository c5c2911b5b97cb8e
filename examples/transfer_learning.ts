/**
 * Starts a fine-tuning run from pretrained weights: every tensor of the
 * target checkpoint whose name, shape and dtype match one of the pretrained
 * checkpoint takes the pretrained values; the rest (a new head) is kept.
 * A DistributedDataParallel `module.` prefix on the pretrained keys is
 * stripped first.
 *
 *     deno run -A examples/transfer_learning.ts PRETRAINED.ckpt TARGET.ckpt OUT.ckpt
 *
 * The pretrained tensors are assigned as they are: the save copies their
 * bytes from the pretrained file, which must stay open until it is done.
 *
 * @module
 */

import { Checkpoint, consumePrefix, type Parameter, type PyDict, Tensor } from "../mod.ts";

/** What {@linkcode transferWeights} did with each target key. */
export interface Transfer {
  /** Keys that took the pretrained tensor. */
  copied: string[];
  /** Keys kept, with the reason. */
  kept: Array<[string, string]>;
}

/** The state_dict of a checkpoint: under `state_dict` (Lightning) or the root itself. */
export function stateDictOf(root: unknown): PyDict<string, unknown> {
  const dict = root as PyDict<string, unknown>;
  return (dict.get("state_dict") ?? dict) as PyDict<string, unknown>;
}

function describe(value: Tensor | Parameter): string {
  return `${value.dtype.name} [${value.shape.join(", ")}]`;
}

/** Replaces the tensors of `target` that `pretrained` has with the same name, shape and dtype. */
export function transferWeights(
  pretrained: PyDict<string, unknown>,
  target: PyDict<string, unknown>,
): Transfer {
  const result: Transfer = { copied: [], kept: [] };
  for (const [key, current] of target.entries()) {
    const source = pretrained.get(key);
    if (!(current instanceof Tensor) || !(source instanceof Tensor)) {
      result.kept.push([key, source === undefined ? "not pretrained" : "not a tensor"]);
    } else if (describe(source) !== describe(current)) {
      result.kept.push([key, `${describe(source)} pretrained, ${describe(current)} here`]);
    } else {
      target.set(key, source);
      result.copied.push(key);
    }
  }
  return result;
}

if (import.meta.main) {
  const [pretrainedPath, targetPath, output] = Deno.args;
  if (output === undefined) {
    console.error(
      "usage: deno run -A examples/transfer_learning.ts PRETRAINED.ckpt TARGET.ckpt OUT.ckpt",
    );
    Deno.exit(2);
  }
  const pretrained = await Checkpoint.open(pretrainedPath);
  const target = await Checkpoint.open(targetPath);
  const weights = stateDictOf(pretrained.root);
  consumePrefix(weights, "module.");
  const { copied, kept } = transferWeights(weights, stateDictOf(target.root));
  for (const [key, why] of kept) console.log(`kept ${key}: ${why}`);
  await target.save(output);
  // Only now may the pretrained file close: the save copied its tensors.
  pretrained.close();
  target.close();
  console.log(`copied ${copied.length} tensors, kept ${kept.length}`);
}
