// The optional tools some tests need (torch, nginx, wat2wasm, strace, git,
// script). Each is probed once, and a probe never throws: a missing tool
// skips its tests, unless REQUIRE_<NAME>=1 (as in CI) requires it, which
// makes them fail instead, naming the tool.

/** An optional tool, as its tests see it. */
export interface OptionalTool {
  /** What to install, for messages. */
  readonly name: string;
  /** Whether the probe found it working. */
  readonly available: boolean;
  /** Whether `REQUIRE_<NAME>=1` asks for it. */
  readonly required: boolean;
  /** For `Deno.test({ ignore })`: missing and not required. */
  readonly ignore: boolean;
  /** Throws when the tool is required but missing; call it first in each test. */
  check(): void;
}

/**
 * Whether `command args` starts and exits 0. A missing binary, a refused
 * spawn (Deno throws those synchronously) or a failure all answer false.
 */
export async function runs(
  command: string,
  args: string[],
  options: Omit<Deno.CommandOptions, "args" | "stdout" | "stderr"> = {},
): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, {
      ...options,
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** The tool `name`, required by `REQUIRE_<variable>=1`, found when `probe` answers true. */
export async function optionalTool(
  name: string,
  variable: string,
  probe: () => Promise<boolean>,
): Promise<OptionalTool> {
  const available = await probe().catch(() => false);
  const required = Deno.env.get(`REQUIRE_${variable}`) === "1";
  return {
    name,
    available,
    required,
    ignore: !available && !required,
    check() {
      if (!available) throw new Error(`REQUIRE_${variable}=1 but ${name} is not available`);
    },
  };
}

/** wabt's wat2wasm, which assembles lib/pickle/_latin1.wat. */
export const wabt: OptionalTool = await optionalTool(
  "wat2wasm (wabt)",
  "WABT",
  () => runs("wat2wasm", ["--version"]),
);

/** strace, which shows the system calls of a save. */
export const strace: OptionalTool = await optionalTool(
  "strace",
  "STRACE",
  () => Promise.resolve(Deno.build.os === "linux").then((linux) => linux && runs("strace", ["-V"])),
);

/** util-linux `script`, which runs a command on a pseudo-terminal. */
export const script: OptionalTool = await optionalTool(
  "script (util-linux)",
  "SCRIPT",
  () => runs("script", ["--version"]),
);

/** git, for the fix-order tests. */
export const git: OptionalTool = await optionalTool("git", "GIT", () => runs("git", ["--version"]));

/**
 * Loop-mounted XFS, btrfs and ext4 images (root, loop devices, xfsprogs,
 * btrfs-progs, e2fsprogs), for saves on filesystems that share blocks.
 */
export const loopFilesystems: OptionalTool = await optionalTool(
  "loop-mounted filesystems (root, losetup, mkfs.xfs, mkfs.btrfs, mkfs.ext4)",
  "LOOP_FILESYSTEMS",
  async () =>
    Deno.build.os === "linux" && Deno.uid() === 0 &&
    (await Promise.all([
      runs("losetup", ["-f"]),
      runs("mkfs.xfs", ["-V"]),
      runs("mkfs.btrfs", ["--version"]),
      runs("mkfs.ext4", ["-V"]),
    ])).every(Boolean),
);
