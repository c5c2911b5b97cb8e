// Test migration (as anemoi-models' tests): adds "foo".
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.8.1" },
};

export function migrate(ckpt: CkptType): CkptType {
  if (ckpt.has("foo")) throw new Error("foo is already there");
  ckpt.set("foo", "foo");
  return ckpt;
}
