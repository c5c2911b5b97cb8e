// Test migration (as anemoi-models' tests): renames "baz" to "test".
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
};

// The signature anemoi-models computes for its Python test script.
export const pinnedSignature = "868db811f8a9e87a6105c74b6c8d9c45f88c66d692946dfcf1af4a7c88aa9142";

export function migrate(ckpt: CkptType): CkptType {
  if (!ckpt.has("baz")) throw new Error("baz is missing");
  ckpt.set("test", ckpt.pop("baz"));
  return ckpt;
}
