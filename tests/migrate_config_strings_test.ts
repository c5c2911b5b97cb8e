// The strings config edits parse as Python and omegaconf do: int() and
// float() of strings and repr() of floats (typed nodes convert with them),
// and which "${...}" strings omegaconf's grammar accepts as interpolations,
// checked against what Python and omegaconf 2.2 did
// (tests/fixtures/omegaconf_vectors.json).
import assert from "node:assert/strict";
import { interpolationProblem, isInterpolation } from "../lib/migrate/_interpolation.ts";
import { pyFloat, pyInt } from "../lib/migrate/_py_number.ts";
import { floatRepr } from "../lib/pickle/py_float.ts";
import { fixture } from "./_migrate_cli.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const vectors = JSON.parse(await Deno.readTextFile(fixture("omegaconf_vectors.json")));

Deno.test("interpolations: omegaconf's grammar decides which strings are well formed", () => {
  const differ: string[] = [];
  for (const [text, kind] of vectors.interpolations as [string, Json][]) {
    const ours = !isInterpolation(text)
      ? "VALUE"
      : interpolationProblem(text) === undefined
      ? "INTERPOLATION"
      : "GrammarParseError";
    const want = typeof kind === "string" ? kind : (kind as { error: string }).error;
    if (ours !== want) differ.push(text);
  }
  // omegaconf 2.3 lets resolver names contain "-" (2.2, which recorded these, does not).
  assert.deepEqual(differ, ["${oc-env:HOME}", "${oc.env-x:HOME}"]);
  assert.ok(vectors.interpolations.length > 2000);
});

Deno.test("numbers: Python's int() and float() of strings, and repr() of the floats", () => {
  for (const [text, int, float] of vectors.numbers as [string, Json, Json][]) {
    const wantInt = int === null
      ? undefined
      : typeof int === "number"
      ? BigInt(int)
      : BigInt((int as { int: string }).int);
    assert.equal(pyInt(text), wantInt, `int(${JSON.stringify(text)})`);
    const parsed = pyFloat(text);
    assert.equal(
      parsed === undefined ? null : floatRepr(parsed),
      float === null ? null : (float as { float: string }).float,
      `float(${JSON.stringify(text)})`,
    );
  }
});
