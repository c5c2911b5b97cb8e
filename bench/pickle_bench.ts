// Pickle codec throughput on a data.pkl dominated by many small objects: a
// 100k-key state_dict with Adam state, 400k tensors. The other shape, large
// numpy byte strings, is in pickle_large_bench.ts: each shape gets a heap of
// its own, as a real data.pkl would.
// Run: deno bench -A bench/
// Throughput is the size in the name divided by the reported time per run.
import { smallObjectsCheckpoint, torchPickle, torchUnpickle } from "./_pickles.ts";

const small = torchPickle(smallObjectsCheckpoint(100_000));
const smallValue = torchUnpickle(small);
const mb = (bytes: Uint8Array) => `${(bytes.length / 1e6).toFixed(1)} MB`;

Deno.bench(`decode many small objects, ${mb(small)}`, { group: "small", n: 5, warmup: 1 }, () => {
  torchUnpickle(small);
});

Deno.bench(`encode many small objects, ${mb(small)}`, { group: "small", n: 5, warmup: 1 }, () => {
  torchPickle(smallValue);
});
