// The optional tools' probes: on a machine with only Deno, every probe
// answers "missing" without throwing and every such test is skipped; under
// REQUIRE_<NAME>=1 the same tests fail, naming what to install.
import assert from "node:assert/strict";
import { runs } from "./_tools.ts";

const probe = `
const modules = ["_tools.ts", "_python.ts", "_nginx.ts"].map((m) => new URL(m, ${
  JSON.stringify(new URL("./", import.meta.url).href)
}).href);
const [tools, py, web] = await Promise.all(modules.map((m) => import(m)));
const all = { ...tools, torch: py.torch, nginx: web.nginx };
const report = {};
for (const [key, tool] of Object.entries(all)) {
  if (typeof tool !== "object" || !("ignore" in tool)) continue;
  let failure = null;
  try { tool.check(); } catch (error) { failure = error.message; }
  report[key] = { available: tool.available, ignore: tool.ignore, failure };
}
console.log(JSON.stringify(report));
`;

async function probeWith(env: Record<string, string>) {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", probe],
    clearEnv: true,
    env: { PATH: "/nonexistent", CKPTKIT_PYTHON: "/nonexistent/python3", ...env },
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout)) as Record<
    string,
    { available: boolean; ignore: boolean; failure: string | null }
  >;
}

Deno.test("a missing command is reported as not running, never thrown", async () => {
  assert.equal(await runs("/nonexistent/ckptkit-no-such-tool", ["--version"]), false);
  assert.equal(await runs(Deno.execPath(), ["--version"]), true);
  assert.equal(await runs(Deno.execPath(), ["eval", "Deno.exit(3)"]), false);
});

Deno.test("with no optional tool on PATH every probe says missing and its tests skip", async () => {
  const report = await probeWith({});
  assert.deepEqual(Object.keys(report).sort(), [
    "git",
    "loopFilesystems",
    "nginx",
    "script",
    "strace",
    "torch",
    "wabt",
  ]);
  for (const [name, tool] of Object.entries(report)) {
    assert.deepEqual([name, tool.available, tool.ignore], [name, false, true]);
  }
});

Deno.test("REQUIRE_<NAME>=1 turns a missing tool's skip into a failure naming it", async () => {
  const report = await probeWith({ REQUIRE_WABT: "1", REQUIRE_TORCH: "1", REQUIRE_NGINX: "1" });
  for (const name of ["wabt", "torch", "nginx"]) {
    assert.equal(report[name].ignore, false, name);
    assert.match(report[name].failure!, /^REQUIRE_\w+=1 but .* is not available$/);
  }
  assert.equal(report.strace.ignore, true);
});
