// Storage records copied inside the kernel (copy_file_range) give the same
// file, byte for byte, as the user-space copy, and every way the call can
// refuse (an error, a source that ends early, a swapped file, no FFI, another
// filesystem) ends in the user-space copy of the same bytes. Errors are
// injected with strace, skipped without it unless REQUIRE_STRACE=1.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { dtype } from "../lib/torch/dtype.ts";
import { Storage } from "../lib/torch/storage.ts";
import { Tensor } from "../lib/torch/tensor.ts";
import { torchPickle } from "../lib/torch/_torch_pickle.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { readCentralDirectory, resolveEntries } from "../lib/zip/central_directory.ts";
import { BytesSource, FileSource } from "../lib/zip/source.ts";
import { TorchZipWriter } from "../lib/zip/torch_zip_writer.ts";
import { KernelRangeCopier } from "../lib/zip/_kernel_range_copy.ts";
import { strace } from "./_tools.ts";

const linux = Deno.build.os === "linux";

// Sizes that cross the writer's 16 MiB kernel chunk and its 1 MiB buffer.
const SIZES = [4, 0, 1000, (16 << 20) + 12, 4096 + 8, 3 << 20, 8];

/** Bytes no two tensors share at any offset, so a misplaced range shows. */
function pattern(index: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let j = 0; j < size; j++) bytes[j] = (index * 131 + j * 7 + (j >> 9)) & 0xff;
  return bytes;
}

async function writePatterned(path: string, sizes = SIZES): Promise<void> {
  const stateDict = new PyObject<string, Tensor>(PyGlobal.of("collections", "OrderedDict"));
  sizes.forEach((size, i) => {
    const storage = Storage.fromBytes(pattern(i, size), dtype("uint8")!);
    stateDict.set(`layer.${i}`, new Tensor({ storage, shape: [size] }));
  });
  const { parts, storages } = torchPickle(stateDict);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const writer = await TorchZipWriter.create(file, { archiveName: "patterned" });
  await writer.writeRecord("data.pkl", parts);
  for (const [key, storage] of storages.entries()) {
    await writer.writeRecord(`data/${key}`, storage.loaded!);
  }
  await writer.writeRecord("version", new TextEncoder().encode("3\n"));
  await writer.finish();
  file.close();
}

const saveScript = new URL("./_kernel_copy_save.ts", import.meta.url).pathname;

/** Runs tests/_kernel_copy_save.ts: the checkpoint at `source` plus one new tensor, saved to `target`. */
async function childSave(
  source: string,
  target: string,
  { permissions = ["-A"], wrap = [] as string[] } = {},
): Promise<void> {
  const argv = [
    ...wrap,
    Deno.execPath(),
    "run",
    ...permissions,
    "--quiet",
    saveScript,
    source,
    target,
  ];
  const { success, stderr } = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "null",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
}

async function tempDir(parent?: string): Promise<string> {
  return await Deno.realPath(await Deno.makeTempDir({ dir: parent, prefix: "ckptkit-kcopy-" }));
}

async function assertSameFile(actual: string, expected: string): Promise<void> {
  const [a, b] = await Promise.all([Deno.readFile(actual), Deno.readFile(expected)]);
  assert.equal(a.length, b.length, "the files differ in size");
  const at = a.findIndex((byte, i) => byte !== b[i]);
  assert.equal(at, -1, `the files differ at byte ${at}`);
}

/** The reference: the same save in a process that may not load libc, so never copies in the kernel. */
async function userSpaceSave(source: string, target: string): Promise<void> {
  await childSave(source, target, { permissions: ["--allow-read", "--allow-write"] });
}

