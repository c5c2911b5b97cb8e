// Port of anemoi-models' 1776237003_rename_swa_to_weight_averaging: the SWA
// schema class is gone and config.training.swa became
// config.training.weight_averaging. The old swa settings are dropped and
// weight averaging is left off (None); it is re-enabled through the new key.
import { type CkptType, Config, type MigrationContext, type MigrationMetadata } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.15.0",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "505e24fa60f7b932a7556791256b85283392d0b42a208e14d85ea80f76cec358";

/** Marks the removed SWA schema class as deleted. */
export function migrateSetup(context: MigrationContext): void {
  context.deleteAttribute("anemoi.training.schemas.training.SWA");
}

/** Drops `training.swa` and sets `training.weight_averaging` to None (a new last key). */
export function migrate(ckpt: CkptType): CkptType {
  const training = Config.of(ckpt).at("training");
  training.pop("swa", null);
  training.set("weight_averaging", null);
  return ckpt;
}
