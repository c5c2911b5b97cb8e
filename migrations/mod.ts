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
  {
    name: "1755530253_initial",
    digest: "f5b61add92870fbf854eaf1f59bc448850407304b7b529167d35d47a15985be0",
    script: await import("./1755530253_initial.ts"),
  },
  {
    name: "1762857427_deprecate_eda",
    digest: "14d0af7aa1760ec45d37897d20d596ad60001a939bba83b3cc7f352368363723",
    script: await import("./1762857427_deprecate_eda.ts"),
  },
  {
    name: "1762857428_chunking_fix",
    digest: "936cba71666786c7072817b3b5fe9fcd12a1e39c958a21a7ba953363b25ff8b0",
    script: await import("./1762857428_chunking_fix.ts"),
  },
  {
    name: "1763479917_hardware_schema_update",
    digest: "5823a7125274f40cb56b9849212a7cec1fefd49ed61c7af8fbee231887b715d2",
    script: await import("./1763479917_hardware_schema_update.ts"),
  },
  {
    name: "1763479918_refactor_mapper",
    digest: "71421a16f11ba44328f38b4714fe20fea0da92a3216d5b749f8756b7e2dcb5a6",
    script: await import("./1763479918_refactor_mapper.ts"),
  },
  {
    name: "1767108147_move_to_multiple_datasets",
    digest: "8c1e38c9b3a9c1b9b3d74e35fb3ab40fe15be3a16e02e0db869c6826fbdfa21a",
    script: await import("./1767108147_move_to_multiple_datasets.ts"),
  },
  {
    name: "1773048851_fuse_multiple_perdataset_graphs",
    digest: "a095ce41ca958e5e56b8b292313da006541f0d21881ba3269d1f02ec5393395d",
    script: await import("./1773048851_fuse_multiple_perdataset_graphs.ts"),
  },
  {
    name: "1776237003_rename_swa_to_weight_averaging",
    digest: "60e05c22c21e4abbc5bc52fad070d4ed2f838330bc2256fc402cf825ae640cc5",
    script: await import("./1776237003_rename_swa_to_weight_averaging.ts"),
  },
  {
    name: "1778688800_glu_mlp_implementation",
    digest: "9f96d9b50296c5bfc6b84ba3228be81202b669a51bf50237f4664fae6b2b7291",
    script: await import("./1778688800_glu_mlp_implementation.ts"),
  },
  {
    name: "1779202136_trainable_edge_perm_fix",
    digest: "a31a3b963f63f66efb929bd9d2c7e5cce8348261302e8c1bdb957b8d5a082645",
    script: await import("./1779202136_trainable_edge_perm_fix.ts"),
  },
  // ckptkit-registry-end
];

/** The shipped migrations, loaded and checked, in order. */
export function loadMigrations(): Promise<Migration[]> {
  return migrationsFromRegistry(MIGRATIONS, import.meta.url);
}
