// The bytes of one tensor's view in row-major order, in chunks, read from
// its storage record as they are needed: a contiguous view is a byte range
// of the record; a strided one is gathered from the span of the record it
// reaches. Nothing is kept, so memory stays at one chunk (or one span).
import { resolveEntries } from "../zip/central_directory.ts";
import { readEntry } from "../zip/read_entry.ts";
import { METHOD_STORED } from "../zip/_format.ts";
import { CheckpointError } from "../errors.ts";
import type { Tensor } from "./tensor.ts";

/** Bytes per chunk of a contiguous view. */
export const CHUNK_SIZE = 8 << 20;

/** Whether the view's elements lie row-major without gaps (empty views included). */
export function isRowMajor(tensor: Tensor): boolean {
  if (tensor.numel === 0) return true;
  let step = 1;
  for (let d = tensor.shape.length - 1; d >= 0; d--) {
    if (tensor.shape[d] !== 1 && tensor.stride[d] !== step) return false;
    step *= tensor.shape[d];
  }
  return true;
}

/** Yields the row-major bytes of `tensor`'s view, `numel * itemsize` in all. */
export async function* tensorChunks(tensor: Tensor, key: string): AsyncGenerator<Uint8Array> {
  const size = tensor.dtype.itemsize;
  const total = tensor.numel * size;
  if (total === 0) return;
  if (tensor.requiredBytes > tensor.storage.nbytes) {
    throw new CheckpointError(`Cannot read tensor: ${key} views past the end of its storage`);
  }
  if (isRowMajor(tensor)) {
    const start = tensor.offset * size;
    for (let done = 0; done < total; done += CHUNK_SIZE) {
      yield await storageRange(tensor, start + done, Math.min(CHUNK_SIZE, total - done));
    }
    return;
  }
  // The span the view reaches, then its elements in order.
  let last = tensor.offset;
  for (let d = 0; d < tensor.shape.length; d++) last += (tensor.shape[d] - 1) * tensor.stride[d];
  // Strides are never negative: the view's first element is its lowest.
  const spanStart = tensor.offset;
  const span = await storageRange(tensor, spanStart * size, (last + 1 - spanStart) * size);
  const out = new Uint8Array(total);
  const index = new Array<number>(tensor.shape.length).fill(0);
  let element = tensor.offset - spanStart;
  for (let n = 0; n < tensor.numel; n++) {
    out.set(span.subarray(element * size, element * size + size), n * size);
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d] < tensor.shape[d]) {
        element += tensor.stride[d];
        break;
      }
      element -= (tensor.shape[d] - 1) * tensor.stride[d];
      index[d] = 0;
    }
  }
  yield out;
}

/** `length` bytes of the storage from byte `start`, read from its record or memory. */
async function storageRange(tensor: Tensor, start: number, length: number): Promise<Uint8Array> {
  const storage = tensor.storage;
  const loaded = storage.loaded;
  if (loaded !== undefined) return loaded.subarray(start, start + length);
  const record = storage.record!;
  if (record.entry.method !== METHOD_STORED) {
    // A compressed record (a re-zipped checkpoint) is read whole.
    return (await readEntry(record.source, record.entry)).subarray(start, start + length);
  }
  await resolveEntries(record.source, [record.entry]);
  return await record.source.read(record.entry.dataOffset + start, length);
}
