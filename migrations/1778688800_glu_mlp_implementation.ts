// Port of anemoi-models' 1778688800_glu_mlp_implementation: the graph
// transformer blocks' node_dst_mlp and node_src_mlp became MLP modules that
// keep their layers in an inner "mlp", so "*.node_dst_mlp.0.weight" is now
// "*.node_dst_mlp.mlp.0.weight". Renamed keys move to the end of the
// state_dict, in their original order.
import { type CkptType, MigrationError, type MigrationMetadata, PyDict } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.16.0",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "af3ed4d719d013c01f02335850e371756e7c08a20740a0c7114b072b777f6c96";

/** Inserts `.mlp` after `.node_dst_mlp` and `.node_src_mlp` in the state_dict keys. */
export function migrate(ckpt: CkptType): CkptType {
  const stateDict = ckpt.getItem("state_dict");
  if (!(stateDict instanceof PyDict)) {
    throw new MigrationError("Cannot rename the MLP layers: state_dict is not a dict");
  }
  const renames = new PyDict<string, string>();
  for (const key of stateDict.keys()) {
    if (typeof key !== "string") {
      throw new MigrationError(`Cannot rename the MLP layers: state_dict key ${key} is not a str`);
    }
    if (key.includes(".node_dst_mlp.") || key.includes(".node_src_mlp.")) {
      renames.set(
        key,
        key.replaceAll(".node_dst_mlp.", ".node_dst_mlp.mlp.")
          .replaceAll(".node_src_mlp.", ".node_src_mlp.mlp."),
      );
    }
  }
  for (const [oldKey, newKey] of renames) stateDict.set(newKey, stateDict.pop(oldKey));
  return ckpt;
}
