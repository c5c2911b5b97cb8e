// Checkpoint.save strategies: the clone keeps storage records in place and
// rewrites only the records around them; streaming writes torch's layout.
// Both must load in torch, and `.format_version` may only be kept when the
// storages sit where torch 2.x's computed-offset loading looks for them.
import assert from "node:assert/strict";
import { CheckpointError } from "../lib/errors.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import type { PyObject } from "../lib/pickle/py_object.ts";
import { Checkpoint, type SaveProgress } from "../lib/torch/checkpoint.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { readCentralDirectory, type ZipEntry } from "../lib/zip/central_directory.ts";
import { readEntry } from "../lib/zip/read_entry.ts";
import { FileSource } from "../lib/zip/source.ts";
import { TorchZipWriter } from "../lib/zip/torch_zip_writer.ts";
import { writeZeroCheckpoint } from "./_big_checkpoint.ts";
import { runPython, skipTorch } from "./_python.ts";

const root = new URL("../", import.meta.url).pathname;
const fixture = (name: string) => `${root}tests/fixtures/${name}`;

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Entries of the archive at `path` in file order, by name without the archive folder. */
async function layout(path: string): Promise<Map<string, ZipEntry>> {
  const source = await FileSource.open(path);
  try {
    const { entries } = await readCentralDirectory(source);
    const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
    return new Map(sorted.map((e) => [e.name.slice(e.name.indexOf("/") + 1), e]));
  } finally {
    source.close();
  }
}

async function recordBytes(path: string, name: string): Promise<Uint8Array> {
  const source = await FileSource.open(path);
  try {
    const { entries } = await readCentralDirectory(source);
    return await readEntry(source, entries.find((e) => e.name.endsWith(`/${name}`))!, {
      verifyCrc: true,
    });
  } finally {
    source.close();
  }
}

/** The state_dict, or the root when there is none. */
function stateDict(ckpt: Checkpoint): PyDict {
  const rootDict = ckpt.root as PyDict;
  return (rootDict.get("state_dict") ?? rootDict) as PyDict;
}

/** Renames every key of the state_dict (or of the root): data.pkl grows. */
function renameKeys(ckpt: Checkpoint): void {
  const dict = stateDict(ckpt);
  const items = [...dict.entries()];
  dict.clear();
  for (const [key, value] of items) {
    dict.set(typeof key === "string" ? `renamed.${key}` : key, value);
  }
}

async function save(
  input: string,
  output: string,
  options: { strategy?: "auto" | "stream" | "clone"; edit?: (ckpt: Checkpoint) => void } = {},
) {
  const ckpt = await Checkpoint.open(input);
  try {
    options.edit?.(ckpt);
    return await ckpt.save(output, { strategy: options.strategy });
  } finally {
    ckpt.close();
  }
}

/**
 * Follows torch 2.x's `_get_offset`: data/0 is found through its local
 * header, every next storage is assumed right after the previous one, laid
 * out as PyTorchStreamWriter does. Returns the storages whose computed data
 * offset is wrong.
 */
async function computedOffsetMismatches(path: string): Promise<string[]> {
  const records = await layout(path);
  const alignment = Number(
    new TextDecoder().decode(await recordBytes(path, ".storage_alignment")),
  );
  const wrong: string[] = [];
  let cursor = -1;
  for (let i = 0; records.has(`data/${i}`); i++) {
    const entry = records.get(`data/${i}`)!;
    const size = entry.size;
    let header: number;
    let data: number;
    if (i === 0) {
      header = entry.localHeaderOffset;
      data = entry.dataOffset;
    } else {
      header = cursor;
      const nameLength = new TextEncoder().encode(entry.name).length;
      const big = size >= 0xffffffff || header >= 0xffffffff;
      let start = header + 30 + nameLength + 4;
      if (big) start += 4 + (size >= 0xffffffff ? 16 : 0) + (header >= 0xffffffff ? 8 : 0);
      data = start + (alignment - (start % alignment)) % alignment;
    }
    if (data !== entry.dataOffset) wrong.push(`data/${i}`);
    const zip64 = header >= 0xffffffff || size >= 0xffffffff;
    cursor = data + size + (size > 0 ? (zip64 ? 24 : 16) : 0);
  }
  return wrong;
}

