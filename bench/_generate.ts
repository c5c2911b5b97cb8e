// Writes the benchmark checkpoint with ckptkit's own writer, for machines
// without torch: the same structure as bench/_make_checkpoint.py.
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { torchPickle } from "../lib/torch/_torch_pickle.ts";
import { TorchZipWriter } from "../lib/zip/torch_zip_writer.ts";

const PATTERN = [64, 1, 1, 16, 1, 32, 1, 8];
const TEMPLATE = new URL("../tests/fixtures/example_training.ckpt", import.meta.url);

/** Element counts of the new parameters, as bench/_make_checkpoint.py computes them. */
export function parameterSizes(count: number, totalBytes: number): number[] {
  const weights = Array.from({ length: count }, (_, i) => PATTERN[i % PATTERN.length]);
  const unit = totalBytes / (3 * 4 * weights.reduce((a, b) => a + b, 0));
  return weights.map((w) => Math.max(1, Math.floor(w * unit)));
}

/** Layers the migrations move, named as bench/_make_checkpoint.py names them. */
function parameterName(i: number): string {
  if (i % 3 === 0) return `model.model.encoder.proc.node_dst_mlp.${i}.weight`;
  if (i % 3 === 1) {
    return `model.model.processor.proc.${Math.floor(i / 3) % 2}.blocks.${
      Math.floor(i / 6) % 2
    }.node_dst_mlp.${i}.weight`;
  }
  return `model.model.decoder.proc.node_src_mlp.${i}.weight`;
}

function tensor(shape: number[]): Tensor {
  const storage = new Storage({
    dtype: dtype("float32")!,
    storageClass: PyGlobal.of("torch", "FloatStorage"),
    location: "cpu",
    numel: shape.reduce((a, b) => a * b, 1),
  });
  return new Tensor({ storage, shape });
}

/**
 * Writes an anemoi-shaped training checkpoint of `params` parameters with
 * Adam state to `path`, all shipped migrations pending.
 */
export async function generateCheckpoint(
  path: string,
  params: number,
  totalBytes: number,
): Promise<void> {
  const template = await Checkpoint.open(TEMPLATE.pathname);
  const root = template.root as PyDict<string, unknown>;
  template.close();
  const stateDict = root.get("state_dict") as PyDict<string, unknown>;
  parameterSizes(params - stateDict.size, totalBytes).forEach((numel, i) => {
    stateDict.set(parameterName(i), tensor([numel]));
  });
  const state = new PyDict<number, unknown>();
  [...stateDict.values()].forEach((value, i) => {
    const shape = [...(value as Tensor).shape];
    state.set(
      i,
      new PyDict<string, unknown>([
        ["step", tensor([])],
        ["exp_avg", tensor(shape)],
        ["exp_avg_sq", tensor(shape)],
      ]),
    );
  });
  const optimizer = (root.get("optimizer_states") as PyDict<string, unknown>[])[0];
  optimizer.set("state", state);
  const group = (optimizer.get("param_groups") as PyDict<string, unknown>[])[0];
  group.set("params", Array.from({ length: stateDict.size }, (_, i) => i));
  root.set("migrations", []);
  const { parts: data, storages } = torchPickle(root);

  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const name = path.slice(path.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "") || "archive";
    const writer = await TorchZipWriter.create(file, { archiveName: name });
    await writer.writeRecord("data.pkl", data);
    for (const [key, storage] of storages.entries()) {
      const bytes = new Uint8Array(storage.nbytes);
      bytes.fill(Number(key) % 7);
      await writer.writeRecord(`data/${key}`, bytes);
    }
    await writer.writeRecord("version", new TextEncoder().encode("3\n"));
    await writer.finish();
  } finally {
    file.close();
  }
}
