// Port of anemoi-models' 1763479918_refactor_mapper: the trainable edge
// parameters of the encoder, processor and decoder moved to their graph
// providers (<block>_graph_provider, appended to the state_dict), and the
// edge_inc buffers were dropped. A missing key fails, as upstream.
import { type CkptType, MigrationError, type MigrationMetadata, PyDict } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.11.3",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "43a4c8d84dbe88bd0ce2c0855e8984be2464053fbc92c9b1b6a896746999c4b3";

const BLOCKS = ["encoder", "processor", "decoder"];

/** Moves `<block>.trainable.trainable` to `<block>_graph_provider` and drops `<block>.edge_inc`. */
export function migrate(ckpt: CkptType): CkptType {
  const stateDict = ckpt.getItem("state_dict");
  if (!(stateDict instanceof PyDict)) {
    throw new MigrationError("Cannot move the trainable edge parameters: state_dict is not a dict");
  }
  for (const block of BLOCKS) {
    const value = stateDict.pop(`model.model.${block}.trainable.trainable`);
    stateDict.set(`model.model.${block}_graph_provider.trainable.trainable`, value);
  }
  for (const block of BLOCKS) stateDict.pop(`model.model.${block}.edge_inc`);
  return ckpt;
}
