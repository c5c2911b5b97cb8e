import assert from "node:assert/strict";
import { verifyCheckpoint, type VerifyProgress, verifySource } from "../lib/torch/verify.ts";
import { readCentralDirectory } from "../lib/zip/central_directory.ts";
import { crc32 } from "../lib/zip/crc32.ts";
import { readEntry } from "../lib/zip/read_entry.ts";
import { BytesSource } from "../lib/zip/source.ts";
import { runCli } from "./_cli.ts";
import { buildZip } from "./_zip_builder.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
const FIXTURES = ["layout_small.ckpt", "state_dict.ckpt", "tensors.ckpt", "training.ckpt"];

async function records(name: string): Promise<Array<{ name: string; data: Uint8Array }>> {
  const bytes = await Deno.readFile(fixture(name));
  const source = new BytesSource(bytes);
  const { entries } = await readCentralDirectory(source);
  return await Promise.all(
    entries.map(async (e) => ({ name: e.name, data: await readEntry(source, e) })),
  );
}

Deno.test("verifyCheckpoint() passes the torch-written fixtures and counts what it read", async () => {
  for (const name of FIXTURES) {
    const progress: VerifyProgress[] = [];
    const report = await verifyCheckpoint(fixture(name), { onProgress: (p) => progress.push(p) });
    assert.deepEqual(report.problems, [], name);
    assert.equal(report.ok, true);
    const { entries } = await readCentralDirectory(
      new BytesSource(await Deno.readFile(fixture(name))),
    );
    const total = entries.reduce((sum, e) => sum + e.compressedSize, 0);
    assert.equal(report.records, entries.length);
    assert.equal(report.bytes, total, name);
    assert.equal(report.storages, entries.filter((e) => e.name.includes("/data/")).length);
    assert.ok(report.tensors >= report.storages, name);
    assert.equal(progress.at(-1)?.bytesDone, total);
    assert.ok(progress.every((p) => p.bytesTotal === total));
    assert.ok(progress.every((p, i) => i === 0 || p.bytesDone >= progress[i - 1].bytesDone));
  }
});

Deno.test("verifySource() names the record whose CRC-32 is wrong", async () => {
  const bytes = await Deno.readFile(fixture("state_dict.ckpt"));
  const { entries } = await readCentralDirectory(new BytesSource(bytes));
  const target = entries.find((e) => e.name === "state_dict/data/3")!;
  bytes[target.dataOffset] ^= 0x80;
  const report = await verifySource(new BytesSource(bytes));
  const actual = crc32(bytes.subarray(target.dataOffset, target.dataOffset + target.size));
  assert.equal(report.ok, false);
  assert.deepEqual(report.problems, [{
    record: "state_dict/data/3",
    check: "crc",
    severity: "error",
    message: `CRC-32 of the data is 0x${
      actual.toString(16).padStart(8, "0")
    }, the central directory says 0x${target.crc32.toString(16).padStart(8, "0")}`,
  }]);
});

Deno.test("verifySource() warns about unaligned and unreferenced storages, and reads deflate", async () => {
  const entries = (await records("layout_small.ckpt")).map((r) => ({
    ...r,
    method: r.name.endsWith("data.pkl") ? 8 : 0,
  }));
  entries.push({ name: "layout_small/data/7", data: new Uint8Array(4), method: 0 });
  // Neither a folder entry nor a file that is not a storage is an unreferenced storage.
  entries.push({ name: "layout_small/data/", data: new Uint8Array(0), method: 0 });
  entries.push({ name: "layout_small/data/README", data: new Uint8Array(3), method: 0 });
  const zip = await buildZip(entries, { zip64: true });
  const report = await verifySource(new BytesSource(zip.bytes));
  assert.equal(report.ok, true);
  const byCheck = (check: string) => report.problems.filter((p) => p.check === check);
  assert.deepEqual(byCheck("unreferenced").map((p) => p.record), ["layout_small/data/7"]);
  assert.ok(report.problems.every((p) => !p.record.endsWith("/")));
  assert.ok(byCheck("alignment").length > 0);
  assert.ok(report.problems.every((p) => p.severity === "warning"));
  const { entries: read } = await readCentralDirectory(new BytesSource(zip.bytes));
  for (const p of byCheck("alignment")) {
    const entry = read.find((e) => e.name === p.record)!;
    assert.notEqual(entry.dataOffset % 64, 0);
    assert.ok(p.message.includes(`offset ${entry.dataOffset}`));
  }
});

