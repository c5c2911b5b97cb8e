// The archive Checkpoint.save writes: torch's record order and layout,
// storages renumbered in first-reference order, foreign records kept.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
import type { PyObject } from "../lib/pickle/py_object.ts";
import { readCentralDirectory, type ZipEntry } from "../lib/zip/central_directory.ts";
import { readEntry } from "../lib/zip/read_entry.ts";
import { FileSource } from "../lib/zip/source.ts";
import { TorchZipWriter } from "../lib/zip/torch_zip_writer.ts";
import { crc32 } from "../lib/zip/crc32.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function entriesOf(path: string): Promise<{ entries: ZipEntry[]; source: FileSource }> {
  const source = await FileSource.open(path);
  const { entries } = await readCentralDirectory(source);
  return { entries, source };
}

/** Storage keys of the persistent ids, in pickle order. */
function storageKeys(pickle: Uint8Array): string[] {
  const keys: string[] = [];
  unpickle(pickle, {
    persistentLoad(pid) {
      keys.push((pid as unknown[])[2] as string);
      return null;
    },
  });
  return keys;
}

/** Checks torch's rules for every record of the archive at `path`. */
async function assertTorchLayout(path: string, archive: string, alignment = 64) {
  const { entries, source } = await entriesOf(path);
  try {
    const names = entries.map((e) => e.name);
    assert.ok(names.every((n) => n.startsWith(`${archive}/`)), names.join());
    assert.equal(names[0], `${archive}/data.pkl`);
    for (const entry of entries) {
      assert.equal(entry.method, 0, entry.name);
      assert.equal(entry.dataOffset % alignment, 0, `${entry.name} starts at ${entry.dataOffset}`);
      assert.equal(entry.flags, entry.size === 0 ? 0x0800 : 0x0808, entry.name);
    }
    const data = await readEntry(source, entries[0]);
    assert.equal(crc32(data), entries[0].crc32);
    const storages = names.filter((n) => n.startsWith(`${archive}/data/`));
    assert.deepEqual(storages, storages.map((_, i) => `${archive}/data/${i}`));
    const keys = storageKeys(data);
    const firstSeen = [...new Set(keys)];
    assert.deepEqual(firstSeen, firstSeen.map((_, i) => String(i)));
    return names.map((n) => n.slice(archive.length + 1));
  } finally {
    source.close();
  }
}

for (const name of ["state_dict", "tensors", "training", "values", "torch2"]) {
  Deno.test(`save writes ${name}.ckpt in torch's layout`, async () => {
    await withTemp(async (dir) => {
      const ckpt = await Checkpoint.open(fixture(`${name}.ckpt`));
      const out = `${dir}/renamed-file.ckpt`;
      const result = await ckpt.save(out);
      ckpt.close();
      const names = await assertTorchLayout(out, name);
      assert.equal(result.size, (await Deno.stat(out)).size);
      const source = await entriesOf(fixture(`${name}.ckpt`));
      source.source.close();
      const sourceNames = source.entries.map((e) => e.name.slice(name.length + 1));
      // The same records as torch wrote, storages in numeric order.
      const sorted = (list: string[]) =>
        [...list].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
      assert.deepEqual(sorted(names), sorted(sourceNames));
      assert.equal(names.at(-1), name === "torch2" ? ".data/serialization_id" : "version");
    });
  });
}

Deno.test("save of a torch 2 checkpoint keeps its records at torch's offsets", async () => {
  await withTemp(async (dir) => {
    const ckpt = await Checkpoint.open(fixture("torch2.ckpt"));
    await ckpt.save(`${dir}/torch2.ckpt`);
    ckpt.close();
    const ours = await entriesOf(`${dir}/torch2.ckpt`);
    const theirs = await entriesOf(fixture("torch2.ckpt"));
    ours.source.close();
    theirs.source.close();
    const layout = (entries: ZipEntry[]) =>
      entries.map((e) => [e.name, e.localHeaderOffset, e.dataOffset, e.size]);
    assert.deepEqual(layout(ours.entries), layout(theirs.entries));
    const crcs = (entries: ZipEntry[]) =>
      entries.filter((e) => !e.name.endsWith("serialization_id")).map((e) => e.crc32);
    assert.deepEqual(crcs(ours.entries), crcs(theirs.entries));
  });
});

