// Resolution parity with anemoi-models: every scenario that
// tests/fixtures/make_anemoi_scenarios.py ran through anemoi-models' own
// Migrator (inspect and sync, on checkpoints built as its SaveCkpt builds
// them) is replayed through ckptkit's Migrator with the TS copies of
// anemoi's test scripts, and must end the same way: the same lists, the same
// operations in the same order, the same refusals, the same history.
import assert from "node:assert/strict";
import { Checkpoint } from "../lib/torch/checkpoint.ts";
import { IncompatibleCheckpointError, MigrationError } from "../lib/migrate/migration_error.ts";
import { type MigrationPlan, Migrator } from "../lib/migrate/migrator.ts";
import { loadMigrationsFromDir } from "../lib/migrate/registry.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { fixture, scripts } from "./_migrate_cli.ts";

type Dict = PyDict<string, unknown>;

interface Failure {
  error: string;
  message: string;
}

interface Scenario {
  migrator: "first_group" | "two_groups";
  registered: string[] | null;
  content: Record<string, string>;
  hyper: "metadata" | "none" | "no_metadata" | "history";
  history?: [string, string][];
  training: boolean;
  inspect: { registered: string[]; missing: string[]; extra: string[] } | Failure;
  sync: {
    ops: string[];
    keys: string[];
    values: Record<string, string>;
    migrations: string[];
    history: [string, string, string][];
  } | Failure;
  warnings: string[];
}

const document = JSON.parse(await Deno.readTextFile(fixture("anemoi_scenarios.json"))) as {
  signatures: Record<string, string>;
  scenarios: Scenario[];
};

const VERSIONS: Record<string, string> = {
  "1750840837_add_foo": "0.8.1",
  "1750841219_add_bar": "0.8.1",
  "1750859824_add_baz": "0.9.0",
  "1750859905_rename_baz": "0.9.0",
  "1751895180_final": "0.9.0",
  "1751895203_recent": "0.9.0",
};

const migrators = {
  first_group: new Migrator(await loadMigrationsFromDir(scripts("first_group"))),
  two_groups: new Migrator(await loadMigrationsFromDir(scripts("two_groups"))),
};

/** The checkpoint root of a scenario, key for key as the Python script builds it. */
function build(scenario: Scenario): Dict {
  const root: Dict = PyDict.fromObject<unknown>(scenario.content);
  if (scenario.registered !== null) {
    root.set(
      "migrations",
      scenario.registered.map((name) => {
        const metadata = new PyDict<string, unknown>([
          [
            "versions",
            PyDict.fromObject({ migration: "1.0.0", "anemoi-models": VERSIONS[name] ?? "x.x.x" }),
          ],
        ]);
        if (name === "1751895180_final") metadata.set("final", true);
        return new PyDict<string, unknown>([["name", name], ["metadata", metadata], [
          "signature",
          name,
        ]]);
      }),
    );
  }
  if (scenario.training) root.set("pytorch-lightning_version", "");
  if (scenario.hyper === "metadata") {
    root.set("hyper_parameters", new PyDict([["metadata", new PyDict()]]));
  } else if (scenario.hyper === "no_metadata") {
    root.set("hyper_parameters", new PyDict());
  } else if (scenario.hyper === "history") {
    const history = scenario.history!.map(([name, signature]) =>
      new PyDict<string, unknown>([["type", "migrate"], ["name", name], ["signature", signature]])
    );
    const migrations = new PyDict([["history", history]]);
    root.set(
      "hyper_parameters",
      new PyDict([["metadata", new PyDict([["migrations", migrations]])]]),
    );
  }
  return root;
}

function label(scenario: Scenario): string {
  const list = scenario.registered === null
    ? "no migrations key"
    : `[${scenario.registered.map((n) => n.replace(/^\d+_/, "")).join(", ")}]`;
  return `${scenario.migrator} ${list} content=${JSON.stringify(scenario.content)} ` +
    `hyper=${scenario.hyper}${scenario.training ? "" : " not-training"}`;
}

function names(list: readonly { name: string }[]): string[] {
  return list.map((m) => m.name);
}

/** ckptkit's plan against anemoi's `inspect`. */
function checkInspect(scenario: Scenario, plan: MigrationPlan | Error): void {
  const expected = scenario.inspect;
  if ("error" in expected) {
    if (expected.error === "ValueError") {
      assert.ok(plan instanceof IncompatibleCheckpointError && plan.reason === "not-training");
      return;
    }
    assert.equal(expected.error, "IncompatibleCheckpointException");
    assert.ok(!(plan instanceof Error), `plan threw ${plan}`);
    if (expected.message === "Checkpoint is not compatible") {
      assert.equal(plan.status, "incompatible");
    } else {
      const version = /anemoi-models < (.*)\.$/.exec(expected.message)![1];
      assert.equal(plan.status, "too-old");
      assert.equal(plan.firstIncompatibleVersion, version);
    }
    return;
  }
  assert.ok(!(plan instanceof Error), `plan threw ${plan}`);
  assert.deepEqual(
    { registered: names(plan.registered), missing: names(plan.missing), extra: plan.extra },
    expected,
  );
  const status = expected.extra.length > 0
    ? "extra"
    : expected.missing.length > 0
    ? "pending"
    : "up-to-date";
  assert.equal(plan.status, status);
}