/** Rewrites torch2.ckpt with its storages in name order (data/0, data/1, data/10, ...). */
async function writeNameOrdered(path: string, options: { padFirst?: boolean } = {}) {
  const source = await FileSource.open(fixture("torch2.ckpt"));
  try {
    const { entries } = await readCentralDirectory(source);
    const byName = new Map(entries.map((e) => [e.name.slice("torch2/".length), e]));
    const storages = [...byName.keys()].filter((n) => n.startsWith("data/")).sort();
    const order = [
      "data.pkl",
      ".format_version",
      ".storage_alignment",
      "byteorder",
      ...storages,
      "version",
      ".data/serialization_id",
    ];
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    const writer = await TorchZipWriter.create(file, { archiveName: "torch2" });
    for (const name of order) {
      if (options.padFirst && name === "data/0") {
        const data = await readEntry(source, byName.get(name)!);
        const padded = new Uint8Array(data.length + 8);
        padded.set(data);
        await writer.writeRecord(name, padded);
      } else {
        await writer.copyRecord(name, source, byName.get(name)!);
      }
    }
    await writer.finish();
    file.close();
  } finally {
    source.close();
  }
}

Deno.test("clone without changes keeps every record where torch put it", async () => {
  await withTemp(async (dir) => {
    const output = `${dir}/same.ckpt`;
    const result = await save(fixture("torch2.ckpt"), output, { strategy: "clone" });
    assert.equal(result.strategy, "clone");
    const before = await layout(fixture("torch2.ckpt"));
    const after = await layout(output);
    assert.deepEqual(
      [...after].map(([name, e]) => [name, e.localHeaderOffset, e.dataOffset, e.size]),
      [...before].map(([name, e]) => [name, e.localHeaderOffset, e.dataOffset, e.size]),
    );
    assert.equal((await Deno.stat(output)).size, (await Deno.stat(fixture("torch2.ckpt"))).size);
    assert.deepEqual(await computedOffsetMismatches(output), []);
  });
});

Deno.test("clone with a longer data.pkl moves it after the storages, which stay in place", async () => {
  await withTemp(async (dir) => {
    const output = `${dir}/renamed.ckpt`;
    const result = await save(fixture("torch2.ckpt"), output, {
      strategy: "clone",
      edit: renameKeys,
    });
    assert.equal(result.strategy, "clone");
    const before = await layout(fixture("torch2.ckpt"));
    const after = await layout(output);
    const names = [...after.keys()];
    // Zeros fill the old head, so the file still starts with a local header.
    assert.equal(names[0], ".data/ckptkit_padding");
    assert.equal(after.get(".data/ckptkit_padding")!.localHeaderOffset, 0);
    assert.deepEqual(
      [...(await recordBytes(output, ".data/ckptkit_padding"))].filter((b) => b !== 0),
      [],
    );
    for (const [name, entry] of before) {
      if (!name.startsWith("data/")) continue;
      assert.equal(after.get(name)!.localHeaderOffset, entry.localHeaderOffset, name);
      assert.equal(after.get(name)!.dataOffset, entry.dataOffset, name);
    }
    const lastStorage = Math.max(
      ...[...after].filter(([n]) => n.startsWith("data/")).map(([, e]) => e.localHeaderOffset),
    );
    assert.ok(after.get("data.pkl")!.localHeaderOffset > lastStorage);
    assert.equal(result.pickleSize, after.get("data.pkl")!.size);
    // The storages did not move, so torch 2.x may still compute their offsets.
    assert.ok(after.has(".format_version"));
    assert.deepEqual(await computedOffsetMismatches(output), []);

    // Opening and saving the clone drops the filler again.
    const again = `${dir}/again.ckpt`;
    await save(output, again, { strategy: "stream" });
    assert.ok(!(await layout(again)).has(".data/ckptkit_padding"));
    const reopened = await Checkpoint.open(again);
    const keys = [...stateDict(reopened).keys()];
    assert.ok(keys.length > 0 && keys.every((k) => String(k).startsWith("renamed.")), keys.join());
    reopened.close();
  });
});

