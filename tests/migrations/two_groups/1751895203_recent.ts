// Test migration (as anemoi-models' tests): the first migration after the final one.
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
  final: false,
};

// The signature anemoi-models computes for its Python test script.
export const pinnedSignature = "9b8eaecba02036c5363996c0ea92cd7b4d312c3ee35e70e22777bbad1bd73923";

export function migrate(ckpt: CkptType): CkptType {
  ckpt.set("after", "after");
  return ckpt;
}
