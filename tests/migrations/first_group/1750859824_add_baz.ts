// Test migration (as anemoi-models' tests): adds "baz".
import type { CkptType, MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
};

// The signature anemoi-models computes for its Python test script.
export const pinnedSignature = "99a9dc04a7b992128d296aaae9baa32fa31a5b3ce28b99b77e3532fec96b39ae";

export function migrate(ckpt: CkptType): CkptType {
  ckpt.set("baz", "baz");
  return ckpt;
}
