import assert from "node:assert/strict";
import { join } from "node:path";
import { ZipFormatError } from "../lib/errors.ts";
import { readCentralDirectory } from "../lib/zip/central_directory.ts";
import { crc32 } from "../lib/zip/crc32.ts";
import { findArchivePrefix } from "../lib/zip/detect_format.ts";
import { readEntry, verifyEntryCrc } from "../lib/zip/read_entry.ts";
import { BytesSource, FileSource, type RandomAccessSource } from "../lib/zip/source.ts";
import { TorchZipWriter, type TorchZipWriterOptions } from "../lib/zip/torch_zip_writer.ts";
import { buildZip } from "./_zip_builder.ts";
import { python, torch } from "./_python.ts";

const FIXTURE = new URL("./fixtures/layout_small.ckpt", import.meta.url);
const enc = new TextEncoder();

/** Runs `body` with a writer on a fresh temp file and returns the archive bytes. */
async function writeArchive(
  options: TorchZipWriterOptions,
  body: (writer: TorchZipWriter) => Promise<void>,
): Promise<Uint8Array> {
  const path = await Deno.makeTempFile({ suffix: ".ckpt" });
  try {
    const file = await Deno.open(path, { read: true, write: true });
    try {
      const writer = await TorchZipWriter.create(file, options);
      await body(writer);
      await writer.finish();
    } finally {
      file.close();
    }
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(path);
  }
}

/** Rewrites every record of `source` in order, by copy or by read + write. */
async function rewrite(source: RandomAccessSource, mode: "copy" | "write"): Promise<Uint8Array> {
  const directory = await readCentralDirectory(source);
  const prefix = findArchivePrefix(directory);
  return await writeArchive({ archiveName: prefix }, async (writer) => {
    for (const entry of directory.entries) {
      const name = entry.name.slice(prefix.length + 1);
      if (mode === "copy") await writer.copyRecord(name, source, entry);
      else await writer.writeRecord(name, await readEntry(source, entry));
    }
  });
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const at = firstDifference(actual, expected);
  assert.equal(
    at,
    -1,
    `${what}: first difference at byte ${at} (sizes ${actual.length} vs ${expected.length})`,
  );
}

Deno.test("TorchZipWriter reproduces the torch-written fixture byte for byte", async () => {
  const expected = await Deno.readFile(FIXTURE);
  const source = await FileSource.open(FIXTURE);
  try {
    assertSameBytes(await rewrite(source, "copy"), expected, "copyRecord");
    assertSameBytes(await rewrite(source, "write"), expected, "writeRecord");
  } finally {
    source.close();
  }
});

