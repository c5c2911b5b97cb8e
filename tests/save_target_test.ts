// What a save may replace, found as the kernel resolves paths: only regular
// files (through any symlinks, dangling ones included); never a device,
// FIFO, socket or folder, whatever command or path trick names one; files
// compared by identity, not by the text of their paths; and any name the
// filesystem accepts works. The device nodes are the test's own.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { cli, fileHash, fixture, scripts, withTempDir } from "./_migrate_cli.ts";
import { runs } from "./_tools.ts";

const FIRST = scripts("first_group");
const listeners: Deno.Listener[] = [];

async function withNodes(body: (dir: string) => Promise<void>): Promise<void> {
  try {
    await withTempDir(body);
  } finally {
    for (const listener of listeners.splice(0)) listener.close();
  }
}

/**
 * The special files a test makes in `dir`: whichever this machine lets it
 * make. The socket's listener stays open until `dir` goes (closing it
 * removes the socket).
 */
async function specialFiles(dir: string): Promise<Record<string, (p: string) => boolean>> {
  const made: Record<string, (p: string) => boolean> = {};
  await Deno.mkdir(`${dir}/folder`);
  made.folder = (p) => Deno.lstatSync(p).isDirectory;
  if (await runs("mkfifo", [`${dir}/fifo`])) made.fifo = (p) => Deno.lstatSync(p).isFifo!;
  listeners.push(Deno.listen({ transport: "unix", path: `${dir}/socket` }));
  made.socket = (p) => Deno.lstatSync(p).isSocket!;
  // Nodes of the null (1,3) and full (1,7) devices: only root may make them.
  if (await runs("mknod", [`${dir}/null`, "c", "1", "3"])) {
    made.null = (p) => Deno.lstatSync(p).isCharDevice!;
  }
  if (await runs("mknod", [`${dir}/full`, "c", "1", "7"])) {
    made.full = (p) => Deno.lstatSync(p).isCharDevice!;
  }
  return made;
}

Deno.test("--out naming a folder, FIFO, socket or device is refused and the node stays", async () => {
  await withNodes(async (dir) => {
    const made = await specialFiles(dir);
    assert.ok("fifo" in made && "socket" in made, "mkfifo and unix sockets are available");
    await Deno.symlink(`${dir}/fifo`, `${dir}/link-to-fifo`);
    made["link-to-fifo"] = (p) => Deno.statSync(p).isFifo!;
    const input = fixture("migration_after_foo.ckpt");
    const before = await fileHash(input);
    for (const [name, stillIs] of Object.entries(made)) {
      const node = `${dir}/${name}`;
      for (
        const args of [
          ["migrate", input, "--migrations", FIRST, "--out", node],
          ["rewrite", input, "--out", node],
        ]
      ) {
        const { code, stdout, stderr } = await cli(args);
        const what = `${args[0]} --out ${name}`;
        assert.equal(code, 1, `${what}: ${stderr}`);
        assert.equal(stdout, "", what);
        assert.match(
          stderr,
          /^ckptkit: \S+: Cannot save: it is (a folder|a FIFO|a socket|a character device), not a regular file; nothing was written\n$/,
          what,
        );
        assert.ok(stillIs(node), `${what}: the node was replaced`);
      }
      const ckpt = await Checkpoint.open(input);
      await assert.rejects(ckpt.save(node), /not a regular file; nothing was written$/);
      ckpt.close();
      assert.ok(stillIs(node), `save to ${name}: the node was replaced`);
    }
    assert.equal(await fileHash(input), before);
    // Nothing else appeared: no temporary files, no backups.
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [...Object.keys(made)].sort(),
    );
  });
});

Deno.test("an input that is not a regular file is refused in one line by every command, at once", async () => {
  await withNodes(async (dir) => {
    const made = await specialFiles(dir);
    const commands = [
      ["show"],
      ["show", "--json"],
      ["dis"],
      ["scan"],
      ["verify"],
      ["inspect", "--migrations", FIRST],
      ["check", "--migrations", FIRST],
      ["migrate", "--migrations", FIRST],
      ["migrate", "--migrations", FIRST, "--dry-run"],
      ["rewrite", "--out", `${dir}/out.ckpt`],
    ];
    for (const name of Object.keys(made)) {
      for (const [command, ...rest] of commands) {
        // migrate FOLDER migrates the checkpoints in it (none here).
        if (name === "folder" && command === "migrate") continue;
        const path = `${dir}/${name}`;
        // A FIFO opened for reading would wait for a writer forever.
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL("../cli.ts", import.meta.url).pathname,
            command,
            path,
            ...rest,
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).spawn();
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        const { code, stderr } = await child.output();
        clearTimeout(timer);
        const what = `${command} ${name}`;
        const text = new TextDecoder().decode(stderr);
        assert.ok(
          code === 1 || (command === "check" && code === 2),
          `${what}: exit ${code} ${text}`,
        );
        assert.match(
          text,
          /^ckptkit: \S+: Cannot open: it is (a folder|a FIFO|a socket|a character device), not a regular file\n$/,
          what,
        );
      }
    }
  });
});

