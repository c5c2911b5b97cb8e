// The migrator: anemoi-models' test scenarios, registration, history and
// signatures, at the library level.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { loadMigration, type Migration } from "../lib/migrate/migration.ts";
import { IncompatibleCheckpointError, MigrationError } from "../lib/migrate/migration_error.ts";
import { Migrator, planRefusal } from "../lib/migrate/migrator.ts";
import type { MigrationContext } from "../lib/migrate/migration_context.ts";
import { loadMigrationsFromDir } from "../lib/migrate/registry.ts";
import { registeredMigrations } from "../lib/migrate/registration.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { pickle } from "../lib/pickle/pickler.ts";
import { runPython, skipTorch } from "./_python.ts";
import { fixture, root, scripts, withTempDir } from "./_migrate_cli.ts";

type Dict = PyDict<string, unknown>;

const firstGroup = await loadMigrationsFromDir(scripts("first_group"));
const twoGroups = await loadMigrationsFromDir(scripts("two_groups"));

async function migrated(migrations: Migration[], name: string) {
  const run = await new Migrator(migrations).run(fixture(name));
  const rootDict = run.checkpoint.root as Dict;
  run.checkpoint.close();
  return { run, root: rootDict };
}

function history(rootDict: Dict): Dict[] {
  const hp = rootDict.get("hyper_parameters") as Dict;
  const metadata = hp.get("metadata") as Dict;
  return (metadata.get("migrations") as Dict).get("history") as Dict[];
}

Deno.test("final migrations split the list into compatibility groups", () => {
  assert.deepEqual(new Migrator(firstGroup).groups.map((g) => g.length), [4]);
  assert.deepEqual(
    new Migrator(twoGroups).groups.map((g) => g.map((m) => m.name)),
    [
      ["1750840837_add_foo", "1750841219_add_bar", "1750859824_add_baz", "1750859905_rename_baz"],
      ["1751895180_final", "1751895203_recent"],
    ],
  );
});

Deno.test("all four first-group migrations run on an empty-registered checkpoint", async () => {
  const { run, root: r } = await migrated(firstGroup, "migration_empty.ckpt");
  assert.equal(run.executed.length, 4);
  assert.equal((r.get("migrations") as unknown[]).length, 4);
  assert.equal(r.get("foo"), "foo");
  assert.equal(r.get("bar"), "bar");
  assert.equal(r.has("baz"), false);
  assert.equal(r.get("test"), "baz");
  assert.deepEqual(
    history(r).map((e) => [...e.entries()]),
    firstGroup.map((m) => [["type", "migrate"], ["name", m.name], ["signature", m.signature]]),
  );
});

Deno.test("running from [add_foo] executes the three others", async () => {
  const { run, root: r } = await migrated(firstGroup, "migration_after_foo.ckpt");
  assert.deepEqual(run.executed.map((m) => m.name), firstGroup.slice(1).map((m) => m.name));
  assert.equal((r.get("migrations") as unknown[]).length, 4);
  assert.equal(r.get("bar"), "bar");
  assert.equal(r.get("test"), "baz");
});

Deno.test("a checkpoint registered with the final migration gets only the next one", async () => {
  const { run, root: r } = await migrated(twoGroups, "migration_recent.ckpt");
  assert.deepEqual(run.executed.map((m) => m.name), ["1751895203_recent"]);
  assert.equal((r.get("migrations") as unknown[]).length, 2);
  assert.equal(r.get("after"), "after");
});

Deno.test("extra registered migrations are refused, naming them", async () => {
  await assert.rejects(
    () => new Migrator(firstGroup).run(fixture("migration_extra.ckpt")),
    (error: unknown) =>
      error instanceof IncompatibleCheckpointError && error.reason === "extra" &&
      /: dummy$/.test(error.message),
  );
});

Deno.test("an empty registered list under two groups is too old, naming the version", async () => {
  await assert.rejects(
    () => new Migrator(twoGroups).run(fixture("migration_too_old.ckpt")),
    (error: unknown) =>
      error instanceof IncompatibleCheckpointError && error.reason === "too-old" &&
      /anemoi-models < 0\.9\.0$/.test(error.message),
  );
});

Deno.test("a checkpoint without a migrations key is not compatible, as in anemoi-models", async () => {
  const ckpt = await Checkpoint.open(fixture("migration_no_key.ckpt"));
  const plan = new Migrator(twoGroups).plan(ckpt.root);
  ckpt.close();
  assert.equal(plan.status, "incompatible");
  assert.equal(plan.firstIncompatibleVersion, undefined);
  assert.match(planRefusal(plan)!.message, /not compatible, it has no 'migrations' key/);
});

