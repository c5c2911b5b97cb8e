/**
 * Stripping a wrapper's prefix (`module.` of DataParallel and
 * DistributedDataParallel) from a state_dict, as torch's
 * `consume_prefix_in_state_dict_if_present` intends.
 *
 * @module
 */

import { DuplicateKeyError, PyDict } from "../pickle/py_dict.ts";
import { PyObject } from "../pickle/py_object.ts";
import { shortRepr } from "../pickle/_short_repr.ts";

/**
 * Removes `prefix` from every key of `stateDict` that starts with it (plain
 * string prefixes, as torch's: `"mod"` makes `module.w` `ule.w`), and from
 * the keys of its `_metadata`, so that the result is the wrapped module's
 * own state_dict. Returns the renames made, in order.
 *
 * What torch does differs between versions; this follows torch 2.x's
 * metadata handling, and differs from torch where torch is accidental:
 * - keys stay where they are (torch moves renamed keys to the end, and
 *   1.13 sorts them); a key that would take an existing key's name is a
 *   {@linkcode DuplicateKeyError} and nothing changes (torch overwrites);
 * - `_metadata` keys are renamed the same way, and the entry of the
 *   wrapped module itself (`prefix` without its final dot) becomes the root
 *   entry `""`, replacing the wrapper's, as in torch 2.x; torch 1.13 leaves
 *   `_metadata` alone, and 2.x misses multi-part prefixes such as
 *   `model.module.` (it looks for `modelmodule`).
 *
 * @throws {DuplicateKeyError} when a renamed key (or metadata key) is
 * already present; the state_dict is unchanged.
 *
 * @example Load a DistributedDataParallel checkpoint into a bare model
 * ```ts
 * import assert from "node:assert/strict";
 * import { consumePrefix, PyDict } from "../../mod.ts";
 *
 * const stateDict = new PyDict([["module.fc.weight", 1], ["module.fc.bias", 2]]);
 * consumePrefix(stateDict, "module.");
 * assert.deepEqual([...stateDict.keys()], ["fc.weight", "fc.bias"]);
 * ```
 */
export function consumePrefix(stateDict: PyDict, prefix: string): Array<[string, string]> {
  if (prefix === "") return [];
  const renamed: Array<[string, string]> = [];
  const keys = planKeys(stateDict, (key) => {
    if (!key.startsWith(prefix)) return undefined;
    const name = key.slice(prefix.length);
    renamed.push([key, name]);
    return name;
  });
  const metadata = metadataOf(stateDict);
  // The wrapped module's own entry: `module` for prefix `module.`.
  const own = prefix.endsWith(".") ? prefix.slice(0, -1) : undefined;
  const metaKeys = metadata === undefined ? undefined : planKeys(metadata, (key) => {
    if (key === "") return undefined;
    if (key === own) return "";
    return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  }, "");
  // Everything is checked before anything changes.
  rebuild(stateDict, keys);
  if (metadata !== undefined) rebuild(metadata, metaKeys!);
  return renamed;
}

/** The `_metadata` torch keeps as an attribute of the state_dict (its BUILD state). */
function metadataOf(stateDict: PyDict): PyDict | undefined {
  if (!(stateDict instanceof PyObject) || !(stateDict.state instanceof PyDict)) return undefined;
  const metadata = stateDict.state.get("_metadata");
  return metadata instanceof PyDict ? metadata : undefined;
}

/**
 * Each item's new key (`rename` gives it for string keys, `undefined` to
 * keep), refusing one that takes another item's key. `replaceable`: a key
 * a renamed item may take, replacing that item where it stands.
 */
function planKeys(
  dict: PyDict,
  rename: (key: string) => string | undefined,
  replaceable?: string,
): Array<[unknown, unknown]> {
  const plan: Array<[unknown, unknown]> = [];
  const kept = new PyDict<unknown, unknown>();
  const taken = new PyDict<unknown, unknown>();
  for (const [key, value] of dict.entries()) {
    const name = typeof key === "string" ? rename(key) : undefined;
    plan.push([name ?? key, value]);
    if (name === undefined) kept.set(key, key);
    else {
      if (taken.has(name)) {
        throw new DuplicateKeyError(name, { old: shortRepr(key), key: shortRepr(name) });
      }
      taken.set(name, key);
    }
  }
  for (const [name, old] of taken.entries()) {
    if (kept.has(name) && name !== replaceable) {
      throw new DuplicateKeyError(name, { old: shortRepr(old), key: shortRepr(name) });
    }
  }
  return plan;
}

/**
 * Sets `dict` to `plan`'s items. A key planned twice (a root entry replaced
 * by the wrapped module's) stays at its first place with its last value.
 */
function rebuild(dict: PyDict, plan: Array<[unknown, unknown]>): void {
  const last = new PyDict<unknown, number>();
  plan.forEach(([key], i) => last.set(key, i));
  dict.clear();
  for (const [key] of plan) {
    if (!dict.has(key)) dict.set(key, plan[last.get(key)!][1]);
  }
}
