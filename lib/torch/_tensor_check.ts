// What torch's rebuild of a tensor accepts, checked before a save writes
// anything: a file torch cannot load is never written, and the error names
// where the tensor sits.
import { CheckpointError } from "../errors.ts";
import { PyDict } from "../pickle/py_dict.ts";
import { PyObject } from "../pickle/py_object.ts";
import { shortRepr } from "../pickle/_short_repr.ts";
import { Parameter, type Tensor } from "./tensor.ts";

/** Why torch could not rebuild `tensor` as it would be written, or undefined when it can. */
export function tensorProblem(tensor: Tensor): string | undefined {
  const { shape, stride, offset, storage, dtype } = tensor;
  if (!Array.isArray(shape) || !Array.isArray(stride)) return "its shape or stride is not a list";
  if (shape.length !== stride.length) {
    return `its shape has ${shape.length} dimensions and its stride ${stride.length}`;
  }
  for (let i = 0; i < shape.length; i++) {
    if (!Number.isSafeInteger(shape[i]) || shape[i] < 0) {
      return `its size ${String(shape[i])} in dimension ${i} is not a non-negative integer`;
    }
    if (!Number.isSafeInteger(stride[i]) || stride[i] < 0) {
      return `its stride ${String(stride[i])} in dimension ${i} is not a non-negative integer`;
    }
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    return `its storage offset ${String(offset)} is not a non-negative integer`;
  }
  // A typed storage gives the tensor its dtype on load (_rebuild_tensor_v2).
  if (!storage.untyped && storage.dtype !== dtype) {
    return `it is ${dtype.name} but its storage is a ${storage.storageClass.name} (${storage.dtype.name})`;
  }
  if (tensor.requiredBytes > storage.nbytes) {
    return `its view (shape [${shape.join(", ")}], stride [${
      stride.join(", ")
    }], offset ${offset}) needs ${tensor.requiredBytes} bytes of a storage of ${storage.nbytes}`;
  }
  return undefined;
}

/** A tensor that cannot be written, found while encoding. */
export class InvalidTensorError extends CheckpointError {
  /** The tensor. */
  readonly tensor: Tensor;
  /** Why it cannot be written. */
  readonly problem: string;
  constructor(tensor: Tensor, problem: string) {
    super(`Cannot save: a tensor cannot be loaded by torch: ${problem}`);
    this.name = "InvalidTensorError";
    this.tensor = tensor;
    this.problem = problem;
  }
}

/**
 * Where `target` sits in `root`, as Python would index it
 * (`["state_dict"]["encoder.weight"]`), or undefined when it cannot be
 * reached. Breadth first, so the shortest path wins; run only on failure.
 */
export function pathTo(root: unknown, target: unknown): string | undefined {
  const seen = new Set<unknown>();
  let level: [unknown, string][] = [[root, ""]];
  while (level.length > 0) {
    const next: [unknown, string][] = [];
    for (const [value, path] of level) {
      if (value === target) return path === "" ? "the root" : path;
      if (typeof value !== "object" || value === null || seen.has(value)) continue;
      seen.add(value);
      if (value instanceof Parameter) next.push([value.data, `${path}.data`]);
      else if (Array.isArray(value)) value.forEach((item, i) => next.push([item, `${path}[${i}]`]));
      if (value instanceof PyDict) {
        for (const [key, item] of value) next.push([item, `${path}[${shortRepr(key)}]`]);
      }
      if (value instanceof PyObject) {
        value.args.forEach((item, i) => next.push([item, `${path}.args[${i}]`]));
        value.listItems?.forEach((item, i) => next.push([item, `${path}[${i}]`]));
        if (value.state !== undefined) next.push([value.state, `${path}.__dict__`]);
      }
    }
    level = next;
  }
  return undefined;
}
