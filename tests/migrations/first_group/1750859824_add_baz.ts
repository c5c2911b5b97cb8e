// Test migration (as anemoi-models' tests): adds "baz".
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
};

export function migrate(ckpt: CkptType): CkptType {
  ckpt.set("baz", "baz");
  return ckpt;
}
