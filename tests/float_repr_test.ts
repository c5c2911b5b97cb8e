// Python's repr(float) everywhere ckptkit prints a float (show, dis, config
// messages): the shortest round-trip digits, exponent form below 1e-4 and
// from 1e16 on, two-digit exponents. Checked against Python itself on the
// layout's edges and on random doubles.
import assert from "node:assert/strict";
import { floatRepr } from "../lib/pickle/py_float.ts";
import { runPython, skipTorch } from "./_python.ts";

// Each decade from 1e-330 to 1e310, its neighbours, and the layout's edges.
function edgeValues(): number[] {
  const values = [0, -0, NaN, Infinity, -Infinity, 5e-324, Number.MAX_VALUE, 0.1, 1 / 3];
  for (let e = -330; e <= 310; e++) {
    const v = Number(`1e${e}`);
    values.push(v, -v, v * 1.5, v * 9.999999999999999, v * 0.99999999999999);
  }
  return values.filter((v, i, all) => all.indexOf(v) === i || Number.isNaN(v));
}

function randomDoubles(count: number, seed: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  let state = seed;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  const values: number[] = [];
  while (values.length < count) {
    view.setUint32(0, next());
    view.setUint32(4, next());
    const v = view.getFloat64(0);
    if (!Number.isNaN(v)) values.push(v);
  }
  return values;
}

Deno.test("floatRepr lays numbers out as Python does at the edges of its forms", () => {
  assert.deepEqual(
    [1e16, 9999999999999998, 1e-4, 9.999e-5, 1e21, 1e-7, 123456789012345680, -0, 2.5, 1e300].map(
      floatRepr,
    ),
    [
      "1e+16",
      "9999999999999998.0",
      "0.0001",
      "9.999e-05",
      "1e+21",
      "1e-07",
      "1.2345678901234568e+17",
      "-0.0",
      "2.5",
      "1e+300",
    ],
  );
});

Deno.test({
  name: "floatRepr equals Python's repr on 3,000 edge and random doubles",
  ignore: skipTorch,
  fn: async () => {
    const values = [...edgeValues(), ...randomDoubles(3000 - edgeValues().length, 42)];
    const bits = values.map((v) => {
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, v);
      return view.getBigUint64(0).toString(16).padStart(16, "0");
    });
    const script = "import struct, sys, json\n" +
      "print(json.dumps([repr(struct.unpack('>d', bytes.fromhex(h))[0]) for h in json.loads(sys.stdin.read())]))";
    const file = await Deno.makeTempFile({ suffix: ".json" });
    try {
      await Deno.writeTextFile(file, JSON.stringify(bits));
      const out = await runPython([
        "-c",
        script.replace("sys.stdin.read()", `open(${JSON.stringify(file)}).read()`),
      ]);
      const expected = JSON.parse(out) as string[];
      const differ = values.map((v, i) => [floatRepr(v), expected[i]]).filter(([a, b]) => a !== b);
      assert.deepEqual(differ.slice(0, 10), []);
    } finally {
      await Deno.remove(file);
    }
  },
});