/** ckptkit's run against anemoi's `sync`. */
async function checkSync(scenario: Scenario, checkpoint: Checkpoint): Promise<void> {
  checkpoint.root = build(scenario);
  const expected = scenario.sync;
  let outcome: Awaited<ReturnType<Migrator["migrate"]>> | Error;
  try {
    outcome = await migrators[scenario.migrator].migrate(checkpoint);
  } catch (error) {
    outcome = error as Error;
  }
  const nothingToRun = !("error" in scenario.inspect) && scenario.inspect.missing.length === 0 &&
    scenario.inspect.extra.length === 0;
  if (nothingToRun && (!("error" in expected) || expected.error === "KeyError")) {
    // Up to date: neither tool writes anything. anemoi-models still creates
    // the history in memory (or fails without hyper_parameters); ckptkit
    // leaves the checkpoint as it is.
    assert.ok(!(outcome instanceof Error), `migrate threw ${outcome}`);
    assert.deepEqual(outcome.executed, []);
    return;
  }
  if (!("error" in expected)) {
    assert.ok(!(outcome instanceof Error), `migrate threw ${outcome}`);
    const root = checkpoint.root as Dict;
    const history = (((root.get("hyper_parameters") as Dict).get("metadata") as Dict)
      .get("migrations") as Dict).get("history") as Dict[];
    assert.deepEqual({
      ops: names(outcome.executed),
      keys: [...root.keys()],
      values: Object.fromEntries([...root].filter(([, v]) => typeof v === "string")),
      migrations: (root.get("migrations") as Dict[]).map((e) => e.get("name")),
      history: history.map((e) => [...e.values()]),
    }, expected);
    // Exactly the keys anemoi-models writes, nothing of ckptkit's own.
    for (const entry of history) assert.deepEqual([...entry.keys()], ["type", "name", "signature"]);
    return;
  }
  assert.ok(outcome instanceof Error, `migrate ran where anemoi-models raised ${expected.error}`);
  switch (expected.error) {
    case "ValueError":
      assert.ok(outcome instanceof IncompatibleCheckpointError);
      assert.equal(outcome.reason, "not-training");
      break;
    case "IncompatibleCheckpointException": {
      assert.ok(outcome instanceof IncompatibleCheckpointError, String(outcome));
      const reason = expected.message === "Checkpoint is not compatible"
        ? "incompatible"
        : expected.message.startsWith("No compatible migration available")
        ? "too-old"
        : "extra";
      assert.equal(outcome.reason, reason);
      if (reason === "extra") {
        const extra = /\((.*)\)$/.exec(expected.message)![1];
        assert.ok(outcome.message.endsWith(`: ${extra}`), outcome.message);
      }
      break;
    }
    case "AssertionError":
      // A test script's own check failed: the port throws where Python asserts.
      assert.ok(
        outcome instanceof MigrationError && /^Cannot run migration /.test(outcome.message),
      );
      break;
    case "KeyError":
      // anemoi-models fails on a checkpoint without hyper_parameters (or its
      // metadata) even when nothing is to run; ckptkit refuses to migrate
      // it, in one line, and has nothing to refuse when nothing is to run.
      assert.match(expected.message, /^'(hyper_parameters|metadata)'$/);
      assert.ok(outcome instanceof MigrationError, String(outcome));
      assert.match(outcome.message, /^Cannot record migration history: /);
      break;
    default:
      assert.fail(`unexpected Python error ${expected.error}`);
  }
}

Deno.test("the recorded scenarios cover each outcome of anemoi-models' migrator", () => {
  const outcomes = new Set(
    document.scenarios.map((s) =>
      "error" in s.sync ? `${s.sync.error}: ${s.sync.message.slice(0, 30)}` : "ok"
    ),
  );
  for (
    const expected of [
      "ok",
      "IncompatibleCheckpointException: Checkpoint is not compatible",
      "IncompatibleCheckpointException: No compatible migration a",
      "IncompatibleCheckpointException: Checkpoint cannot be migrate",
      "KeyError: 'hyper_parameters'",
      "KeyError: 'metadata'",
      "ValueError: You can only migrate training ch",
    ]
  ) {
    assert.ok([...outcomes].some((o) => o.startsWith(expected.slice(0, 40))), expected);
  }
  assert.ok(document.scenarios.length > 1500);
});

Deno.test("the TS test scripts pin the signatures anemoi-models computes for its scripts", () => {
  const migrations = migrators.two_groups.migrations;
  assert.deepEqual(
    Object.fromEntries(migrations.map((m) => [m.name, m.signature])),
    document.signatures,
  );
});

Deno.test("every scenario ends as it does in anemoi-models (inspect, sync, warnings)", async (t) => {
  const checkpoint = await Checkpoint.open(fixture("migration_empty.ckpt"));
  const failures: string[] = [];
  try {
    for (const scenario of document.scenarios) {
      try {
        let plan: MigrationPlan | Error;
        try {
          plan = migrators[scenario.migrator].plan(build(scenario));
        } catch (error) {
          plan = error as Error;
        }
        checkInspect(scenario, plan);
        // anemoi-models warns about changed scripts once the group is known to be compatible.
        const changed = plan instanceof Error || plan.status === "too-old" ||
            plan.status === "incompatible"
          ? []
          : plan.changed;
        assert.deepEqual(changed, [...new Set(scenario.warnings)]);
        await checkSync(scenario, checkpoint);
      } catch (error) {
        failures.push(`${label(scenario)}: ${(error as Error).message.split("\n")[0]}`);
      }
    }
  } finally {
    checkpoint.close();
  }
  await t.step(`${document.scenarios.length} scenarios`, () => {
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} scenarios differ`);
  });
});
