/**
 * Halves a model for inference: every float32 and float64 tensor of the
 * state_dict becomes bfloat16 (or float16), rounded as torch's
 * `tensor.to(dtype)` rounds; integer tensors (BatchNorm's step counter) are
 * kept. Only the state_dict is written: optimizer and other training state
 * are dropped.
 *
 *     deno run -A examples/cast_for_inference.ts IN.ckpt OUT.ckpt [bfloat16|float16]
 *
 * @module
 */

import { Checkpoint, Parameter, type PyDict, Tensor } from "../mod.ts";

/** The dtypes cast: the full-precision floats. */
export const CAST_FROM = ["float32", "float64"];

/**
 * Converts the float tensors of `stateDict` to `dtype` in place; returns
 * how many. One tensor object met twice (tied weights) is converted once,
 * so the two keys still share it.
 */
export async function castStateDict(
  stateDict: PyDict<string, unknown>,
  dtype: "bfloat16" | "float16",
): Promise<number> {
  const done = new Map<unknown, unknown>();
  for (const [key, value] of stateDict.entries()) {
    const tensor = value instanceof Parameter ? value.data : value;
    if (!(tensor instanceof Tensor) || !CAST_FROM.includes(tensor.dtype.name)) continue;
    let cast = done.get(value);
    if (cast === undefined) {
      const data = await tensor.to(dtype);
      cast = value instanceof Parameter ? new Parameter(data, value.requiresGrad) : data;
      done.set(value, cast);
    }
    stateDict.set(key, cast);
  }
  return done.size;
}

if (import.meta.main) {
  const [input, output, dtype = "bfloat16"] = Deno.args;
  if (output === undefined || (dtype !== "bfloat16" && dtype !== "float16")) {
    console.error(
      "usage: deno run -A examples/cast_for_inference.ts IN.ckpt OUT.ckpt [bfloat16|float16]",
    );
    Deno.exit(2);
  }
  const ckpt = await Checkpoint.open(input);
  const root = ckpt.root as PyDict<string, unknown>;
  // A Lightning checkpoint keeps the weights under "state_dict"; a bare state_dict is the root.
  const stateDict = (root.get("state_dict") ?? root) as PyDict<string, unknown>;
  const count = await castStateDict(stateDict, dtype);
  ckpt.root = stateDict;
  const result = await ckpt.save(output);
  ckpt.close();
  const before = (await Deno.stat(input)).size;
  console.log(`cast ${count} tensors to ${dtype}: ${before} -> ${result.size} bytes`);
}
