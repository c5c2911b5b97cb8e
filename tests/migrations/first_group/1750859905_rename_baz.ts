// Test migration (as anemoi-models' tests): renames "baz" to "test".
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
};

export function migrate(ckpt: CkptType): CkptType {
  if (!ckpt.has("baz")) throw new Error("baz is missing");
  ckpt.set("test", ckpt.pop("baz"));
  return ckpt;
}
