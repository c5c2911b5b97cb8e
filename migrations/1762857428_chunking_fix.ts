// Port of anemoi-models' 1762857428_chunking_fix: the processor's blocks
// were numbered within their chunk (proc.<chunk>.blocks.<block>) and are now
// numbered across chunks (proc.<chunk * blocks_per_chunk + block>), where
// blocks_per_chunk = model.processor.num_layers // model.processor.num_chunks.
// Renamed keys move to the end of the state_dict, in their original order.
import { type CkptType, Config, MigrationError, type MigrationMetadata, PyDict } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.11.0",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "61749a252385173eabe13e87ff1a699251cacf91607c84169c09c71939b3a9c9";

/** Flattens `model.model.processor.proc.<chunk>.blocks.<block>.*` keys. */
export function migrate(ckpt: CkptType): CkptType {
  const config = Config.of(ckpt);
  const numLayers = configInt(config, "model.processor.num_layers");
  const numChunks = configInt(config, "model.processor.num_chunks");
  const stateDict = stateDictOf(ckpt);
  if (numChunks === 0n) {
    throw new MigrationError("Cannot flatten processor chunks: model.processor.num_chunks is 0");
  }
  const blocksPerChunk = floorDiv(numLayers, numChunks);
  const updates = new PyDict<string, unknown>();
  for (const key of stringKeys(stateDict).filter((k) => k.includes("processor.proc"))) {
    const parts = key.split(".");
    // Python indexes parts[5] first: shorter keys are an IndexError there.
    if (part(key, parts, 5) !== "blocks") continue;
    const chunk = intOf(key, part(key, parts, 4));
    const block = intOf(key, part(key, parts, 6));
    const flat = chunk * blocksPerChunk + block;
    const newKey = `model.model.processor.proc.${flat}` + ["", ...parts.slice(7)].join(".");
    updates.set(newKey, stateDict.getItem(key));
    stateDict.delete(key);
  }
  stateDict.update(updates);
  return ckpt;
}

function stateDictOf(ckpt: CkptType): PyDict {
  const stateDict = ckpt.getItem("state_dict");
  if (!(stateDict instanceof PyDict)) {
    throw new MigrationError("Cannot flatten processor chunks: state_dict is not a dict");
  }
  return stateDict;
}

function stringKeys(stateDict: PyDict): string[] {
  const keys = [...stateDict.keys()];
  const odd = keys.find((key) => typeof key !== "string");
  if (odd !== undefined) {
    throw new MigrationError(`Cannot flatten processor chunks: state_dict key ${odd} is not a str`);
  }
  return keys as string[];
}

function part(key: string, parts: string[], index: number): string {
  if (index >= parts.length) {
    throw new MigrationError(
      `Cannot flatten processor chunks: key '${key}' has no part ${index} (IndexError)`,
    );
  }
  return parts[index];
}

// Python's int(str): optional sign, digits with single underscores, outer whitespace.
function intOf(key: string, text: string): bigint {
  const match = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(text);
  if (match === null) {
    throw new MigrationError(
      `Cannot flatten processor chunks: '${text}' in key '${key}' is not an int (ValueError)`,
    );
  }
  const value = BigInt(match[2].replaceAll("_", ""));
  return match[1] === "-" ? -value : value;
}

// A config int (bool counts, as in Python); floats would give keys such as
// proc.2.0 upstream and are refused here.
function configInt(config: Config, path: string): bigint {
  const value = config.get(path);
  if (typeof value === "boolean") return value ? 1n : 0n;
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw new MigrationError(`Cannot flatten processor chunks: ${path} is not an int`);
}

// Python's //: rounds toward negative infinity.
function floorDiv(a: bigint, b: bigint): bigint {
  const quotient = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? quotient - 1n : quotient;
}