Deno.test({
  name: "the kernel copier copies a range between explicit offsets",
  ignore: !linux,
  fn: async () => {
    const dir = await tempDir();
    try {
      const source = `${dir}/source`;
      const bytes = pattern(3, 100_000);
      await Deno.writeFile(source, bytes);
      const from = await FileSource.open(source);
      const file = await Deno.open(`${dir}/target`, { write: true, create: true });
      const copier = KernelRangeCopier.open(file, `${dir}/target`);
      assert.ok(copier !== undefined, "no copier where FFI is allowed");
      try {
        assert.equal(copier.copyRange(from, 10, 500, 60_000), 60_000);
        assert.equal(copier.copyRange(from, 0, 0, 0), 0);
      } finally {
        copier.close();
        file.close();
        from.close();
      }
      const written = await Deno.readFile(`${dir}/target`);
      assert.equal(written.length, 60_500);
      assert.deepEqual(written.subarray(500), bytes.subarray(10, 60_010));
      assert.ok(written.subarray(0, 500).every((b) => b === 0));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the kernel copier copies nothing from a path that now names another file",
  ignore: !linux,
  fn: async () => {
    const dir = await tempDir();
    try {
      const source = `${dir}/source`;
      await Deno.writeFile(source, pattern(1, 5000));
      const from = await FileSource.open(source);
      // Another file takes the source's name; the open handle keeps the first.
      await Deno.writeFile(`${dir}/other`, pattern(2, 5000));
      await Deno.rename(`${dir}/other`, source);
      const file = await Deno.open(`${dir}/target`, { write: true, create: true });
      const copier = KernelRangeCopier.open(file, `${dir}/target`)!;
      try {
        assert.equal(copier.copyRange(from, 0, 0, 5000), 0);
        // The writer then reads through the handle: the first file's bytes.
        const entry = {
          name: "x",
          method: 0,
          flags: 0,
          crc32: 0,
          compressedSize: 5000,
          size: 5000,
          localHeaderOffset: 0,
          dataOffset: 0,
        };
        const writer = await TorchZipWriter.create(file, { archiveName: "a", copier });
        await writer.copyRecord("data/0", from, entry);
        await writer.finish();
      } finally {
        copier.close();
        file.close();
        from.close();
      }
      const written = await Deno.readFile(`${dir}/target`);
      const archive = new BytesSource(written);
      const record = (await readCentralDirectory(archive)).entries[0];
      await resolveEntries(archive, [record]);
      assert.deepEqual(
        written.subarray(record.dataOffset, record.dataOffset + 5000),
        pattern(1, 5000),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "no kernel copier for a path that no longer names the open file",
  ignore: !linux,
  fn: async () => {
    const dir = await tempDir();
    try {
      const file = await Deno.open(`${dir}/target`, { write: true, create: true });
      await Deno.rename(`${dir}/target`, `${dir}/moved`);
      await Deno.writeFile(`${dir}/target`, new Uint8Array(1));
      try {
        assert.equal(KernelRangeCopier.open(file, `${dir}/target`), undefined);
      } finally {
        file.close();
      }
      // And none into a symlink to it.
      const again = await Deno.open(`${dir}/moved`, { write: true });
      await Deno.symlink(`${dir}/moved`, `${dir}/link`);
      try {
        assert.equal(KernelRangeCopier.open(again, `${dir}/link`), undefined);
      } finally {
        again.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a save copying in the kernel writes the bytes of a save copying in user space", async () => {
  const dir = await tempDir();
  try {
    await writePatterned(`${dir}/in.ckpt`);
    await childSave(`${dir}/in.ckpt`, `${dir}/kernel.ckpt`);
    await userSpaceSave(`${dir}/in.ckpt`, `${dir}/user.ckpt`);
    await assertSameFile(`${dir}/kernel.ckpt`, `${dir}/user.ckpt`);
    // And the tensors are the ones written.
    const ckpt = await Checkpoint.open(`${dir}/kernel.ckpt`);
    try {
      const stateDict = ckpt.root as PyDict<string, Tensor>;
      for (const [i, size] of SIZES.entries()) {
        const bytes = await stateDict.get(`layer.${i}`)!.storage.bytes();
        assert.deepEqual(bytes.subarray(0, size), pattern(i, size), `layer.${i}`);
      }
      assert.deepEqual(await stateDict.get("added")!.storage.bytes(), pattern(99, 777));
    } finally {
      ckpt.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// /dev/shm is tmpfs on Linux: a copy from it to a disk folder crosses
// filesystems, which copy_file_range refuses with EXDEV.
const shm = linux && await Deno.stat("/dev/shm").then((s) => s.isDirectory, () => false);

Deno.test({
  name: "a save across filesystems writes the same bytes",
  ignore: !shm,
  fn: async () => {
    const disk = await tempDir();
    const memory = await tempDir("/dev/shm");
    try {
      assert.notEqual((await Deno.stat(disk)).dev, (await Deno.stat(memory)).dev);
      // Deno asks for -A under /dev: the reference is saved on the disk.
      await writePatterned(`${disk}/in.ckpt`);
      await userSpaceSave(`${disk}/in.ckpt`, `${disk}/user.ckpt`);
      await Deno.copyFile(`${disk}/in.ckpt`, `${memory}/in.ckpt`);
      await childSave(`${memory}/in.ckpt`, `${disk}/from_memory.ckpt`);
      await assertSameFile(`${disk}/from_memory.ckpt`, `${disk}/user.ckpt`);
      await childSave(`${disk}/in.ckpt`, `${memory}/from_disk.ckpt`);
      await assertSameFile(`${memory}/from_disk.ckpt`, `${disk}/user.ckpt`);
    } finally {
      await Deno.remove(disk, { recursive: true });
      await Deno.remove(memory, { recursive: true });
    }
  },
});

/** The copy_file_range calls of a trace: their results, in order. */
function copyCalls(log: string): string[] {
  return [...log.matchAll(/copy_file_range\(.*\) = (-?\d+(?: \w+)?)/g)].map((m) => m[1]);
}

Deno.test({
  name: "a save under strace copies its storages with copy_file_range",
  ignore: strace.ignore || !linux,
  fn: async () => {
    strace.check();
    const dir = await tempDir();
    try {
      await writePatterned(`${dir}/in.ckpt`);
      const log = `${dir}/trace.log`;
      await childSave(`${dir}/in.ckpt`, `${dir}/out.ckpt`, {
        wrap: ["strace", "-f", "-o", log, "-e", "trace=copy_file_range"],
      });
      const results = copyCalls(await Deno.readTextFile(log));
      // Every record but data.pkl (the storages and version), 16 MiB a call.
      const source = await FileSource.open(`${dir}/in.ckpt`);
      const { entries } = await readCentralDirectory(source);
      source.close();
      const copied = entries.filter((e) => !e.name.endsWith("/data.pkl")).map((e) => e.size);
      assert.deepEqual(
        results.map(Number),
        copied.flatMap((size) =>
          Array.from(
            { length: Math.ceil(size / (16 << 20)) },
            (_, i) => Math.min(16 << 20, size - i * (16 << 20)),
          )
        ),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// What copy_file_range answers where it cannot copy: other filesystems,
// unsupported files, old kernels, seccomp filters, read-only or full
// disks, I/O errors, interrupted calls.
const ERRORS = [
  "EXDEV",
  "EINVAL",
  "ENOSYS",
  "EOPNOTSUPP",
  "EBADF",
  "EPERM",
  "EIO",
  "ENOSPC",
  "EINTR",
  "EOVERFLOW",
  "ETXTBSY",
  "EFBIG",
];

for (const error of ERRORS) {
  for (const when of ["1", "3"]) {
    Deno.test({
      name: `a save whose copy_file_range call ${when} fails with ${error} writes the same bytes`,
      ignore: strace.ignore || !linux,
      fn: async () => {
        strace.check();
        const dir = await tempDir();
        try {
          await writePatterned(`${dir}/in.ckpt`);
          const log = `${dir}/trace.log`;
          await childSave(`${dir}/in.ckpt`, `${dir}/out.ckpt`, {
            wrap: [
              "strace",
              "-f",
              "-o",
              log,
              "-e",
              "trace=copy_file_range",
              "-e",
              `inject=copy_file_range:error=${error}:when=${when}`,
            ],
          });
          await userSpaceSave(`${dir}/in.ckpt`, `${dir}/user.ckpt`);
          await assertSameFile(`${dir}/out.ckpt`, `${dir}/user.ckpt`);
          // The refused source is not asked again.
          const results = copyCalls(await Deno.readTextFile(log));
          assert.equal(results.length, Number(when));
          assert.match(results.at(-1)!, new RegExp(`^-1 ${error}`));
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    });
  }
}

Deno.test({
  name: "a save whose copy_file_range finds the source's end early copies that record itself",
  ignore: strace.ignore || !linux,
  fn: async () => {
    strace.check();
    const dir = await tempDir();
    try {
      await writePatterned(`${dir}/in.ckpt`);
      const log = `${dir}/trace.log`;
      await childSave(`${dir}/in.ckpt`, `${dir}/out.ckpt`, {
        wrap: [
          "strace",
          "-f",
          "-o",
          log,
          "-e",
          "trace=copy_file_range",
          "-e",
          "inject=copy_file_range:retval=0:when=2",
        ],
      });
      await userSpaceSave(`${dir}/in.ckpt`, `${dir}/user.ckpt`);
      await assertSameFile(`${dir}/out.ckpt`, `${dir}/user.ckpt`);
      // The other records are still copied by the kernel.
      const results = copyCalls(await Deno.readTextFile(log));
      assert.equal(results[1], "0");
      assert.ok(results.length > 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
