/**
 * Shrinks a training checkpoint for sharing or inference by dropping the
 * optimizer and scheduler state; their storages are not written at all.
 *
 *     deno run -A examples/drop_optimizer_state.ts IN.ckpt OUT.ckpt
 *
 * @module
 */

import { Checkpoint, type PyDict } from "../mod.ts";

/** Top-level keys of a PyTorch Lightning checkpoint that only resume training needs. */
export const TRAINING_ONLY_KEYS = ["optimizer_states", "lr_schedulers"];

/** Removes the training-only keys from `root`; returns the ones it removed. */
export function dropOptimizerState(root: PyDict<string, unknown>): string[] {
  return TRAINING_ONLY_KEYS.filter((key) => root.delete(key));
}

if (import.meta.main) {
  const [input, output] = Deno.args;
  if (input === undefined || output === undefined) {
    console.error("usage: deno run -A examples/drop_optimizer_state.ts IN.ckpt OUT.ckpt");
    Deno.exit(2);
  }
  const ckpt = await Checkpoint.open(input);
  const dropped = dropOptimizerState(ckpt.root as PyDict<string, unknown>);
  const result = await ckpt.save(output);
  ckpt.close();
  const before = (await Deno.stat(input)).size;
  console.log(`dropped ${dropped.join(", ") || "nothing"}: ${before} -> ${result.size} bytes`);
}
