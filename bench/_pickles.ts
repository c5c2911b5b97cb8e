// Value graphs and pickles for the codec benchmarks: a checkpoint dominated
// by many small objects, and one dominated by large numpy byte strings.
import { joinParts } from "../lib/pickle/_byte_writer.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Parameter, Tensor } from "../lib/torch/tensor.ts";
import {
  torchPickle as encodeTorchPickle,
  torchUnpickleOptions,
} from "../lib/torch/_torch_pickle.ts";

const ORDERED_DICT = PyGlobal.of("collections", "OrderedDict");
const FLOAT32 = dtype("float32")!;

function tensor(shape: number[]): Tensor {
  const numel = shape.reduce((a, b) => a * b, 1);
  // Only the pickle is measured: the storage needs a size, not bytes.
  const storage = new Storage({
    dtype: FLOAT32,
    storageClass: PyGlobal.of("torch", "FloatStorage"),
    location: "cpu",
    numel,
  });
  return new Tensor({ storage, shape });
}

/**
 * A Lightning-shaped checkpoint with `keys` parameters in its state_dict and
 * Adam state (`step`, `exp_avg`, `exp_avg_sq`) for each: 4 tensors per key.
 */
export function smallObjectsCheckpoint(keys: number): PyDict {
  const stateDict = new PyObject(ORDERED_DICT, Tuple.of());
  const state = new PyDict();
  for (let i = 0; i < keys; i++) {
    const shape = i % 2 === 0 ? [64, 32] : [64];
    stateDict.set(`model.encoder.layers.${i >> 3}.block.${i & 7}.weight`, tensor(shape));
    state.set(
      i,
      new PyDict<string, unknown>([
        ["step", tensor([])],
        ["exp_avg", tensor(shape)],
        ["exp_avg_sq", tensor(shape)],
      ]),
    );
  }
  const group = new PyDict<string, unknown>([
    ["lr", new PyFloat(0.000625)],
    ["betas", Tuple.of(new PyFloat(0.9), new PyFloat(0.95))],
    ["eps", new PyFloat(1e-8)],
    ["weight_decay", new PyFloat(0.1)],
    ["amsgrad", false],
    ["params", Array.from({ length: keys }, (_, i) => i)],
  ]);
  return new PyDict<string, unknown>([
    ["epoch", 3],
    ["global_step", 120000],
    ["pytorch-lightning_version", "2.4.0"],
    ["state_dict", stateDict],
    ["optimizer_states", [
      new PyDict<string, unknown>([["state", state], ["param_groups", [group]]]),
    ]],
    ["lr_schedulers", []],
  ]);
}

const RECONSTRUCT = PyGlobal.of("numpy.core.multiarray", "_reconstruct");
const NDARRAY = PyGlobal.of("numpy", "ndarray");
const NUMPY_DTYPE = PyGlobal.of("numpy", "dtype");

function ndarray(data: Uint8Array): PyObject {
  const dt = new PyObject(NUMPY_DTYPE, Tuple.of("f4", false, true));
  dt.state = Tuple.of(3, "<", null, null, null, -1, -1, 0);
  const array = new PyObject(RECONSTRUCT, Tuple.of(NDARRAY, Tuple.of(0), new Uint8Array([0x62])));
  array.state = Tuple.of(1, Tuple.of(data.length / 4), dt, false, data);
  return array;
}

/** Statistics-like metadata: `count` float32 numpy arrays of `bytes` pseudo-random bytes each. */
export function largeBytesCheckpoint(count: number, bytes: number): PyDict {
  let seed = 0x9e3779b9;
  const arrays = new PyDict<string, unknown>();
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(bytes);
    const words = new Uint32Array(data.buffer);
    for (let k = 0; k < words.length; k++) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      words[k] = seed >>> 0;
    }
    arrays.set(`statistic_${i}`, ndarray(data));
  }
  return new PyDict<string, unknown>([["metadata", new PyDict([["statistics", arrays]])]]);
}

/** Pickles `value` as torch.save would (storages as persistent ids), in one array. */
export function torchPickle(value: unknown): Uint8Array {
  return joinParts(encodeTorchPickle(value).parts);
}

/** The same, in the parts `Checkpoint.save` writes without joining them. */
export function torchPickleParts(value: unknown): Uint8Array[] {
  return encodeTorchPickle(value).parts;
}

/** Decodes a torch pickle with storages that point nowhere. */
export function torchUnpickle(data: Uint8Array): unknown {
  return unpickle(
    data,
    torchUnpickleOptions(({ key, storageClass, dtype, location, numel }) =>
      new Storage({ key, storageClass, dtype, location, numel })
    ),
  );
}

export { Parameter };