Deno.test("--out a dangling symlink writes the file it names; the link stays a link", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/real`);
    await Deno.symlink("real/new.ckpt", `${dir}/link.ckpt`);
    await Deno.symlink(`${dir}/link.ckpt`, `${dir}/chain.ckpt`);
    const { code, stderr } = await cli([
      "migrate",
      fixture("migration_after_foo.ckpt"),
      "--migrations",
      FIRST,
      "--out",
      `${dir}/chain.ckpt`,
    ]);
    assert.equal(code, 0, stderr);
    assert.ok(Deno.lstatSync(`${dir}/link.ckpt`).isSymlink);
    assert.ok(Deno.lstatSync(`${dir}/chain.ckpt`).isSymlink);
    const created = Deno.lstatSync(`${dir}/real/new.ckpt`);
    assert.ok(created.isFile);
    // A new file's mode, not the link's 0777.
    assert.equal(created.mode! & 0o777, 0o666 & ~Deno.umask());
    const check = await cli(["check", `${dir}/link.ckpt`, "--migrations", FIRST]);
    assert.equal(check.code, 0, check.stderr);
    // A link into a folder that does not exist, and a loop: refused, links untouched.
    await Deno.symlink("missing/x.ckpt", `${dir}/nowhere.ckpt`);
    await Deno.symlink("loop-b.ckpt", `${dir}/loop-a.ckpt`);
    await Deno.symlink("loop-a.ckpt", `${dir}/loop-b.ckpt`);
    for (
      const [name, message] of [
        ["nowhere.ckpt", /Cannot save: its folder \S+missing does not exist; nothing was written/],
        ["loop-a.ckpt", /Cannot save: too many levels of symbolic links; nothing was written/],
      ] as const
    ) {
      const refused = await cli(["rewrite", fixture("state_dict.ckpt"), "--out", `${dir}/${name}`]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, message);
      assert.ok(Deno.lstatSync(`${dir}/${name}`).isSymlink);
    }
  });
});

Deno.test("paths through symlinked folders and '..' name the file the kernel finds", async () => {
  await withTempDir(async (dir) => {
    // x -> other/deep, so x/.. is other, not the folder holding x.
    await Deno.mkdir(`${dir}/other/deep`, { recursive: true });
    await Deno.symlink(`${dir}/other/deep`, `${dir}/x`);
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), `${dir}/in.ckpt`);
    await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/other/in.ckpt`);
    const here = await fileHash(`${dir}/in.ckpt`);
    const there = await fileHash(`${dir}/other/in.ckpt`);
    const migrate = (input: string, out: string) =>
      cli(["migrate", input, "--migrations", FIRST, "--out", out], { cwd: dir });

    // --out x/../in.ckpt is other/in.ckpt: a different file, replaced with the migration of in.ckpt.
    let result = await migrate("in.ckpt", "x/../in.ckpt");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await fileHash(`${dir}/in.ckpt`), here, "the input is left alone");
    assert.notEqual(await fileHash(`${dir}/other/in.ckpt`), there);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "in.ckpt",
      "other",
      "x",
    ]);

    // The input x/../in.ckpt is other/in.ckpt; --out in.ckpt is this folder's file.
    await Deno.copyFile(fixture("migration_empty.ckpt"), `${dir}/other/in.ckpt`);
    result = await migrate("x/../in.ckpt", "in.ckpt");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await fileHash(`${dir}/other/in.ckpt`), there, "the input is left alone");
    const migrated = await cli(["inspect", `${dir}/in.ckpt`, "--migrations", FIRST, "--json"]);
    assert.deepEqual(
      JSON.parse(migrated.stdout).registered.length,
      4,
      "in.ckpt holds the migration",
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/other`)].map((e) => e.name).sort(), [
      "deep",
      "in.ckpt",
    ]);

    // And --out naming the input through such a path is in place, with a backup.
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), `${dir}/other/in.ckpt`);
    result = await migrate("other/in.ckpt", "x/../in.ckpt");
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Deno.statSync(`${dir}/other/in-vx.x.x-1.ckpt`).isFile);
  });
});

Deno.test("any name the filesystem accepts works as --out, every time", async () => {
  await withTempDir(async (dir) => {
    for (const length of [222, 240, 255]) {
      const name = `${"n".repeat(length - 5)}.ckpt`;
      for (let run = 0; run < 12; run++) {
        const out = `${dir}/${name}`;
        const args = run % 2 === 0
          ? ["migrate", fixture("migration_after_foo.ckpt"), "--migrations", FIRST, "--out", out]
          : ["rewrite", fixture("state_dict.ckpt"), "--out", out];
        const { code, stderr } = await cli(args);
        assert.equal(code, 0, `${length} characters, run ${run}: ${stderr}`);
      }
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [name]);
      await Deno.remove(`${dir}/${name}`);
    }
    // In place, the backup's longer name may not fit: a clear refusal, nothing lost.
    const long = `${dir}/${"l".repeat(245)}.ckpt`;
    await Deno.copyFile(fixture("migration_after_foo.ckpt"), long);
    const before = await fileHash(long);
    const { code, stderr } = await cli(["migrate", long, "--migrations", FIRST]);
    assert.equal(code, 1);
    assert.match(
      stderr,
      /Cannot back up the checkpoint: the backup name l+-vx\.x\.x-1\.ckpt is too long for the filesystem/,
    );
    assert.equal(await fileHash(long), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [long.slice(dir.length + 1)]);
  });
});
