// Test migration (as anemoi-models' tests): adds "bar".
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.8.1" },
};

// The signature anemoi-models computes for its Python test script.
export const pinnedSignature = "d8ce8b52b90956bf4ebcea975aa4e580ca0fc0b3d16b7313e79a6d3058b36185";

export function migrate(ckpt: CkptType): CkptType {
  if (ckpt.has("bar")) throw new Error("bar is already there");
  ckpt.set("bar", "bar");
  return ckpt;
}
