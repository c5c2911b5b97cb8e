/**
 * Renames state_dict keys with a table of regular expressions, the way a
 * layer rename in the model code needs old checkpoints to follow.
 *
 *     deno run -A examples/rename_keys.ts IN.ckpt OUT.ckpt
 *
 * Edit RULES for your model: each key is matched against every rule in
 * order, and the first match's replacement is applied.
 *
 * @module
 */

import { Checkpoint, type PyDict } from "../mod.ts";

/** `[pattern, replacement]` pairs, tried in order. */
export const RULES: Array<[RegExp, string]> = [
  [/^fc\./, "classifier."],
  [/^head\.(\d+)\.proj\./, "head.$1.linear."],
];

/**
 * Renames the keys of `stateDict` in place, keeping their order; returns
 * the renames made.
 */
export function renameKeys(
  stateDict: PyDict<string, unknown>,
  rules: Array<[RegExp, string]> = RULES,
): Array<[string, string]> {
  const renamed: Array<[string, string]> = [];
  const entries = [...stateDict.entries()];
  stateDict.clear();
  for (const [key, value] of entries) {
    const rule = rules.find(([pattern]) => pattern.test(key));
    const name = rule === undefined ? key : key.replace(rule[0], rule[1]);
    if (name !== key) renamed.push([key, name]);
    stateDict.set(name, value);
  }
  return renamed;
}

if (import.meta.main) {
  const [input, output] = Deno.args;
  if (input === undefined || output === undefined) {
    console.error("usage: deno run -A examples/rename_keys.ts IN.ckpt OUT.ckpt");
    Deno.exit(2);
  }
  const ckpt = await Checkpoint.open(input);
  const root = ckpt.root as PyDict<string, unknown>;
  // A Lightning checkpoint keeps the weights under "state_dict"; a bare state_dict is the root.
  const stateDict = (root.get("state_dict") ?? root) as PyDict<string, unknown>;
  for (const [from, to] of renameKeys(stateDict)) console.log(`${from} -> ${to}`);
  await ckpt.save(output);
  ckpt.close();
}
