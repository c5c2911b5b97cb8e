// Reading a URL is bounded in time and in memory whatever the server does:
// a server that never answers, one that answers and then sends nothing,
// one that sends an endless or longer body than asked, or one that drips.
// Each ends in one line within --timeout (or at once), with little memory.
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** Runs cli.ts, polling its peak resident memory (VmHWM) until it exits. */
async function runMeasured(
  args: string[],
): Promise<{ code: number; stderr: string; peakMiB: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  let running = true;
  // A run that hangs is killed, and fails on its exit code.
  const killer = setTimeout(() => child.kill("SIGKILL"), (10 * TIMEOUT_S + 10) * 1000);
  const output = child.output().finally(() => {
    running = false;
    clearTimeout(killer);
  });
  while (running) {
    try {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { code, stderr } = await output;
  return { code, stderr: new TextDecoder().decode(stderr), peakMiB: peak / 1024 };
}

const TIMEOUT_S = 2;

type Behaviour = (request: Request) => Response | Promise<Response>;

/** A server on 127.0.0.1 that behaves as `behaviour` for every request, for the length of `body`. */
async function withServer(behaviour: Behaviour, body: (url: string) => Promise<void>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, behaviour);
  try {
    await body(`http://127.0.0.1:${server.addr.port}/model.ckpt`);
  } finally {
    await server.shutdown().catch(() => {});
  }
}

/** A body that sends `chunk` every `everyMs` until cancelled. */
function endless(chunk: Uint8Array, everyMs: number): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setInterval> | undefined;
  return new ReadableStream({
    start(controller) {
      timer = setInterval(() => {
        try {
          controller.enqueue(chunk);
        } catch {
          clearInterval(timer);
        }
      }, everyMs);
    },
    cancel() {
      clearInterval(timer);
    },
  });
}

const partial = (range: string, size = 10_000_000) => ({
  status: 206,
  headers: { "content-range": `bytes ${range}/${size}` },
});

const CASES: Array<[string, Behaviour, RegExp]> = [
  [
    "never answers",
    // Until the client goes away, so the server can shut down.
    (request) =>
      new Promise<Response>((resolve) =>
        request.signal.addEventListener("abort", () => resolve(new Response(null)))
      ),
    /Cannot read remote file: no complete answer within 2 s \(see --timeout\)$/,
  ],
  [
    "answers, then sends nothing",
    () => new Response(endless(new Uint8Array(0), 50), partial("9934464-9999999")),
    /no complete answer within 2 s/,
  ],
  [
    "drips a byte at a time",
    () => new Response(endless(new Uint8Array(1), 100), partial("9934464-9999999")),
    /no complete answer within 2 s/,
  ],
  [
    "sends an endless body for a 64 KiB range",
    () => new Response(endless(new Uint8Array(1 << 20), 1), partial("9934464-9999999")),
    /the server sent more than the 65536 bytes asked for$/,
  ],
  [
    "declares a longer body than asked",
    () =>
      new Response(new Uint8Array(200_000), {
        ...partial("9800000-9999999"),
        headers: { ...partial("9800000-9999999").headers, "content-length": "200000" },
      }),
    /the server would send 200000 bytes where 65536 were asked for$/,
  ],
  [
    "answers another range",
    () => new Response(new Uint8Array(100), partial("0-99")),
    /the server sent another range than asked$/,
  ],
];

for (const [name, behaviour, message] of CASES) {
  Deno.test(`a server that ${name}: one line, bounded time and memory`, async () => {
    await withServer(behaviour, async (url) => {
      for (const command of [["show", url], ["verify", url], ["scan", url]]) {
        const start = performance.now();
        const { code, stderr, peakMiB } = await runMeasured([
          ...command,
          "--timeout",
          String(TIMEOUT_S),
        ]);
        const seconds = (performance.now() - start) / 1000;
        const what = `${command[0]}: ${stderr}`;
        assert.equal(code, 1, what);
        assert.match(stderr.trimEnd(), message, what);
        assert.equal(stderr.trimEnd().split("\n").length, 1, what);
        // Ten times the timeout, for a loaded machine; never the hang it was.
        assert.ok(seconds < 10 * TIMEOUT_S + 10, `${what}: took ${seconds.toFixed(1)} s`);
        // What a run needs anyway (about 90 MiB), not what the server sends.
        if (Deno.build.os === "linux") assert.ok(peakMiB < 400, `${what}: peak ${peakMiB} MiB`);
      }
    });
  });
}

Deno.test("--timeout takes positive seconds", async () => {
  for (const bad of ["0", "-1", "soon"]) {
    const { code, stderr } = await runCli([
      "show",
      "http://127.0.0.1:9/x.ckpt",
      `--timeout=${bad}`,
    ]);
    assert.equal(code, 2);
    assert.match(stderr, /--timeout needs a positive number of seconds/);
  }
});
