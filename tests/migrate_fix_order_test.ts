// Migration order: the pure ordering rule, the registry of shipped scripts,
// and a check that this repository's own new scripts sort last.
import assert from "node:assert/strict";
import { git, runs } from "./_tools.ts";
import {
  addedMigrations,
  defaultBase,
  migrationsInIncorrectOrder,
} from "../lib/migrate/fix_order.ts";
import { migrationNames, renderRegistry } from "../lib/migrate/registry.ts";
import { scriptDigest } from "../lib/migrate/signature.ts";
import { MIGRATIONS } from "../migrations/mod.ts";
import { root } from "./_migrate_cli.ts";

Deno.test("order: a new script at the end is in order", () => {
  assert.deepEqual(migrationsInIncorrectOrder(["1", "2", "3", "4"], ["4"]), {
    incorrect: [],
    lastUpstream: "3",
  });
});

Deno.test("order: a new script before an upstream one is out of order", () => {
  assert.deepEqual(migrationsInIncorrectOrder(["1", "2", "3"], ["1", "3"]), {
    incorrect: ["1"],
    lastUpstream: "2",
  });
});

Deno.test("order: new scripts between upstream ones are all out of order", () => {
  assert.deepEqual(migrationsInIncorrectOrder(["1", "2", "3", "4"], ["2", "3"]), {
    incorrect: ["2", "3"],
    lastUpstream: "4",
  });
});

Deno.test("order: no new scripts, or only new ones", () => {
  assert.deepEqual(migrationsInIncorrectOrder(["1", "2"], []), {
    incorrect: [],
    lastUpstream: "2",
  });
  assert.deepEqual(migrationsInIncorrectOrder(["1", "2"], ["1", "2"]), {
    incorrect: [],
    lastUpstream: undefined,
  });
});

const shipped = `${root}migrations`;

Deno.test("the registry lists every shipped script, sorted, with current digests", async () => {
  const names = await migrationNames(shipped);
  assert.deepEqual(MIGRATIONS.map((entry) => entry.name), names);
  for (const entry of MIGRATIONS) {
    const digest = await scriptDigest(await Deno.readTextFile(`${shipped}/${entry.name}.ts`));
    assert.equal(
      entry.digest,
      digest,
      `the registry's digest of ${entry.name} is stale: run 'deno run -A cli.ts fix-order'`,
    );
  }
  const text = await Deno.readTextFile(`${shipped}/mod.ts`);
  assert.equal(await renderRegistry(text, shipped), text, "migrations/mod.ts is not as generated");
});

// A copy of the project outside git (an unpacked archive) has no branches to compare.
const inWorkTree = await runs("git", ["-C", root, "rev-parse", "--is-inside-work-tree"]);

Deno.test({
  name: "this repository's new migration scripts sort after the base branch's",
  ignore: git.ignore || (git.available && !inWorkTree),
  async fn() {
    git.check();
    let base: string;
    try {
      base = await defaultBase(shipped);
    } catch {
      return; // A checkout without main (e.g. a detached CI clone of a tag): nothing to compare.
    }
    const added = await addedMigrations(shipped, base);
    const { incorrect } = migrationsInIncorrectOrder(await migrationNames(shipped), added);
    assert.deepEqual(
      incorrect,
      [],
      `New migrations were added on ${base}. Run 'deno run -A cli.ts fix-order' to rename yours.`,
    );
  },
});