// The cases where name-based matching disagreed with anemoi-models, which
// compares registered names with the scripts by position.
function registeredRoot(names: string[]): Dict {
  return new PyDict<string, unknown>([
    ["pytorch-lightning_version", ""],
    ["migrations", names.map((name) => new PyDict<string, unknown>([["name", name]]))],
    ["hyper_parameters", new PyDict([["metadata", new PyDict()]])],
  ]);
}

const FOO = "1750840837_add_foo";
const BAR = "1750841219_add_bar";
const BAZ = "1750859824_add_baz";
const RENAME = "1750859905_rename_baz";
const FINAL = "1751895180_final";

Deno.test("a list that does not start with the group's first migration is not compatible", () => {
  for (const names of [[BAR], [BAR, FOO], ["dummy", FOO]]) {
    const plan = new Migrator(firstGroup).plan(registeredRoot(names));
    assert.equal(plan.status, "incompatible", names.join());
    assert.deepEqual(plan.missing, []);
  }
  // A checkpoint of the second group, under the first group's scripts alone.
  assert.equal(new Migrator(firstGroup).plan(registeredRoot([FINAL])).status, "incompatible");
});

Deno.test("a gap makes the names after it extra; inspect still lists what is missing", () => {
  const plan = new Migrator(firstGroup).plan(registeredRoot([FOO, BAZ]));
  assert.equal(plan.status, "extra");
  assert.deepEqual(plan.extra, [BAZ]);
  assert.deepEqual(plan.missing.map((m) => m.name), [BAR, BAZ, RENAME]);
  const extra = new Migrator(firstGroup).plan(registeredRoot([FOO, "dummy"]));
  assert.deepEqual([extra.extra, extra.missing.map((m) => m.name)], [["dummy"], [
    BAR,
    BAZ,
    RENAME,
  ]]);
});

Deno.test("extra names are listed from the last registered backwards, as anemoi-models lists them", () => {
  const plan = new Migrator(firstGroup).plan(registeredRoot([FOO, BAR, "x", "y", "z"]));
  assert.deepEqual(plan.extra, ["z", "y", "x"]);
});

Deno.test("a registered name that differs in the middle runs the script at its position", () => {
  // anemoi-models runs add_bar (position 1 holds dummy) and rename_baz, not add_baz.
  const plan = new Migrator(firstGroup).plan(registeredRoot([FOO, "dummy", BAZ]));
  assert.equal(plan.status, "pending");
  assert.deepEqual(plan.missing.map((m) => m.name), [BAR, RENAME]);
});

Deno.test("a missing migration without a migrate function cannot be executed", () => {
  const noMigrate = loadMigration("1750841219_add_bar", {
    metadata: { versions: { migration: "1.0.0", "anemoi-models": "0.8.1" } },
  }, "0".repeat(64));
  const migrator = new Migrator([firstGroup[0], noMigrate]);
  assert.throws(
    () => migrator.plan(registeredRoot([FOO])),
    (error: unknown) =>
      error instanceof IncompatibleCheckpointError && error.reason === "not-executable" &&
      /1750841219_add_bar cannot be executed/.test(error.message),
  );
  // Already registered: nothing to execute, no complaint.
  assert.equal(migrator.plan(registeredRoot([FOO, BAR])).status, "up-to-date");
});

Deno.test("only training checkpoints migrate; the message says to regenerate inference ones", async () => {
  await assert.rejects(
    () => new Migrator(firstGroup).run(fixture("state_dict.ckpt")),
    (error: unknown) =>
      error instanceof IncompatibleCheckpointError && error.reason === "not-training" &&
      /migrate the training checkpoint/.test(error.message) &&
      /regenerate the inference checkpoint/.test(error.message),
  );
});

Deno.test("without hyper_parameters or its metadata, migrate refuses (anemoi-models fails)", async () => {
  // migration_too_old.ckpt has no hyper_parameters at all; one group makes it migratable.
  await assert.rejects(
    () => new Migrator(firstGroup).run(fixture("migration_too_old.ckpt")),
    (error: unknown) =>
      error instanceof MigrationError &&
      error.message === "Cannot record migration history: the checkpoint has no 'hyper_parameters'",
  );
  const root = registeredRoot([]);
  (root.get("hyper_parameters") as Dict).delete("metadata");
  const ckpt = await Checkpoint.open(fixture("migration_empty.ckpt"));
  ckpt.root = root;
  await assert.rejects(
    () => new Migrator(firstGroup).migrate(ckpt),
    /^MigrationError: Cannot record migration history: hyper_parameters has no 'metadata'$/,
  );
  ckpt.close();
});

