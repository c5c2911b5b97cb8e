// Port of anemoi-models' 1779202136_trainable_edge_perm_fix. Upstream
// reorders the trainable edge parameters of each static graph provider with
// the permutation of the instantiated model, and skips (changing nothing)
// when no model is given, as for a migration from file to file. ckptkit
// never has the model, so this always skips.
import type { CkptType, MigrationMetadata } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.16.0",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "cb50507d506d892d95c954aba2c5e1b9933b58a1263494d0e804265a91855708";

/** Returns the checkpoint unchanged: without the model there is nothing to permute. */
export function migrate(ckpt: CkptType): CkptType {
  return ckpt;
}
