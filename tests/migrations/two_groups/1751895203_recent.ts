// Test migration (as anemoi-models' tests): the first migration after the final one.
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
  final: false,
};

export function migrate(ckpt: CkptType): CkptType {
  ckpt.set("after", "after");
  return ckpt;
}