Deno.test("unreferenced storages are dropped and the rest renumbered", async () => {
  await withTemp(async (dir) => {
    const ckpt = await Checkpoint.open(fixture("state_dict.ckpt"));
    const stateDict = ckpt.root as PyObject<string, Tensor>;
    const before = stateDict.size;
    const first = stateDict.keys().next().value!;
    const dropped = stateDict.pop(first);
    stateDict.set("extra", Tensor.fromTypedArray(new Int32Array([7, 8, 9])));
    await ckpt.save(`${dir}/out.ckpt`);
    ckpt.close();
    const names = await assertTorchLayout(`${dir}/out.ckpt`, "state_dict");
    assert.equal(names.filter((n) => n.startsWith("data/")).length, before);
    const again = await Checkpoint.open(`${dir}/out.ckpt`);
    const reloaded = again.root as PyObject<string, Tensor>;
    assert.equal(reloaded.get(first), undefined);
    assert.equal(reloaded.getItem([...reloaded.keys()][0]).storage.key, "0");
    const extra = reloaded.getItem("extra");
    assert.equal(extra.storage.key, String(before - 1));
    assert.deepEqual(await extra.toTypedArray(), new Int32Array([7, 8, 9]));
    assert.ok(dropped.storage.key !== undefined);
    again.close();
  });
});

Deno.test("records torch does not know are kept byte for byte", async () => {
  await withTemp(async (dir) => {
    // What anemoi does: append <archive>/anemoi-metadata/ai-models.json.
    const input = `${dir}/with-metadata.ckpt`;
    const { entries, source } = await entriesOf(fixture("training.ckpt"));
    const file = await Deno.open(input, { write: true, create: true });
    const writer = await TorchZipWriter.create(file, { archiveName: "training" });
    for (const entry of entries) {
      await writer.copyRecord(entry.name.slice("training/".length), source, entry);
    }
    const json = new TextEncoder().encode('{"dataset": "era5", "variables": ["2t"]}');
    await writer.writeRecord("anemoi-metadata/ai-models.json", json);
    await writer.finish();
    file.close();
    source.close();

    const ckpt = await Checkpoint.open(input);
    await ckpt.save(`${dir}/out.ckpt`);
    ckpt.close();
    const names = await assertTorchLayout(`${dir}/out.ckpt`, "training");
    assert.equal(names.at(-1), "anemoi-metadata/ai-models.json");
    const out = await entriesOf(`${dir}/out.ckpt`);
    const kept = out.entries.at(-1)!;
    assert.deepEqual(await readEntry(out.source, kept), json);
    out.source.close();
  });
});

Deno.test("the save is atomic: a failed save leaves no file behind", async () => {
  await withTemp(async (dir) => {
    const ckpt = await Checkpoint.open(fixture("values.ckpt"));
    (ckpt.root as PyObject).set("bad", undefined);
    await assert.rejects(() => ckpt.save(`${dir}/out.ckpt`), /undefined is not a Python value/);
    ckpt.close();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("a save writes a data.pkl with large bytes from the encoder's parts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = await Checkpoint.open(
      new URL("./fixtures/training.ckpt", import.meta.url).pathname,
    );
    const blobs = [1, 2].map((seed) => new Uint8Array((2 << 20) + seed).map((_, i) => i * seed));
    (ckpt.root as PyObject).set("blobs", blobs);
    const expected = ckpt.encode().pickle;
    for (const strategy of ["stream", "clone"] as const) {
      const out = `${dir}/${strategy}.ckpt`;
      // The check after writing compares data.pkl's CRC-32 with the one computed over the parts.
      const result = await ckpt.save(out, { strategy });
      assert.equal(result.pickleSize, expected.length);
      const again = await Checkpoint.open(out);
      assert.deepEqual(again.pickleBytes, expected);
      assert.deepEqual(((again.root as PyObject).get("blobs") as Uint8Array[])[1], blobs[1]);
      again.close();
    }
    ckpt.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