Deno.test("verifySource() checks local headers and data descriptors against the central directory", async () => {
  const bytes = await Deno.readFile(fixture("layout_small.ckpt"));
  const { entries, centralDirectoryOffset } = await readCentralDirectory(new BytesSource(bytes));
  const data0 = entries.find((e) => e.name === "layout_small/data/0")!;
  const view = new DataView(bytes.buffer);
  // The descriptor's size field (after signature and CRC) now says 25.
  view.setUint32(data0.dataOffset + data0.compressedSize + 12, 25, true);
  // data/2's local header loses the data-descriptor flag but keeps zero sizes.
  const data2 = entries.find((e) => e.name === "layout_small/data/2")!;
  view.setUint16(data2.localHeaderOffset + 6, 0x0800, true);
  const report = await verifySource(new BytesSource(bytes));
  assert.deepEqual(
    report.problems.map((p) => [p.record, p.check, p.severity, p.message]),
    [
      [
        "layout_small/data/0",
        "data-descriptor",
        "error",
        "data descriptor size 25 differs from the central directory's 24",
      ],
      [
        "layout_small/data/2",
        "local-header",
        "warning",
        "local header flags 0x800 differ from the central directory's 0x808",
      ],
      [
        "layout_small/data/2",
        "local-header",
        "error",
        `local header CRC-32 0x00000000 differs from the central directory's 0x${
          data2.crc32.toString(16).padStart(8, "0")
        }`,
      ],
      [
        "layout_small/data/2",
        "local-header",
        "error",
        "local header compressed size 0 differs from the central directory's 24",
      ],
      [
        "layout_small/data/2",
        "local-header",
        "error",
        "local header size 0 differs from the central directory's 24",
      ],
    ],
  );
  assert.ok(centralDirectoryOffset > data2.dataOffset);
});

Deno.test("verify CLI: summary, one stderr line per problem, --json, --strict", async () => {
  const ok = await runCli(["verify", fixture("tensors.ckpt")]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, "");
  assert.match(
    ok.stdout,
    /^.*tensors\.ckpt: 24 records, [\d.]+ KiB, 22 storages, 26 tensors: OK\n$/,
  );

  const dir = await Deno.makeTempDir();
  try {
    const bytes = await Deno.readFile(fixture("layout_small.ckpt"));
    const { entries } = await readCentralDirectory(new BytesSource(bytes));
    const data2 = entries.find((e) => e.name === "layout_small/data/2")!;
    bytes[data2.dataOffset + 1] ^= 1;
    const broken = `${dir}/broken.ckpt`;
    await Deno.writeFile(broken, bytes);
    const bad = await runCli(["verify", broken]);
    assert.equal(bad.code, 1);
    const lines = bad.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      new RegExp(`^ckptkit: ${broken}: "layout_small/data/2": CRC-32 of the data is 0x`),
    );
    assert.match(bad.stdout, /: 1 error\n$/);
    const json = JSON.parse((await runCli(["verify", broken, "--json"])).stdout);
    assert.equal(json.ok, false);
    assert.equal(json.problems[0].check, "crc");

    const warned = `${dir}/unaligned.ckpt`;
    const zip = await buildZip(await records("layout_small.ckpt"), { zip64: true });
    await Deno.writeFile(warned, zip.bytes);
    const loose = await runCli(["verify", warned]);
    assert.equal(loose.code, 0, loose.stderr);
    assert.match(loose.stderr, /^ckptkit: .*: warning: "layout_small\/data\/\d": data starts at/m);
    assert.equal((await runCli(["verify", warned, "--strict"])).code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
