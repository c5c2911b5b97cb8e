/**
 * Finding a value in a decoded checkpoint by a dotted path, as people name
 * them: `state_dict.encoder.weight` (state_dict keys contain dots),
 * `hyper_parameters.config.training.lr`, `optimizer_states.0.param_groups`.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";
import { PyDict } from "../pickle/py_dict.ts";
import { PyObject } from "../pickle/py_object.ts";
import { isOmegaconfNode, omegaconfValues } from "./omegaconf_values.ts";
import { Parameter } from "./tensor.ts";

/** Options for {@linkcode selectPath}. */
export interface SelectOptions {
  /** Walk omegaconf configs as their pickled nodes instead of their values. */
  raw?: boolean;
}

/**
 * The value at `path` in `root`. A string path is split at dots; at each
 * dict the longest run of the remaining parts that is a key is taken, so
 * keys holding dots need no quoting. Lists and tuples take indices
 * (negative from the end); an object whose state is a dict (a schema, an
 * `nn.Module`) takes its attribute names after its own items; an omegaconf
 * config is walked as its values, or with `raw` as its nodes (by the
 * config's keys, then the node's own fields such as `_metadata`).
 *
 * @throws {CkptkitError} naming the first part that is not there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, type PyFloat, selectPath, Tensor } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/training.ckpt");
 * assert.ok(selectPath(ckpt.root, "state_dict.encoder.weight") instanceof Tensor);
 * assert.equal(selectPath(ckpt.root, "hyper_parameters.config.training.epochs"), 3);
 * const lr = selectPath(ckpt.root, "optimizer_states.0.param_groups.-1.lr") as PyFloat;
 * assert.equal(lr.value, 0.001);
 * ckpt.close();
 * ```
 */
export function selectPath(
  root: unknown,
  path: string | readonly (string | number)[],
  options: SelectOptions = {},
): unknown {
  const parts = typeof path === "string" ? (path === "" ? [] : path.split(".")) : [...path];
  let current = view(root, options);
  let at = 0;
  while (at < parts.length) {
    const step = descend(current, parts, at);
    if (step === undefined) {
      const where = parts.slice(0, at).join(".") || "the root";
      throw new CkptkitError(
        `Cannot find ${parts.join(".")}: ${where} has no ${describePart(current, parts[at])}`,
      );
    }
    current = view(step.value, options);
    at = step.next;
  }
  return current;
}

function view(value: unknown, options: SelectOptions): unknown {
  return !options.raw && isOmegaconfNode(value) ? omegaconfValues(value) : value;
}

/** One step of the walk: the value the longest matching key (or index) names, and where the rest starts. */
function descend(
  value: unknown,
  parts: readonly (string | number)[],
  at: number,
): { value: unknown; next: number } | undefined {
  if (Array.isArray(value)) {
    const index = Number(parts[at]);
    if (!Number.isInteger(index)) return undefined;
    const i = index < 0 ? value.length + index : index;
    return i >= 0 && i < value.length ? { value: value[i], next: at + 1 } : undefined;
  }
  if (value instanceof Parameter && parts[at] === "data") {
    return { value: value.data, next: at + 1 };
  }
  // A config's node (raw): its children by the config's keys first.
  if (isOmegaconfNode(value)) {
    const content = (value.state as PyDict).get("_content");
    const found = content instanceof PyDict || Array.isArray(content)
      ? descend(content, parts, at)
      : undefined;
    if (found !== undefined) return found;
  }
  if (value instanceof PyDict) {
    const found = longestKey(value, parts, at);
    if (found !== undefined) return found;
  }
  if (value instanceof PyObject && value.state instanceof PyDict) {
    const fields = value.state.get("__dict__");
    return longestKey(fields instanceof PyDict ? fields : value.state, parts, at);
  }
  return undefined;
}

function longestKey(
  dict: PyDict,
  parts: readonly (string | number)[],
  at: number,
): { value: unknown; next: number } | undefined {
  for (let end = parts.length; end > at; end--) {
    const key = parts.slice(at, end).join(".");
    if (dict.has(key)) return { value: dict.get(key), next: end };
    // Integer keys (optimizer state is keyed by parameter index).
    if (end === at + 1 && /^-?\d+$/.test(key) && dict.has(Number(key))) {
      return { value: dict.get(Number(key)), next: end };
    }
  }
  return undefined;
}

function describePart(value: unknown, part: string | number): string {
  if (Array.isArray(value)) return `index ${part} (it has ${value.length} items)`;
  if (value instanceof PyDict || value instanceof PyObject) return `key '${part}'`;
  const kind = value === null
    ? "None"
    : typeof value === "object"
    ? (value as object).constructor.name
    : typeof value;
  return `part '${part}' (it is ${kind === "None" ? kind : `a ${kind}`})`;
}
