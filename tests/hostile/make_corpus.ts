#!/usr/bin/env -S deno run -A
/**
 * Generates the hostile-input corpus: broken, malicious and unusual files
 * built from the committed fixtures, each with the exact outcome expected
 * from `show`, `verify` and `scan`.
 *
 * `deno run -A tests/hostile/make_corpus.ts DIR` writes one file per case
 * and `DIR/expected.json`; tests/hostile_test.ts builds it in a temporary
 * folder at test time.
 *
 * An expected error is the CLI's stderr line without its
 * `ckptkit: <file>: ` prefix.
 *
 * @module
 */

import { readCentralDirectory, type ZipEntry } from "../../lib/zip/central_directory.ts";
import { crc32 } from "../../lib/zip/crc32.ts";
import { readEntry } from "../../lib/zip/read_entry.ts";
import { BytesSource } from "../../lib/zip/source.ts";
import { TorchZipWriter } from "../../lib/zip/torch_zip_writer.ts";
import { buildZip, type TestEntry } from "../_zip_builder.ts";

/** What one command must do with a case. */
export interface Outcome {
  /** Exit code. */
  code: number;
  /** The exact stderr lines, each without the `ckptkit: <file>: ` prefix. */
  errors: string[];
}

/** One file of the corpus. */
export interface HostileCase {
  /** File name stem; the file is `<name>.ckpt`. */
  name: string;
  /** What is wrong with it. */
  about: string;
  /** The file's bytes. */
  bytes: Uint8Array;
  show: Outcome;
  verify: Outcome;
  scan: Outcome;
  /**
   * The case opens: also re-encode it with `rewrite`, which must succeed
   * (`true`) or end as given (the errors name the output file).
   */
  rewrite?: true | Outcome;
  /** `show` must print exactly what it prints for this fixture. */
  showLike?: string;
  /** Extra arguments for `show` (e.g. a deeper `--depth` for bombs). */
  showArgs?: string[];
}

const FIXTURES = new URL("../fixtures/", import.meta.url);
const encoder = new TextEncoder();

const OK: Outcome = { code: 0, errors: [] };

function fails(...errors: string[]): Outcome {
  return { code: 1, errors };
}

/** scan's unknown verdict (exit 3): nothing dangerous, but `what` cannot be vetted. */
function unvetted(what: string, problem: string): Outcome {
  return { code: 3, errors: [`Cannot vouch for ${what}: ${problem}`] };
}

/** scan reads what torch reads; where ckptkit's own reader refuses the archive, it says so. */
function refused(message: string): Outcome {
  return unvetted(FILE, `ckptkit's reader refuses the archive: ${message}`);
}

const FILE = "the file";

/** show and verify fail; scan reads the archive as torch does and says ckptkit's reader refuses it. */
function refusedByReader(message: string): Pick<HostileCase, "show" | "verify" | "scan"> {
  return { show: fails(message), verify: fails(message), scan: refused(message) };
}

/**
 * The same failure from show and verify: nothing past the zip layer can run.
 * scan reads every container torch and numpy load, and rates the damage.
 */
function unreadable(
  message: string,
  scan: Outcome,
): Pick<HostileCase, "show" | "verify" | "scan"> {
  return { show: fails(message), verify: fails(message), scan };
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

function u32le(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function u64le(value: number): number[] {
  return [...u32le(value % 2 ** 32), ...u32le(Math.floor(value / 2 ** 32))];
}

/** Concatenates opcode bytes, byte arrays and (UTF-8) strings. */
function bytesOf(...parts: Array<number | number[] | string | Uint8Array>): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else if (typeof part === "string") out.push(...encoder.encode(part));
    else for (const byte of part) out.push(byte);
  }
  return new Uint8Array(out);
}

/** A copy of `bytes` changed by `edit`. */
function patched(bytes: Uint8Array, edit: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(copy, new DataView(copy.buffer));
  return copy;
}

/** Where the parts of a torch-written archive are. */
interface Layout {
  bytes: Uint8Array;
  entries: ZipEntry[];
  /** Offset of each entry's central header, in central directory order. */
  central: number[];
  cdOffset: number;
  cdSize: number;
  zip64End: number;
  locator: number;
  end: number;
}

async function layoutOf(bytes: Uint8Array): Promise<Layout> {
  const directory = await readCentralDirectory(new BytesSource(bytes));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const central: number[] = [];
  let at = directory.centralDirectoryOffset;
  for (let i = 0; i < directory.entries.length; i++) {
    central.push(at);
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) +
      view.getUint16(at + 32, true);
  }
  const end = bytes.length - 22;
  const locator = end - 20;
  return {
    bytes,
    entries: directory.entries,
    central,
    cdOffset: directory.centralDirectoryOffset,
    cdSize: directory.centralDirectorySize,
    zip64End: Number(view.getBigUint64(locator + 8, true)),
    locator,
    end,
  };
}

/** Writes records the way torch does (aligned, data descriptors, ZIP64 end records). */
async function torchArchive(
  records: Array<[string, Uint8Array]>,
  archiveName = "archive",
): Promise<Uint8Array> {
  const path = await Deno.makeTempFile({ suffix: ".ckpt" });
  try {
    const file = await Deno.open(path, { write: true, truncate: true });
    try {
      const writer = await TorchZipWriter.create(file, { archiveName });
      for (const [name, data] of records) await writer.writeRecord(name, data);
      await writer.finish();
    } finally {
      file.close();
    }
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(path);
  }
}

const zip = (problem: string) => `Cannot read zip: ${problem}`;
const decode = (problem: string) => `Cannot decode pickle: ${problem}`;
const PKL = "archive/data.pkl";

/** A pickle that fails to decode: show fails, verify names data.pkl, scan lists it. */
function badPickle(
  problem: string,
  scan: Outcome = OK,
): Pick<HostileCase, "show" | "verify" | "scan"> {
  return {
    show: fails(decode(problem)),
    verify: fails(`${JSON.stringify(PKL)}: ${decode(problem)}`),
    scan,
  };
}

