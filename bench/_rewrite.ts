// The migration bench/bench.ts times: open a checkpoint, rename every
// state_dict key (as a migration moving a module does), save it.
//
// Usage: deno run -A bench/_rewrite.ts SRC DST [stream|clone|auto]
import { Checkpoint, type SaveStrategy } from "../lib/torch/checkpoint.ts";
import type { PyDict } from "../lib/pickle/py_dict.ts";

const [source, target, strategy = "auto"] = Deno.args;
const ckpt = await Checkpoint.open(source);
try {
  const stateDict = (ckpt.root as PyDict).get("state_dict") as PyDict;
  const items = [...stateDict.entries()];
  stateDict.clear();
  for (const [key, value] of items) {
    stateDict.set(String(key).replace(/^model\.processor\./, "model.model.processor."), value);
  }
  const result = await ckpt.save(target, { strategy: strategy as SaveStrategy });
  console.log(JSON.stringify(result));
} finally {
  ckpt.close();
}
