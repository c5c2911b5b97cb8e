/**
 * Writing tensors as a `.safetensors` file, by the format's specification:
 * an 8-byte little-endian header size, a JSON header (`__metadata__`, then
 * each tensor's `dtype`, `shape` and `data_offsets`), padded with spaces to
 * a multiple of 8, then every tensor's bytes, row-major, back to back.
 *
 * @module
 */

import { replaceAtomically } from "../torch/_atomic_write.ts";
import type { Tensor } from "../torch/tensor.ts";
import { FileSource } from "../zip/source.ts";
import { ExtractError } from "./extract_error.ts";
import { tensorChunks } from "../torch/_tensor_chunks.ts";

// torch dtype -> safetensors dtype, in the format's own order (by
// alignment), which its writer sorts by, descending.
const DTYPES: ReadonlyArray<readonly [string, string]> = [
  ["bool", "BOOL"],
  ["float4_e2m1fn_x2", "F4"],
  ["uint8", "U8"],
  ["int8", "I8"],
  ["float8_e5m2", "F8_E5M2"],
  ["float8_e4m3fn", "F8_E4M3"],
  ["float8_e8m0fnu", "F8_E8M0"],
  ["float8_e4m3fnuz", "F8_E4M3FNUZ"],
  ["float8_e5m2fnuz", "F8_E5M2FNUZ"],
  ["int16", "I16"],
  ["uint16", "U16"],
  ["float16", "F16"],
  ["bfloat16", "BF16"],
  ["int32", "I32"],
  ["uint32", "U32"],
  ["float32", "F32"],
  ["complex64", "C64"],
  ["float64", "F64"],
  ["int64", "I64"],
  ["uint64", "U64"],
];
const CODE = new Map(DTYPES.map(([torch, code]) => [torch, code]));
const RANK = new Map(DTYPES.map(([torch], rank) => [torch, rank]));

/** The largest header the format's reader accepts. */
const MAX_HEADER = 100_000_000;

/** One tensor as the file holds it. */
export interface SafetensorsTensor {
  /** Its name. */
  name: string;
  /** The safetensors dtype, e.g. `"F32"`. */
  dtype: string;
  /** Its shape (for `F4`, the last dimension counts single values). */
  shape: number[];
  /** `[begin, end)` of its bytes in the data section. */
  offsets: [number, number];
}

/** What {@linkcode writeSafetensors} wrote. */
export interface SafetensorsResult {
  /** The file written. */
  path: string;
  /** Its size in bytes. */
  size: number;
  /** The tensors, in the order of their bytes. */
  tensors: SafetensorsTensor[];
  /** `[name, kept]`: tensors stored once under another name (the same view of the same storage). */
  shared: [string, string][];
  /** The metadata written. */
  metadata: Record<string, string>;
}

/**
 * Writes `entries` (name and tensor) to `path` as safetensors, atomically
 * (a temporary file, synced, checked, renamed; see `Checkpoint.save`).
 * Each tensor's bytes are read from its storage as they are written, row
 * major (a strided view is written contiguous), one tensor at a time.
 *
 * The format cannot share memory between tensors: names whose tensors are
 * the same view of the same storage (tied weights) are stored once, under
 * the first name in byte order, and the other names are recorded in
 * `__metadata__` as `{name: kept}`, as safetensors' own `save_model` does;
 * views that only overlap are written as separate copies. Tensors are laid
 * out as the format's writer lays them out (dtype by alignment, descending,
 * then name), so every tensor starts aligned to its element size.
 *
 * @throws {ExtractError} for a dtype safetensors has no code for
 * (complex128, quantized types), a name `__metadata__`, or duplicate names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Tensor, writeSafetensors } from "../../mod.ts";
 *
 * const out = await Deno.makeTempFile({ suffix: ".safetensors" });
 * const result = await writeSafetensors(out, [
 *   ["bias", Tensor.fromTypedArray(new Float32Array([1, 2]))],
 *   ["steps", Tensor.fromTypedArray(new BigInt64Array([7n]), [])],
 * ], { metadata: { format: "pt" } });
 * assert.deepEqual(result.tensors.map((t) => [t.name, t.dtype, t.offsets]), [
 *   ["steps", "I64", [0, 8]],
 *   ["bias", "F32", [8, 16]],
 * ]);
 * const bytes = await Deno.readFile(out);
 * const size = Number(new DataView(bytes.buffer).getBigUint64(0, true));
 * assert.equal(size % 8, 0);
 * assert.equal(bytes.length, 8 + size + 16);
 * await Deno.remove(out);
 * ```
 */
