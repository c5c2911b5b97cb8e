// The scanner against the public bypass suites: every case of
// tests/fixtures/scan_corpus.json (picklescan's, fickling's and modelscan's
// tests and the published advisories, reassembled by this project), in the
// file torch.load or numpy.load reads, must get its expected verdict: no
// miss (a dangerous case rated otherwise, an unknown one rated clean) and
// no false alarm (a clean case rated otherwise).
import assert from "node:assert/strict";
import corpus from "./fixtures/scan_corpus.json" with { type: "json" };
import { scanSource } from "../lib/scan/scan_file.ts";
import { scanPickle } from "../lib/scan/scan_pickle.ts";
import type { Verdict } from "../lib/scan/scan_result.ts";
import { BytesSource } from "../lib/zip/source.ts";
import { npyObjectArray, torchZip } from "./_scan_containers.ts";
import {
  APPENDS,
  asm,
  BU,
  EMPTY_LIST,
  FRAME,
  GLOBAL,
  MARK,
  MEMOIZE,
  NONE,
  POP,
  POP_MARK,
  PROTO,
  REDUCE,
  STOP,
  STRING,
  TUPLE,
} from "./_pickle_asm.ts";
import { cpythonLookups } from "./_cpython_lookups.ts";
import { skipTorch } from "./_python.ts";

interface Case {
  id: string;
  expected: Verdict;
  container: "data.pkl" | "npy" | "file" | "zip" | "generated";
  technique: string;
  source: string;
  hex?: string;
}

const cases = corpus.cases as Case[];
const hex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (b) => parseInt(b, 16));

/** The cases too large to list, built as their sources describe them. */
const GENERATED: Record<string, () => Uint8Array> = {
  // A 128 KiB string first (so file readers that prefetch fall out of their
  // window too), then a BINBYTES whose length straddles a 2-byte frame:
  // linear readers see 0x107 bytes of data, CPython reads the length 1 after
  // the frame and runs the os.system call hidden in that data.
  "fk-frame-boundary-divergence": () => {
    const hidden = asm(GLOBAL("os", "system"), MARK, STRING("'echo pwned'"), TUPLE, REDUCE);
    return asm(
      PROTO(5),
      BU("x".repeat(128 * 1024)),
      POP,
      NONE,
      MARK,
      FRAME(2),
      [0x42, 0x07],
      [0x01, 0x00, 0x00, 0x00],
      "A",
      hidden,
      "N".repeat(0x107 - 2 - hidden.length),
      POP_MARK,
      STOP,
    );
  },
  // Several frames holding whole opcodes, and large bytes outside frames.
  "fk-frames-well-formed": () => {
    const items = (n: number, at: number) =>
      asm(MARK, ...Array.from({ length: n }, (_, i) => BU(`item ${at + i}`)), APPENDS);
    const framed = (body: Uint8Array) => asm(FRAME(body.length), body);
    const big = new Uint8Array(70_000).fill(7);
    return asm(
      PROTO(5),
      framed(asm(EMPTY_LIST, MEMOIZE, items(2000, 0))),
      [0x8e, ...[big.length & 0xff, (big.length >> 8) & 0xff, big.length >> 16, 0, 0, 0, 0, 0]],
      big,
      framed(asm(MEMOIZE, POP, items(2000, 2000))),
      [0x42, big.length & 0xff, (big.length >> 8) & 0xff, big.length >> 16, 0],
      big,
      framed(asm(MEMOIZE, POP, STOP)),
    );
  },
};

async function fileOf(c: Case): Promise<Uint8Array> {
  switch (c.container) {
    case "data.pkl":
      return await torchZip(hex(c.hex!));
    case "npy":
      return npyObjectArray(hex(c.hex!));
    case "file":
    case "zip":
      return hex(c.hex!);
    case "generated":
      return await torchZip(GENERATED[c.id]());
  }
}

Deno.test("scan corpus: every public bypass case gets its verdict, no miss, no false alarm", async (t) => {
  assert.ok(cases.length >= 380, `${cases.length} cases`);
  const misses: string[] = [];
  const falseAlarms: string[] = [];
  for (const c of cases) {
    const data = await fileOf(c);
    const scan = await scanSource(new BytesSource(data), c.id);
    await t.step(`${c.id} (${c.technique}): ${c.expected}`, () => {
      if (scan.verdict !== c.expected) {
        const rank = { clean: 0, unknown: 1, dangerous: 2 };
        (rank[scan.verdict] < rank[c.expected] ? misses : falseAlarms).push(c.id);
      }
      assert.equal(scan.verdict, c.expected, `${c.id} from ${c.source}`);
    });
  }
  assert.deepEqual({ misses, falseAlarms }, { misses: [], falseAlarms: [] });
  const count = (v: Verdict) => cases.filter((c) => c.expected === v).length;
  assert.ok(count("dangerous") > 300 && count("unknown") > 25 && count("clean") > 20);
});

Deno.test({
  name:
    "scan corpus: CPython looks up only globals the scanner lists (the bytes mean what they say)",
  ignore: skipTorch,
  async fn() {
    const pickles = cases.filter((c) => c.container === "data.pkl");
    const seen = await cpythonLookups(Object.fromEntries(pickles.map((c) => [c.id, hex(c.hex!)])));
    let lookups = 0;
    for (const c of pickles) {
      const listed = new Set(
        scanPickle(hex(c.hex!)).globals.flatMap((g) => [g.path, g.spelling ?? g.path]),
      );
      for (const global of seen[c.id]) {
        lookups++;
        assert.ok(listed.has(global), `${c.id}: CPython looks up ${global}`);
      }
    }
    assert.ok(lookups > 300, `${lookups} lookups`);
  },
});
