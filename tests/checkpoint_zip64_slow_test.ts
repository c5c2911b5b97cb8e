// A checkpoint past 4 GiB round-trips through Checkpoint.open and save with
// correct ZIP64 records. The 4 GiB storage comes from a sparse file of zeros,
// so the test needs disk space (about 8.6 GB, removed after) but little time.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { torchPickle } from "../lib/torch/_torch_pickle.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { readCentralDirectory, type ZipEntry } from "../lib/zip/central_directory.ts";
import { verifyEntryCrc } from "../lib/zip/read_entry.ts";
import { FileSource } from "../lib/zip/source.ts";
import { TorchZipWriter } from "../lib/zip/torch_zip_writer.ts";
import { zeroRecord } from "./_big_checkpoint.ts";

const BIG_SIZE = 2 ** 32 + 100;
// zlib.crc32 of BIG_SIZE zero bytes.
const BIG_CRC = 0xa92a4ce5;
const FOUR_GIB = 2 ** 32;

Deno.test("a checkpoint past 4 GiB round-trips with ZIP64 records (slow)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const zeros = `${dir}/zeros.bin`;
    const { source: sparse, entry: bigEntry } = await zeroRecord(zeros, BIG_SIZE, BIG_CRC);
    const big = new Storage({
      dtype: dtype("uint8")!,
      storageClass: PyGlobal.of("torch", "ByteStorage"),
      location: "cpu",
      numel: BIG_SIZE,
      record: { source: sparse, entry: bigEntry },
    });
    const root = new PyDict<string, unknown>([
      ["before", Tensor.fromTypedArray(new Float32Array([1, 2, 3]))],
      ["big", new Tensor({ storage: big, shape: [BIG_SIZE] })],
      ["after", Tensor.fromTypedArray(new Int32Array([4, 5, 6, 7]))],
      ["empty", Tensor.fromTypedArray(new Float64Array(0))],
    ]);
    const { parts: data, storages: order } = torchPickle(root);

    const input = `${dir}/big.ckpt`;
    const out = await Deno.open(input, { write: true, create: true });
    const writer = await TorchZipWriter.create(out, { archiveName: "big" });
    await writer.writeRecord("data.pkl", data);
    for (const [i, storage] of order.entries()) {
      if (storage === big) await writer.copyRecord(`data/${i}`, sparse, bigEntry);
      else await writer.writeRecord(`data/${i}`, storage.loaded!);
    }
    await writer.writeRecord("version", new TextEncoder().encode("3\n"));
    await writer.finish();
    out.close();
    sparse.close();
    await Deno.remove(zeros);

    const ckpt = await Checkpoint.open(input);
    const tensor = (ckpt.root as PyDict<string, Tensor>).getItem("big");
    assert.equal(tensor.numel, BIG_SIZE);
    const output = `${dir}/out.ckpt`;
    await ckpt.save(output);
    ckpt.close();

    const layout = async (path: string) => {
      const source = await FileSource.open(path);
      const directory = await readCentralDirectory(source);
      return { source, directory };
    };
    const theirs = await layout(input);
    const ours = await layout(output);
    try {
      assert.ok(ours.directory.zip64);
      assert.ok(ours.directory.size > FOUR_GIB);
      const fields = (e: ZipEntry) => [e.name, e.localHeaderOffset, e.dataOffset, e.size, e.crc32];
      assert.deepEqual(ours.directory.entries.map(fields), theirs.directory.entries.map(fields));
      const [, , bigRecord, after] = ours.directory.entries;
      assert.equal(bigRecord.size, BIG_SIZE);
      assert.ok(after.localHeaderOffset > FOUR_GIB);
      assert.equal(after.dataOffset % 64, 0);
      assert.ok(await verifyEntryCrc(ours.source, bigRecord));
      const tail = await ours.source.read(ours.directory.centralDirectoryOffset, 64);
      const same = await theirs.source.read(theirs.directory.centralDirectoryOffset, 64);
      assert.deepEqual(tail, same);
    } finally {
      ours.source.close();
      theirs.source.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
