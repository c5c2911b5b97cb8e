// Protocol 0 text (UNICODE lines) is Python's raw-unicode-escape: escapes
// count only after an odd number of backslashes, bad escapes are errors,
// and escaped surrogates stay separate code points. Expected values are
// CPython's; a differential test checks many more against it.
import assert from "node:assert/strict";
import { CkptkitError, PickleError } from "../lib/errors.ts";
import { pickle } from "../lib/pickle/pickler.ts";
import { dis } from "../lib/pickle/dis.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyStr } from "../lib/pickle/py_str.ts";
import { scalarRepr } from "../lib/pickle/repr.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
import { decodeRawUnicodeEscape } from "../lib/pickle/_text_literals.ts";
import { runPython, skipTorch } from "./_python.ts";

const ascii = (text: string) => new TextEncoder().encode(text);
const hex = (text: string) =>
  Uint8Array.from(text.replace(/ /g, "").match(/../g)!, (pair) => parseInt(pair, 16));

Deno.test("raw-unicode-escape decodes as CPython's codec does", () => {
  // codecs.raw_unicode_escape_decode(input) in CPython 3.
  const cases: [string, string | undefined][] = [
    ["a\\u0041", "aA"],
    ["a\\\\u0041", "a\\\\u0041"], // even backslashes: no escape
    ["a\\\\\\u0041", "a\\\\A"], // odd: the last one escapes
    ["\\u0041\\U0001F600", "A\u{1F600}"],
    ["x\\", "x\\"],
    ["\\q", "\\q"],
    ["caf\xe9", "caf\xe9"],
    ["\\u12", undefined], // truncated \uXXXX escape
    ["\\U0000004", undefined],
    ["\\u00g1", undefined],
    ["\\U00110000", undefined], // \Uxxxxxxxx out of range
  ];
  for (const [input, expected] of cases) {
    assert.equal(decodeRawUnicodeEscape(input), expected, JSON.stringify(input));
  }
});

Deno.test("escaped surrogates stay two code points (PyStr), as in CPython", () => {
  const pair = decodeRawUnicodeEscape("\\ud83d\\ude00");
  assert.ok(pair instanceof PyStr);
  assert.equal(pair.units, "\ud83d\ude00");
  // A real astral escape between them pairs with neither.
  assert.equal(
    decodeRawUnicodeEscape("\\ud83d\\U0001F600\\ude00"),
    String.fromCodePoint(0xd83d, 0x1f600, 0xde00),
  );
  assert.equal(decodeRawUnicodeEscape("\\ude00\\ud83d"), "\ude00\ud83d");
});

Deno.test("a protocol 0 pickle of two surrogates re-pickles as CPython's protocol 2", () => {
  // pickle.dumps("\ud83d\ude00", 0) and pickle.dumps("\ud83d\ude00", 2) in CPython 3.
  const protocol0 = ascii("V\\ud83d\\ude00\np0\n.");
  const protocol2 = hex("80 02 58 06000000 eda0bd edb880 71 00 2e");
  const value = unpickle(protocol0);
  assert.ok(value instanceof PyStr);
  assert.deepEqual(pickle(value), protocol2);
});

Deno.test("a str of paired surrogates and an astral character keeps all three code points", () => {
  // pickle.dumps("\ud83d\ude00\U0001F600", 0) and (..., 2) in CPython 3.
  const protocol0 = ascii("V\\ud83d\\ude00\\U0001f600\np0\n.");
  const protocol2 = hex("80 02 58 0a000000 eda0bd edb880 f09f9880 71 00 2e");
  for (const source of [protocol0, protocol2]) {
    const value = unpickle(source);
    assert.ok(value instanceof PyStr);
    assert.deepEqual(value.codePoints(), [0xd83d, 0xde00, 0x1f600]);
    assert.deepEqual(pickle(value), protocol2);
    assert.equal(scalarRepr(value), "'\\ud83d\\ude00\u{1F600}'");
  }
  // Four surrogates are another str: Python keeps both as dict keys.
  const four = PyStr.fromCodePoints([0xd83d, 0xde00, 0xd83d, 0xde00]);
  const dict = new PyDict([[unpickle(protocol2), 1], [four, 2]]);
  assert.equal(dict.size, 2);
  assert.equal(dict.get(PyStr.fromCodePoints([0xd83d, 0xde00, 0x1f600])), 1);
});