Deno.test("TorchZipWriter writes torch's headers, padding and descriptors", async () => {
  const sizes = [0, 1, 2, 3, 63, 64, 65, 100, 1000, 0, 4097];
  const payloads = sizes.map((n, i) => new Uint8Array(n).map((_, j) => (i * 31 + j) & 0xff));
  const names = payloads.map((_, i) => i === 0 ? "data.pkl" : `data/${"x".repeat(i * 5)}${i}`);
  let records: readonly {
    name: string;
    offset: number;
    dataOffset: number;
    size: number;
    crc32: number;
  }[] = [];
  const bytes = await writeArchive({ archiveName: "archive" }, async (writer) => {
    for (const [i, data] of payloads.entries()) await writer.writeRecord(names[i], data);
    records = writer.records;
  });
  const view = new DataView(bytes.buffer);
  assert.equal(records.length, sizes.length);

  let expectedOffset = 0;
  for (const [i, record] of records.entries()) {
    const fullName = enc.encode(`archive/${names[i]}`);
    const at = record.offset;
    assert.equal(at, expectedOffset, `record ${i} follows the previous one`);
    assert.equal(record.dataOffset % 64, 0);
    assert.equal(record.size, sizes[i]);
    assert.equal(record.crc32, crc32(payloads[i]));
    // Local header: version 0, flags, stored, time/date/crc/sizes all zero.
    assert.equal(view.getUint32(at, true), 0x04034b50);
    assert.equal(view.getUint16(at + 4, true), 0);
    assert.equal(view.getUint16(at + 6, true), sizes[i] === 0 ? 0x0800 : 0x0808);
    for (let o = 8; o < 26; o += 2) {
      assert.equal(view.getUint16(at + o, true), 0, `local field ${o}`);
    }
    assert.equal(view.getUint16(at + 26, true), fullName.length);
    const extraLength = view.getUint16(at + 28, true);
    assert.deepEqual(bytes.subarray(at + 30, at + 30 + fullName.length), fullName);
    // Extra: only the FB field, its data all "Z", ending where the data starts.
    const extra = at + 30 + fullName.length;
    assert.equal(view.getUint16(extra, true), 0x4246);
    const padding = view.getUint16(extra + 2, true);
    assert.equal(extraLength, padding + 4);
    assert.ok(padding < 64);
    assert.ok(bytes.subarray(extra + 4, extra + 4 + padding).every((b) => b === 0x5a));
    assert.equal(extra + 4 + padding, record.dataOffset);
    assert.deepEqual(
      bytes.subarray(record.dataOffset, record.dataOffset + record.size),
      payloads[i],
    );
    let end = record.dataOffset + record.size;
    if (record.size > 0) {
      // 16-byte data descriptor: signature, CRC, compressed and uncompressed size.
      assert.equal(view.getUint32(end, true), 0x08074b50);
      assert.equal(view.getUint32(end + 4, true), record.crc32);
      assert.equal(view.getUint32(end + 8, true), record.size);
      assert.equal(view.getUint32(end + 12, true), record.size);
      end += 16;
    }
    expectedOffset = end;
  }

  // Central directory right after the last record.
  const cdOffset = expectedOffset;
  let at = cdOffset;
  for (const [i, record] of records.entries()) {
    const fullName = enc.encode(`archive/${names[i]}`);
    assert.equal(view.getUint32(at, true), 0x02014b50);
    assert.equal(view.getUint16(at + 4, true), 0, "version made by");
    assert.equal(view.getUint16(at + 6, true), 0, "version needed");
    assert.equal(view.getUint16(at + 8, true), record.size === 0 ? 0x0800 : 0x0808);
    assert.equal(view.getUint16(at + 10, true), 0, "method");
    assert.equal(view.getUint32(at + 12, true), 0, "time and date");
    assert.equal(view.getUint32(at + 16, true), record.crc32);
    assert.equal(view.getUint32(at + 20, true), record.size);
    assert.equal(view.getUint32(at + 24, true), record.size);
    assert.equal(view.getUint16(at + 28, true), fullName.length);
    assert.equal(view.getUint16(at + 30, true), 0, "extra length");
    assert.equal(view.getUint16(at + 32, true), 0, "comment length");
    assert.equal(view.getUint16(at + 34, true), 0, "disk");
    assert.equal(view.getUint16(at + 36, true), 0, "internal attributes");
    assert.equal(view.getUint32(at + 38, true), 0, "external attributes");
    assert.equal(view.getUint32(at + 42, true), record.offset);
    at += 46 + fullName.length;
  }
  const cdSize = at - cdOffset;
  // ZIP64 end record, locator and classic end record, always present.
  assert.equal(view.getUint32(at, true), 0x06064b50);
  assert.equal(view.getBigUint64(at + 4, true), 44n);
  assert.equal(view.getUint16(at + 12, true), 0x031e);
  assert.equal(view.getUint16(at + 14, true), 0x2d);
  assert.equal(view.getUint32(at + 16, true), 0);
  assert.equal(view.getUint32(at + 20, true), 0);
  assert.equal(view.getBigUint64(at + 24, true), BigInt(records.length));
  assert.equal(view.getBigUint64(at + 32, true), BigInt(records.length));
  assert.equal(view.getBigUint64(at + 40, true), BigInt(cdSize));
  assert.equal(view.getBigUint64(at + 48, true), BigInt(cdOffset));
  const zip64End = at;
  at += 56;
  assert.equal(view.getUint32(at, true), 0x07064b50);
  assert.equal(view.getUint32(at + 4, true), 0);
  assert.equal(view.getBigUint64(at + 8, true), BigInt(zip64End));
  assert.equal(view.getUint32(at + 16, true), 1);
  at += 20;
  assert.equal(view.getUint32(at, true), 0x06054b50);
  assert.equal(view.getUint32(at + 4, true), 0, "disk numbers");
  assert.equal(view.getUint16(at + 8, true), records.length);
  assert.equal(view.getUint16(at + 10, true), records.length);
  assert.equal(view.getUint32(at + 12, true), cdSize);
  assert.equal(view.getUint32(at + 16, true), cdOffset);
  assert.equal(view.getUint16(at + 20, true), 0);
  assert.equal(at + 22, bytes.length);

  // And the reader agrees.
  const source = new BytesSource(bytes);
  const directory = await readCentralDirectory(source);
  assert.equal(directory.zip64, true);
  assert.deepEqual(
    directory.entries.map((e) => [e.name, e.localHeaderOffset, e.dataOffset, e.size, e.crc32]),
    records.map((r) => [`archive/${r.name}`, r.offset, r.dataOffset, r.size, r.crc32]),
  );
  for (const entry of directory.entries) assert.equal(await verifyEntryCrc(source, entry), true);
});

