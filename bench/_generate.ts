// Writes the benchmark checkpoint with ckptkit's own writer, for machines
// without torch: the same structure as bench/_make_checkpoint.py.
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { torchPickle } from "../lib/torch/_torch_pickle.ts";
import { TorchZipWriter } from "../lib/zip/torch_zip_writer.ts";

const PATTERN = [64, 1, 1, 16, 1, 32, 1, 8];

/** Element counts of the parameters, as bench/_make_checkpoint.py computes them. */
export function parameterSizes(params: number, totalBytes: number): number[] {
  const weights = Array.from({ length: params }, (_, i) => PATTERN[i % PATTERN.length]);
  const unit = totalBytes / (3 * 4 * weights.reduce((a, b) => a + b, 0));
  return weights.map((w) => Math.max(1, Math.floor(w * unit)));
}

function tensor(numel: number, shape: number[] = [numel]): Tensor {
  const storage = new Storage({
    dtype: dtype("float32")!,
    storageClass: PyGlobal.of("torch", "FloatStorage"),
    location: "cpu",
    numel,
  });
  return new Tensor({ storage, shape });
}

/** Writes a Lightning-shaped checkpoint of `params` parameters with Adam state to `path`. */
export async function generateCheckpoint(
  path: string,
  params: number,
  totalBytes: number,
): Promise<void> {
  const stateDict = new PyObject(PyGlobal.of("collections", "OrderedDict"), Tuple.of());
  const state = new PyDict();
  parameterSizes(params, totalBytes).forEach((numel, i) => {
    stateDict.set(`model.processor.proc.${i >> 3}.blocks.${i & 7}.mlp.weight`, tensor(numel));
    state.set(
      i,
      new PyDict<string, unknown>([
        ["step", tensor(1, [])],
        ["exp_avg", tensor(numel)],
        ["exp_avg_sq", tensor(numel)],
      ]),
    );
  });
  const root = new PyDict<string, unknown>([
    ["epoch", 3],
    ["global_step", 1200],
    ["pytorch-lightning_version", "2.4.0"],
    ["state_dict", stateDict],
    ["optimizer_states", [
      new PyDict<string, unknown>([
        ["state", state],
        ["param_groups", [
          new PyDict<string, unknown>([
            ["lr", new PyFloat(6.25e-4)],
            ["betas", Tuple.of(new PyFloat(0.9), new PyFloat(0.95))],
            ["eps", new PyFloat(1e-8)],
            ["params", Array.from({ length: params }, (_, i) => i)],
          ]),
        ]],
      ]),
    ]],
    ["lr_schedulers", []],
  ]);
  const { parts: data, storages } = torchPickle(root);

  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const name = path.slice(path.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "") || "archive";
    const writer = await TorchZipWriter.create(file, { archiveName: name });
    await writer.writeRecord("data.pkl", data);
    for (const [key, storage] of storages.entries()) {
      const bytes = new Uint8Array(storage.nbytes);
      new Float32Array(bytes.buffer).fill(Number(key) % 7);
      await writer.writeRecord(`data/${key}`, bytes);
    }
    await writer.writeRecord("version", new TextEncoder().encode("3\n"));
    await writer.finish();
  } finally {
    file.close();
  }
}
