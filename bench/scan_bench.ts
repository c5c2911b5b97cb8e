// Scanner throughput on the data.pkl shapes the codec benchmarks use: a
// 100k-key state_dict with Adam state (400k tensors, many small opcodes)
// and large numpy byte strings. migrate scans every data.pkl it writes.
// Run: deno bench -A bench/scan_bench.ts
// Throughput is the size in the name divided by the reported time per run.
import { scanPickle } from "../lib/scan/scan_pickle.ts";
import { largeBytesCheckpoint, smallObjectsCheckpoint, torchPickle } from "./_pickles.ts";

const small = torchPickle(smallObjectsCheckpoint(100_000));
const large = torchPickle(largeBytesCheckpoint(8, 8 << 20));
const mb = (bytes: Uint8Array) => `${(bytes.length / 1e6).toFixed(1)} MB`;

Deno.bench(`scan many small objects, ${mb(small)}`, { n: 5, warmup: 1 }, () => {
  if (scanPickle(small).verdict !== "clean") throw new Error("the benchmark pickle must be clean");
});

Deno.bench(`scan large numpy bytes, ${mb(large)}`, { n: 5, warmup: 1 }, () => {
  if (scanPickle(large).verdict !== "clean") throw new Error("the benchmark pickle must be clean");
});
