// Port of anemoi-models' 1762857427_deprecate_eda: the module
// anemoi.training.schemas.datamodule is gone, so objects of its classes
// (the datamodule schema in a validated config) load as MissingAttribute.
import type { CkptType, MigrationContext, MigrationMetadata } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.10.0",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "9b7bec108dc486f3b1a464a339b1574efca6b52cec8fe59dbfe0494a947a57ab";

/** Marks the removed datamodule schema module as deleted. */
export function migrateSetup(context: MigrationContext): void {
  context.deleteModule("anemoi.training.schemas.datamodule");
}

/** Returns the checkpoint unchanged: the setup did the work. */
export function migrate(ckpt: CkptType): CkptType {
  return ckpt;
}
