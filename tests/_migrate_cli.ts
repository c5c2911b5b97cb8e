// Runs cli.ts as a subprocess, for the migration commands' end-to-end tests.
export const root = new URL("../", import.meta.url).pathname;
export const fixture = (name: string) => `${root}tests/fixtures/${name}`;
export const scripts = (name: string) => `${root}tests/migrations/${name}`;

/** What one run of cli.ts gave. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A cli.ts ...args` in `cwd` (default: the repository). */
export async function cli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}cli.ts`, ...args],
    cwd: options.cwd ?? root,
    env: { NO_COLOR: "", ...options.env },
    stdin: "null",
  }).output();
  return {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

/** Runs `body` with a fresh temp dir, removed afterwards. */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-migrate-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** SHA-256 of a file, to show it did not change. */
export async function fileHash(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