Deno.test("TorchZipWriter honours the alignment option", async () => {
  for (const alignment of [1, 8, 4096, 100]) {
    const bytes = await writeArchive({ archiveName: "a", alignment }, async (writer) => {
      await writer.writeRecord("data.pkl", enc.encode("pickle"));
      await writer.writeRecord("data/0", new Uint8Array(5000));
      await writer.writeRecord("data/1", new Uint8Array(0));
      await writer.writeRecord("version", enc.encode("3\n"));
      for (const record of writer.records) assert.equal(record.dataOffset % alignment, 0);
    });
    const directory = await readCentralDirectory(new BytesSource(bytes));
    for (const entry of directory.entries) assert.equal(entry.dataOffset % alignment, 0);
  }
  // Alignment 1 still writes an (empty) FB field, as torch's getPadding does.
  const bytes = await writeArchive({ archiveName: "a", alignment: 1 }, async (writer) => {
    await writer.writeRecord("x", enc.encode("x"));
  });
  assert.deepEqual(Array.from(bytes.subarray(30 + 3, 30 + 3 + 4)), [0x46, 0x42, 0, 0]);
});

Deno.test("TorchZipWriter.copyRecord() stores deflated entries with their CRC", async () => {
  const pickle = enc.encode("\x80\x02" + "deflate me ".repeat(500) + ".");
  const zip = await buildZip([
    { name: "m/data.pkl", data: pickle, method: 8 },
    { name: "m/data/0", data: new Uint8Array(300).fill(7), method: 8 },
    { name: "m/version", data: enc.encode("3\n") },
  ]);
  const source = new BytesSource(zip.bytes);
  const rewritten = await rewrite(source, "copy");
  // The same records written directly must give the same archive.
  const direct = await writeArchive({ archiveName: "m" }, async (writer) => {
    await writer.writeRecord("data.pkl", pickle);
    await writer.writeRecord("data/0", new Uint8Array(300).fill(7));
    await writer.writeRecord("version", enc.encode("3\n"));
  });
  assertSameBytes(rewritten, direct, "inflated copy");
});

Deno.test("TorchZipWriter.copyRecord() works with sources without readInto", async () => {
  const fixture = await Deno.readFile(FIXTURE);
  const inner = new BytesSource(fixture);
  const readOnly: RandomAccessSource = {
    size: inner.size,
    read: (offset, length) => inner.read(offset, length),
    close: () => {},
  };
  assertSameBytes(await rewrite(readOnly, "copy"), fixture, "read-only source");
});

Deno.test("TorchZipWriter rejects misuse", async () => {
  const path = await Deno.makeTempFile();
  const file = await Deno.open(path, { read: true, write: true });
  try {
    for (const archiveName of ["", "a/b", "a\\b"]) {
      await assert.rejects(
        TorchZipWriter.create(file, { archiveName }),
        /^ZipFormatError: Cannot create zip writer: archive name/,
      );
    }
    for (const alignment of [0, -64, 1.5, 70000]) {
      await assert.rejects(
        TorchZipWriter.create(file, { archiveName: "a", alignment }),
        /Cannot create zip writer: alignment/,
      );
    }
    const writer = await TorchZipWriter.create(file, { archiveName: "a" });
    await writer.writeRecord("x", enc.encode("1"));
    await assert.rejects(
      writer.writeRecord("x", enc.encode("2")),
      /Cannot write record: duplicate record name "x"/,
    );
    await assert.rejects(
      writer.writeRecord("/abs", enc.encode("2")),
      /invalid record name "\/abs"/,
    );
    // A rejected name wrote nothing, so the writer is still usable.
    const first = writer.writeRecord("y", new Uint8Array(10));
    await assert.rejects(
      writer.writeRecord("z", enc.encode("3")),
      /another write is still in progress/,
    );
    await first;
    const badEntry = {
      name: "a/q",
      method: 12,
      flags: 0,
      crc32: 0,
      compressedSize: 1,
      size: 1,
      localHeaderOffset: 0,
      dataOffset: 0,
    };
    await assert.rejects(
      writer.copyRecord("q", new BytesSource(new Uint8Array(1)), badEntry),
      /unsupported compression method 12/,
    );
    await writer.finish();
    await assert.rejects(writer.writeRecord("w", enc.encode("4")), (error: unknown) => {
      assert.ok(error instanceof ZipFormatError);
      assert.equal(error.message, "Cannot write zip: the archive is already finished");
      return true;
    });
    const source = new BytesSource(await Deno.readFile(path));
    const directory = await readCentralDirectory(source);
    assert.deepEqual(directory.entries.map((e) => e.name), ["a/x", "a/y"]);
  } finally {
    file.close();
    await Deno.remove(path);
  }
});

