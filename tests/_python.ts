// Finds the Python that has torch, for the interop tests. They skip without
// it, unless REQUIRE_TORCH=1 (as in CI), where a missing torch fails them.
// CKPTKIT_PYTHON, when set, is the only candidate; otherwise /usr/bin/python3
// (Debian's, with python3-torch) comes before the python3 on PATH.
import { type OptionalTool, optionalTool, runs } from "./_tools.ts";

const chosen = Deno.env.get("CKPTKIT_PYTHON");
const candidates = chosen !== undefined && chosen !== ""
  ? [chosen]
  : ["/usr/bin/python3", "python3"];

let found: string | undefined;
for (const candidate of candidates) {
  if (await runs(candidate, ["-c", "import torch, numpy, omegaconf"])) {
    found = candidate;
    break;
  }
}

/** A Python with torch, numpy and omegaconf. */
export const torch: OptionalTool = await optionalTool(
  "python3 with torch, numpy and omegaconf (python3-torch python3-omegaconf)",
  "TORCH",
  () => Promise.resolve(found !== undefined),
);
export const requireTorch = torch.required;
/** The Python with torch, numpy and omegaconf, when there is one. */
export const python: string | undefined = found;
/** Whether to skip torch tests: only when torch is missing and not required. */
export const skipTorch = torch.ignore;

/** Runs a Python script; throws with its output when it fails. */
export async function runPython(args: string[]): Promise<string> {
  torch.check();
  const { success, stdout, stderr } = await new Deno.Command(python!, { args }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (!success) throw new Error(`${args.join(" ")} failed:\n${out}`);
  return out;
}
