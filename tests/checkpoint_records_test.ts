// Records a save must keep or drop besides torch's own: extra files under
// data/ and elsewhere, folder entries of a re-zipped checkpoint; and what a
// replaced file keeps (permissions, symlinks pointing at it).
import assert from "node:assert/strict";
import { CheckpointError } from "../lib/errors.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { readCentralDirectory } from "../lib/zip/central_directory.ts";
import { readEntry } from "../lib/zip/read_entry.ts";
import { FileSource } from "../lib/zip/source.ts";
import { buildZip, type TestEntry } from "./_zip_builder.ts";
import { withTempDir } from "./_migrate_cli.ts";

const fixture = new URL("./fixtures/tensors.ckpt", import.meta.url).pathname;
const text = (s: string) => new TextEncoder().encode(s);

/** The fixture's records, in order, with `extra` inserted after `data.pkl`. */
async function fixtureEntries(): Promise<{ prefix: string; entries: TestEntry[] }> {
  const source = await FileSource.open(fixture);
  try {
    const { entries } = await readCentralDirectory(source);
    const prefix = entries[0].name.slice(0, entries[0].name.indexOf("/"));
    const out: TestEntry[] = [];
    for (const entry of entries) {
      out.push({ name: entry.name, data: await readEntry(source, entry) });
    }
    return { prefix, entries: out };
  } finally {
    source.close();
  }
}

async function tensorBytes(path: string): Promise<Map<string, Uint8Array>> {
  const ckpt = await Checkpoint.open(path);
  try {
    const out = new Map<string, Uint8Array>();
    for (const [key, value] of ckpt.root as PyDict) {
      if (value instanceof Tensor) out.set(String(key), (await value.bytes()).slice());
    }
    return out;
  } finally {
    ckpt.close();
  }
}

for (const strategy of ["stream", "clone"] as const) {
  Deno.test(`a save (${strategy}) keeps extra records, under data/ too, and drops folder entries`, async () => {
    await withTempDir(async (dir) => {
      const { prefix, entries } = await fixtureEntries();
      const extras = [
        { name: `${prefix}/data/README`, data: text("storages of the run\n") },
        { name: `${prefix}/extra/notes.json`, data: text('{"epoch": 3}\n'), method: 8 },
      ];
      // What `zip -r` of an unpacked checkpoint gives: folder entries first.
      const zip = await buildZip([
        { name: `${prefix}/`, data: new Uint8Array(0) },
        { name: `${prefix}/data/`, data: new Uint8Array(0) },
        ...entries,
        ...extras,
      ]);
      const source = `${dir}/rezipped.ckpt`;
      await Deno.writeFile(source, zip.bytes);
      const ckpt = await Checkpoint.open(source);
      assert.ok(!ckpt.recordNames.some((name) => name === "" || name.endsWith("/")));
      const out = `${dir}/out.ckpt`;
      try {
        await ckpt.save(out, { strategy });
      } finally {
        ckpt.close();
      }
      const again = await Checkpoint.open(out);
      try {
        assert.ok(again.directory.entries.every((e) => !e.name.endsWith("/")));
        assert.equal(await again.readRecordText("data/README"), "storages of the run\n");
        assert.equal(await again.readRecordText("extra/notes.json"), '{"epoch": 3}\n');
      } finally {
        again.close();
      }
      assert.deepEqual(await tensorBytes(out), await tensorBytes(fixture));
    });
  });
}

Deno.test("a save in place keeps the file's permissions and a symlink to it", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir(async (dir) => {
    const real = `${dir}/epoch=3.ckpt`;
    await Deno.copyFile(fixture, real);
    await Deno.chmod(real, 0o600);
    const link = `${dir}/last.ckpt`;
    await Deno.symlink("epoch=3.ckpt", link);
    for (const strategy of ["stream", "clone"] as const) {
      const ckpt = await Checkpoint.open(link);
      try {
        (ckpt.root as PyDict).set("note", strategy);
        await ckpt.save(link, { strategy });
      } finally {
        ckpt.close();
      }
      assert.ok((await Deno.lstat(link)).isSymlink, "the link was replaced by a file");
      assert.equal((await Deno.stat(real)).mode! & 0o777, 0o600);
      const again = await Checkpoint.open(real);
      assert.equal((again.root as PyDict).get("note"), strategy);
      again.close();
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "epoch=3.ckpt",
      "last.ckpt",
    ]);
  });
});

Deno.test("a save whose source was closed fails in one line", async () => {
  await withTempDir(async (dir) => {
    const donor = await Checkpoint.open(fixture, { localHeaders: "on-demand" });
    const ckpt = await Checkpoint.open(fixture);
    const root = ckpt.root as PyDict;
    for (const [key, value] of donor.root as PyDict) root.set(`donor.${key}`, value);
    donor.close();
    try {
      await assert.rejects(
        () => ckpt.save(`${dir}/out.ckpt`),
        (error: Error) => error instanceof CheckpointError && /^Cannot save: /.test(error.message),
      );
    } finally {
      ckpt.close();
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});
