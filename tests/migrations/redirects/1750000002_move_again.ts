// Test migration: moves what the previous one moved, so the moves compose.
import type { CkptType, MigrationContext, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.1" },
};

export function migrateSetup(context: MigrationContext): void {
  context.moveAttribute("ckptkit_mid.chain.Link", "ckptkit_new.chain.Link");
  context.moveModule("ckptkit_mid.chainmod", "ckptkit_new.chainmod");
}

export function migrate(ckpt: CkptType): CkptType {
  return ckpt;
}