export async function writeSafetensors(
  path: string,
  entries: readonly (readonly [string, Tensor])[],
  options: { metadata?: Record<string, string> } = {},
): Promise<SafetensorsResult> {
  const { order, shared } = layout(entries);
  const metadata: Record<string, string> = { ...options.metadata };
  for (const [name, kept] of shared) metadata[name] ??= kept;
  const tensors: SafetensorsTensor[] = [];
  let offset = 0;
  for (const [name, tensor] of order) {
    const bytes = tensor.numel * tensor.dtype.itemsize;
    const shape = [...tensor.shape];
    // Two float4 values per byte: the header counts single values.
    if (tensor.dtype.name === "float4_e2m1fn_x2") {
      if (shape.length === 0) shape.push(1);
      shape[shape.length - 1] *= 2;
    }
    tensors.push({
      name,
      dtype: CODE.get(tensor.dtype.name)!,
      shape,
      offsets: [offset, offset + bytes],
    });
    offset += bytes;
  }
  const header = headerBytes(metadata, tensors);
  const size = header.length + offset;
  const sources = new Set<FileSource>();
  for (const [, tensor] of order) {
    const source = tensor.storage.record?.source;
    if (source instanceof FileSource) sources.add(source);
  }
  await replaceAtomically(path, async (temp) => {
    const file = await Deno.open(temp, { write: true });
    try {
      await writeAll(file, header);
      for (const [name, tensor] of order) {
        for await (const chunk of tensorChunks(tensor, name)) await writeAll(file, chunk);
      }
    } finally {
      file.close();
    }
  }, {
    sources: [...sources],
    check: async (temp) => {
      const { size: written } = await Deno.stat(temp);
      if (written !== size) {
        throw new ExtractError(`Cannot write safetensors: wrote ${written} bytes, not ${size}`);
      }
    },
  });
  return { path, size, tensors, shared, metadata };
}

/**
 * The tensors in the order the file holds them, and the names stored as
 * another's (same storage, dtype and view).
 */
function layout(
  entries: readonly (readonly [string, Tensor])[],
): { order: [string, Tensor][]; shared: [string, string][] } {
  const names = new Set<string>();
  for (const [name, tensor] of entries) {
    if (name === "__metadata__") {
      throw new ExtractError("Cannot write safetensors: a tensor cannot be named __metadata__");
    }
    if (names.has(name)) throw new ExtractError(`Cannot write safetensors: ${name} appears twice`);
    if (!name.isWellFormed()) {
      throw new ExtractError(
        `Cannot write safetensors: the name ${JSON.stringify(name)} is not valid Unicode`,
      );
    }
    names.add(name);
    if (!CODE.has(tensor.dtype.name)) {
      throw new ExtractError(
        `Cannot write safetensors: ${name} is ${tensor.dtype.name}, which safetensors has no type for`,
      );
    }
  }
  const sorted = [...entries].sort(([a], [b]) => compareBytes(a, b));
  const kept = new Map<string, string>();
  const order: [string, Tensor][] = [];
  const shared: [string, string][] = [];
  const identities = new Map<unknown, number>();
  const identity = (tensor: Tensor) => {
    let id = identities.get(tensor.storage);
    if (id === undefined) identities.set(tensor.storage, id = identities.size);
    return `${id}:${tensor.dtype.name}:${tensor.offset}:${tensor.shape}:${tensor.stride}`;
  };
  for (const [name, tensor] of sorted) {
    const view = identity(tensor);
    const first = kept.get(view);
    if (first !== undefined && tensor.numel > 0) shared.push([name, first]);
    else {
      kept.set(view, name);
      order.push([name, tensor]);
    }
  }
  // The format's writer order: dtype by alignment, descending, then name.
  order.sort(([a, x], [b, y]) =>
    RANK.get(y.dtype.name)! - RANK.get(x.dtype.name)! || compareBytes(a, b)
  );
  return { order, shared };
}

/** The 8-byte size and the JSON header, padded with spaces to a multiple of 8. */
function headerBytes(metadata: Record<string, string>, tensors: SafetensorsTensor[]): Uint8Array {
  const parts: string[] = [];
  const keys = Object.keys(metadata).sort(compareBytes);
  if (keys.length > 0) {
    const fields = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`);
    parts.push(`"__metadata__":{${fields.join(",")}}`);
  }
  for (const { name, dtype, shape, offsets } of tensors) {
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape}],"data_offsets":[${offsets}]}`,
    );
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER) {
    throw new ExtractError(
      `Cannot write safetensors: the header would take ${padded} bytes, more than the format's ${MAX_HEADER}`,
    );
  }
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/** Orders strings by their UTF-8 bytes, as the format's writer sorts names. */
function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}
