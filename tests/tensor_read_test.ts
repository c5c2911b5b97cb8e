// Reading a tensor reads only the part of its storage the view reaches.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { CheckpointError } from "../lib/errors.ts";

const fixture = new URL("./fixtures/tensors.ckpt", import.meta.url).pathname;

/** Opens tensors.ckpt and counts the bytes each read of its file takes. */
async function counted() {
  const ckpt = await Checkpoint.open(fixture);
  const reads: number[] = [];
  const source = ckpt.source;
  const read = source.read.bind(source);
  source.read = (offset: number, length: number) => {
    reads.push(length);
    return read(offset, length);
  };
  return { ckpt, reads, root: ckpt.root as PyDict<string, Tensor> };
}

Deno.test("bytes() of a view reads only the bytes it reaches", async () => {
  const { ckpt, reads, root } = await counted();
  try {
    // 'slice' is rows 1..2 of a 4x6 float32 storage of 96 bytes: offset 6, 12 elements.
    const slice = root.getItem("slice");
    assert.equal(slice.storage.nbytes, 96);
    const bytes = await slice.bytes();
    assert.deepEqual(reads, [48]);
    const base = await root.getItem("base").bytes();
    assert.deepEqual(bytes, base.subarray(24, 72));
    // 'transpose' reaches the whole storage but is gathered in row-major order.
    reads.length = 0;
    const transposed = root.getItem("transpose");
    const values = new Float32Array((await transposed.bytes()).slice().buffer);
    const all = new Float32Array(base.slice().buffer);
    assert.equal(values[1], all[transposed.stride[1]]);
    assert.deepEqual(reads, [transposed.requiredBytes - transposed.offset * 4]);
    // A storage read whole is not read again.
    await slice.storage.bytes();
    reads.length = 0;
    assert.deepEqual(await slice.bytes(), bytes);
    assert.deepEqual(reads, []);
  } finally {
    ckpt.close();
  }
});

Deno.test("Storage.read reads a range, and refuses one outside the storage", async () => {
  const { ckpt, reads, root } = await counted();
  try {
    const storage = root.getItem("base").storage;
    const part = await storage.read(8, 16);
    assert.deepEqual(reads, [16]);
    assert.deepEqual(part, (await storage.bytes()).subarray(8, 24));
    for (const [start, length] of [[90, 8], [-1, 2], [0, -1], [1.5, 2]]) {
      await assert.rejects(
        () => storage.read(start, length),
        (error) =>
          error instanceof CheckpointError &&
          error.message.startsWith("Cannot read storage: bytes") &&
          error.message.endsWith("are not inside its 96"),
      );
    }
  } finally {
    ckpt.close();
  }
});

Deno.test("isContiguous follows torch: size-1 strides are free, empty tensors are contiguous", () => {
  const storage = Storage.fromBytes(new Uint8Array(400 * 4), dtype("float32")!);
  const at = (shape: number[], stride: number[]) => new Tensor({ storage, shape, stride });
  assert.equal(at([0, 3], [1, 5]).isContiguous, true);
  assert.equal(at([2, 0, 3], [7, 7, 7]).isContiguous, true);
  assert.equal(at([1, 4, 1], [100, 1, 7]).isContiguous, true);
  assert.equal(at([4, 3], [1, 4]).isContiguous, false);
  assert.equal(at([3, 4], [8, 2]).isContiguous, false);
  assert.equal(at([], []).isContiguous, true);
});

Deno.test("bytes() of an empty view reads nothing; one past its storage is an error", async () => {
  const { ckpt, reads, root } = await counted();
  try {
    const storage = root.getItem("base").storage;
    const empty = new Tensor({ storage, offset: 24, shape: [0, 6], stride: [6, 1] });
    assert.deepEqual(await empty.bytes(), new Uint8Array(0));
    const past = new Tensor({ storage, offset: 20, shape: [2, 3], stride: [3, 1] });
    await assert.rejects(
      () => past.bytes(),
      /Cannot read tensor: view needs 104 bytes, storage has 96/,
    );
    assert.deepEqual(reads, []);
  } finally {
    ckpt.close();
  }
});
