// Pickle codec throughput on a data.pkl dominated by large numpy byte
// strings: 8 arrays of 8 MiB, as protocol 2 writes bytes
// (`_codecs.encode(<latin-1 str>, "latin1")`), so both directions
// transcode UTF-8 (see lib/pickle/_latin1.wat).
// Run: deno bench -A bench/
// Throughput is the size in the name divided by the reported time per run.
import { largeBytesCheckpoint, torchPickle, torchPickleParts, torchUnpickle } from "./_pickles.ts";

const large = torchPickle(largeBytesCheckpoint(8, 8 << 20));
const largeValue = torchUnpickle(large);
const mb = (bytes: Uint8Array) => `${(bytes.length / 1e6).toFixed(1)} MB`;

Deno.bench(`decode large byte strings, ${mb(large)}`, { group: "large", n: 10, warmup: 2 }, () => {
  torchUnpickle(large);
});

Deno.bench(`encode large byte strings, ${mb(large)}`, { group: "large", n: 10, warmup: 2 }, () => {
  torchPickle(largeValue);
});

// What Checkpoint.save does: the encoder's parts are written one after the
// other, so the large ones are not copied into one array first.
Deno.bench(
  `encode large byte strings in parts, as a save writes them, ${mb(large)}`,
  { group: "large", n: 10, warmup: 2 },
  () => {
    torchPickleParts(largeValue);
  },
);
