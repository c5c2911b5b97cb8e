// Seeded random mutations of the fixtures: opening, showing, encoding,
// verifying and scanning a mutant may fail only with a CkptkitError, and
// never takes long. FUZZ_SEED and FUZZ_ROUNDS override the defaults; a
// failure names the seed and round, and keeps the mutant for replay.
import assert from "node:assert/strict";
import { CkptkitError } from "../lib/errors.ts";
import { scanPickle } from "../lib/scan/scan_pickle.ts";
import { scanSource } from "../lib/scan/scan_file.ts";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { formatTree, toJsonTree } from "../lib/torch/show.ts";
import { verifySource } from "../lib/torch/verify.ts";
import { readCentralDirectory } from "../lib/zip/central_directory.ts";
import { readEntry } from "../lib/zip/read_entry.ts";
import { BytesSource } from "../lib/zip/source.ts";
import { buildZip } from "./_zip_builder.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20240611);
const ROUNDS = Number(Deno.env.get("FUZZ_ROUNDS") ?? 250);
const SLOW_MS = 2000;
const FIXTURES = [
  "values.ckpt",
  "layout_small.ckpt",
  "state_dict.ckpt",
  "tensors.ckpt",
  "training.ckpt",
];

/** mulberry32: small, fast, and the same sequence on every platform. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Rng = () => number;
const pick = (rng: Rng, n: number) => Math.floor(rng() * n);

// Values that sit on the edges of the checks being fuzzed.
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff];
// Opcodes worth splicing into a pickle: stack, memo, frames, long lengths.
const OPCODES = [
  0x28,
  0x2e,
  0x30,
  0x31,
  0x32,
  0x4e,
  0x52,
  0x61,
  0x62,
  0x63,
  0x65,
  0x68,
  0x6a,
  0x71,
  0x72,
  0x73,
  0x74,
  0x75,
  0x80,
  0x81,
  0x85,
  0x86,
  0x87,
  0x8a,
  0x8b,
  0x8c,
  0x8d,
  0x8e,
  0x91,
  0x92,
  0x93,
  0x94,
  0x95,
  0x96,
  0x97,
  0x98,
];

/** Flips bits, overwrites fields with edge values, or truncates: anywhere in the file. */
function mutateFile(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const kind = pick(rng, 4);
  if (kind === 0) {
    for (let n = 1 + pick(rng, 8); n > 0; n--) out[pick(rng, out.length)] ^= 1 << pick(rng, 8);
  } else if (kind === 1) {
    // Headers live near signatures: aim at the bytes after a "PK".
    const starts: number[] = [];
    for (let i = 0; i + 1 < out.length; i++) {
      if (out[i] === 0x50 && out[i + 1] === 0x4b) starts.push(i);
    }
    const at = Math.min(out.length - 4, starts[pick(rng, starts.length)] + 4 + pick(rng, 52));
    const value = INTERESTING[pick(rng, INTERESTING.length)];
    if (rng() < 0.5) view.setUint16(at, value & 0xffff, true);
    else view.setUint32(at, value, true);
  } else if (kind === 2) {
    return out.slice(0, pick(rng, out.length));
  } else {
    // Remove a span: every later offset is now wrong.
    const start = pick(rng, out.length);
    const end = Math.min(out.length, start + 1 + pick(rng, 64));
    return new Uint8Array([...out.subarray(0, start), ...out.subarray(end)]);
  }
  return out;
}

/** Edits a pickle: flips, splices opcodes, deletes or repeats spans. */
function mutatePickle(rng: Rng, pickle: Uint8Array): Uint8Array {
  const bytes = [...pickle];
  for (let n = 1 + pick(rng, 4); n > 0; n--) {
    const at = pick(rng, bytes.length);
    switch (pick(rng, 5)) {
      case 0:
        bytes[at] ^= 1 << pick(rng, 8);
        break;
      case 1:
        bytes.splice(at, 0, OPCODES[pick(rng, OPCODES.length)]);
        break;
      case 2:
        bytes.splice(at, 1 + pick(rng, 16));
        break;
      case 3: {
        const span = bytes.slice(at, at + 1 + pick(rng, 32));
        bytes.splice(pick(rng, bytes.length), 0, ...span);
        break;
      }
      default:
        bytes[at] = INTERESTING[pick(rng, INTERESTING.length)] & 0xff;
    }
  }
  return new Uint8Array(bytes);
}

/** Re-zips `fixture` with its data.pkl replaced, so the zip layer is intact. */
async function withPickle(fixture: Uint8Array, pickle: Uint8Array): Promise<Uint8Array> {
  const source = new BytesSource(fixture);
  const { entries } = await readCentralDirectory(source);
  const records = await Promise.all(entries.map(async (e) => ({
    name: e.name,
    data: e.name.endsWith("/data.pkl") ? pickle : await readEntry(source, e),
  })));
  return (await buildZip(records, { zip64: true })).bytes;
}

/** Everything a user can do with a file without writing it. */
async function exercise(path: string, bytes: Uint8Array): Promise<void> {
  let ckpt: Checkpoint | undefined;
  try {
    ckpt = await Checkpoint.open(path);
    formatTree(ckpt.root, { depth: 1000 });
    JSON.stringify(toJsonTree(ckpt.root, { depth: 1000 }));
    scanPickle(ckpt.pickleBytes);
    ckpt.encode();
  } catch (error) {
    if (!(error instanceof CkptkitError)) throw error;
  } finally {
    ckpt?.close();
  }
  await scanSource(new BytesSource(bytes), path);
  try {
    await verifySource(new BytesSource(bytes));
  } catch (error) {
    if (!(error instanceof CkptkitError)) throw error;
  }
}

Deno.test(`fuzz: mutated fixtures fail only with CkptkitError (seed ${SEED})`, async () => {
  const rng = random(SEED);
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-fuzz-" });
  const fixtures = await Promise.all(
    FIXTURES.map((name) => Deno.readFile(new URL(`./fixtures/${name}`, import.meta.url))),
  );
  const pickles = await Promise.all(fixtures.map(async (bytes) => {
    const source = new BytesSource(bytes);
    const { entries } = await readCentralDirectory(source);
    return await readEntry(source, entries.find((e) => e.name.endsWith("/data.pkl"))!);
  }));
  let opened = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const which = pick(rng, fixtures.length);
      const mutant = rng() < 0.5
        ? mutateFile(rng, fixtures[which])
        : await withPickle(fixtures[which], mutatePickle(rng, pickles[which]));
      const path = `${dir}/mutant.ckpt`;
      await Deno.writeFile(path, mutant);
      const start = performance.now();
      try {
        await exercise(path, mutant);
        scanPickle(mutatePickle(rng, pickles[which]));
      } catch (error) {
        const kept = `${dir}-round-${round}.ckpt`;
        await Deno.copyFile(path, kept);
        throw new Error(
          `round ${round} (FUZZ_SEED=${SEED}) of ${
            FIXTURES[which]
          } threw a non-CkptkitError; mutant kept at ${kept}`,
          { cause: error },
        );
      }
      const ms = performance.now() - start;
      assert.ok(ms < SLOW_MS, `round ${round} (FUZZ_SEED=${SEED}) took ${Math.round(ms)} ms`);
      try {
        (await Checkpoint.open(path)).close();
        opened++;
      } catch { /* expected for most mutants */ }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // The mutations must leave some files loadable, or the later stages go untested.
  assert.ok(opened > 0, "no mutant opened");
});
