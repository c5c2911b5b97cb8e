// Times ckptkit's codec on one pickle in a fresh isolate, for bench/codec.ts.
//
// Usage: deno run -A bench/_codec_child.ts FILE RUNS [KEYS]
// Prints {"decode": [seconds...], "encode": [seconds...], "build": ...}: one
// warm-up of each, then RUNS timed runs. Encoding writes the parts a save
// writes. With KEYS (FILE must then be the pickle of
// smallObjectsCheckpoint(KEYS)), "build" times making that value graph
// directly, without a pickle: the floor under a decode. Decoded storages
// also hold their key strings, so the floor is a few percent low.
import { smallObjectsCheckpoint, torchPickleParts, torchUnpickle } from "./_pickles.ts";

const [file, runsText, keysText] = Deno.args;
const data = await Deno.readFile(file);
const runs = Number(runsText);

function time(body: () => unknown): number[] {
  body();
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    body();
    seconds.push((performance.now() - start) / 1000);
  }
  return seconds;
}

let value: unknown;
const decode = time(() => value = torchUnpickle(data));
const encode = time(() => torchPickleParts(value));
const build = keysText === undefined
  ? undefined
  : time(() => value = smallObjectsCheckpoint(Number(keysText)));
console.log(JSON.stringify({ decode, encode, build }));