Deno.test("TorchZipWriter stops after a failed copy", async () => {
  const fixture = await Deno.readFile(FIXTURE);
  const source = new BytesSource(fixture);
  const directory = await readCentralDirectory(source);
  const truncated = new BytesSource(fixture.subarray(0, directory.entries[1].dataOffset + 4));
  // finish() refuses too: the file ends inside a record.
  await assert.rejects(
    writeArchive({ archiveName: "layout_small" }, async (writer) => {
      await assert.rejects(
        writer.copyRecord("data/0", truncated, directory.entries[1]),
        /past the end of the file/,
      );
      await assert.rejects(writer.writeRecord("more", enc.encode("x")), /an earlier write failed/);
    }),
    /^ZipFormatError: Cannot write zip: an earlier write failed$/,
  );
});

// Reference archives written by real torch, when it is installed.

const TORCH_SCRIPT = `
import io, sys, torch
out = sys.argv[1]
torch.manual_seed(0)
base = torch.arange(100, dtype=torch.float32)
cases = {
    "a.ckpt": {f"t{i}": torch.arange(i, dtype=torch.float32) for i in range(0, 70)},
    "a_much_longer_archive_name_to_shift_the_padding.ckpt": {
        "many": [torch.full((i % 17,), i, dtype=torch.int16) for i in range(150)],
        "scalar": torch.tensor(3.5),
        "text": ["x" * 1000, "y" * 5],
    },
    "views.ckpt": {"base": base, "view": base[10:20], "t": base.view(10, 10).t(),
                   "f64": torch.randn(33, dtype=torch.float64), "b": torch.tensor([True, False])},
}
for name, obj in cases.items():
    torch.save(obj, f"{out}/{name}")
buf = io.BytesIO()
torch.save({"w": torch.ones(3, 3), "e": torch.zeros(0)}, buf)
open(f"{out}/buffer.ckpt", "wb").write(buf.getvalue())
`;

Deno.test({
  name: "TorchZipWriter matches archives written by real torch (needs python3 with torch)",
  ignore: torch.ignore,
  async fn() {
    torch.check();
    const dir = await Deno.makeTempDir();
    try {
      const result = await new Deno.Command(python!, { args: ["-c", TORCH_SCRIPT, dir] }).output();
      assert.ok(result.success, new TextDecoder().decode(result.stderr));
      const names = [];
      for await (const item of Deno.readDir(dir)) names.push(item.name);
      assert.equal(names.length, 4);
      for (const name of names.sort()) {
        const path = join(dir, name);
        const expected = await Deno.readFile(path);
        const source = await FileSource.open(path);
        try {
          assertSameBytes(await rewrite(source, "copy"), expected, `${name} by copyRecord`);
          assertSameBytes(await rewrite(source, "write"), expected, `${name} by writeRecord`);
        } finally {
          source.close();
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("TorchZipWriter.writeRecord() writes parts as it writes their concatenation", async () => {
  const data = new Uint8Array(3 << 20).map((_, i) => (i * 31) >> 3);
  // Part sizes around the writer's 1 MiB buffer and its write-through threshold.
  const cuts = [0, 1, 7, 524_287, 524_288 + 9, (2 << 20) + 1, data.length];
  const parts = cuts.slice(1).map((end, k) => data.subarray(cuts[k], end));
  const whole = await writeArchive({ archiveName: "a" }, async (writer) => {
    await writer.writeRecord("data.pkl", data);
    await writer.writeRecord("version", enc.encode("3\n"));
  });
  const split = await writeArchive({ archiveName: "a" }, async (writer) => {
    await writer.writeRecord("data.pkl", parts);
    await writer.writeRecord("version", [enc.encode("3"), new Uint8Array(0), enc.encode("\n")]);
  });
  assertSameBytes(split, whole, "parts");
  const { entries } = await readCentralDirectory(new BytesSource(split));
  assert.equal(entries[0].crc32, crc32(data));
  assert.equal(entries[0].size, data.length);
});