Deno.test("the history's missing levels under metadata are created, as anemoi-models does", async () => {
  const { root: r } = await migrated(firstGroup, "migration_empty.ckpt");
  assert.equal(history(r).length, 4);
});

Deno.test("registered entries are {name, metadata, signature}, metadata a MigrationMetadata object", async () => {
  const { root: r } = await migrated(twoGroups, "migration_recent.ckpt");
  const [old, added] = r.get("migrations") as Dict[];
  assert.ok(!(old.get("metadata") instanceof PyObject), "the fixture's entry is a plain dict");
  assert.deepEqual([...added.keys()], ["name", "metadata", "signature"]);
  const metadata = added.get("metadata") as PyObject;
  assert.equal(metadata.className, "anemoi.models.migrations.migrator.MigrationMetadata");
  assert.equal(metadata.how, "newobj");
  assert.equal(metadata.args.length, 0);
  const state = metadata.state as Dict;
  assert.deepEqual([...state.keys()], ["versions", "final"]);
  assert.deepEqual([...(state.get("versions") as Dict)], [
    ["migration", "1.0.0"],
    ["anemoi-models", "0.9.0"],
  ]);
  assert.equal(state.get("final"), false);
  // Both forms read back.
  assert.deepEqual(registeredMigrations(r)!.map((m) => [m.name, m.version, m.final]), [
    ["1751895180_final", "0.9.0", true],
    ["1751895203_recent", "0.9.0", false],
  ]);
});

Deno.test({
  name: "a registered entry pickles to the bytes Python writes for anemoi's dataclass",
  ignore: skipTorch,
  async fn() {
    const [migration] = firstGroup;
    const { root: r } = await migrated([migration], "migration_empty.ckpt");
    const ours = pickle((r.get("migrations") as unknown[])[0]);
    const hex = await runPython([
      "-c",
      `import sys, pickle
sys.path.insert(0, sys.argv[1])
from anemoi.models.migrations.migrator import MigrationMetadata
entry = {"name": sys.argv[2], "metadata": MigrationMetadata(versions={"migration": "1.0.0", "anemoi-models": "0.8.1"}), "signature": sys.argv[3]}
print(pickle.dumps(entry, protocol=2).hex())`,
      `${root}tests/fixtures/stubs`,
      migration.name,
      migration.signature,
    ]);
    assert.equal([...ours].map((b) => b.toString(16).padStart(2, "0")).join(""), hex.trim());
  },
});

Deno.test({
  name: "torch.load reads the migrated checkpoint with anemoi's classes",
  ignore: skipTorch,
  async fn() {
    await withTempDir(async (dir) => {
      const run = await new Migrator(twoGroups).run(fixture("migration_recent.ckpt"));
      await run.checkpoint.save(`${dir}/out.ckpt`);
      run.checkpoint.close();
      const out = await runPython([
        "-c",
        `import sys, torch
sys.path.insert(0, sys.argv[1])
from anemoi.models.migrations.migrator import MigrationMetadata
ckpt = torch.load(sys.argv[2])
entries = ckpt["migrations"]
assert [e["name"] for e in entries] == ["1751895180_final", "1751895203_recent"], entries
assert entries[1]["metadata"] == MigrationMetadata(versions={"migration": "1.0.0", "anemoi-models": "0.9.0"}, final=False)
history = ckpt["hyper_parameters"]["metadata"]["migrations"]["history"]
assert history == [{"type": "migrate", "name": "1751895203_recent", "signature": entries[1]["signature"]}], history
assert ckpt["after"] == "after"
print("ok")`,
        `${root}tests/fixtures/stubs`,
        `${dir}/out.ckpt`,
      ]);
      assert.match(out, /ok/);
    });
  },
});

// A migration that only sets a key, for signature tests.
function marker(digest: string, pinnedSignature?: string): Migration {
  return loadMigration("1750840837_add_foo", {
    metadata: { versions: { migration: "1.0.0", "anemoi-models": "0.8.1" } },
    migrate: (ckpt: Dict) => ckpt.set("foo", "foo"),
    pinnedSignature,
  }, digest);
}

Deno.test("a registered script whose digest changed since it ran is reported", async () => {
  const { root: r } = await migrated([marker("a".repeat(64))], "migration_empty.ckpt");
  const unchanged = new Migrator([marker("a".repeat(64))]).plan(r);
  assert.deepEqual([unchanged.status, unchanged.changed], ["up-to-date", []]);
  const changed = new Migrator([marker("b".repeat(64))]).plan(r);
  assert.deepEqual(changed.changed, ["1750840837_add_foo"]);
});