/** Builds every case of the corpus. */
export async function makeCorpus(): Promise<HostileCase[]> {
  const small = await Deno.readFile(new URL("layout_small.ckpt", FIXTURES));
  const L = await layoutOf(small);
  const [pkl, data0, data1, data2, version] = L.entries;
  const cases: HostileCase[] = [];
  const add = (c: HostileCase) => cases.push(c);
  const source = new BytesSource(small);
  const records = new Map<string, Uint8Array>();
  for (const entry of L.entries) {
    records.set(entry.name.slice("layout_small/".length), await readEntry(source, entry));
  }
  const smallPickle = records.get("data.pkl")!;
  const q = (name: string) => JSON.stringify(`layout_small/${name}`);

  // ---- Not a torch zip at all -------------------------------------------
  add({
    name: "empty",
    about: "a zero-byte file",
    bytes: new Uint8Array(),
    ...unreadable(
      "Cannot read checkpoint: file is empty",
      unvetted(FILE, "the file is empty: there is nothing to load"),
    ),
  });
  add({
    name: "not_zip",
    about: "a text file",
    bytes: encoder.encode("this is not a checkpoint\n"),
    ...unreadable(
      "Cannot read checkpoint: file is not a zip archive (starts with 0x74686973)",
      unvetted(
        FILE,
        "offset 0: the unpickler stops with an error: could not find MARK (everything before it has run)",
      ),
    ),
  });
  add({
    name: "legacy",
    about: "torch.save before 1.6 (tests/fixtures/legacy.ckpt)",
    bytes: await Deno.readFile(new URL("legacy.ckpt", FIXTURES)),
    ...unreadable(
      "Cannot read checkpoint: file uses the legacy torch format (before 1.6), which only 'scan' reads; loading it in Python (also to re-save it) runs whatever its pickles hold",
      OK,
    ),
  });
  add({
    name: "torchscript",
    about: "torch.jit.save output (tests/fixtures/torchscript.pt)",
    bytes: await Deno.readFile(new URL("torchscript.pt", FIXTURES)),
    ...unreadable(
      "Cannot read checkpoint: archive is a TorchScript model, not a checkpoint; load it with torch.jit.load",
      unvetted(
        "torchscript/data.pkl",
        "it references globals not on the allowlist: __torch__.scripted.Scripted, __torch__.torch.nn.modules.linear.Linear",
      ),
    ),
  });

  // ---- Truncation: inside records, the central directory, the end records -
  const cuts = [
    1,
    3,
    4,
    21,
    22,
    30,
    pkl.dataOffset,
    200,
    data0.localHeaderOffset,
    data0.dataOffset + 10,
    data2.localHeaderOffset + 5,
    L.cdOffset - 1,
    L.cdOffset,
    L.cdOffset + 1,
    L.cdOffset + 46,
    L.central[3] + 20,
    L.zip64End - 1,
    L.zip64End,
    L.zip64End + 30,
    L.locator,
    L.locator + 10,
    L.end,
    L.end + 10,
    small.length - 1,
  ];
  const NO_END_RECORD =
    "a zip archive without an end of central directory record: torch.load fails on it";
  // "P" or "PK\x03": a bare pickle whose first opcode is PERSID.
  const cutPickle =
    "offset 0: the unpickler stops with an error: A load persistent id instruction was encountered, but no persistent_load function was specified (everything before it has run)";
  for (const cut of cuts) {
    let message: string;
    if (cut < 4) {
      const head = [...small.subarray(0, cut)].map((b) => b.toString(16).padStart(2, "0"));
      message = `Cannot read checkpoint: file is not a zip archive (starts with 0x${
        head.join("")
      })`;
    } else if (cut < 22) {
      message = zip(`file is ${cut} bytes, too small for an end of central directory record`);
    } else {
      message = zip(
        `no end of central directory record in the last ${cut} bytes (truncated or not a zip file)`,
      );
    }
    add({
      name: `truncated_at_${cut}`,
      about: `layout_small.ckpt cut after ${cut} of ${small.length} bytes`,
      bytes: small.slice(0, cut),
      ...unreadable(message, cut < 4 ? unvetted(FILE, cutPickle) : unvetted(FILE, NO_END_RECORD)),
    });
  }
  // Bytes lost in the middle: the end records survive but point at the wrong places.
  add({
    name: "bytes_lost_before_central_directory",
    about: "16 bytes of data/2 removed; the end records still point at the old offsets",
    bytes: new Uint8Array([
      ...small.subarray(0, data2.dataOffset),
      ...small.subarray(data2.dataOffset + 16),
    ]),
    ...unreadable(
      zip(
        `ZIP64 end record offset ${L.zip64End} leaves no room before its locator at ${
          L.locator - 16
        }`,
      ),
      unvetted(
        FILE,
        "a zip archive whose central directory lists no readable record: torch.load fails on it",
      ),
    ),
  });

  // ---- Offsets and sizes past the end of the file --------------------------
  add({
    name: "local_offset_past_eof",
    about: "central directory sends data/2's local header past the end of the file",
    bytes: patched(small, (_, v) => v.setUint32(L.central[3] + 42, 5000, true)),
    ...refusedByReader(zip(
      `local header offset 5000 of entry ${
        q("data/2")
      } is past the end of the file (${small.length} bytes)`,
    )),
  });
  add({
    name: "size_past_eof",
    about: "the version record claims 100000 bytes",
    bytes: patched(small, (_, v) => {
      v.setUint32(L.central[4] + 20, 100000, true);
      v.setUint32(L.central[4] + 24, 100000, true);
    }),
    ...refusedByReader(zip(
      `entry ${q("version")} (bytes ${version.localHeaderOffset}..${
        version.dataOffset + 100000
      }) runs past the end of the file (${small.length} bytes)`,
    )),
  });
  add({
    name: "central_directory_past_eof",
    about: "both end records put the central directory at offset 99999",
    bytes: patched(small, (_, v) => {
      v.setBigUint64(L.zip64End + 48, 99999n, true);
      v.setUint32(L.end + 16, 99999, true);
    }),
    ...unreadable(
      zip(`central directory offset 99999 is past the end of the file (${small.length} bytes)`),
      unvetted(
        FILE,
        "a zip archive whose central directory lists no readable record: torch.load fails on it",
      ),
    ),
  });
  add({
    name: "central_directory_too_long",
    about: "both end records claim a central directory 100 bytes longer",
    bytes: patched(small, (_, v) => {
      v.setBigUint64(L.zip64End + 40, BigInt(L.cdSize + 100), true);
      v.setUint32(L.end + 12, L.cdSize + 100, true);
    }),
    ...refusedByReader(zip(
      `central directory (offset ${L.cdOffset}, ${
        L.cdSize + 100
      } bytes) runs past its end record at offset ${L.zip64End}`,
    )),
  });
  add({
    name: "zip64_locator_past_eof",
    about: "the ZIP64 locator points past the end of the file",
    bytes: patched(small, (_, v) => v.setBigUint64(L.locator + 8, 99999n, true)),
    ...unreadable(
      zip(`ZIP64 end record offset 99999 leaves no room before its locator at ${L.locator}`),
      unvetted(FILE, "the ZIP64 locator points past the end of the file"),
    ),
  });
  add({
    name: "zip64_end_bad_signature",
    about: "the ZIP64 end record's signature is damaged",
    bytes: patched(small, (b) => (b[L.zip64End] ^= 0xff)),
    ...unreadable(
      zip(`bad ZIP64 end record signature 0x06064baf at offset ${L.zip64End}`),
      unvetted(FILE, "the ZIP64 end record is missing"),
    ),
  });
  add({
    name: "central_header_bad_signature",
    about: "the first central directory header's signature is damaged",
    bytes: patched(small, (b) => (b[L.cdOffset + 1] = 0x4c)),
    ...unreadable(
      zip(
        `bad central directory header signature 0x02014c50 for entry 0 at offset ${L.cdOffset}`,
      ),
      unvetted(
        FILE,
        "a zip archive whose central directory lists no readable record: torch.load fails on it",
      ),
    ),
  });

  // ---- ZIP64 fields that disagree with the classic ones --------------------
  add({
    name: "zip64_entry_count_disagrees",
    about: "the classic end record counts 4 entries, the ZIP64 one 5",
    bytes: patched(small, (_, v) => {
      v.setUint16(L.end + 8, 4, true);
      v.setUint16(L.end + 10, 4, true);
    }),
    ...refusedByReader(zip("end record entry count 4 disagrees with ZIP64 end record value 5")),
  });
  add({
    name: "zip64_cd_offset_disagrees",
    about: "the classic end record's central directory offset is off by one",
    bytes: patched(small, (_, v) => v.setUint32(L.end + 16, L.cdOffset + 1, true)),
    ...refusedByReader(zip(
      `end record central directory offset ${
        L.cdOffset + 1
      } disagrees with ZIP64 end record value ${L.cdOffset}`,
    )),
  });
  {
    const data = smallPickle;
    const built = await buildZip([
      {
        name: "archive/data.pkl",
        data,
        centralZip64: new Uint8Array([
          ...u64le(data.length + 1),
          ...u64le(data.length),
          ...u64le(0),
        ]),
      },
    ]);
    add({
      name: "zip64_extra_disagrees",
      about: "an entry's ZIP64 extra field gives another size than its classic field",
      bytes: built.bytes,
      ...refusedByReader(zip(
        `entry "archive/data.pkl" size ${data.length} disagrees with its ZIP64 value ${
          data.length + 1
        }`,
      )),
    });
  }

  // ---- Headers that disagree or overlap ------------------------------------
  add({
    name: "local_name_mismatch",
    about: "data/0's local header names data/9",
    bytes: patched(small, (b) => (b[data0.localHeaderOffset + 30 + 18] = 0x39)),
    ...refusedByReader(
      zip(`local header name ${q("data/9")} differs from central directory name ${q("data/0")}`),
    ),
  });
  add({
    name: "local_bad_signature",
    about: "data/2's local header signature is damaged",
    bytes: patched(small, (b) => (b[data2.localHeaderOffset + 3] = 0x05)),
    ...refusedByReader(zip(
      `bad local header signature 0x05034b50 for entry ${
        q("data/2")
      } at offset ${data2.localHeaderOffset}`,
    )),
  });
  add({
    name: "shared_local_header",
    about: "data/2's central header points at data/1's local header",
    bytes: patched(small, (_, v) => v.setUint32(L.central[3] + 42, data1.localHeaderOffset, true)),
    ...refusedByReader(
      zip(`local header name ${q("data/1")} differs from central directory name ${q("data/2")}`),
    ),
  });
  add({
    name: "overlapping_entries",
    about: "data/0 claims 200 bytes and runs into data/1",
    bytes: patched(small, (_, v) => {
      v.setUint32(L.central[1] + 20, 200, true);
      v.setUint32(L.central[1] + 24, 200, true);
    }),
    ...refusedByReader(zip(
      `entry ${q("data/0")} (bytes ${data0.localHeaderOffset}..${
        data0.dataOffset + 200
      }) overlaps entry ${q("data/1")} at offset ${data1.localHeaderOffset}`,
    )),
  });
  add({
    name: "entry_overlaps_central_directory",
    about: "the last record runs into the central directory",
    bytes: patched(small, (_, v) => {
      v.setUint32(L.central[4] + 20, 30, true);
      v.setUint32(L.central[4] + 24, 30, true);
    }),
    ...refusedByReader(zip(
      `entry ${q("version")} (bytes ${version.localHeaderOffset}..${
        version.dataOffset + 30
      }) overlaps the central directory at offset ${L.cdOffset}`,
    )),
  });
  add({
    name: "duplicate_names",
    about: "two central directory entries named data/1",
    bytes: patched(small, (b) => (b[L.central[3] + 46 + 18] = 0x31)),
    ...refusedByReader(zip(`duplicate entry name ${q("data/1")}`)),
  });

  // ---- Encryption, flags, methods ------------------------------------------
  add({
    name: "encrypted_central",
    about: "data/0 is marked encrypted in the central directory",
    bytes: patched(small, (b) => (b[L.central[1] + 8] |= 0x01)),
    ...refusedByReader(zip(`entry ${q("data/0")} is encrypted`)),
  });
  add({
    name: "encrypted_local",
    about: "data/0 is marked encrypted in its local header only",
    bytes: patched(small, (b) => (b[data0.localHeaderOffset + 6] |= 0x01)),
    ...refusedByReader(zip(`entry ${q("data/0")} is encrypted`)),
  });
  add({
    name: "strong_encryption",
    about: "data.pkl is marked with strong encryption",
    bytes: patched(small, (b) => (b[L.central[0] + 8] |= 0x40)),
    ...unreadable(
      zip(`entry ${q("data.pkl")} is encrypted`),
      unvetted(
        FILE,
        'record "layout_small/data.pkl": flags 0x848 mark it encrypted or patched (torch.load ignores them)',
      ),
    ),
  });
  add({
    name: "patch_data_flag",
    about: "data/2 is marked as patch data (flag bit 5)",
    bytes: patched(small, (b) => (b[L.central[3] + 8] |= 0x20)),
    ...refusedByReader(zip(`entry ${q("data/2")} has unsupported flags 0x20`)),
  });
  add({
    name: "masked_header_flag",
    about: "version is marked with masked local headers (flag bit 13)",
    bytes: patched(small, (b) => (b[L.central[4] + 9] |= 0x20)),
    ...refusedByReader(zip(`entry ${q("version")} has unsupported flags 0x2000`)),
  });
  add({
    name: "compression_method_aes",
    about: "data.pkl uses method 99 (AES)",
    bytes: patched(small, (b) => (b[L.central[0] + 10] = 99)),
    ...unreadable(
      zip(
        `entry ${
          q("data.pkl")
        } uses compression method 99; only stored (0) and deflate (8) are supported`,
      ),
      unvetted(FILE, 'record "layout_small/data.pkl": compression method 99, which is not read'),
    ),
  });
  add({
    name: "harmless_flags",
    about: "deflate option bits 1-2 set on both headers of data/0: still loads",
    bytes: patched(small, (b) => {
      b[L.central[1] + 8] |= 0x06;
      b[data0.localHeaderOffset + 6] |= 0x06;
    }),
    show: OK,
    verify: OK,
    scan: OK,
    rewrite: true,
    showLike: "layout_small.ckpt",
  });

  // ---- Multi-disk markers ----------------------------------------------------
  add({
    name: "multi_disk_locator",
    about: "the ZIP64 locator counts 2 disks",
    bytes: patched(small, (_, v) => v.setUint32(L.locator + 16, 2, true)),
    ...refusedByReader(zip("multi-disk archives are not supported (ZIP64 locator names 2 disks)")),
  });
  add({
    name: "multi_disk_zip64_end",
    about: "the ZIP64 end record is on disk 1",
    bytes: patched(small, (_, v) => v.setUint32(L.zip64End + 16, 1, true)),
    ...refusedByReader(
      zip("multi-disk archives are not supported (ZIP64 end record names disk 1/0)"),
    ),
  });
  add({
    name: "multi_disk_entry",
    about: "data/0 starts on disk 1",
    bytes: patched(small, (_, v) => v.setUint16(L.central[1] + 34, 1, true)),
    ...refusedByReader(
      zip(`entry ${q("data/0")} starts on disk 1; multi-disk archives are not supported`),
    ),
  });
  {
    const built = await buildZip([{ name: "archive/data.pkl", data: smallPickle }], { disk: 1 });
    add({
      name: "multi_disk_classic",
      about: "a classic end record on disk 1",
      bytes: built.bytes,
      ...refusedByReader(zip("multi-disk archives are not supported (end record names disk 1/0)")),
    });
  }

  // ---- Archive folder ----------------------------------------------------------
  {
    const entries: TestEntry[] = [
      { name: "archive/data.pkl", data: bytesOf(0x80, 2, 0x4e, 0x2e) },
      { name: "elsewhere/data/0", data: new Uint8Array(8) },
    ];
    add({
      name: "outside_archive_folder",
      about: "a record outside the archive folder",
      bytes: (await buildZip(entries)).bytes,
      ...refusedByReader(
        `Cannot read checkpoint: record "elsewhere/data/0" is outside the archive folder "archive"`,
      ),
    });
    add({
      name: "no_folder",
      about: "records not inside any folder",
      bytes: (await buildZip([{ name: "data.pkl", data: bytesOf(0x80, 2, 0x4e, 0x2e) }])).bytes,
      ...unreadable(
        `Cannot read checkpoint: record "data.pkl" is not inside a folder`,
        unvetted(
          FILE,
          "a zip archive whose first record is not in a folder: torch.load fails on it",
        ),
      ),
    });
    add({
      name: "no_data_pkl",
      about: "a zip with records but no data.pkl",
      bytes: (await buildZip([{ name: "archive/version", data: encoder.encode("3\n") }])).bytes,
      ...unreadable(
        `Cannot read checkpoint: zip archive has no "archive/data.pkl" record`,
        unvetted(FILE, "a zip archive without archive/data.pkl: not a torch checkpoint"),
      ),
    });
  }

  // ---- CRC mismatches: open proceeds, verify catches them ------------------
  {
    const bytes = patched(small, (b) => (b[data0.dataOffset + 3] ^= 0x01));
    const actual = crc32(bytes.subarray(data0.dataOffset, data0.dataOffset + data0.size));
    add({
      name: "crc_mismatch_storage",
      about: "one bit of data/0 flipped",
      bytes,
      show: OK,
      verify: fails(
        `${q("data/0")}: CRC-32 of the data is ${hex(actual)}, the central directory says ${
          hex(data0.crc32)
        }`,
      ),
      scan: OK,
      rewrite: true,
    });
  }
  {
    const at = small.indexOf(0x77, pkl.dataOffset); // the "w" of "weight"
    const bytes = patched(small, (b) => (b[at] = 0x57));
    const actual = crc32(bytes.subarray(pkl.dataOffset, pkl.dataOffset + pkl.size));
    add({
      name: "crc_mismatch_pickle",
      about: "a key in data.pkl changed ('weight' -> 'Weight'); it still decodes",
      bytes,
      show: OK,
      verify: fails(
        `${q("data.pkl")}: CRC-32 of the data is ${hex(actual)}, the central directory says ${
          hex(pkl.crc32)
        }`,
      ),
      scan: unvetted(
        FILE,
        'record "layout_small/data.pkl": its CRC-32 does not match (torch.load does not check it)',
      ),
      rewrite: true,
    });
  }
  {
    const wrong = data2.crc32 ^ 0x10;
    add({
      name: "crc_mismatch_central",
      about: "the central directory's CRC of data/2 is wrong; the data descriptor is right",
      bytes: patched(small, (_, v) => v.setUint32(L.central[3] + 16, wrong, true)),
      show: OK,
      verify: fails(
        `${q("data/2")}: data descriptor CRC-32 ${
          hex(data2.crc32)
        } differs from the central directory's ${hex(wrong)}`,
        `${q("data/2")}: CRC-32 of the data is ${hex(data2.crc32)}, the central directory says ${
          hex(wrong)
        }`,
      ),
      scan: OK,
      rewrite: true,
    });
  }

  // ---- Deflated data.pkl: must work; broken deflate fails clearly ------------
  {
    const entries: TestEntry[] = [...records].map(([name, data]) => ({
      name: `layout_small/${name}`,
      data,
      method: name === "data.pkl" ? 8 : 0,
    }));
    const built = await buildZip(entries, { zip64: true });
    const dir = await readCentralDirectory(new BytesSource(built.bytes));
    const warnings = dir.entries
      .filter((e) => /\/data\/\d+$/.test(e.name) && e.dataOffset % 64 !== 0)
      .map((e) =>
        `warning: ${
          JSON.stringify(e.name)
        }: data starts at offset ${e.dataOffset}, not a multiple of 64 as torch writes storages`
      );
    add({
      name: "deflated_data_pkl",
      about: "data.pkl compressed with deflate (written by a zip tool, not torch): loads",
      bytes: built.bytes,
      show: OK,
      verify: { code: 0, errors: warnings },
      scan: OK,
      rewrite: true,
      showLike: "layout_small.ckpt",
    });
    const declared = 2 ** 40;
    const lying = await buildZip([{
      name: "archive/data.pkl",
      data: smallPickle,
      method: 8,
      central: { size: 0xffffffff },
      centralZip64: new Uint8Array(u64le(declared)),
    }]);
    const inflateHigh =
      `Cannot inflate entry "archive/data.pkl": data inflates to ${smallPickle.length} bytes, expected ${declared}`;
    add({
      name: "deflated_size_lies_high",
      about: "a deflated data.pkl declares 1 TiB (ZIP64) but inflates to 316 bytes",
      bytes: lying.bytes,
      ...unreadable(
        inflateHigh,
        unvetted(
          FILE,
          'record "archive/data.pkl": 316 bytes read, the central directory says 1099511627776',
        ),
      ),
      verify: fails(
        `"archive/data.pkl": local header size ${smallPickle.length} differs from the central directory's ${declared}`,
        `"archive/data.pkl": ${inflateHigh}`,
      ),
    });
    const short = await buildZip([
      { name: "archive/data.pkl", data: smallPickle, method: 8, central: { size: 100 } },
    ]);
    const inflateLow =
      `Cannot inflate entry "archive/data.pkl": data inflates to more than its size of 100 bytes`;
    add({
      name: "deflated_size_lies_low",
      about: "a deflated data.pkl inflates past its declared 100 bytes (a bomb)",
      bytes: short.bytes,
      ...unreadable(
        inflateLow,
        unvetted(
          PKL,
          "offset 98: the unpickler stops with an error: pickle data was truncated (everything before it has run)",
        ),
      ),
      verify: fails(
        `"archive/data.pkl": local header size ${smallPickle.length} differs from the central directory's 100`,
        `"archive/data.pkl": ${inflateLow}`,
      ),
    });
    const corrupt = await buildZip([{
      name: "archive/data.pkl",
      data: smallPickle,
      method: 8,
    }]);
    // Damage the compressed stream's first block header.
    corrupt.bytes[corrupt.localOffsets[0] + 30 + "archive/data.pkl".length] = 0xff;
    add({
      name: "deflated_corrupt",
      about: "a deflated data.pkl whose stream is damaged",
      bytes: corrupt.bytes,
      ...unreadable(
        `Cannot inflate entry "archive/data.pkl": corrupt deflate stream`,
        unvetted(
          FILE,
          'record "archive/data.pkl": its data does not inflate (corrupt deflate stream)',
        ),
      ),
      verify: fails(
        `"archive/data.pkl": Cannot inflate entry "archive/data.pkl": corrupt deflate stream`,
      ),
    });
  }

  // ---- Pickles ------------------------------------------------------------------
  const withPickle = (pickle: Uint8Array) =>
    torchArchive([
      ["data.pkl", pickle],
      ["data/0", records.get("data/0")!],
      ["data/1", records.get("data/1")!],
      ["data/2", records.get("data/2")!],
      ["version", encoder.encode("3\n")],
    ]);
  const unreferenced = ["data/0", "data/1", "data/2"].map((name) =>
    `warning: "archive/${name}": storage record is not referenced by data.pkl`
  );
  const pickleCase = async (
    name: string,
    about: string,
    pickle: Uint8Array,
    outcome: Pick<HostileCase, "show" | "verify" | "scan"> & Partial<HostileCase>,
  ) => add({ name, about, bytes: await withPickle(pickle), ...outcome });

  await pickleCase(
    "pickle_unknown_opcode",
    "opcode 0xff",
    bytesOf(0x80, 2, 0xff, 0x2e),
    badPickle(
      "unknown opcode at offset 2 (0xff)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: invalid load key, '\\xff' (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_stack_underflow",
    "TUPLE1 on an empty stack",
    bytesOf(0x80, 2, 0x85, 0x2e),
    badPickle(
      "stack underflow at offset 2 (TUPLE1)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: unpickling stack underflow (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_pop_empty",
    "POP on an empty stack",
    bytesOf(0x80, 2, 0x30, 0x4e, 0x2e),
    badPickle(
      "stack underflow at offset 2 (POP)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: unpickling stack underflow (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_missing_memo",
    "BINGET of a memo key never PUT",
    bytesOf(0x80, 2, 0x68, 5, 0x2e),
    badPickle(
      "memo key 5 is missing at offset 2 (BINGET)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: Memo value not found at index 5 (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_memo_index_huge",
    "LONG_BINPUT at index 2**32-1",
    bytesOf(0x80, 2, 0x4e, 0x72, 0xff, 0xff, 0xff, 0xff, 0x2e),
    badPickle("memo index 4294967295 is too large at offset 3 (LONG_BINPUT)"),
  );
  {
    // 100,000 memo entries scattered up to index 2**31 - 1, the largest accepted.
    const puts: number[] = [];
    for (let i = 0; i < 100_000; i++) puts.push(0x72, ...u32le(Math.floor(i * 21474.8)));
    puts.push(0x72, ...u32le(2 ** 31 - 1), 0x68, 0, 0x30);
    await pickleCase(
      "pickle_memo_sparse",
      "100,000 memo indices spread over 0..2**31-1",
      bytesOf(0x80, 2, 0x4e, puts, 0x2e),
      {
        show: OK,
        verify: { code: 0, errors: unreferenced },
        scan: OK,
        rewrite: true,
      },
    );
  }
  await pickleCase(
    "pickle_memo_negative_key",
    "GET -1 (protocol 0 text memo key)",
    bytesOf("N", "p0\n", "g-1\n", 0x2e),
    badPickle(
      "invalid memo key at offset 4 (GET)",
      unvetted(
        PKL,
        "offset 4: the unpickler stops with an error: Memo value not found at index -1 (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_memo_put_empty",
    "BINPUT with nothing on the stack",
    bytesOf(0x80, 2, 0x71, 0, 0x4e, 0x2e),
    badPickle(
      "stack underflow at offset 2 (BINPUT)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: unpickling stack underflow (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_bytes_after_stop",
    "two bytes after STOP",
    bytesOf(0x80, 2, 0x4e, 0x2e, 0, 0),
    badPickle(
      "2 bytes after STOP at offset 3 (STOP)",
      unvetted(
        PKL,
        "offset 4: 2 bytes after STOP: torch.load ignores them, a reader of several pickles runs them",
      ),
    ),
  );
  await pickleCase(
    "pickle_no_stop",
    "the pickle ends without STOP",
    bytesOf(0x80, 2, 0x4e),
    badPickle(
      "needs 1 bytes but only 0 remain at offset 3 (no STOP)",
      unvetted(
        PKL,
        "offset 3: the unpickler stops with an error: Ran out of input (EOFError) (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_empty",
    "data.pkl is empty",
    new Uint8Array(),
    badPickle(
      "needs 1 bytes but only 0 remain at offset 0 (no STOP)",
      unvetted(
        PKL,
        "offset 0: the unpickler stops with an error: Ran out of input (EOFError) (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_two_proto",
    "PROTO twice",
    bytesOf(0x80, 2, 0x80, 2, 0x4e, 0x2e),
    badPickle("PROTO is not the first opcode at offset 2 (PROTO)"),
  );
  await pickleCase(
    "pickle_frame_too_long",
    "a FRAME longer than the data",
    bytesOf(0x80, 4, 0x95, u64le(1000), 0x4e, 0x2e),
    badPickle(
      "declared length 1000 exceeds the 2 bytes left at offset 2 (FRAME)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: pickle data was truncated (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_frame_too_short",
    "a FRAME that ends inside an opcode",
    bytesOf(0x80, 4, 0x95, u64le(1), 0x8c, 3, "abc", 0x2e),
    badPickle(
      "opcode runs past the end of its frame at offset 11 (SHORT_BINUNICODE)",
      unvetted(
        PKL,
        "offset 11: frame boundary: its 1-byte argument continues after the end of the frame at offset 12 (ckptkit's decoder refuses it; CPython reads on)",
      ),
    ),
  );
  await pickleCase(
    "pickle_marks_left_open",
    "a MARK still open at STOP",
    bytesOf(0x80, 2, 0x28, 0x4e, 0x2e),
    badPickle("MARK left open at STOP at offset 4 (STOP)"),
  );
  await pickleCase(
    "pickle_two_values",
    "two values on the stack at STOP",
    bytesOf(0x80, 2, 0x4e, 0x4e, 0x2e),
    badPickle("2 values on the stack at STOP at offset 4 (STOP)"),
  );
  await pickleCase(
    "pickle_stack_global_ints",
    "STACK_GLOBAL of two ints",
    bytesOf(0x80, 4, 0x4b, 1, 0x4b, 2, 0x93, 0x2e),
    badPickle(
      "STACK_GLOBAL needs two strings at offset 6 (STACK_GLOBAL)",
      unvetted(
        PKL,
        "offset 6: the unpickler stops with an error: STACK_GLOBAL requires str (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_invalid_utf8",
    "a SHORT_BINUNICODE of bytes ff fe",
    bytesOf(0x80, 2, 0x8c, 2, 0xff, 0xfe, 0x2e),
    badPickle("string is not valid UTF-8 at offset 2 (SHORT_BINUNICODE)"),
  );
  await pickleCase(
    "pickle_invalid_utf8_global",
    "a GLOBAL whose module name is not UTF-8",
    bytesOf(0x80, 2, 0x63, 0xff, 0x0a, "x", 0x0a, 0x2e),
    badPickle(
      "line is not valid UTF-8 at offset 2 (GLOBAL)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: a global's name is not UTF-8 (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_declared_length",
    "a BINUNICODE of 2**31-1 bytes in a 10-byte pickle",
    bytesOf(0x80, 2, 0x58, u32le(0x7fffffff), 0x2e),
    badPickle(
      "declared length 2147483647 exceeds the 1 bytes left at offset 2 (BINUNICODE)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: pickle data was truncated (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_declared_length_64",
    "a BINBYTES8 of 2**62 bytes",
    bytesOf(0x80, 4, 0x8e, u64le(2 ** 62), 0x2e),
    badPickle(
      "declared length 9007199254740991 exceeds the 1 bytes left at offset 2 (BINBYTES8)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: pickle data was truncated (everything before it has run)",
      ),
    ),
  );
  await pickleCase(
    "pickle_negative_length",
    "a BINSTRING of length -1",
    bytesOf(0x80, 2, 0x54, u32le(0xffffffff), 0x2e),
    badPickle(
      "negative BINSTRING length at offset 2 (BINSTRING)",
      unvetted(
        PKL,
        "offset 2: the unpickler stops with an error: BINSTRING pickle has negative byte count (everything before it has run)",
      ),
    ),
  );
  {
    // A tuple nested 2000 deep used as a dict key.
    const depth = 2000;
    const pickle = bytesOf(
      0x80,
      2,
      0x7d,
      new Array(depth).fill(0x29).flatMap((_, i) => (i === 0 ? [0x29] : [0x85])),
      0x4e,
      0x73,
      0x2e,
    );
    await pickleCase(
      "pickle_deep_key",
      "a dict key nested 2000 tuples deep",
      pickle,
      badPickle(
        `Cannot use key: nested deeper than 1000 levels at offset ${pickle.length - 2} (SETITEM)`,
      ),
    );
  }

  // Decoded as data, never run; scan flags it.
  await pickleCase(
    "pickle_os_system",
    "REDUCE of os.system('echo pwned') (protocol 0)",
    bytesOf("cos\nsystem\n(S'echo pwned'\ntR."),
    {
      show: OK,
      verify: { code: 0, errors: unreferenced },
      scan: fails("Cannot trust archive/data.pkl: it references os.system"),
      rewrite: true,
    },
  );
  await pickleCase(
    "pickle_stack_global_memo",
    "STACK_GLOBAL of builtins.eval from memoized strings (protocol 4)",
    bytesOf(
      0x80,
      4,
      0x8c,
      8,
      "builtins",
      0x94,
      0x8c,
      4,
      "eval",
      0x94,
      0x30,
      0x30,
      0x68,
      0,
      0x68,
      1,
      0x93,
      0x8c,
      3,
      "1+1",
      0x85,
      0x52,
      0x2e,
    ),
    {
      show: OK,
      verify: { code: 0, errors: unreferenced },
      scan: fails("Cannot trust archive/data.pkl: it references builtins.eval"),
      rewrite: true,
    },
  );
  {
    const inner = bytesOf("cposix\nsystem\n(S'id'\ntR.");
    await pickleCase(
      "pickle_nested",
      "pickle.loads of a pickle that calls posix.system",
      bytesOf(0x80, 3, "cpickle\nloads\n", 0x43, inner.length, inner, 0x85, 0x52, 0x2e),
      {
        show: OK,
        verify: { code: 0, errors: unreferenced },
        scan: fails("Cannot trust archive/data.pkl: it references pickle.loads, posix.system"),
        rewrite: true,
      },
    );
  }
  {
    // One 75 KB nested pickle handed to pickle.loads 50,000 times through the memo.
    const inner = bytesOf(
      0x80,
      2,
      0x28,
      new Array(5000).fill([...encoder.encode("cposix\nsystem\n")]).flat(),
      0x6c,
      0x2e,
    );
    const calls = new Array(50_000).fill([0x68, 0, 0x68, 1, 0x85, 0x52, 0x30]).flat();
    await pickleCase(
      "pickle_nested_bomb",
      "the same nested pickle loaded 50,000 times",
      bytesOf(
        0x80,
        3,
        0x4e,
        "cpickle\nloads\n",
        0x71,
        0,
        0x30,
        0x42,
        u32le(inner.length),
        inner,
        0x71,
        1,
        0x30,
        calls,
        0x2e,
      ),
      {
        show: OK,
        verify: { code: 0, errors: unreferenced },
        scan: fails("Cannot trust archive/data.pkl: it references pickle.loads, posix.system"),
        rewrite: true,
      },
    );
  }
  await pickleCase(
    "pickle_dunder_traversal",
    "a protocol 4 global reaching __globals__",
    bytesOf(
      0x80,
      4,
      0x8c,
      12,
      "torch._utils",
      0x8c,
      30,
      "_rebuild_tensor_v2.__globals__",
      0x93,
      0x2e,
    ),
    {
      show: OK,
      verify: { code: 0, errors: unreferenced },
      scan: fails(
        "Cannot trust archive/data.pkl: it references torch._utils._rebuild_tensor_v2.__globals__",
      ),
      rewrite: true,
    },
  );

  // ---- Size bombs: decoding, show and encoding stay linear --------------------
  {
    const n = 1_000_000;
    const pickle = new Uint8Array(2 + n + (n - 1) + 1);
    pickle.set([0x80, 2]);
    pickle.fill(0x5d, 2, 2 + n); // EMPTY_LIST x n
    pickle.fill(0x61, 2 + n, 2 + n + n - 1); // APPEND x (n - 1)
    pickle[pickle.length - 1] = 0x2e;
    await pickleCase("pickle_deep_lists", "lists nested 1e6 deep", pickle, {
      show: OK,
      verify: { code: 0, errors: unreferenced },
      scan: OK,
      rewrite: true,
      showArgs: ["--depth", "1000"],
    });
    const tuples = new Uint8Array(2 + n + n + 1);
    tuples.set([0x80, 2]);
    tuples.fill(0x28, 2, 2 + n); // MARK x n
    tuples.fill(0x74, 2 + n, 2 + n + n); // TUPLE x n
    tuples[tuples.length - 1] = 0x2e;
    await pickleCase("pickle_deep_tuples", "tuples nested 1e6 deep, built from MARKs", tuples, {
      show: OK,
      verify: { code: 0, errors: unreferenced },
      scan: OK,
      rewrite: true,
      showArgs: ["--depth", "1000"],
    });
  }
  {
    // One list of 100,000 ints, referenced 200,000 times by DUP.
    const items = 100_000;
    const refs = 200_000;
    const pickle = bytesOf(
      0x80,
      2,
      0x5d, // outer
      0x28,
      0x5d, // inner
      0x28,
      new Array(items).fill([0x4b, 7]).flat(),
      0x65, // inner filled
      new Array(refs).fill(0x32), // DUP the inner list
      0x65, // outer gets the inner list and its copies
      0x2e,
    );
    await pickleCase("pickle_dup_bomb", "200,000 references to one 100,000-item list", pickle, {
      show: OK,
      verify: { code: 0, errors: unreferenced },
      scan: OK,
      rewrite: true,
      showArgs: ["--depth", "1000"],
    });
  }
  {
    // 3,000 dict keys (big, i) sharing one 20,000-char string: V8 hashes long
    // strings by length alone, so naive composite keys would collide.
    const keys = 3000;
    const big = new Array(20_000).fill(0x61);
    const entries: number[] = [];
    for (let i = 0; i < keys; i++) {
      entries.push(...(i === 0 ? [0x58, ...u32le(big.length), ...big, 0x71, 0] : [0x68, 0]));
      entries.push(0x4d, i & 0xff, i >> 8, 0x86, 0x4b, 1); // (big, i): 1
    }
    const pickle = bytesOf(0x80, 2, 0x7d, 0x28, entries, 0x75, 0x2e);
    await pickleCase(
      "pickle_long_keys",
      "3,000 tuple keys sharing one 20,000-char string",
      pickle,
      {
        show: OK,
        verify: { code: 0, errors: unreferenced },
        scan: OK,
        rewrite: true,
      },
    );
  }
  {
    // Billion laughs: 40 levels of 10 shared references each.
    const pickle = bytesOf(0x80, 2, buildLaughs(40), 0x2e);
    await pickleCase(
      "pickle_get_bomb",
      "40 levels of 10 shared references (10**40 leaves)",
      pickle,
      {
        show: OK,
        verify: { code: 0, errors: unreferenced },
        scan: OK,
        rewrite: true,
        showArgs: ["--depth", "1000"],
      },
    );
  }

  {
    // A 1 MiB LONG4 int: decimal text would take seconds, encoding it must not.
    const n = 1 << 20;
    const digits = new Uint8Array(n).fill(0x5a);
    await pickleCase(
      "pickle_huge_int",
      "a 1 MiB integer (LONG4), shared three more times with DUP",
      bytesOf(0x80, 2, 0x5d, 0x28, 0x8b, u32le(n), digits, 0x32, 0x32, 0x32, 0x65, 0x2e),
      {
        show: OK,
        verify: { code: 0, errors: unreferenced },
        scan: OK,
        rewrite: true,
      },
    );
  }

  // ---- Storages that are missing, short, or overrun by their tensors ---------
  {
    const replace = (from: number[], to: number[]) => {
      const at = indexOf(smallPickle, from);
      if (at < 0) throw new Error(`pattern ${from} not in layout_small's data.pkl`);
      const copy = smallPickle.slice();
      copy.set(to, at);
      return copy;
    };
    // ('storage', FloatStorage, '0', 'cpu', 6): key '0' -> '9'.
    const missing = replace([0x58, 1, 0, 0, 0, 0x30, 0x71, 0x06], [
      0x58,
      1,
      0,
      0,
      0,
      0x39,
      0x71,
      6,
    ]);
    await pickleCase("storage_missing", "data.pkl references data/9, which is absent", missing, {
      show: fails("Cannot decode checkpoint: storage record data/9 is missing"),
      verify: fails(
        `"archive/data/9": record is missing; data.pkl references it as a FloatStorage of 6 elements`,
        `warning: "archive/data/0": storage record is not referenced by data.pkl`,
      ),
      scan: OK,
    });
    // numel 6 -> 255 for data/0.
    const short = replace([0x4b, 6, 0x74], [0x4b, 0xff, 0x74]);
    await pickleCase(
      "storage_too_small",
      "data/0 holds 24 bytes, data.pkl wants 255 floats",
      short,
      {
        show: fails("Cannot decode checkpoint: storage record data/0 has 24 bytes, 1020 needed"),
        verify: fails(
          `"archive/data/0": record has 24 bytes, the FloatStorage of 255 elements needs 1020`,
        ),
        scan: OK,
      },
    );
    // The weight's shape (2, 3) -> (2, 9): its view runs past the 6-float storage.
    const overrun = replace([0x4b, 2, 0x4b, 3, 0x86], [0x4b, 2, 0x4b, 9, 0x86]);
    await pickleCase("tensor_out_of_bounds", "a [2, 9] view of a 6-float storage", overrun, {
      show: OK,
      verify: fails(
        `"archive/data/0": a float32 tensor of shape [2, 9] at offset 0 needs 48 bytes of a storage of 24`,
      ),
      scan: OK,
      // torch could not load what it would write.
      rewrite: fails(
        "Cannot save: the tensor at ['weight'] cannot be loaded by torch: its view (shape [2, 9], " +
          "stride [3, 1], offset 0) needs 48 bytes of a storage of 24; nothing was written",
      ),
    });
    await pickleCase(
      "persistent_id_not_storage",
      "a persistent id that is a plain string",
      bytesOf(0x80, 2, 0x58, u32le(3), "abc", 0x51, 0x2e),
      {
        show: fails("Cannot decode checkpoint: persistent id is not a storage"),
        verify: fails(
          `"archive/data.pkl": Cannot decode checkpoint: persistent id is not a storage`,
        ),
        scan: unvetted(
          PKL,
          "offset 10: a persistent id that is not a tuple, which torch.load refuses",
        ),
      },
    );
  }
  return cases;
}

/** 40 levels of lists, each holding 10 memo references to the level below. */
function buildLaughs(levels: number): number[] {
  const out: number[] = [];
  // Level 0: [1] * 10, memo 0. Each next level is built, memoized, and the
  // level below popped from the stack, so only the top level remains.
  out.push(0x5d, 0x71, 0, 0x28, ...new Array(10).fill([0x4b, 1]).flat(), 0x65);
  for (let level = 1; level < levels; level++) {
    out.push(0x30); // POP the previous level (it lives on in the memo)
    out.push(0x5d, 0x71, level, 0x28, ...new Array(10).fill([0x68, level - 1]).flat(), 0x65);
  }
  return out;
}

function indexOf(haystack: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Writes every case into `dir` plus `expected.json`; returns the cases with their paths. */
export async function writeCorpus(dir: string): Promise<Array<HostileCase & { path: string }>> {
  const cases = await makeCorpus();
  await Deno.mkdir(dir, { recursive: true });
  const written = [];
  for (const c of cases) {
    const path = `${dir}/${c.name}.ckpt`;
    await Deno.writeFile(path, c.bytes);
    written.push({ ...c, path });
  }
  const expected = written.map(({ bytes: _, ...rest }) => rest);
  await Deno.writeTextFile(`${dir}/expected.json`, JSON.stringify(expected, null, 2) + "\n");
  return written;
}

if (import.meta.main) {
  const [dir] = Deno.args;
  if (dir === undefined) {
    console.error("usage: deno run -A tests/hostile/make_corpus.ts DIR");
    Deno.exit(2);
  }
  const cases = await writeCorpus(dir);
  console.log(`wrote ${cases.length} cases to ${dir}`);
}
