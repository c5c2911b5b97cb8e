// The order of the system calls that make a save survive a crash, seen by
// strace: the temporary file is synced before it is renamed over the target
// (with both strategies), and the folder is synced after the rename. Also
// the writeback hints that let the disk work while a stream save copies.
// Skipped without strace unless REQUIRE_STRACE=1 (as in CI).
import assert from "node:assert/strict";
import { writeZeroCheckpoint } from "./_big_checkpoint.ts";
import { WRITEBACK_WINDOW } from "../lib/torch/_writeback.ts";
import { strace } from "./_tools.ts";

/** One system call of interest, in the order strace saw them finish. */
interface Call {
  name: string;
  /** The paths of its file descriptor or path arguments. */
  paths: string[];
  /** Its arguments as strace printed them. */
  args: string;
}

// With -y, strace prints a descriptor as `26</path>`; with -f, calls that
// block are split into `fsync(26</p> <unfinished ...>` and a later
// `<... fsync resumed>) = 0` line of the same process.
function parseTrace(log: string): Call[] {
  const pending = new Map<string, Call>();
  const calls: Call[] = [];
  for (const line of log.split("\n")) {
    const match = /^(\d+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const [, pid, rest] = match;
    const resumed = /^<\.\.\. (\w+) resumed>.*= (-?\d+)/.exec(rest);
    if (resumed !== null) {
      const call = pending.get(pid);
      pending.delete(pid);
      if (call !== undefined && call.name === resumed[1] && resumed[2] === "0") calls.push(call);
      continue;
    }
    const start = /^(\w+)\((.*)$/.exec(rest);
    if (start === null) continue;
    const call = {
      name: start[1],
      paths: [...start[2].matchAll(/<([^<>]+)>|"([^"]+)"/g)].map((m) => m[1] ?? m[2]),
      args: start[2],
    };
    if (rest.endsWith("<unfinished ...>")) pending.set(pid, call);
    else if (/= 0$/.test(rest)) calls.push(call);
  }
  return calls;
}

interface TracedSave {
  calls: Call[];
  /** The target's real path. */
  target: string;
  /** The whole trace, and the folder the save ran in (removed since). */
  log: string;
  dir: string;
}

async function tracedSave(
  strategy: string,
  { tensorBytes = 1 << 16, permissions = ["-A"], alsoTrace = [] as string[], plant = false } = {},
): Promise<TracedSave> {
  strace.check();
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "ckptkit-durable-" }));
  try {
    // A library an untrusted model folder might ship under glibc's name.
    if (plant) await Deno.writeTextFile(`${dir}/libc.so.6`, "not a library");
    const source = `${dir}/in.ckpt`;
    const target = `${dir}/out.ckpt`;
    await writeZeroCheckpoint(source, { tensors: 3, tensorBytes });
    const script = `${dir}/save.ts`;
    const checkpoint = new URL("../lib/torch/checkpoint.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { Checkpoint } from ${JSON.stringify(checkpoint)};\n` +
        `const c = await Checkpoint.open(Deno.args[0]);\n` +
        `await c.save(Deno.args[1], { strategy: Deno.args[2] });\n` +
        `c.close();\n`,
    );
    const log = `${dir}/trace.log`;
    const { success, stderr } = await new Deno.Command("strace", {
      args: [
        "-f",
        "-y",
        "-o",
        log,
        "-e",
        `trace=${[
          "fsync",
          "fdatasync",
          "rename",
          "renameat",
          "renameat2",
          "link",
          "linkat",
          "sync_file_range",
          ...alsoTrace,
        ]}`,
        Deno.execPath(),
        "run",
        ...permissions,
        "--quiet",
        script,
        source,
        target,
        strategy,
      ],
      cwd: dir,
      stdout: "null",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    const text = await Deno.readTextFile(log);
    return { calls: parseTrace(text), target: await Deno.realPath(target), log: text, dir };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const strategy of ["stream", "clone"]) {
  Deno.test({
    name: `a save (${strategy}) syncs the file before the rename and the folder after it`,
    ignore: strace.ignore,
    fn: async () => {
      const { calls, target } = await tracedSave(strategy);
      const folder = target.slice(0, target.lastIndexOf("/"));
      const { rename, temp } = renameOnto(calls, target);
      const syncs = (path: string) => (c: Call) =>
        /^f(data)?sync$/.test(c.name) && c.paths[0] === path;
      assert.ok(
        calls.slice(0, rename).some(syncs(temp)),
        "the file is not synced before the rename",
      );
      assert.ok(calls.slice(rename + 1).some(syncs(folder)), "the folder is not synced after it");
    },
  });
}

/**
 * The index of the call that puts the temporary file in place at `target`
 * (a rename over an existing file, or a link creating a new one, which
 * never replaces a file another process created meanwhile), and that file.
 */
function renameOnto(calls: Call[], target: string): { rename: number; temp: string } {
  const rename = calls.findIndex((c) =>
    (c.name.startsWith("rename") || c.name.startsWith("link")) && c.paths.at(-1) === target
  );
  assert.ok(rename >= 0, `no rename or link onto ${target}: ${JSON.stringify(calls)}`);
  const temp = calls[rename].paths.find((p) => p.endsWith(".ckptkit-tmp"));
  assert.ok(temp !== undefined, `not from a temporary file: ${JSON.stringify(calls[rename])}`);
  return { rename, temp };
}

Deno.test({
  name: "a stream save starts the writeback of each window before the final sync",
  ignore: strace.ignore,
  fn: async () => {
    const { calls, target } = await tracedSave("stream", { tensorBytes: WRITEBACK_WINDOW });
    const { rename, temp } = renameOnto(calls, target);
    const hints = calls.filter((c) => c.name === "sync_file_range" && c.paths[0] === temp);
    // Three storages of a window each, plus data.pkl and headers.
    assert.ok(hints.length >= 3, `${hints.length} writeback hints: ${JSON.stringify(calls)}`);
    for (const hint of hints) assert.match(hint.args, /, 0, 0, SYNC_FILE_RANGE_WRITE\)/);
    const lastHint = calls.lastIndexOf(hints.at(-1)!);
    const sync = calls.findIndex((c) => c.name === "fsync" && c.paths[0] === temp);
    assert.ok(lastHint < sync && sync < rename, "hints, then the sync, then the rename");
  },
});

Deno.test({
  name: "a save without --allow-ffi gives no writeback hints and still syncs",
  ignore: strace.ignore,
  fn: async () => {
    const { calls, target } = await tracedSave("stream", {
      tensorBytes: WRITEBACK_WINDOW,
      permissions: ["--allow-read", "--allow-write"],
    });
    assert.deepEqual(calls.filter((c) => c.name === "sync_file_range"), []);
    const { rename, temp } = renameOnto(calls, target);
    assert.ok(calls.slice(0, rename).some((c) => c.name === "fsync" && c.paths[0] === temp));
  },
});

for (const permissions of [["-A"], ["-A", "--deny-ffi=/nonexistent"]]) {
  Deno.test({
    name: `a save (${permissions.join(" ")}) never loads a libc.so.6 from the working folder`,
    ignore: strace.ignore,
    fn: async () => {
      const { calls, target, log, dir } = await tracedSave("stream", {
        tensorBytes: WRITEBACK_WINDOW,
        permissions,
        alsoTrace: ["open", "openat", "openat2"],
        plant: true,
      });
      assert.ok(!log.includes(`${dir}/libc.so.6`), "the planted libc.so.6 was opened");
      // The system's glibc gives the hints instead.
      const { temp } = renameOnto(calls, target);
      assert.ok(calls.some((c) => c.name === "sync_file_range" && c.paths[0] === temp));
    },
  });
}
