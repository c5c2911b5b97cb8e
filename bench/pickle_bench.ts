// Pickle codec throughput on the two shapes of data.pkl that matter:
// many small objects (a 100k-key state_dict with Adam state, 400k tensors)
// and large numpy byte strings (8 arrays of 8 MiB, as protocol 2 writes
// bytes: `_codecs.encode(<latin-1 str>, "latin1")`).
// Run: deno bench -A bench/pickle_bench.ts
// Throughput is the size in the name divided by the reported time per run.
import {
  largeBytesCheckpoint,
  smallObjectsCheckpoint,
  torchPickle,
  torchUnpickle,
} from "./_pickles.ts";

const small = torchPickle(smallObjectsCheckpoint(100_000));
const smallValue = torchUnpickle(small);
const large = torchPickle(largeBytesCheckpoint(8, 8 << 20));
const largeValue = torchUnpickle(large);
const mb = (bytes: Uint8Array) => `${(bytes.length / 1e6).toFixed(1)} MB`;

Deno.bench(`decode many small objects, ${mb(small)}`, { group: "small", n: 5, warmup: 1 }, () => {
  torchUnpickle(small);
});

Deno.bench(`encode many small objects, ${mb(small)}`, { group: "small", n: 5, warmup: 1 }, () => {
  torchPickle(smallValue);
});

Deno.bench(`decode large byte strings, ${mb(large)}`, { group: "large", n: 10, warmup: 2 }, () => {
  torchUnpickle(large);
});

Deno.bench(`encode large byte strings, ${mb(large)}`, { group: "large", n: 10, warmup: 2 }, () => {
  torchPickle(largeValue);
});
