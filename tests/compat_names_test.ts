// Python 2 names in protocol 0-2 pickles: the embedded tables are CPython's
// _compat_pickle, and globals are spelled as CPython's pickler spells them.
import assert from "node:assert/strict";
import { pickle } from "../lib/pickle/pickler.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { unpickle } from "../lib/pickle/unpickler.ts";
import { generatedModule, readTables } from "../tools/build_compat_names.ts";
import { python, runPython, skipTorch } from "./_python.ts";

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

Deno.test({
  name: "the embedded name tables are CPython's _compat_pickle (deno task compat-names)",
  ignore: skipTorch,
  fn: async () => {
    if (python === undefined) throw new Error("REQUIRE_TORCH=1 but python3 was not found");
    const embedded = new URL("../lib/pickle/_compat_tables.ts", import.meta.url);
    assert.equal(await Deno.readTextFile(embedded), generatedModule(await readTables(python)));
  },
});

// Python 3 globals CPython renames for protocol 2, by name and by module.
const GLOBALS = [
  ["collections", "UserDict"],
  ["builtins", "zip"],
  ["builtins", "ConnectionError"],
  ["builtins", "set"],
  ["queue", "Queue"],
  ["itertools", "filterfalse"],
  ["subprocess", "getoutput"],
  ["functools", "reduce"],
  ["copyreg", "_reconstructor"],
  ["collections", "OrderedDict"],
] as const;

Deno.test({
  name: "globals are written as CPython's protocol 2 pickler writes them, and read back",
  ignore: skipTorch,
  fn: async () => {
    const script = "import importlib, pickle, sys\n" +
      "for spec in sys.argv[1:]:\n" +
      "    module, name = spec.split(':')\n" +
      "    print(pickle.dumps(getattr(importlib.import_module(module), name), 2).hex())\n";
    const expected = (await runPython(["-c", script, ...GLOBALS.map((g) => g.join(":"))]))
      .trim().split("\n");
    GLOBALS.forEach(([module, name], i) => {
      const bytes = pickle(PyGlobal.of(module, name));
      assert.equal([...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""), expected[i]);
      // Python 3's OSError subclasses are all OSError in Python 2: CPython loses them too.
      const back = unpickle(bytes) as PyGlobal;
      const loaded = name === "ConnectionError" ? "OSError" : name;
      assert.deepEqual([back.module, back.name], [module, loaded]);
    });
  },
});

Deno.test("Python 2 spellings decode to Python 3 names, a (module, name) pair first", () => {
  const global = (text: string) => unpickle(latin1(`c${text}\n.`)) as PyGlobal;
  const cases: Array<[string, string]> = [
    ["UserDict\nIterableUserDict", "collections.UserDict"],
    ["itertools\nizip", "builtins.zip"],
    ["Queue\nQueue", "queue.Queue"],
    ["exceptions\nOSError", "builtins.OSError"],
    ["__builtin__\nunicode", "builtins.str"],
    ["cPickle\nloads", "pickle.loads"],
  ];
  for (const [spelled, path] of cases) assert.equal(global(spelled).path, path);
});
