// A safetensors reader written from the format's specification, strict:
// it refuses what the specification does not allow, to check what ckptkit
// writes (it shares no code with lib/extract/safetensors.ts).

export interface ReadTensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

export interface ReadFile {
  metadata: Record<string, string> | undefined;
  tensors: Map<string, ReadTensor>;
  /** Names in header order. */
  order: string[];
  headerSize: number;
  headerText: string;
}

const BITS: Record<string, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

function fail(why: string): never {
  throw new Error(`invalid safetensors: ${why}`);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Parses `bytes` as a safetensors file, checking every rule of the format. */
export function readSafetensors(bytes: Uint8Array): ReadFile {
  if (bytes.length < 8) fail("header too small");
  const n = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);
  if (n > 100_000_000n) fail("header too large");
  const size = Number(n);
  if (8 + size > bytes.length) fail("invalid header length");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + size));
  } catch {
    fail("header is not UTF-8");
  }
  // JSON whitespace around the object only (no NULs), and no duplicate keys.
  if (!/^[ \t\n\r]*\{[\s\S]*\}[ \t\n\r]*$/.test(text)) fail("header is not one JSON object");
  const parsed = JSON.parse(text);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    fail("header is not an object");
  }
  const keys = topLevelKeys(text);
  if (new Set(keys).size !== keys.length) fail("duplicate key in the header");
  let metadata: Record<string, string> | undefined;
  const entries: [string, { dtype: string; shape: number[]; offsets: [number, number] }][] = [];
  for (const key of keys) {
    const value = parsed[key];
    if (key === "__metadata__") {
      if (value === null) continue;
      if (typeof value !== "object" || Array.isArray(value)) fail("__metadata__ is not a map");
      for (const v of Object.values(value)) {
        if (typeof v !== "string") fail("metadata value is not a string");
      }
      metadata = value as Record<string, string>;
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      fail(`${key} is not an object`);
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in BITS)) fail(`${key}: unknown dtype ${dtype}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(`${key}: bad shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(`${key}: bad data_offsets`);
    }
    entries.push([key, { dtype, shape: shape as number[], offsets: offsets as [number, number] }]);
  }
  const data = bytes.subarray(8 + size);
  const byOffset = [...entries].sort((a, b) => a[1].offsets[0] - b[1].offsets[0]);
  let start = 0;
  const tensors = new Map<string, ReadTensor>();
  for (const [name, { dtype, shape, offsets: [begin, end] }] of byOffset) {
    if (begin !== start || end < begin) fail(`invalid offset for tensor ${name}`);
    const bits = shape.reduce((a, b) => a * b, 1) * BITS[dtype];
    if (bits % 8 !== 0) fail(`${name}: not whole bytes`);
    if (end - begin !== bits / 8) fail(`invalid shape, data type, or offset for tensor ${name}`);
    tensors.set(name, { dtype, shape, data: data.subarray(begin, end) });
    start = end;
  }
  if (start !== data.length) fail("file not fully covered");
  return {
    metadata,
    tensors,
    order: entries.map(([name]) => name),
    headerSize: size,
    headerText: text,
  };
}

/** The keys of the top-level object of `text`, in order, duplicates kept. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)));
      i = j;
      expectKey = false;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = c === "{" && depth === 1;
    } else if (c === "}" || c === "]") {
      depth--;
    } else if (c === "," && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}