Deno.test("a UNICODE line with a bad escape is a one-line PickleError", () => {
  assert.throws(
    () => unpickle(ascii("V\\u12\n.")),
    (error: Error) =>
      error instanceof PickleError &&
      /^Cannot decode pickle: truncated or out-of-range \\u escape at offset 0 \(UNICODE\)$/
        .test(error.message),
  );
});

Deno.test({
  name: "raw-unicode-escape matches CPython on random escape soup",
  ignore: skipTorch,
  fn: async () => {
    // Backslash runs, markers, hex digits and surrogate halves, mixed.
    const pieces = [
      ...["\\", "\\\\", "u", "U", "0041", "d83d", "A", "\xe9"],
      ...["\\ud83d", "\\ude00", "\\udc00", "\\U0001f600", "\\U00110000", "\\u00e9", "\\u12"],
    ];
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const inputs = Array.from({ length: 2000 }, () => {
      let text = "";
      const length = 1 + Math.floor(random() * 14);
      for (let i = 0; i < length; i++) text += pieces[Math.floor(random() * pieces.length)];
      return text;
    });
    const dir = await Deno.makeTempDir({ prefix: "ckptkit-rue-" });
    try {
      await Deno.writeFile(`${dir}/in`, Uint8Array.from(inputs.join("\n"), (c) => c.charCodeAt(0)));
      // One line per input: the decoded code points in hex, or "error".
      const output = await runPython([
        "-c",
        `import codecs, sys
for line in open(sys.argv[1], "rb").read().split(b"\\n"):
    try:
        print(" ".join("%x" % ord(c) for c in codecs.raw_unicode_escape_decode(line)[0]))
    except UnicodeDecodeError:
        print("error")`,
        `${dir}/in`,
      ]);
      const expected = output.split("\n").slice(0, inputs.length);
      const ours = inputs.map((input) => {
        const decoded = decodeRawUnicodeEscape(input);
        if (decoded === undefined) return "error";
        const points = decoded instanceof PyStr
          ? decoded.codePoints()
          : Array.from(decoded, (c) => c.codePointAt(0)!);
        return points.map((p) => p.toString(16)).join(" ");
      });
      const bad = inputs.flatMap((input, i) =>
        ours[i] === expected[i] ? [] : [`${JSON.stringify(input)}: ${ours[i]} vs ${expected[i]}`]
      );
      assert.deepEqual(bad.slice(0, 10), []);
      assert.ok(expected.includes("error") && expected.some((e) => e.includes("d83d")));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("PyStr.fromCodePoints refuses what is not a code point", () => {
  for (const bad of [0x110000, -1, 65.5, NaN, undefined as unknown as number]) {
    assert.throws(
      () => PyStr.fromCodePoints([0x41, bad]),
      (error: Error) =>
        error instanceof CkptkitError &&
        error.message === `Cannot create str: ${bad} is not a code point`,
    );
  }
});

Deno.test("a PyStr that a JS string could hold is that string as a dict key, as in Python", () => {
  const dict = new PyDict<unknown, number>([
    ["abc", 1],
    [new PyStr("abc"), 2],
    [PyStr.fromCodePoints([0x1f600]), 3],
    ["\u{1f600}", 4],
    [new PyStr("a\udc80"), 5],
    ["a\udc80", 6],
    [Tuple.of(new PyStr("abc")), 7],
    [Tuple.of("abc"), 8],
  ]);
  assert.equal(dict.size, 4);
  assert.deepEqual([...dict.values()], [2, 4, 6, 8]);
  // Paired surrogates are another str than the astral character they spell in JS.
  assert.equal(dict.get(new PyStr("\ud83d\ude00")), undefined);
  assert.deepEqual(PyStr.fromCodePoints([0x1f600, 0x41]).codePoints(-1), []);
});

Deno.test("dis shows a UNICODE line with a bad escape as bytes and goes on", () => {
  const listing = dis(ascii("(V\\u12\nV\\ud83d\\ude00\nt."));
  assert.match(listing, /UNICODE {4}b'\\\\u12'\n/);
  assert.match(listing, /UNICODE {4}'\\ud83d\\ude00'\n/);
  assert.match(listing, /TUPLE {6}\(MARK at 0\)/);
});
