// The torch-made vectors the tensor helper tests replay (written by
// tests/fixtures/make_tensor_vectors.py), and helpers to compare elements.
import { CANONICAL_NAN } from "../lib/torch/cast.ts";

const fixtures = new URL("./fixtures/", import.meta.url);

/** `{"float64->float16": [[srcHex, dstHex], ...]}`: one-element `tensor.to(dtype)` results. */
export interface CastVectors {
  torch: string;
  pairs: Record<string, [string, string][]>;
}

/** A view op applied to one of `inputs`: its outputs' layouts, or torch's error. */
export interface ViewRow {
  input: number;
  op: string;
  args: unknown[];
  out?: { size: number[]; stride: number[]; offset: number; view: boolean; self: boolean }[];
  error?: string;
}

/** A `torch.zeros`/`torch.full` call: its dtype, strides and bytes, or torch's error. */
export interface FactoryRow {
  call: "zeros" | "full";
  size: number[];
  value: string | null;
  dtype: string | null;
  out_dtype?: string;
  stride?: number[];
  bytes?: string;
  error?: string;
}

/** An op on a zeros tensor of `dtype` whose error names the tensor's type. */
export interface DtypeErrorRow {
  dtype: string;
  op: string;
  args: unknown[];
  shape: number[];
  error: string;
}

/** The views fixture. */
export interface ViewVectors {
  torch: string;
  inputs: { size: number[]; stride: number[]; offset: number }[];
  rows: ViewRow[];
  factories: FactoryRow[];
  dtype_errors: DtypeErrorRow[];
}

export async function castVectors(): Promise<CastVectors> {
  return JSON.parse(await Deno.readTextFile(new URL("tensor_cast.json", fixtures)));
}

export async function viewVectors(): Promise<ViewVectors> {
  return JSON.parse(await Deno.readTextFile(new URL("tensor_views.json", fixtures)));
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether the little-endian element `bytes` of a float dtype is a NaN. */
export function isNaNElement(bytes: Uint8Array, dtype: string): boolean {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  switch (dtype) {
    case "float64":
      return Number.isNaN(v.getFloat64(0, true));
    case "float32":
      return Number.isNaN(v.getFloat32(0, true));
    case "float16":
      return (v.getUint16(0, true) & 0x7fff) > 0x7c00;
    case "bfloat16":
      return (v.getUint16(0, true) & 0x7fff) > 0x7f80;
  }
  return false;
}

/**
 * Compares converted elements with torch's: bit for bit, except that where
 * torch converted to a NaN of a float dtype, its bits depend on its kernel,
 * and ckptkit's must be the canonical NaN. `copy`: nothing was converted
 * (same dtype), so NaNs keep their bits. Returns the indexes that differ.
 */
export function mismatches(
  actual: Uint8Array,
  expected: Uint8Array,
  dtype: string,
  size: number,
  copy = false,
): number[] {
  const bad: number[] = [];
  const nan = copy ? undefined : CANONICAL_NAN[dtype];
  for (let i = 0; i < expected.length / size; i++) {
    const a = actual.subarray(i * size, i * size + size);
    const e = expected.subarray(i * size, i * size + size);
    if (nan !== undefined && isNaNElement(e, dtype)) {
      if (toHex(a) !== nan) bad.push(i);
    } else if (a.some((byte, k) => byte !== e[k])) bad.push(i);
  }
  return bad;
}

/** mulberry32: small, fast, and the same sequence on every platform. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
