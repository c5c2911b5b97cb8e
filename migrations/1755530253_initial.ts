// Port of anemoi-models' 1755530253_initial: the first migration, which
// marks checkpoints written by anemoi-models 0.9.4 and later. It changes nothing.
import type { CkptType, MigrationMetadata } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.9.4",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "b45697a8c90602201bc5eb190d5b2365dfa0d65716fb30021290299c854519d3";

/** Returns the checkpoint unchanged. */
export function migrate(ckpt: CkptType): CkptType {
  return ckpt;
}
