// Script digests: blind to formatting and comments, sensitive to code.
import assert from "node:assert/strict";
import { scriptDigest, scriptTokens } from "../lib/migrate/signature.ts";

const base = `import type { CkptType } from "../mod.ts";

export const metadata = { versions: { migration: "1.0.0", "anemoi-models": "0.9.0" } };

/** Renames a key. */
export function migrate(ckpt: CkptType): CkptType {
  const sd = ckpt.getItem("state_dict") as CkptType;
  for (const key of [...sd.keys()]) {
    if (/^model\\.x\\./.test(key)) sd.set(key.replace("x", "y"), sd.pop(key));
  }
  return ckpt;
}
`;

Deno.test("reformatting, comments, quotes, semicolons and trailing commas keep the digest", async () => {
  const reformatted = `// A header comment.
import type {CkptType} from '../mod.ts'
export const metadata = {
  versions: {
    migration: '1.0.0',
    "anemoi-models": "0.9.0",
  },
}
/* block
   comment */
export function migrate(ckpt: CkptType): CkptType
{
  const sd = ckpt.getItem('state_dict') as CkptType   // trailing comment
  for (const key of [...sd.keys(),]) {
    if (/^model\\.x\\./.test(key)) sd.set(key.replace('x', "y"), sd.pop(key),)
  }
  return ckpt
}`;
  assert.equal(await scriptDigest(reformatted), await scriptDigest(base));
});

Deno.test("changes to code, names, strings or regexes change the digest", async () => {
  const digest = await scriptDigest(base);
  assert.match(digest, /^[0-9a-f]{64}$/);
  const edits = [
    base.replace('"0.9.0"', '"0.9.1"'),
    base.replace('replace("x", "y")', 'replace("x", "z")'),
    base.replace("const sd", "const stateDict").replaceAll("sd.", "stateDict."),
    base.replace("model\\.x", "model\\.w"),
    base.replace("return ckpt;", "ckpt.set('extra', 1);\n  return ckpt;"),
  ];
  for (const edited of edits) {
    assert.notEqual(edited, base);
    assert.notEqual(await scriptDigest(edited), digest, edited);
  }
});

Deno.test("escapes in strings count by value; whitespace inside strings counts", async () => {
  assert.equal(await scriptDigest(`f("a\\x41")`), await scriptDigest(`f('aA')`));
  assert.equal(await scriptDigest(`f("\\u{1F600}")`), await scriptDigest(`f("\u{1F600}")`));
  assert.notEqual(await scriptDigest(`f("a b")`), await scriptDigest(`f("ab")`));
});

Deno.test("template literals keep their text and tokenize their substitutions", () => {
  assert.deepEqual(scriptTokens("x = `a ${ b + { c: 1 }.c } d`;"), [
    "x",
    "=",
    "`",
    "a ",
    "${",
    "b",
    "+",
    "{",
    "c",
    ":",
    "1",
    "}",
    ".",
    "c",
    "}",
    " d",
    "`",
  ]);
});

Deno.test("a slash after an operand divides; elsewhere it starts a regex with its comment-like body", () => {
  assert.deepEqual(scriptTokens("a = b / c / d"), ["a", "=", "b", "/", "c", "/", "d"]);
  assert.deepEqual(scriptTokens("a = /x\\/y[/]/g.test(s)"), [
    "a",
    "=",
    "/x\\/y[/]/g",
    ".",
    "test",
    "(",
    "s",
    ")",
  ]);
  assert.deepEqual(scriptTokens("return /a/ / b"), ["return", "/a/", "/", "b"]);
});
