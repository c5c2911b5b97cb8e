// The torch-specific hooks of the pickle codec: persistent ids for storages
// and the rebuild functions of tensors and parameters.
import { CheckpointError } from "../errors.ts";
import { type PickleOptions, pickleParts } from "../pickle/pickler.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import type { Construction } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import type { UnpickleOptions } from "../pickle/unpickler.ts";
import { type DType, dtype as lookupDtype, dtypeOfStorageClass } from "./dtype.ts";
import { StorageOrder } from "./_storage_order.ts";
import { Storage } from "./storage.ts";
import { Parameter, Tensor } from "./tensor.ts";
import { InvalidTensorError, tensorProblem } from "./_tensor_check.ts";

/** Resolves a storage key to the storage's bytes record and checks its size. */
export type StorageResolver = (init: {
  key: string;
  storageClass: PyGlobal;
  dtype: DType;
  location: string;
  numel: number;
}) => Storage;

/** Decoding hooks: storages shared by key, tensors and parameters as classes. */
export function torchUnpickleOptions(resolve: StorageResolver): UnpickleOptions {
  // A null-prototype object, not a Map: torch's keys are decimal numerals,
  // which V8 keeps as array indices here, without a hash table that grows
  // and rehashes through the old generation.
  const storages: Record<string, Storage | undefined> = Object.create(null);
  return {
    persistentLoad(pid: unknown): unknown {
      if (!(pid instanceof Tuple) || pid.length !== 5 || pid[0] !== "storage") {
        throw new CheckpointError("Cannot decode checkpoint: persistent id is not a storage");
      }
      // Indexing, not destructuring: destructuring walks an iterator per storage.
      const storageClass = pid[1], key = pid[2], location = pid[3], numel = pid[4];
      if (!(storageClass instanceof PyGlobal) || typeof key !== "string") {
        throw new CheckpointError("Cannot decode checkpoint: malformed storage persistent id");
      }
      if (typeof location !== "string" || typeof numel !== "number" || numel < 0) {
        throw new CheckpointError(`Cannot decode checkpoint: malformed storage ${key}`);
      }
      const type = dtypeOfStorageClass(storageClass.name);
      if (type === undefined) {
        throw new CheckpointError(
          `Cannot decode checkpoint: unknown storage class ${storageClass.path}`,
        );
      }
      let storage = storages[key];
      if (storage === undefined) {
        storage = resolve({ key, storageClass, dtype: type, location, numel });
        storages[key] = storage;
      }
      return storage;
    },
    construct(callable: unknown, args: Tuple, how: Construction): unknown {
      if (how !== "reduce" || !(callable instanceof PyGlobal)) return undefined;
      if (callable.module !== "torch._utils") return undefined;
      switch (callable.name) {
        case "_rebuild_tensor_v2":
          return tensorFrom(args, "v2");
        case "_rebuild_tensor_v3":
          return tensorFrom(args, "v3");
        case "_rebuild_parameter":
          return args.length === 3 && args[0] instanceof Tensor && typeof args[1] === "boolean"
            ? new Parameter(args[0], args[1], args[2])
            : undefined;
        case "_rebuild_parameter_with_state":
          return args.length === 4 && args[0] instanceof Tensor && typeof args[1] === "boolean"
            ? new Parameter(args[0], args[1], args[2], args[3])
            : undefined;
        default:
          return undefined;
      }
    },
  };
}

function isIndexTuple(value: unknown): value is Tuple<number> {
  if (!(value instanceof Tuple)) return false;
  for (let i = 0; i < value.length; i++) {
    const n = value[i];
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) return false;
  }
  return true;
}

/** A plain array copy of `tuple` (no iterator, unlike a spread). */
function listOf(tuple: Tuple<number>): number[] {
  const list = new Array<number>(tuple.length);
  for (let i = 0; i < tuple.length; i++) list[i] = tuple[i];
  return list;
}

/**
 * The tensor a rebuild call makes. A call torch's own rebuild would refuse
 * (wrong arguments, mismatched shape and stride, negative sizes) is an
 * error here too, never a generic object that a check would then pass.
 */
function tensorFrom(args: Tuple, rebuild: "v2" | "v3"): Tensor {
  const fixed = rebuild === "v3" ? 7 : 6;
  const refuse = (why: string) =>
    new CheckpointError(
      `Cannot decode checkpoint: a _rebuild_tensor_${rebuild} call cannot make a tensor: ${why}`,
    );
  if (args.length !== fixed && args.length !== fixed + 1) {
    throw refuse(`it has ${args.length} arguments, not ${fixed} or ${fixed + 1}`);
  }
  const storage = args[0], offset = args[1], shape = args[2], stride = args[3];
  const requiresGrad = args[4], backwardHooks = args[5];
  if (!(storage instanceof Storage)) throw refuse("its first argument is not a storage");
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    throw refuse(`its storage offset ${String(offset)} is not a non-negative integer`);
  }
  if (!isIndexTuple(shape)) throw refuse("its size is not a tuple of non-negative integers");
  if (!isIndexTuple(stride)) throw refuse("its stride is not a tuple of non-negative integers");
  if (shape.length !== stride.length) {
    throw refuse(`its size has ${shape.length} dimensions and its stride ${stride.length}`);
  }
  if (typeof requiresGrad !== "boolean") throw refuse("requires_grad is not a bool");
  let dtype = storage.dtype;
  if (rebuild === "v3") {
    const named = args[6];
    const found = named instanceof PyGlobal && named.module === "torch"
      ? lookupDtype(named.name)
      : undefined;
    if (found === undefined) throw refuse("its dtype is not a torch dtype");
    dtype = found;
  }
  return new Tensor({
    storage,
    offset,
    shape: listOf(shape),
    stride: listOf(stride),
    requiresGrad,
    backwardHooks,
    metadata: args.length > fixed ? args[fixed] : undefined,
    dtype,
    rebuild,
  });
}

/** Encoding hooks; `keyOf` gives a storage's key. */
function torchPickleOptions(keyOf: (storage: Storage) => string): PickleOptions {
  return {
    persistentId(value: object): unknown {
      if (!(value instanceof Storage)) return undefined;
      return Tuple.of("storage", value.storageClass, keyOf(value), value.location, value.numel);
    },
    reduce(value: object) {
      if (value instanceof Tensor) {
        const problem = tensorProblem(value);
        if (problem !== undefined) throw new InvalidTensorError(value, problem);
        return value.toReduce();
      }
      if (value instanceof Parameter) return value.toReduce();
      return undefined;
    },
  };
}

/**
 * Encodes `root` as torch.save does, storages as persistent ids keyed in the
 * order the pickle first meets them; `storages` lists them in key order. The
 * pickle comes as consecutive parts (see `pickleParts`).
 */
export function torchPickle(root: unknown): { parts: Uint8Array[]; storages: Storage[] } {
  const order = new StorageOrder();
  try {
    const parts = pickleParts(root, torchPickleOptions((storage) => order.keyOf(storage)));
    return { parts, storages: order.storages };
  } finally {
    order.release();
  }
}