Deno.test("a pinned upstream signature is written, and only it is compared, as anemoi-models does", async () => {
  const pin = "c".repeat(64);
  const { root: r } = await migrated([marker("a".repeat(64), pin)], "migration_empty.ckpt");
  const [entry] = r.get("migrations") as Dict[];
  assert.equal(entry.get("signature"), pin);
  assert.deepEqual([...history(r)[0]], [
    ["type", "migrate"],
    ["name", "1750840837_add_foo"],
    ["signature", pin],
  ]);
  // The port's own digest is not the checkpoint's business (tests pin it).
  assert.deepEqual(new Migrator([marker("b".repeat(64), pin)]).plan(r).changed, []);
  assert.deepEqual(new Migrator([marker("a".repeat(64), "d".repeat(64))]).plan(r).changed, [
    "1750840837_add_foo",
  ]);
});

Deno.test("the run warns about changed scripts through the log", async () => {
  const { root: r } = await migrated([marker("a".repeat(64))], "migration_empty.ckpt");
  assert.equal(history(r).length, 1);
  await withTempDir(async (dir) => {
    const ckpt = await Checkpoint.open(fixture("migration_empty.ckpt"));
    ckpt.root = r;
    await ckpt.save(`${dir}/ran.ckpt`);
    ckpt.close();
    const warnings: string[] = [];
    const run = await new Migrator([marker("b".repeat(64))]).run(`${dir}/ran.ckpt`, {
      warn: (message) => warnings.push(message),
    });
    run.checkpoint.close();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /executed migration 1750840837_add_foo, but the script has changed/);
  });
});

Deno.test("a migration that throws, returns nothing, or cannot run is a MigrationError", async () => {
  const make = (migrate?: unknown, final = false) =>
    loadMigration("1750840837_bad", {
      metadata: { versions: { migration: "1.0.0", "anemoi-models": "0.8.1" }, final },
      migrate,
    }, "0".repeat(64));
  const cases: [Migration[], RegExp][] = [
    [[make(() => {
      throw new Error("boom\nsecond line");
    })], /^Cannot run migration 1750840837_bad: boom$/],
    [[make(() => undefined)], /migrate returned nothing/],
    [[make()], /has no migrate function/],
  ];
  for (const [migrations, message] of cases) {
    await assert.rejects(
      () => new Migrator(migrations).run(fixture("migration_empty.ckpt")),
      (error: unknown) => error instanceof MigrationError && message.test(error.message),
    );
  }
});

Deno.test("scripts without metadata or with a bad name are refused when loaded", () => {
  assert.throws(() => loadMigration("1_x", { migrate: () => {} }, ""), /missing metadata/);
  assert.throws(
    () => loadMigration("no_timestamp", { metadata: { versions: {} } }, ""),
    /<unix-timestamp>_<snake_name>/,
  );
  assert.throws(
    () =>
      loadMigration("1_x", {
        metadata: { versions: { migration: "1.0.0", "anemoi-models": "1" } },
        pinnedSignature: "xyz",
      }, ""),
    /pinnedSignature/,
  );
  assert.throws(() => new Migrator([marker("a"), marker("b")]), /appears twice/);
});

Deno.test("data.pkl is decoded again only when a setup redirects a global it names", async () => {
  const redirecting = (from: string, to: string) =>
    loadMigration("1750840837_add_foo", {
      metadata: { versions: { migration: "1.0.0", "anemoi-models": "0.8.1" } },
      migrateSetup: (context: MigrationContext) => context.moveAttribute(from, to),
      migrate: (ckpt: Dict) => ckpt,
    }, "a".repeat(64));
  await withTempDir(async (dir) => {
    const path = `${dir}/ordered.ckpt`;
    const empty = await Checkpoint.open(fixture("migration_empty.ckpt"));
    const ordered = new PyObject(PyGlobal.of("collections", "OrderedDict"));
    (empty.root as Dict).set("state_dict", ordered);
    await empty.save(path);
    empty.close();
    for (
      const [from, used] of [["nowhere.Thing", false], ["collections.OrderedDict", true]] as const
    ) {
      const ckpt = await Checkpoint.open(path);
      try {
        assert.equal(ckpt.globals.some(([m, n]) => `${m}.${n}` === from), used);
        const before = (ckpt.root as Dict).get("state_dict");
        const run = await new Migrator([redirecting(from, "moved.Thing")]).migrate(ckpt);
        const after = (run.checkpoint.root as Dict).get("state_dict") as PyObject;
        assert.equal(after === before, !used, from);
        assert.deepEqual([...run.redirected.keys()], used ? [from] : []);
        if (used) assert.equal(after.className, "moved.Thing");
      } finally {
        ckpt.close();
      }
    }
  });
});
