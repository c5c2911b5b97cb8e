// Writes large checkpoints quickly: every storage is a range of a sparse
// file of zeros, copied by TorchZipWriter like any storage record.
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { torchPickle } from "../lib/torch/_torch_pickle.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import type { ZipEntry } from "../lib/zip/central_directory.ts";
import { crc32 } from "../lib/zip/crc32.ts";
import { FileSource } from "../lib/zip/source.ts";
import { TorchZipWriter } from "../lib/zip/torch_zip_writer.ts";

/** A sparse file of `size` zero bytes, and a stored zip entry covering all of it. */
export async function zeroRecord(
  path: string,
  size: number,
  crc = crc32(new Uint8Array(size)),
): Promise<{ source: FileSource; entry: ZipEntry }> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  await file.truncate(size);
  file.close();
  const entry: ZipEntry = {
    name: "zeros",
    method: 0,
    flags: 0,
    crc32: crc,
    compressedSize: size,
    size,
    localHeaderOffset: 0,
    dataOffset: 0,
  };
  return { source: await FileSource.open(path), entry };
}

/** Writes a state_dict of `tensors` float32 tensors of `tensorBytes` zero bytes each to `path`. */
export async function writeZeroCheckpoint(
  path: string,
  options: { tensors: number; tensorBytes: number; archiveName?: string },
): Promise<void> {
  const { tensors, tensorBytes } = options;
  const zeros = `${path}.zeros`;
  const { source, entry } = await zeroRecord(zeros, tensorBytes);
  try {
    const stateDict = new PyObject<string, Tensor>(PyGlobal.of("collections", "OrderedDict"));
    for (let i = 0; i < tensors; i++) {
      const storage = new Storage({
        dtype: dtype("float32")!,
        storageClass: PyGlobal.of("torch", "FloatStorage"),
        location: "cpu",
        numel: tensorBytes / 4,
        record: { source, entry },
      });
      stateDict.set(`layers.${i}.weight`, new Tensor({ storage, shape: [tensorBytes / 4] }));
    }
    const { parts: data, storages } = torchPickle(stateDict);

    const out = await Deno.open(path, { write: true, create: true, truncate: true });
    const writer = await TorchZipWriter.create(out, { archiveName: options.archiveName ?? "big" });
    await writer.writeRecord("data.pkl", data);
    for (const key of storages.keys()) await writer.copyRecord(`data/${key}`, source, entry);
    await writer.writeRecord("version", new TextEncoder().encode("3\n"));
    await writer.finish();
    out.close();
  } finally {
    source.close();
    await Deno.remove(zeros);
  }
}

/**
 * A training checkpoint (migratable with tests/migrations/first_group)
 * holding `bytes` of zero tensor data, so writing it takes a while.
 */
export async function writeBigTraining(path: string, bytes: number): Promise<void> {
  const zeros = `${path}.state.ckpt`;
  await writeZeroCheckpoint(zeros, { tensors: 4, tensorBytes: bytes / 4 });
  const state = await Checkpoint.open(zeros);
  const training = await Checkpoint.open(
    new URL("./fixtures/migration_empty.ckpt", import.meta.url).pathname,
  );
  try {
    (training.root as PyDict).set("state_dict", state.root);
    await training.save(path, { strategy: "stream" });
  } finally {
    state.close();
    training.close();
    await Deno.remove(zeros);
  }
}
