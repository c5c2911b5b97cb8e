/**
 * The migrations ckptkit ships, one `<unix-timestamp>_<snake_name>.ts`
 * script each (the name is the file stem), listed statically so bundles and
 * compiled binaries hold every one.
 *
 * Adding a script is one entry in the list below: `deno run -A cli.ts create
 * NAME` writes the script and its entry. An entry added by hand needs only
 * `name` and `script`; its digest is then read from the source, and
 * `tests/migrate_fix_order_test.ts` fails until `deno run -A cli.ts
 * fix-order` writes it (run that after editing a script, too). A port of an
 * anemoi-models script also exports `pinnedSignature`, the upstream Python
 * signature, so anemoi-models sees its own script as unchanged.
 *
 * @module
 */

import type { Migration } from "../lib/migrate/migration.ts";
import { migrationsFromRegistry, type RegistryEntry } from "../lib/migrate/registry.ts";

/** Every shipped script, sorted by name: the order migrations run in. */
export const MIGRATIONS: readonly RegistryEntry[] = [
  // ckptkit-registry-start: written by `create` and `fix-order`; keep sorted by name.
  // ckptkit-registry-end
];

/** The shipped migrations, loaded and checked, in order. */
export function loadMigrations(): Promise<Migration[]> {
  return migrationsFromRegistry(MIGRATIONS, import.meta.url);
}
