// Replays what omegaconf 2.2 did (tests/fixtures/omegaconf_vectors.json)
// through Config: the same stored value, Python type, node and key order,
// or the same error class and message, and nothing changed by a refused
// edit. The only differences allowed are the documented ones (deliberate()).
import assert from "node:assert/strict";
import {
  deliberate,
  type Edit,
  type Json,
  type Outcome,
  replay,
  vectors,
} from "./_config_vectors.ts";

function compare(
  label: string,
  want: Outcome,
  got: Outcome,
  edit: Edit,
  differences: Map<string, string[]>,
) {
  const same = JSON.stringify(want) === JSON.stringify(got);
  if (same) return true;
  const reason = deliberate(edit, want, got);
  if (reason === undefined) return false;
  differences.set(reason, [...(differences.get(reason) ?? []), label]);
  return true;
}

Deno.test("the assignment matrix: every input on every typed node kind, as omegaconf converts or refuses it", () => {
  const inputs: Json[] = vectors.inputs;
  const failures: string[] = [];
  const differences = new Map<string, string[]>();
  let count = 0;
  for (const [caseName, results] of Object.entries(vectors.matrix as Record<string, Outcome[]>)) {
    inputs.forEach((input, i) => {
      const edit: Edit = { op: "set", path: ["x"], value: input };
      const forms: ("getattr" | "call")[] = JSON.stringify(input).includes('"enum"')
        ? ["getattr", "call"]
        : ["getattr"];
      for (const form of forms) {
        count++;
        const got = replay(caseName, edit, form);
        const label = `${caseName} <- ${JSON.stringify(input)} (${form})`;
        if (!compare(label, results[i], got, edit, differences)) {
          failures.push(
            `${label}\n  omegaconf: ${JSON.stringify(results[i])}\n  ckptkit:   ${
              JSON.stringify(got)
            }`,
          );
        }
      }
    });
  }
  console.log(count, "matrix vectors;", [...differences].map(([k, v]) => `${v.length}: ${k}`));
  assert.ok(count > 3000, `${count} vectors`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${count} differ`);
  assert.deepEqual([...differences.keys()].sort(), [
    "GrammarParseError messages are ckptkit's own",
    "an IntEnum member is an int to Python; pickles do not say which enums are IntEnums",
  ]);
});

Deno.test("scenarios: typed containers, new keys, struct, readonly, flag placements, pop and delete", () => {
  const failures: string[] = [];
  const differences = new Map<string, string[]>();
  const scenarios = vectors.scenarios as [string, Edit, Outcome][];
  for (const [caseName, edit, want] of scenarios) {
    for (
      const form of JSON.stringify(edit).includes('"enum"')
        ? ["getattr", "call"] as const
        : ["getattr"] as const
    ) {
      const got = replay(caseName, edit, form);
      const label = `${caseName} ${edit.op} ${JSON.stringify(edit.path)} ${
        JSON.stringify(edit.value ?? edit.default ?? null)
      } ${JSON.stringify(edit.options ?? {})} (${form})`;
      if (!compare(label, want, got, edit, differences)) {
        failures.push(
          `${label}\n  omegaconf: ${JSON.stringify(want)}\n  ckptkit:   ${JSON.stringify(got)}`,
        );
      }
    }
  }
  console.log(
    scenarios.length,
    "scenarios;",
    [...differences].map(([k, v]) => `${v.length}: ${k}`),
  );
  assert.ok(scenarios.length > 7000);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${scenarios.length} differ`);
});
