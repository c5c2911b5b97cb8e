// Port of anemoi-models' 1763479917_hardware_schema_update: the hardware
// schema module became anemoi.training.schemas.system, and its files and
// paths schemas were renamed InputSchema and OutputSchema.
import type { CkptType, MigrationContext, MigrationMetadata } from "../mod.ts";

// DO NOT CHANGE -->
export const metadata: MigrationMetadata = {
  versions: {
    migration: "1.0.0",
    "anemoi-models": "0.11.0",
  },
};
// <-- END DO NOT CHANGE

/** The upstream script's signature, so anemoi-models sees it as unchanged. */
export const pinnedSignature = "7237d0a8f30bf746ca7e118041f8194b8119f3143d8968adc0fe3e379c1ee2dc";

const OLD = "anemoi.training.schemas.hardware";
const NEW = "anemoi.training.schemas.system";

/** Redirects the hardware schema classes to their new module and names. */
export function migrateSetup(context: MigrationContext): void {
  context.moveAttribute(`${OLD}.HardwareSchema`, `${NEW}.HardwareSchema`);
  context.moveAttribute(`${OLD}.FilesSchema`, `${NEW}.InputSchema`);
  context.moveAttribute(`${OLD}.PathsSchema`, `${NEW}.OutputSchema`);
  context.moveModule(OLD, NEW);
}

/** Returns the checkpoint unchanged: the setup did the work. */
export function migrate(ckpt: CkptType): CkptType {
  return ckpt;
}
