// What the benchmark scripts share: the peer Python, running commands, and
// the median of repeated runs.

/** The Python with torch for peer rows: `CKPTKIT_PYTHON`, as for the tests, or Debian's. */
export const PYTHON = Deno.env.get("CKPTKIT_PYTHON") || "/usr/bin/python3";

/** Whether `command args` runs and exits 0. */
export async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

/** The error for a benchmarked command that failed, with what it printed. */
export function runFailed(argv: string[], stderr: Uint8Array): Error {
  return new Error(
    `Cannot run bench: ${argv.join(" ")} failed:\n${new TextDecoder().decode(stderr)}`,
  );
}

/** The median of `values`. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
