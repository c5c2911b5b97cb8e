// Test migration (as anemoi-models' tests): adds "bar".
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.8.1" },
};

export function migrate(ckpt: CkptType): CkptType {
  if (ckpt.has("bar")) throw new Error("bar is already there");
  ckpt.set("bar", "bar");
  return ckpt;
}
