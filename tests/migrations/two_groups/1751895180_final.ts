// Test migration (as anemoi-models' tests): a final migration, starting a new group.
import type { MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
  final: true,
};

// The signature anemoi-models computes for its Python test script.
export const pinnedSignature = "06b6db66bee5888d9bcf13878f94ff6ad994548a136a75055e9ba236447ed56b";
