// Directories read with localHeaders: "on-demand" touch a record's local
// header only when the record is read, and check it as an eager read would.
import assert from "node:assert/strict";
import { ZipFormatError } from "../lib/errors.ts";
import { readCentralDirectory, resolveEntries } from "../lib/zip/central_directory.ts";
import { readEntry } from "../lib/zip/read_entry.ts";
import { BytesSource } from "../lib/zip/source.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { buildZip, setU32, type TestEntry } from "./_zip_builder.ts";

const enc = new TextEncoder();
const SIMPLE: TestEntry[] = [
  { name: "archive/data.pkl", data: enc.encode("pickle bytes") },
  { name: "archive/data/0", data: enc.encode("0123456789abcdef") },
  { name: "archive/version", data: enc.encode("3\n") },
];

/** A BytesSource that records the ranges read. */
class CountingSource extends BytesSource {
  ranges: Array<[number, number]> = [];
  override read(offset: number, length: number): Promise<Uint8Array> {
    this.ranges.push([offset, offset + length]);
    return super.read(offset, length);
  }
  touched(offset: number): boolean {
    return this.ranges.some(([start, end]) => start <= offset && offset < end);
  }
}

// Larger than the end-record search at the tail, which reads 64 KiB.
const LARGE: TestEntry[] = ["data.pkl", "data/0", "version"].map((name, i) => ({
  name: `archive/${name}`,
  data: new Uint8Array(100_000).fill(i + 1),
}));

Deno.test("an on-demand directory reads a local header only with its record", async () => {
  const zip = await buildZip(LARGE);
  const eager = await readCentralDirectory(new BytesSource(zip.bytes));
  const source = new CountingSource(zip.bytes);
  const lazy = await readCentralDirectory(source, { localHeaders: "on-demand" });
  assert.ok(lazy.entries.every((entry) => Number.isNaN(entry.dataOffset)));
  assert.ok(zip.localOffsets.every((offset) => !source.touched(offset)));

  assert.deepEqual(await readEntry(source, lazy.entries[1]), LARGE[1].data);
  assert.equal(lazy.entries[1].dataOffset, eager.entries[1].dataOffset);
  assert.ok(source.touched(zip.localOffsets[1]));
  assert.ok(!source.touched(zip.localOffsets[0]) && !source.touched(zip.localOffsets[2]));

  const reads = source.ranges.length;
  await readEntry(source, lazy.entries[1]);
  assert.equal(source.ranges.length, reads + 1, "a resolved header is not read again");

  await resolveEntries(source, lazy.entries);
  assert.deepEqual(
    lazy.entries.map((entry) => entry.dataOffset),
    eager.entries.map((entry) => entry.dataOffset),
  );
});

/** Each fault, the entry whose reading must reveal it, and the eager message. */
const faults: Array<[string, (zip: Awaited<ReturnType<typeof buildZip>>) => void, number, RegExp]> =
  [
    [
      "bad local signature",
      (zip) => zip.bytes[zip.localOffsets[1] + 2] = 0x51,
      1,
      /bad local header signature 0x04514b50 for entry "archive\/data\/0" at offset 58$/,
    ],
    [
      "data over the next header",
      (zip) => {
        setU32(zip.bytes, zip.centralOffsets[0] + 20, 40);
        setU32(zip.bytes, zip.centralOffsets[0] + 24, 40);
      },
      0,
      /entry "archive\/data.pkl" \(bytes 0\.\.86\) overlaps entry "archive\/data\/0" at offset 58/,
    ],
    [
      "data over the central directory",
      (zip) => {
        setU32(zip.bytes, zip.centralOffsets[2] + 20, 10);
        setU32(zip.bytes, zip.centralOffsets[2] + 24, 10);
      },
      2,
      /entry "archive\/version" \(bytes \d+\.\.\d+\) overlaps the central directory/,
    ],
    [
      "data past the end",
      (zip) => {
        setU32(zip.bytes, zip.centralOffsets[2] + 20, 100000);
        setU32(zip.bytes, zip.centralOffsets[2] + 24, 100000);
      },
      2,
      /entry "archive\/version" \(bytes \d+\.\.\d+\) runs past the end of the file/,
    ],
  ];

for (const [name, spoil, culprit, message] of faults) {
  Deno.test(`an on-demand directory finds ${name} when the record is read`, async () => {
    const zip = await buildZip(SIMPLE);
    spoil(zip);
    await assert.rejects(
      readCentralDirectory(new BytesSource(zip.bytes)),
      (error: unknown) => error instanceof ZipFormatError && message.test(error.message),
    );
    const source = new BytesSource(zip.bytes);
    const { entries } = await readCentralDirectory(source, { localHeaders: "on-demand" });
    for (const [i, entry] of entries.entries()) {
      if (i === culprit) continue;
      assert.deepEqual(await readEntry(source, entry), SIMPLE[i].data, `${name}: entry ${i}`);
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(
        readEntry(source, entries[culprit]),
        (error: unknown) => error instanceof ZipFormatError && message.test(error.message),
      );
    }
  });
}

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

async function recordsOf(path: string) {
  const { entries } = await readCentralDirectory(
    new BytesSource(await Deno.readFile(path)),
  );
  return entries.map(({ name, size, crc32, dataOffset }) =>
    name.endsWith("serialization_id")
      ? { name, size, dataOffset }
      : { name, size, crc32, dataOffset }
  );
}

Deno.test("a checkpoint opened on demand saves what an eager open saves", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const strategy of ["stream", "clone"] as const) {
      const outputs: string[] = [];
      for (const localHeaders of ["all", "on-demand"] as const) {
        const ckpt = await Checkpoint.open(fixture("training.ckpt"), { localHeaders });
        const out = `${dir}/${strategy}-${localHeaders}.ckpt`;
        await ckpt.save(out, { strategy });
        ckpt.close();
        outputs.push(out);
      }
      assert.deepEqual(await recordsOf(outputs[1]), await recordsOf(outputs[0]), strategy);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad storage header fails the read and the save, not the open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = await Deno.readFile(fixture("training.ckpt"));
    const { entries } = await readCentralDirectory(new BytesSource(bytes));
    const storage = entries.find((entry) => entry.name.endsWith("/data/0"))!;
    bytes[storage.localHeaderOffset] = 0x51;
    const path = `${dir}/bad.ckpt`;
    await Deno.writeFile(path, bytes);
    const bad = /bad local header signature 0x04034b51 for entry ".*\/data\/0"/;

    await assert.rejects(Checkpoint.open(path), bad);
    const ckpt = await Checkpoint.open(path, { localHeaders: "on-demand" });
    try {
      const stored = ckpt.encode().storages.find((s) => s.key === "0")!;
      await assert.rejects(stored.bytes(), bad);
      await assert.rejects(ckpt.save(`${dir}/out.ckpt`), bad);
      assert.deepEqual(await Deno.readFile(path), bytes);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["bad.ckpt"]);
    } finally {
      ckpt.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
