// MigrationContext: how setup redirects resolve the pickle's globals.
import assert from "node:assert/strict";
import { MigrationContext, MISSING_ATTRIBUTE } from "../lib/migrate/migration_context.ts";
import { MigrationError } from "../lib/migrate/migration_error.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";

const g = (module: string, name: string) => PyGlobal.of(module, name);

Deno.test("an attribute move redirects that attribute only, possibly renamed", () => {
  const context = new MigrationContext();
  context.moveAttribute("pkg.a.Thing", "pkg.b.Renamed");
  assert.equal(context.resolve("pkg.a", "Thing"), g("pkg.b", "Renamed"));
  assert.equal(context.resolve("pkg.a", "Other"), g("pkg.a", "Other"));
  assert.deepEqual([...context.attributePaths], [["pkg.b.Renamed", "pkg.a.Thing"]]);
});

Deno.test("a module move redirects every global of that exact module", () => {
  const context = new MigrationContext();
  context.moveModule("pkg.old", "pkg.new");
  assert.equal(context.resolve("pkg.old", "A"), g("pkg.new", "A"));
  assert.equal(context.resolve("pkg.old", "b_function"), g("pkg.new", "b_function"));
  // Submodules and parents are other modules.
  assert.equal(context.resolve("pkg.old.sub", "A"), g("pkg.old.sub", "A"));
  assert.equal(context.resolve("pkg", "old"), g("pkg", "old"));
});

Deno.test("an exact attribute move takes precedence over its module's move, in any order", () => {
  for (const attributeFirst of [true, false]) {
    const context = new MigrationContext();
    if (attributeFirst) context.moveAttribute("pkg.old.Special", "pkg.other.Special");
    context.moveModule("pkg.old", "pkg.new");
    if (!attributeFirst) context.moveAttribute("pkg.old.Special", "pkg.other.Special");
    assert.equal(context.resolve("pkg.old", "Special"), g("pkg.other", "Special"));
    assert.equal(context.resolve("pkg.old", "Plain"), g("pkg.new", "Plain"));
  }
});

Deno.test("chained moves compose as anemoi's context records them", () => {
  const context = new MigrationContext();
  context.moveAttribute("a.m.A", "b.m.B");
  context.moveAttribute("b.m.B", "c.m.C");
  assert.deepEqual([...context.attributePaths], [["c.m.C", "a.m.A"]]);
  assert.equal(context.resolve("a.m", "A"), g("c.m", "C"));
  context.moveModule("x", "y");
  context.moveModule("y", "z");
  assert.deepEqual([...context.modulePaths], [["z", "x"]]);
  assert.equal(context.resolve("x", "K"), g("z", "K"));
});

Deno.test("an attribute moved into a moved module follows the module move", () => {
  const context = new MigrationContext();
  context.moveAttribute("a.A", "b.A");
  context.moveModule("b", "c");
  assert.equal(context.resolve("a", "A"), g("c", "A"));
});

Deno.test("module.* deletes every attribute of the module, and nothing else", () => {
  const context = new MigrationContext();
  context.deleteAttribute("pkg.wild.*");
  assert.equal(context.resolve("pkg.wild", "Foo"), MISSING_ATTRIBUTE);
  assert.equal(context.resolve("pkg.wild", "Bar"), MISSING_ATTRIBUTE);
  assert.equal(context.resolve("pkg.wild.sub", "Foo"), g("pkg.wild.sub", "Foo"));
  assert.equal(context.resolve("pkg", "wild"), g("pkg", "wild"));
});

Deno.test("an exact delete removes one attribute; a deleted module removes all of it", () => {
  const context = new MigrationContext();
  context.deleteAttribute("pkg.partial.Removed");
  context.deleteModule("pkg.gone");
  assert.equal(context.resolve("pkg.partial", "Removed"), MISSING_ATTRIBUTE);
  assert.equal(context.resolve("pkg.partial", "Kept"), g("pkg.partial", "Kept"));
  assert.equal(context.resolve("pkg.gone", "Anything"), MISSING_ATTRIBUTE);
  assert.equal(MISSING_ATTRIBUTE.path, "anemoi.models.migrations.migrator.MissingAttribute");
});

Deno.test("a moved attribute is not deleted by a delete of its old module", () => {
  const context = new MigrationContext();
  context.deleteModule("pkg.gone");
  context.moveAttribute("pkg.gone.Saved", "pkg.kept.Saved");
  assert.equal(context.resolve("pkg.gone", "Saved"), g("pkg.kept", "Saved"));
  assert.equal(context.resolve("pkg.gone", "Other"), MISSING_ATTRIBUTE);
});

Deno.test("moves that loop are an error, not a hang", () => {
  const context = new MigrationContext();
  context.moveModule("a", "b");
  context.moveModule("c", "a");
  context.moveModule("b", "c");
  assert.throws(() => context.resolve("c", "X"), /cycle/);
});

Deno.test("findGlobal reports each redirect once and leaves others alone", () => {
  const context = new MigrationContext();
  context.moveModule("old", "new");
  const seen: string[] = [];
  const findGlobal = context.findGlobal((from, to) => seen.push(`${from}->${to.path}`));
  assert.equal(findGlobal("old", "A"), g("new", "A"));
  assert.equal(findGlobal("old", "A"), g("new", "A"));
  assert.equal(
    findGlobal("torch._utils", "_rebuild_tensor_v2"),
    g("torch._utils", "_rebuild_tensor_v2"),
  );
  assert.deepEqual(seen, ["old.A->new.A"]);
});

Deno.test("isEmpty until something is declared; malformed paths are refused", () => {
  const context = new MigrationContext();
  assert.equal(context.isEmpty, true);
  context.deleteModule("m");
  assert.equal(context.isEmpty, false);
  assert.throws(() => context.moveAttribute("nodot", "a.b"), MigrationError);
  assert.throws(() => context.moveAttribute("a.b", "a."), MigrationError);
  assert.throws(() => context.moveModule("", "a"), MigrationError);
  assert.throws(() => context.deleteAttribute("x"), MigrationError);
});
