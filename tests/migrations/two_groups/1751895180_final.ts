// Test migration (as anemoi-models' tests): a final migration, starting a new group.
import type { MigrationMetadata } from "../../../mod.ts";

export const metadata: MigrationMetadata = {
  versions: { migration: "1.0.0", "anemoi-models": "0.9.0" },
  final: true,
};
