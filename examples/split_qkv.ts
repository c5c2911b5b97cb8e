/**
 * Splits fused attention projections for code that keeps query, key and
 * value apart: each `<prefix>qkv.weight` / `<prefix>qkv.bias` becomes
 * `<prefix>q.*`, `<prefix>k.*` and `<prefix>v.*`, in its place, as
 * `torch.chunk(3)` cuts it along the first dimension. Each part is
 * cloned into its own storage, so the fused tensor is no longer written.
 *
 *     deno run -A examples/split_qkv.ts IN.ckpt OUT.ckpt
 *
 * @module
 */

import { Checkpoint, Parameter, type PyDict, Tensor } from "../mod.ts";

const FUSED = /^(.*)qkv\.(weight|bias)$/;

/** Splits every fused qkv tensor of `stateDict` in place; returns the keys split. */
export async function splitQkv(stateDict: PyDict<string, unknown>): Promise<string[]> {
  const split: string[] = [];
  const entries = [...stateDict.entries()];
  const result: Array<[string, unknown]> = [];
  for (const [key, value] of entries) {
    const match = FUSED.exec(key);
    const tensor = value instanceof Parameter ? value.data : value;
    if (match === null || !(tensor instanceof Tensor)) {
      result.push([key, value]);
      continue;
    }
    const [, prefix, kind] = match;
    const parts = tensor.chunk(3, 0);
    if (parts.length !== 3 || parts.some((part) => part.shape[0] !== parts[0].shape[0])) {
      throw new Error(`${key}: dimension 0 (${tensor.shape[0]}) does not split in 3 equal parts`);
    }
    for (const [name, part] of ["q", "k", "v"].map((n, i) => [n, parts[i]] as const)) {
      const own = await part.clone();
      const kept = value instanceof Parameter ? new Parameter(own, value.requiresGrad) : own;
      result.push([`${prefix}${name}.${kind}`, kept]);
    }
    split.push(key);
  }
  stateDict.clear();
  stateDict.update(result);
  return split;
}

if (import.meta.main) {
  const [input, output] = Deno.args;
  if (output === undefined) {
    console.error("usage: deno run -A examples/split_qkv.ts IN.ckpt OUT.ckpt");
    Deno.exit(2);
  }
  const ckpt = await Checkpoint.open(input);
  const root = ckpt.root as PyDict<string, unknown>;
  const stateDict = (root.get("state_dict") ?? root) as PyDict<string, unknown>;
  for (const key of await splitQkv(stateDict)) console.log(`split ${key}`);
  await ckpt.save(output);
  ckpt.close();
}