Deno.test("clone drops .format_version when torch could not compute the storage offsets", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/name_ordered.ckpt`;
    await writeNameOrdered(input);
    // The input itself is wrong for computed-offset loaders: data/10 follows data/1.
    assert.notDeepEqual(await computedOffsetMismatches(input), []);

    const cloned = `${dir}/cloned.ckpt`;
    assert.equal((await save(input, cloned, { strategy: "clone" })).strategy, "clone");
    const records = await layout(cloned);
    assert.ok(!records.has(".format_version"));
    assert.ok(records.has(".storage_alignment") && records.has("byteorder"));

    // Streaming lays the storages out in key order: the claim is true again.
    const streamed = `${dir}/streamed.ckpt`;
    await save(input, streamed, { strategy: "stream" });
    assert.ok((await layout(streamed)).has(".format_version"));
    assert.deepEqual(await computedOffsetMismatches(streamed), []);
  });
});

Deno.test("stream drops .format_version when a storage record is longer than its storage", async () => {
  await withTemp(async (dir) => {
    const input = `${dir}/padded.ckpt`;
    await writeNameOrdered(input, { padFirst: true });
    const streamed = `${dir}/streamed.ckpt`;
    await save(input, streamed, { strategy: "stream" });
    const records = await layout(streamed);
    assert.ok(!records.has(".format_version"));
    assert.equal(records.get("data/0")!.size, 24 + 8);
  });
});

Deno.test("clone refuses what it cannot keep in place, naming the reason", async () => {
  await withTemp(async (dir) => {
    const output = `${dir}/out.ckpt`;
    const cases: [string, (ckpt: Checkpoint) => void, RegExp][] = [
      [
        "a dropped storage",
        (ckpt) => {
          const dict = (ckpt.root as PyDict).get("state_dict") as PyObject ??
            ckpt.root as PyObject;
          dict.delete([...dict.keys()][0]);
        },
        /Cannot clone checkpoint: (storage record data\/\d+ is no longer used|the storages are renumbered)/,
      ],
      ["a new tensor", (ckpt) => {
        (ckpt.root as PyDict).set("extra", Tensor.fromTypedArray(new Float32Array([1, 2])));
      }, /Cannot clone checkpoint: storage \d+ is new or comes from another file/],
    ];
    for (const [what, edit, message] of cases) {
      await assert.rejects(
        save(fixture("state_dict.ckpt"), output, { strategy: "clone", edit }),
        (error: Error) => error instanceof CheckpointError && message.test(error.message),
        what,
      );
      await assert.rejects(Deno.stat(output), Deno.errors.NotFound, what);
    }
    const ckpt = await Checkpoint.open(fixture("state_dict.ckpt"));
    await assert.rejects(
      ckpt.save(output, { strategy: "clone", archiveName: "other" }),
      /Cannot clone checkpoint: the archive folder is renamed/,
    );
    await assert.rejects(
      ckpt.save(output, { strategy: "fast" as "clone" }),
      /Cannot save checkpoint: unknown strategy "fast"/,
    );
    ckpt.close();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

/**
 * Whether `dir` is on a filesystem whose copies are clones, found from the
 * longest mount point above it (the code under test matches device numbers).
 */
async function onCloningFilesystem(dir: string): Promise<boolean> {
  if (Deno.build.os === "darwin") return true;
  if (Deno.build.os !== "linux") return false;
  const real = await Deno.realPath(dir);
  let best = { point: "", type: "" };
  for (const line of (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")) {
    const fields = line.split(" ");
    const point = fields[4]?.replace(/\\040/g, " ");
    const type = fields[fields.indexOf("-") + 1];
    if (point === undefined || type === undefined) continue;
    const inside = point === "/" || real === point || real.startsWith(`${point}/`);
    if (inside && point.length >= best.point.length) best = { point, type };
  }
  return ["btrfs", "xfs", "zfs", "bcachefs", "ocfs2"].includes(best.type);
}

Deno.test("auto clones unchanged storages only where the filesystem clones", async () => {
  await withTemp(async (dir) => {
    const big = `${dir}/big.ckpt`;
    await writeZeroCheckpoint(big, { tensors: 5, tensorBytes: 8 << 20 });
    const expected = await onCloningFilesystem(dir) ? "clone" : "stream";
    assert.equal((await save(big, `${dir}/a.ckpt`, { edit: renameKeys })).strategy, expected);
    await save(big, `${dir}/a.ckpt`, { strategy: "clone", edit: renameKeys });
    assert.equal((await save(fixture("training.ckpt"), `${dir}/b.ckpt`)).strategy, "stream");
    const dropped = await save(big, `${dir}/c.ckpt`, {
      edit: (ckpt) => (ckpt.root as PyObject).delete("layers.0.weight"),
    });
    assert.equal(dropped.strategy, "stream");
    assert.equal(dropped.storages, 4);
    // Clone and stream produce the same records and bytes, whatever their places.
    await save(big, `${dir}/s.ckpt`, { strategy: "stream", edit: renameKeys });
    const cloned = await layout(`${dir}/a.ckpt`);
    const streamed = await layout(`${dir}/s.ckpt`);
    assert.deepEqual(
      [...cloned.keys()].filter((n) => n !== ".data/ckptkit_padding").sort(),
      [...streamed.keys()].sort(),
    );
    for (const name of streamed.keys()) {
      assert.equal(cloned.get(name)!.crc32, streamed.get(name)!.crc32, name);
    }
  });
});

Deno.test("a stale checkpoint object does not overwrite the file that replaced its source", async () => {
  await withTemp(async (dir) => {
    const path = `${dir}/model.ckpt`;
    await writeZeroCheckpoint(path, { tensors: 5, tensorBytes: 8 << 20 });
    const ckpt = await Checkpoint.open(path);
    try {
      renameKeys(ckpt);
      assert.equal((await ckpt.save(path, { strategy: "clone" })).strategy, "clone");
      // `path` is now the new file; the object still reads the old one.
      await assert.rejects(
        ckpt.save(path, { strategy: "clone" }),
        /Cannot clone checkpoint: the source file was replaced/,
      );
      // Nor streams over it: what it read is older than what is there now.
      await assert.rejects(
        ckpt.save(path),
        /^CheckpointError: Cannot save: the file was replaced since the checkpoint was read from it; the file there is kept, nothing was written$/,
      );
      assert.equal((await ckpt.save(`${dir}/elsewhere.ckpt`)).strategy, "stream");
    } finally {
      ckpt.close();
    }
    const reopened = await Checkpoint.open(path);
    assert.deepEqual([...(reopened.root as PyObject).keys()].slice(0, 2), [
      "renamed.layers.0.weight",
      "renamed.layers.1.weight",
    ]);
    reopened.close();
  });
});

Deno.test("save reports monotonic progress that ends at its total", async () => {
  await withTemp(async (dir) => {
    const big = `${dir}/big.ckpt`;
    await writeZeroCheckpoint(big, { tensors: 5, tensorBytes: 8 << 20 });
    for (const strategy of ["stream", "clone"] as const) {
      const reports: SaveProgress[] = [];
      const ckpt = await Checkpoint.open(big);
      await ckpt.save(`${dir}/${strategy}.ckpt`, {
        strategy,
        onProgress: (p) => reports.push({ ...p }),
      });
      ckpt.close();
      assert.ok(reports.length >= 2, `${strategy}: ${reports.length} reports`);
      const last = reports[reports.length - 1];
      assert.equal(last.done, last.total, strategy);
      assert.ok(last.total >= 5 * (8 << 20), strategy);
      for (let i = 1; i < reports.length; i++) {
        assert.ok(reports[i].done >= reports[i - 1].done, strategy);
        assert.ok(reports[i].done <= reports[i].total, strategy);
      }
    }
  });
});

for (const name of ["state_dict", "tensors", "training"]) {
  Deno.test({
    name: `torch.load reads clone and stream saves of ${name}.ckpt, edited or not`,
    ignore: skipTorch,
    async fn() {
      await withTemp(async (dir) => {
        const input = fixture(`${name}.ckpt`);
        for (const strategy of ["clone", "stream"] as const) {
          const same = `${dir}/${strategy}.ckpt`;
          await save(input, same, { strategy });
          await runPython([`${root}tests/interop/compare.py`, input, same]);
          assert.match(await runPython([`${root}tests/interop/check_records.py`, same]), /ok/);

          const renamed = `${dir}/${strategy}_renamed.ckpt`;
          await save(input, renamed, { strategy, edit: renameKeys });
          assert.match(await runPython([`${root}tests/interop/check_records.py`, renamed]), /ok/);
        }
        // The renamed clone and the renamed stream load to the same value.
        await runPython([
          `${root}tests/interop/compare.py`,
          `${dir}/clone_renamed.ckpt`,
          `${dir}/stream_renamed.ckpt`,
        ]);
      });
    },
  });
}
