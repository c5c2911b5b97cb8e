// Files torch.load and numpy.load read, built around pickle bytes for the
// scanner tests: torch zip checkpoints, .npy object arrays, .npz archives,
// legacy torch files, the 0.1.x tar format.
import { crc32 } from "../lib/zip/crc32.ts";
import { deflateRaw } from "./_zip_builder.ts";

const encoder = new TextEncoder();

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A record of {@linkcode zipOf}: stored, or deflated with `method: 8`. */
export interface ZipRecordSpec {
  name: string;
  data: Uint8Array;
  method?: number;
}

/** A zip archive of `records`, in order (names may repeat). */
export async function zipOf(records: ZipRecordSpec[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data, method = 0 } of records) {
    const stored = method === 8 ? await deflateRaw(data) : data;
    const nameBytes = encoder.encode(name);
    const fields = (size: number) => {
      const b = new Uint8Array(size);
      return { b, v: new DataView(b.buffer) };
    };
    const local = fields(30);
    local.v.setUint32(0, 0x04034b50, true);
    local.v.setUint16(4, 20, true);
    local.v.setUint16(8, method, true);
    local.v.setUint32(14, crc32(data), true);
    local.v.setUint32(18, stored.length, true);
    local.v.setUint32(22, data.length, true);
    local.v.setUint16(26, nameBytes.length, true);
    const head = fields(46);
    head.v.setUint32(0, 0x02014b50, true);
    head.v.setUint16(4, 20, true);
    head.v.setUint16(6, 20, true);
    head.v.setUint16(10, method, true);
    head.v.setUint32(16, crc32(data), true);
    head.v.setUint32(20, stored.length, true);
    head.v.setUint32(24, data.length, true);
    head.v.setUint16(28, nameBytes.length, true);
    head.v.setUint32(42, offset, true);
    parts.push(local.b, nameBytes, stored);
    central.push(head.b, nameBytes);
    offset += 30 + nameBytes.length + stored.length;
  }
  const cdSize = central.reduce((n, p) => n + p.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, records.length, true);
  ev.setUint16(10, records.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return join(...parts, ...central, end);
}

/** A torch.save-shaped zip: `archive/data.pkl`, `archive/version`, and `extra` records. */
export async function torchZip(
  pickle: Uint8Array,
  options: { method?: number; extra?: ZipRecordSpec[]; folder?: string } = {},
): Promise<Uint8Array> {
  const folder = options.folder ?? "archive";
  return await zipOf([
    { name: `${folder}/data.pkl`, data: pickle, method: options.method },
    { name: `${folder}/version`, data: encoder.encode("3\n") },
    ...(options.extra ?? []),
  ]);
}

/** An .npy file of an object array whose pickle is `pickle` (format 1.0). */
export function npyObjectArray(pickle: Uint8Array, descr = "'|O'"): Uint8Array {
  const header = `{'descr': ${descr}, 'fortran_order': False, 'shape': (1,), }`;
  const total = 10 + header.length + 1;
  const padded = header + " ".repeat((64 - (total % 64)) % 64) + "\n";
  const length = padded.length;
  return join(
    Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, length & 0xff, length >> 8]),
    encoder.encode(padded),
    pickle,
  );
}

/** An .npz archive of .npy records. */
export async function npz(records: { [name: string]: Uint8Array }): Promise<Uint8Array> {
  return await zipOf(Object.entries(records).map(([name, data]) => ({ name, data })));
}

/** torch's legacy magic number pickle: PROTO 2, LONG1 0x1950a86a20f9469cfc6c, STOP. */
export const LEGACY_MAGIC = Uint8Array.from([
  0x80,
  0x02,
  0x8a,
  0x0a,
  0x6c,
  0xfc,
  0x9c,
  0x46,
  0xf9,
  0x20,
  0x6a,
  0xa8,
  0x50,
  0x19,
  0x2e,
]);

/** A legacy torch file: magic, protocol, system info, the checkpoint, storage keys, raw bytes. */
export function legacyFile(pickles: {
  protocol?: Uint8Array;
  sysInfo?: Uint8Array;
  main: Uint8Array;
  keys?: Uint8Array;
}): Uint8Array {
  const small = (n: number) => Uint8Array.from([0x80, 0x02, 0x4b, n, 0x2e]);
  return join(
    LEGACY_MAGIC,
    pickles.protocol ?? small(1001 & 0xff),
    pickles.sysInfo ?? Uint8Array.from([0x80, 0x02, 0x7d, 0x2e]),
    pickles.main,
    pickles.keys ?? Uint8Array.from([0x80, 0x02, 0x5d, 0x2e]),
    // Raw storage bytes, never unpickled.
    Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0xfd, 0xfc]),
  );
}

/** A ustar archive with the given members, as torch <= 0.1.10 wrote. */
export function tarFile(members: { [name: string]: Uint8Array }): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const [name, data] of Object.entries(members)) {
    const header = new Uint8Array(512);
    header.set(encoder.encode(name), 0);
    header.set(encoder.encode("0000644\0"), 100);
    header.set(encoder.encode("0000000\0"), 108);
    header.set(encoder.encode("0000000\0"), 116);
    header.set(encoder.encode(data.length.toString(8).padStart(11, "0") + "\0"), 124);
    header.set(encoder.encode("00000000000\0"), 136);
    header[156] = 0x30;
    header.set(encoder.encode("ustar\0"), 257);
    header.set(encoder.encode("00"), 263);
    header.fill(0x20, 148, 156);
    const sum = header.reduce((a, b) => a + b, 0);
    header.set(encoder.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    blocks.push(header, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return join(...blocks);
}
