import assert from "node:assert/strict";
import { UnsupportedFormatError, ZipFormatError } from "../lib/errors.ts";
import { readCentralDirectory, type ZipEntry } from "../lib/zip/central_directory.ts";
import { crc32 } from "../lib/zip/crc32.ts";
import { assertTorchZip, detectFormat, findArchivePrefix } from "../lib/zip/detect_format.ts";
import { readEntry, readEntryChunks, verifyEntryCrc } from "../lib/zip/read_entry.ts";
import { BytesSource, FileSource } from "../lib/zip/source.ts";
import { buildZip, setU32, type TestEntry, zip64Values } from "./_zip_builder.ts";

const FIXTURE = new URL("./fixtures/layout_small.ckpt", import.meta.url);
const enc = new TextEncoder();

function bytesOf(text: string): Uint8Array {
  return enc.encode(text);
}

const SIMPLE: TestEntry[] = [
  { name: "archive/data.pkl", data: bytesOf("pickle bytes") },
  { name: "archive/data/0", data: bytesOf("0123456789abcdef") },
  { name: "archive/version", data: bytesOf("3\n") },
];

async function expectError(
  bytes: Uint8Array,
  pattern: RegExp,
  errorClass: typeof ZipFormatError | typeof UnsupportedFormatError = ZipFormatError,
): Promise<void> {
  await assert.rejects(readCentralDirectory(new BytesSource(bytes)), (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${error}`);
    assert.match(error.message, /^Cannot [^:]+: /);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"));
    return true;
  });
}

Deno.test("readCentralDirectory() reads a classic archive", async () => {
  const zip = await buildZip(SIMPLE, { comment: "a comment" });
  const source = new BytesSource(zip.bytes);
  const dir = await readCentralDirectory(source);
  assert.equal(dir.zip64, false);
  assert.equal(dir.size, zip.bytes.length);
  assert.equal(new TextDecoder().decode(dir.comment), "a comment");
  assert.equal(dir.centralDirectoryOffset, zip.cdOffset);
  assert.equal(dir.centralDirectorySize, zip.cdSize);
  assert.deepEqual(dir.entries.map((e) => e.name), SIMPLE.map((e) => e.name));
  for (const [i, entry] of dir.entries.entries()) {
    assert.equal(entry.localHeaderOffset, zip.localOffsets[i]);
    assert.equal(entry.dataOffset, zip.localOffsets[i] + 30 + enc.encode(entry.name).length);
    assert.equal(entry.crc32, crc32(SIMPLE[i].data));
    assert.deepEqual(await readEntry(source, entry, { verifyCrc: true }), SIMPLE[i].data);
    assert.equal(await verifyEntryCrc(source, entry), true);
  }
});

Deno.test("readCentralDirectory() reads ZIP64 end records", async () => {
  const zip = await buildZip(SIMPLE, { zip64: true });
  const dir = await readCentralDirectory(new BytesSource(zip.bytes));
  assert.equal(dir.zip64, true);
  assert.equal(dir.entries.length, 3);
  assert.equal(dir.centralDirectoryOffset, zip.cdOffset);
});

Deno.test("readCentralDirectory() applies ZIP64 extra fields in standard order", async () => {
  // Placeholders for size and offset only: the field holds [size, offset].
  const entries: TestEntry[] = [
    { name: "a/x", data: bytesOf("hello") },
    {
      name: "a/y",
      data: bytesOf("world!"),
      central: { size: 0xffffffff, compressedSize: 6, offset: 0xffffffff },
      centralZip64: zip64Values(6, 0), // offset patched below
    },
  ];
  const zip = await buildZip(entries, { zip64: true });
  // The second local header follows the first: 30 + 3 + 5 bytes.
  const extraAt = zip.centralOffsets[1] + 46 + 3 + 4;
  new DataView(zip.bytes.buffer).setBigUint64(extraAt + 8, 38n, true);
  const dir = await readCentralDirectory(new BytesSource(zip.bytes));
  assert.equal(dir.entries[1].size, 6);
  assert.equal(dir.entries[1].compressedSize, 6);
  assert.equal(dir.entries[1].localHeaderOffset, 38);
});

Deno.test("readCentralDirectory() accepts a full ZIP64 field that agrees", async () => {
  const zip = await buildZip([
    { name: "a/x", data: bytesOf("hello"), centralZip64: zip64Values(5, 5, 0) },
  ]);
  const dir = await readCentralDirectory(new BytesSource(zip.bytes));
  assert.equal(dir.entries[0].size, 5);
});

Deno.test("readCentralDirectory() rejects ZIP64 values that disagree", async () => {
  const zip = await buildZip([
    { name: "a/x", data: bytesOf("hello"), centralZip64: zip64Values(7, 5, 0) },
  ]);
  await expectError(zip.bytes, /entry "a\/x" size 5 disagrees with its ZIP64 value 7/);
  const short = await buildZip([
    {
      name: "a/x",
      data: bytesOf("hello"),
      central: { size: 0xffffffff, compressedSize: 0xffffffff },
      centralZip64: new Uint8Array(4),
    },
  ]);
  await expectError(short.bytes, /ZIP64 extra field of entry "a\/x" is 4 bytes, too short/);
  const end = await buildZip(SIMPLE, { zip64: true, classicCount: 2 });
  await expectError(end.bytes, /end record entry count 2 disagrees with ZIP64 end record value 3/);
});

Deno.test("readCentralDirectory() rejects truncated and tiny files", async () => {
  const zip = await buildZip(SIMPLE);
  await expectError(
    zip.bytes.subarray(0, zip.bytes.length - 5),
    /no end of central directory record/,
  );
  await expectError(new Uint8Array(10), /file is 10 bytes, too small/);
  await expectError(
    bytesOf("not a zip file at all, just some text"),
    /no end of central directory record/,
  );
});

Deno.test("readCentralDirectory() rejects a central directory past the end", async () => {
  const zip = await buildZip(SIMPLE);
  setU32(zip.bytes, zip.endOffset + 16, 5000);
  await expectError(
    zip.bytes,
    new RegExp(
      `central directory offset 5000 is past the end of the file \\(${zip.bytes.length} bytes\\)`,
    ),
  );
  const bad = await buildZip(SIMPLE);
  setU32(bad.bytes, bad.endOffset + 16, bad.cdOffset + 1);
  await expectError(bad.bytes, /runs past its end record/);
});

Deno.test("readCentralDirectory() rejects a bad central header signature", async () => {
  const zip = await buildZip(SIMPLE);
  zip.bytes[zip.centralOffsets[1]] = 0;
  await expectError(zip.bytes, /bad central directory header signature 0x02014b00 for entry 1/);
});

Deno.test("readCentralDirectory() rejects a bad local header signature", async () => {
  const zip = await buildZip(SIMPLE);
  zip.bytes[zip.localOffsets[1] + 2] = 0x51;
  await expectError(
    zip.bytes,
    /bad local header signature 0x04514b50 for entry "archive\/data\/0" at offset 58$/,
  );
});

Deno.test("readCentralDirectory() rejects a local name that differs", async () => {
  const zip = await buildZip([
    { name: "archive/data/0", localName: "archive/data/1", data: bytesOf("x") },
  ]);
  await expectError(
    zip.bytes,
    /local header name "archive\/data\/1" differs from central directory name "archive\/data\/0"/,
  );
  const longer = await buildZip([{ name: "a/b", localName: "a/bc", data: bytesOf("x") }]);
  await expectError(longer.bytes, /differs from central directory name "a\/b"/);
});

Deno.test("readCentralDirectory() rejects overlapping entries", async () => {
  const zip = await buildZip(SIMPLE);
  // Grow entry 0 so its data runs over entry 1's local header.
  setU32(zip.bytes, zip.centralOffsets[0] + 20, 40);
  setU32(zip.bytes, zip.centralOffsets[0] + 24, 40);
  await expectError(
    zip.bytes,
    /entry "archive\/data.pkl" \(bytes 0\.\.86\) overlaps entry "archive\/data\/0" at offset 58/,
  );
});

Deno.test("readCentralDirectory() rejects entries overlapping the central directory", async () => {
  const zip = await buildZip(SIMPLE);
  setU32(zip.bytes, zip.centralOffsets[2] + 20, 10);
  setU32(zip.bytes, zip.centralOffsets[2] + 24, 10);
  await expectError(
    zip.bytes,
    new RegExp(
      `entry "archive/version" \\(bytes \\d+\\.\\.\\d+\\) overlaps the central directory at offset ${zip.cdOffset}`,
    ),
  );
});

Deno.test("readCentralDirectory() rejects out-of-bounds offsets and sizes", async () => {
  const zip = await buildZip(SIMPLE);
  setU32(zip.bytes, zip.centralOffsets[1] + 42, 100000);
  await expectError(
    zip.bytes,
    /local header offset 100000 of entry "archive\/data\/0" is past the end of the file/,
  );
  const big = await buildZip(SIMPLE);
  setU32(big.bytes, big.centralOffsets[2] + 20, 100000);
  setU32(big.bytes, big.centralOffsets[2] + 24, 100000);
  await expectError(
    big.bytes,
    /entry "archive\/version" \(bytes \d+\.\.\d+\) runs past the end of the file/,
  );
});

Deno.test("readCentralDirectory() rejects encrypted entries", async () => {
  const zip = await buildZip([{ name: "a/x", data: bytesOf("secret"), flags: 0x0801 }]);
  await expectError(zip.bytes, /entry "a\/x" is encrypted/);
});

Deno.test("readCentralDirectory() rejects duplicate names", async () => {
  const zip = await buildZip([
    { name: "a/x", data: bytesOf("one") },
    { name: "a/x", data: bytesOf("two") },
  ]);
  await expectError(zip.bytes, /duplicate entry name "a\/x"/);
});

Deno.test("readCentralDirectory() rejects unsupported methods and multi-disk archives", async () => {
  const bzip = await buildZip([{ name: "a/x", data: bytesOf("data"), method: 12 }]);
  await expectError(
    bzip.bytes,
    /entry "a\/x" uses compression method 12; only stored \(0\) and deflate \(8\)/,
  );
  const disk = await buildZip(SIMPLE, { disk: 1 });
  await expectError(disk.bytes, /multi-disk archives are not supported/);
  const entryDisk = await buildZip([{ name: "a/x", data: bytesOf("x"), central: { disk: 2 } }]);
  await expectError(entryDisk.bytes, /entry "a\/x" starts on disk 2/);
  const stored = await buildZip([{ name: "a/x", data: bytesOf("xyz"), central: { size: 2 } }]);
  await expectError(stored.bytes, /stored entry "a\/x" has compressed size 3 but size 2/);
});

Deno.test("readEntry() inflates a deflated data.pkl", async () => {
  const pickle = enc.encode("\x80\x02}q\x00." + "x".repeat(5000));
  const zip = await buildZip([
    { name: "archive/data.pkl", data: pickle, method: 8 },
    { name: "archive/version", data: bytesOf("3\n") },
  ]);
  const source = new BytesSource(zip.bytes);
  const dir = await readCentralDirectory(source);
  const [entry] = dir.entries;
  assert.equal(entry.method, 8);
  assert.ok(entry.compressedSize < entry.size);
  assert.deepEqual(await readEntry(source, entry, { verifyCrc: true }), pickle);
  assert.equal(await verifyEntryCrc(source, entry), true);
  const chunks: Uint8Array[] = [];
  for await (const chunk of readEntryChunks(source, entry, 16)) chunks.push(chunk);
  assert.equal(chunks.reduce((n, c) => n + c.length, 0), pickle.length);
  assert.equal(await detectFormat(source), "torch-zip");
});

Deno.test("readEntry() rejects wrong sizes, corrupt data and bad CRCs", async () => {
  const data = bytesOf("y".repeat(1000));
  const zip = await buildZip([{ name: "a/x", data, method: 8 }]);
  const source = new BytesSource(zip.bytes);
  const [entry] = (await readCentralDirectory(source)).entries;
  const short: ZipEntry = { ...entry, size: 999 };
  await assert.rejects(
    readEntry(source, short),
    /Cannot inflate entry "a\/x": data inflates to more than its size of 999 bytes/,
  );
  const long: ZipEntry = { ...entry, size: 1001 };
  await assert.rejects(
    readEntry(source, long),
    /Cannot inflate entry "a\/x": data inflates to 1000 bytes, expected 1001/,
  );
  const corrupt = zip.bytes.slice();
  corrupt.fill(0xff, entry.dataOffset, entry.dataOffset + 4);
  await assert.rejects(readEntry(new BytesSource(corrupt), entry), (error: unknown) => {
    assert.ok(error instanceof ZipFormatError);
    assert.match(error.message, /^Cannot inflate entry "a\/x": /);
    return true;
  });
  const wrongCrc: ZipEntry = { ...entry, crc32: 1 };
  await assert.rejects(
    readEntry(source, wrongCrc, { verifyCrc: true }),
    /CRC-32 is 0x[0-9a-f]{8}, expected 0x00000001/,
  );
  assert.equal(await verifyEntryCrc(source, wrongCrc), false);
});

Deno.test("readCentralDirectory() reads the torch-written fixture", async () => {
  const source = await FileSource.open(FIXTURE);
  try {
    const dir = await readCentralDirectory(source);
    assert.equal(dir.zip64, true);
    assert.deepEqual(dir.entries.map((e) => e.name), [
      "layout_small/data.pkl",
      "layout_small/data/0",
      "layout_small/data/1",
      "layout_small/data/2",
      "layout_small/version",
    ]);
    assert.equal(findArchivePrefix(dir), "layout_small");
    for (const entry of dir.entries) {
      assert.equal(entry.dataOffset % 64, 0);
      assert.equal(entry.method, 0);
      assert.equal(entry.flags, entry.size === 0 ? 0x0800 : 0x0808);
      assert.equal(await verifyEntryCrc(source, entry), true);
    }
    const pickle = await readEntry(source, dir.entries[0]);
    assert.deepEqual(Array.from(pickle.subarray(0, 2)), [0x80, 0x02]);
    assert.equal(new TextDecoder().decode(await readEntry(source, dir.entries[4])), "3\n");
    assert.deepEqual(
      new Float32Array((await readEntry(source, dir.entries[1])).buffer),
      new Float32Array([0, 1, 2, 3, 4, 5]),
    );
  } finally {
    source.close();
  }
});

Deno.test("FileSource reads exact ranges, serially under concurrency", async () => {
  const source = await FileSource.open(FIXTURE);
  try {
    const all = await Deno.readFile(FIXTURE);
    assert.equal(source.size, all.length);
    const ranges = [[0, 30], [64, 100], [all.length - 22, 22], [5, 0], [300, 700]];
    const reads = await Promise.all(ranges.map(([o, n]) => source.read(o, n)));
    reads.forEach((bytes, i) => {
      const [o, n] = ranges[i];
      assert.deepEqual(bytes, all.subarray(o, o + n));
    });
    const buffer = new Uint8Array(16);
    await source.readInto(100, buffer);
    assert.deepEqual(buffer, all.subarray(100, 116));
    await assert.rejects(source.read(all.length - 4, 10), (error: unknown) => {
      assert.ok(error instanceof ZipFormatError);
      assert.match(
        error.message,
        /^Cannot read file: range \d+\.\.\d+ is past the end of the file/,
      );
      return true;
    });
    assert.ok(source.file instanceof Deno.FsFile);
  } finally {
    source.close();
  }
});

Deno.test("FileSource reports a file that shrank", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, new Uint8Array(100));
    const source = await FileSource.open(path);
    await Deno.truncate(path, 50);
    await assert.rejects(
      source.read(40, 20),
      /^ZipFormatError: Cannot read file: file ended after 50 bytes/,
    );
    source.close();
  } finally {
    await Deno.remove(path);
  }
});

// detectFormat / assertTorchZip

async function expectFormat(
  bytes: Uint8Array,
  format: string,
  errorClass: typeof ZipFormatError | typeof UnsupportedFormatError,
  pattern: RegExp,
): Promise<void> {
  const source = new BytesSource(bytes);
  assert.equal(await detectFormat(source), format);
  await assert.rejects(assertTorchZip(source), (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${error}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"));
    return true;
  });
}

Deno.test("detectFormat() recognizes a torch zip", async () => {
  const source = await FileSource.open(FIXTURE);
  try {
    assert.equal(await detectFormat(source), "torch-zip");
    const { prefix, directory } = await assertTorchZip(source);
    assert.equal(prefix, "layout_small");
    assert.equal(directory.entries.length, 5);
  } finally {
    source.close();
  }
});

Deno.test("assertTorchZip() rejects an empty file", async () => {
  await expectFormat(
    new Uint8Array(),
    "empty",
    ZipFormatError,
    /^Cannot read checkpoint: file is empty$/,
  );
});

Deno.test("assertTorchZip() rejects the legacy torch format", async () => {
  // PROTO 2, LONG1 10 bytes of 0x1950a86a20f9469cfc6c, then the rest of the pickle.
  const legacy = new Uint8Array([
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
    0x80,
    0x02,
    0x4d,
    0xe9,
    0x03,
    0x2e,
  ]);
  await expectFormat(
    legacy,
    "legacy-torch",
    UnsupportedFormatError,
    // No advice to re-save it: re-saving means loading, which runs its pickles.
    /^Cannot read checkpoint: file uses the legacy torch format \(before 1\.6\), which only 'scan' reads; loading it in Python \(also to re-save it\) runs whatever its pickles hold$/,
  );
  // Other pickles are not the legacy format.
  await expectFormat(
    new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]),
    "unknown",
    ZipFormatError,
    /not a zip archive \(starts with 0x80027d71\)/,
  );
});

Deno.test("assertTorchZip() rejects tar and preview archives", async () => {
  const tar = new Uint8Array(1024);
  tar.set(enc.encode("sys_info"), 0);
  tar.set(enc.encode("ustar\x0000"), 257);
  await expectFormat(
    tar,
    "tar",
    UnsupportedFormatError,
    /tar archive \(the old torch tar format\)/,
  );
  await expectFormat(
    enc.encode("PYTORCH1 and more"),
    "preview-torch",
    UnsupportedFormatError,
    /PYTORCH1 preview-release format/,
  );
});

Deno.test("assertTorchZip() rejects TorchScript archives", async () => {
  const code = await buildZip([
    { name: "model/data.pkl", data: bytesOf("p") },
    { name: "model/code/__torch__.py", data: bytesOf("class M: pass"), method: 8 },
    { name: "model/version", data: bytesOf("3\n") },
  ]);
  await expectFormat(
    code.bytes,
    "torchscript",
    UnsupportedFormatError,
    /TorchScript model, not a checkpoint; load it with torch\.jit\.load/,
  );
  const constants = await buildZip([
    { name: "m/data.pkl", data: bytesOf("p") },
    { name: "m/constants.pkl", data: bytesOf("c") },
  ]);
  await expectFormat(constants.bytes, "torchscript", UnsupportedFormatError, /TorchScript/);
});

Deno.test("assertTorchZip() rejects zips without data.pkl and non-zips", async () => {
  const zip = await buildZip([{ name: "stuff/readme.txt", data: bytesOf("hi") }]);
  await expectFormat(
    zip.bytes,
    "zip",
    ZipFormatError,
    /^Cannot read checkpoint: zip archive has no "stuff\/data.pkl" record$/,
  );
  await expectFormat(
    bytesOf("hello world"),
    "unknown",
    ZipFormatError,
    /not a zip archive \(starts with 0x68656c6c\)/,
  );
  const flat = await buildZip([{ name: "data.pkl", data: bytesOf("p") }]);
  await expectFormat(flat.bytes, "zip", ZipFormatError, /record "data.pkl" is not inside a folder/);
  const empty = await buildZip([]);
  await expectFormat(empty.bytes, "zip", ZipFormatError, /archive has no records/);
});

Deno.test("findArchivePrefix() requires one folder for every record", async () => {
  const ok = await buildZip([
    { name: "last/data.pkl", data: bytesOf("p") },
    { name: "last/data/0", data: bytesOf("0") },
  ]);
  assert.equal(findArchivePrefix(await readCentralDirectory(new BytesSource(ok.bytes))), "last");
  const mixed = await buildZip([
    { name: "last/data.pkl", data: bytesOf("p") },
    { name: "other/data/0", data: bytesOf("0") },
  ]);
  const dir = await readCentralDirectory(new BytesSource(mixed.bytes));
  assert.throws(
    () => findArchivePrefix(dir),
    /^ZipFormatError: Cannot read checkpoint: record "other\/data\/0" is outside the archive folder "last"$/,
  );
  await expectFormat(mixed.bytes, "zip", ZipFormatError, /outside the archive folder/);
});
