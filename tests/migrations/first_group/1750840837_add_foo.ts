// Test migration (as anemoi-models' tests): adds "foo".
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.8.1" },
};

// The signature anemoi-models computes for its Python test script.
export const pinnedSignature = "9498010dfc30bbbde6ca2bc53c8f7c2979c825762fd0b51a8159777209a8831f";

export function migrate(ckpt: CkptType): CkptType {
  if (ckpt.has("foo")) throw new Error("foo is already there");
  ckpt.set("foo", "foo");
  return ckpt;
}
