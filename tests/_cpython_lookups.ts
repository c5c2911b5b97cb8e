// What CPython's C unpickler looks up when it loads pickles as torch.load
// does (over io.BytesIO, encoding="utf-8"): a find_class that records each
// (module, name) and returns a harmless stand-in, so nothing named runs.
import { python } from "./_python.ts";

const SCRIPT = `
import io, json, pickle, sys
class Stub:
    def __init__(self, *a, **k): pass
    def __call__(self, *a, **k): return Stub()
    def __getattr__(self, name): return Stub()
    def __setstate__(self, state): pass
class Recorder(pickle.Unpickler):
    def find_class(self, module, name):
        seen.append(f"{module}.{name}")
        return type("S", (Stub,), {})
    def persistent_load(self, pid):
        return Stub()
out = {}
for name, hexdata in json.load(sys.stdin).items():
    seen = []
    try:
        Recorder(io.BytesIO(bytes.fromhex(hexdata)), encoding="utf-8").load()
    except Exception:
        pass
    out[name] = seen
print(json.dumps(out))
`;

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The globals CPython looks up for each pickle, as `module.name`, in order. */
export async function cpythonLookups(
  pickles: Record<string, Uint8Array>,
): Promise<Record<string, string[]>> {
  if (python === undefined) throw new Error("cpythonLookups needs python with torch (skipTorch)");
  const child = new Deno.Command(python, { args: ["-c", SCRIPT], stdin: "piped", stdout: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  const input = Object.fromEntries(
    Object.entries(pickles).map(([name, data]) => [name, hex(data)]),
  );
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const { success, stdout } = await child.output();
  if (!success) throw new Error("the CPython lookup script failed");
  return JSON.parse(new TextDecoder().decode(stdout));
}
