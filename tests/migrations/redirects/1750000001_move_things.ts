// Test migration: every kind of setup redirect, on migration_redirects.ckpt.
import type { CkptType, MigrationContext, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
};

export function migrateSetup(context: MigrationContext): void {
  context.moveAttribute("ckptkit_old.attrs.Thing", "ckptkit_new.things.RenamedThing");
  context.moveModule("ckptkit_old.mod", "ckptkit_new.mod");
  // An exact attribute move wins over the move of its module.
  context.moveAttribute("ckptkit_old.mod.Special", "ckptkit_new.special.Special");
  // Moved again by the next migration.
  context.moveAttribute("ckptkit_old.chain.Link", "ckptkit_mid.chain.Link");
  context.moveModule("ckptkit_old.chainmod", "ckptkit_mid.chainmod");
  context.deleteAttribute("ckptkit_old.wild.*");
  context.deleteModule("ckptkit_old.gone");
  context.deleteAttribute("ckptkit_old.partial.Removed");
}

export function migrate(ckpt: CkptType): CkptType {
  ckpt.set("moved", true);
  return ckpt;
}
