/**
 * The state_dict of a pickled `nn.Module` (what `torch.save(model)` writes,
 * such as an anemoi inference checkpoint), derived as `module.state_dict()`
 * derives it, from the pickled attributes alone: no class is imported.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyObject } from "../pickle/py_object.ts";
import { PyFrozenSet, PySet } from "../pickle/py_set.ts";
import { Parameter, Tensor } from "../torch/tensor.ts";
import { moduleVersion } from "./_module_versions.ts";
import { ExtractError } from "./extract_error.ts";

/** A module's state_dict: its entries in order and its `_metadata` versions. */
export interface ModuleStateDict {
  /** `[key, tensor]` in the order `state_dict()` gives them; tensors are detached views. */
  entries: [string, Tensor][];
  /** `[prefix, version]` for each module, as `state_dict()._metadata` holds them. */
  metadata: [string, number][];
}

// Classes whose state_dict comes from their own code (_save_to_state_dict
// overrides), which a pickle does not show.
const CODE_DEFINED = [
  "torch.ao.nn.quantized",
  "torch.nn.quantized",
  "torch.ao.nn.intrinsic.quantized",
  "torch.nn.intrinsic.quantized",
  "torch.ao.quantization",
  "torch.quantization",
  "torch.ao.nn.sparse",
];
const UNINITIALIZED = new Set([
  "torch.nn.parameter.UninitializedParameter",
  "torch.nn.parameter.UninitializedBuffer",
]);

/** Whether `value` is a pickled `nn.Module`: an object whose state has `_parameters`, `_buffers` and `_modules`. */
export function isModule(value: unknown): value is PyObject {
  return value instanceof PyObject && value.state instanceof PyDict &&
    value.state.has("_parameters") && value.state.has("_buffers") && value.state.has("_modules");
}

/**
 * The state_dict `module.state_dict()` would give for the pickled module
 * `root`: each module's parameters, then its persistent buffers (those not
 * in `_non_persistent_buffers_set`), then its children, depth first, None
 * entries skipped, keys prefixed with the module's path. Tensors come back
 * detached (no `requires_grad`), viewing the same storages. `_metadata`
 * versions come from the module classes (BatchNorm and InstanceNorm are 2,
 * as in torch; an instance's own `_version` wins).
 *
 * Only the pickle is read, so a state_dict that a class's code changes
 * cannot be derived: state_dict hooks (they are pickled, and refused here),
 * quantized and sparse classes (refused), and an overridden
 * `get_extra_state` (not visible in the pickle: its `_extra_state` key is
 * missing from the result).
 *
 * @throws {ExtractError} when `root` is not a module or its state_dict needs code.
 *
 * @example The state_dict of a pickled model
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, moduleStateDict } from "../../mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/module.pt");
 * const { entries, metadata } = moduleStateDict(ckpt.root);
 * const keys = entries.map(([key]) => key);
 * assert.deepEqual(keys.slice(0, 3), ["0.weight", "0.bias", "1.weight"]);
 * assert.ok(!keys.includes("tied.scratch"), "non-persistent buffers are left out");
 * assert.deepEqual(metadata.find(([prefix]) => prefix === "1"), ["1", 2]);
 * ckpt.close();
 * ```
 * ```
 */
export function moduleStateDict(root: unknown): ModuleStateDict {
  if (!isModule(root)) {
    throw new ExtractError("Cannot extract weights: the value is not a pickled nn.Module");
  }
  const out: ModuleStateDict = { entries: [], metadata: [] };
  walk(root, "", out, new Set());
  return out;
}

function walk(module: PyObject, prefix: string, out: ModuleStateDict, path: Set<PyObject>): void {
  const where = prefix === "" ? "the root module" : `module ${prefix.slice(0, -1)}`;
  if (path.has(module)) {
    throw new ExtractError(`Cannot extract weights: ${where} contains itself`);
  }
  const className = module.className ?? "?";
  if (CODE_DEFINED.some((m) => className.startsWith(`${m}.`))) {
    throw new ExtractError(
      `Cannot extract weights: ${where} is a ${className}, whose state_dict its code writes`,
    );
  }
  const state = module.state as PyDict<string, unknown>;
  for (const hooks of ["_state_dict_hooks", "_state_dict_pre_hooks"]) {
    if (sizeOf(state.get(hooks)) > 0) {
      throw new ExtractError(
        `Cannot extract weights: ${where} has ${hooks} (code that changes its state_dict)`,
      );
    }
  }
  const own = state.get("_version");
  const version = typeof own === "number" ? own : moduleVersion(className);
  out.metadata.push([prefix.slice(0, -1), version]);
  for (const [name, value] of items(state.get("_parameters"), where, "_parameters")) {
    if (value !== null) out.entries.push([prefix + name, detached(value, `${prefix}${name}`)]);
  }
  const transient = names(state.get("_non_persistent_buffers_set"));
  for (const [name, value] of items(state.get("_buffers"), where, "_buffers")) {
    if (value !== null && !transient.has(name)) {
      out.entries.push([prefix + name, detached(value, `${prefix}${name}`)]);
    }
  }
  path.add(module);
  for (const [name, child] of items(state.get("_modules"), where, "_modules")) {
    if (child === null) continue;
    if (!isModule(child)) {
      throw new ExtractError(
        `Cannot extract weights: ${prefix}${name} is in _modules but is not a module`,
      );
    }
    walk(child, `${prefix}${name}.`, out, path);
  }
  path.delete(module);
}

function items(value: unknown, where: string, field: string): [string, unknown][] {
  if (!(value instanceof PyDict)) {
    throw new ExtractError(`Cannot extract weights: ${field} of ${where} is not a dict`);
  }
  const out: [string, unknown][] = [];
  for (const [key, item] of value) {
    if (typeof key !== "string") {
      throw new ExtractError(`Cannot extract weights: ${field} of ${where} has a non-str key`);
    }
    out.push([key, item]);
  }
  return out;
}

function sizeOf(value: unknown): number {
  return value instanceof PyDict ? value.size : 0;
}

function names(value: unknown): Set<unknown> {
  return value instanceof PySet || value instanceof PyFrozenSet ? new Set(value) : new Set();
}

/** `value.detach()`: a view of the same storage without autograd. */
export function detached(value: unknown, key: string): Tensor {
  const tensor = value instanceof Parameter ? value.data : value;
  if (!(tensor instanceof Tensor)) {
    const kind = value instanceof PyObject ? value.className ?? "object" : typeof value;
    throw new ExtractError(
      UNINITIALIZED.has(kind)
        ? `Cannot extract weights: ${key} is uninitialized (a lazy module never run)`
        : `Cannot extract weights: ${key} is a ${kind}, not a tensor`,
    );
  }
  return new Tensor({
    storage: tensor.storage,
    offset: tensor.offset,
    shape: [...tensor.shape],
    stride: [...tensor.stride],
    dtype: tensor.dtype,
    rebuild: tensor.rebuild,
    requiresGrad: false,
  });
}
