// Finds the Python that has torch, for the interop tests. They skip without
// it, unless REQUIRE_TORCH=1 (as in CI), where a missing torch fails them.

const candidates = [Deno.env.get("CKPTKIT_PYTHON"), "/usr/bin/python3", "python3"].filter(
  (x): x is string => x !== undefined && x !== "",
);

async function hasTorch(python: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(python, {
      args: ["-c", "import torch, numpy, omegaconf"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

let found: string | undefined;
for (const candidate of candidates) {
  if (await hasTorch(candidate)) {
    found = candidate;
    break;
  }
}

export const requireTorch = Deno.env.get("REQUIRE_TORCH") === "1";
/** The Python with torch, numpy and omegaconf, when there is one. */
export const python: string | undefined = found;
/** Whether to skip torch tests: only when torch is missing and not required. */
export const skipTorch = found === undefined && !requireTorch;

/** Runs a Python script; throws with its output when it fails. */
export async function runPython(args: string[]): Promise<string> {
  if (python === undefined) {
    throw new Error("REQUIRE_TORCH=1 but no python3 with torch, numpy and omegaconf was found");
  }
  const { success, stdout, stderr } = await new Deno.Command(python, { args }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (!success) throw new Error(`${args.join(" ")} failed:\n${out}`);
  return out;
}
