// The policy: allowlist, denylist, unknown, dotted names walked segment by
// segment, and what users may add.
import assert from "node:assert/strict";
import { CkptkitError } from "../lib/errors.ts";
import { ScanPolicy } from "../lib/scan/policy.ts";
import allowlist from "../lib/scan/allowlist.json" with { type: "json" };
import denylist from "../lib/scan/denylist.json" with { type: "json" };
import { moduleNamesDocument, readModuleNames } from "../tools/build_module_names.ts";
import { python, skipTorch } from "./_python.ts";

const policy = ScanPolicy.default;
const rating = (module: string, name: string, p = policy) => p.rate(module, name).rating;

Deno.test("policy: what weights_only and training checkpoints load is allowed", () => {
  for (
    const [module, name] of [
      ["torch._utils", "_rebuild_tensor_v2"],
      ["torch._utils", "_rebuild_parameter"],
      ["torch", "FloatStorage"],
      ["torch", "bfloat16"],
      ["torch", "float8_e4m3fn"],
      ["torch.storage", "UntypedStorage"],
      ["torch", "Size"],
      ["torch", "device"],
      ["collections", "OrderedDict"],
      ["collections", "defaultdict"],
      ["_codecs", "encode"],
      ["numpy.core.multiarray", "_reconstruct"],
      ["numpy._core.multiarray", "_reconstruct"],
      ["numpy", "dtype"],
      ["builtins", "set"],
      ["copyreg", "_reconstructor"],
      ["omegaconf.dictconfig", "DictConfig"],
      ["omegaconf.nodes", "EnumNode"],
      ["pytorch_lightning.utilities.parsing", "AttributeDict"],
      ["lightning.fabric.utilities.data", "AttributeDict"],
      ["lightning.pytorch.trainer.states", "TrainerFn"],
      ["anemoi.models.migrations.migrator", "MigrationMetadata"],
      ["anemoi.training.schemas.training", "TrainingSchema"],
      ["pathlib", "PosixPath"],
      ["datetime", "datetime"],
      ["typing", "Union"],
      ["torch.optim.lr_scheduler", "OneCycleLR"],
      // Allowlisted exactly inside denylisted modules: the allowlist comes first.
      ["uuid", "UUID"],
      ["types", "SimpleNamespace"],
      ["builtins", "getattr"],
    ]
  ) {
    assert.equal(rating(module, name), "allowed", `${module}.${name}`);
  }
  // Primitives that reach code are allowed in one shape only; the scanner checks it.
  for (
    const [module, name, shape] of [
      ["builtins", "getattr", "getattr"],
      ["builtins", "type", "type"],
      ["_operator", "getitem", "getitem"],
      ["functools", "partial", "partial_new"],
      ["copyreg", "_reconstructor", "reconstructor"],
    ]
  ) {
    assert.equal(policy.rate(module, name).entry?.shape, shape, `${module}.${name}`);
  }
});

Deno.test("policy: the globals the bypass suites found are dangerous", () => {
  for (
    const [module, name] of [
      ["posix", "system"],
      ["nt", "system"],
      ["builtins", "eval"],
      ["builtins", "__import__"],
      ["builtins", "setattr"],
      ["builtins", "print"],
      ["pip", "main"],
      ["venv", "create"],
      ["ensurepip", "_run_pip"],
      ["uuid", "_get_command_stdout"],
      ["torch.utils.collect_env", "run"],
      ["_osx_support", "_read_output"],
      ["_aix_support", "_read_cmd_output"],
      ["_pyrepl.pager", "pipe_pager"],
      ["test.support.script_helper", "assert_python_ok"],
      ["logging", "FileHandler"],
      ["distutils.file_util", "write_file"],
      ["imaplib", "IMAP4"],
      ["imaplib", "IMAP4_stream"],
      ["poplib", "POP3"],
      ["nntplib", "NNTP"],
      ["ssl", "get_server_certificate"],
      ["aiohttp.client", "ClientSession"],
      ["asyncio.unix_events", "_UnixSubprocessTransport._start"],
      ["_interpreters", "create"],
      ["torch._dynamo.guards", "GuardBuilder.get"],
      ["torch._inductor.codecache", "compile_file"],
      ["torch.utils.bottleneck.__main__", "run_cprofile"],
      ["torch.utils._config_module", "ConfigModule.load_config"],
      ["numpy.lib.format", "read_array"],
      ["numpy.lib.npyio", "load"],
      ["numpy", "load"],
      ["torch", "load"],
      ["torch.storage", "_load_from_bytes"],
      ["functools", "partialmethod"],
      ["_operator", "attrgetter"],
      ["cloudpickle.cloudpickle", "_make_function"],
      ["fickling.hook", "remove_hook"],
      // Methods of allowed classes that touch files.
      ["pathlib", "Path.write_text"],
      ["pathlib", "PosixPath.unlink"],
    ]
  ) {
    assert.equal(rating(module, name), "dangerous", `${module}.${name}`);
  }
});

Deno.test("policy: dotted names are walked segment by segment", () => {
  const dangerous = [
    // Through a module attribute: every module is reachable from there.
    ["torch", "os.system"],
    ["torch.serialization", "pickle.loads"],
    ["torch", "hub.load"],
    ["pathlib", "os.system"],
    ["numpy", "testing._private.utils.runstring"],
    ["collections", "_sys.modules"],
    ["typing", "sys.modules"],
    ["omegaconf", "omegaconf.os.system"],
    ["torch._utils", "torch.load"],
    ["torch.library", "torch.utils.collect_env.run"],
    ["torch", "utils.data"],
    ["myproject", "os.path.join"],
    // A module as the value (BUILD on it rewrites the module).
    ["torch", "_utils"],
    ["torch", "nn"],
    // Special attributes lead to the interpreter's internals.
    ["builtins", "eval.__call__"],
    ["collections", "namedtuple.__globals__"],
    ["builtins", "object.__subclasses__"],
    ["torch._utils", "_rebuild_tensor_v2.__globals__"],
    ["myproject.config", "Config.__init__"],
    ["myproject.config", "Color._missing_"],
  ];
  for (const [module, name] of dangerous) {
    assert.equal(rating(module, name), "dangerous", `${module}.${name}`);
  }
  const unknown = [
    ["myproject.config", "Outer.Inner"],
    ["collections", "OrderedDict.fromkeys"],
    ["collections", "OrderedDict.<locals>.x"],
    ["", "x"],
  ];
  for (const [module, name] of unknown) {
    assert.equal(rating(module, name), "unknown", `${module}.${name}`);
  }
});

Deno.test("policy: everything else is unknown, with the reason", () => {
  for (
    const [module, name] of [
      ["omegaconf.dictconfig", "DictConfigX"],
      ["myproject.config", "TrainConfig"],
      ["builtins", "len"],
      ["collections.abc", "Iterable"],
      ["__future__", "annotations"],
      ["ast", "parse"],
      ["torch.nn.modules.linear", "Linear"],
      ["anemoi.models.migrations.migrator", "_SerializedRollback"],
    ]
  ) {
    assert.equal(rating(module, name), "unknown", `${module}.${name}`);
  }
  assert.match(policy.rate("myproject", "X").reason, /not on the allowlist/);
  assert.match(policy.rate("posix", "system").reason, /processes/);
  assert.equal(policy.rate("posix", "system").source, "fickling, modelscan, picklescan");
});

Deno.test("policy: users allow their own classes, never what the denylist names", () => {
  const mine = policy.extend({
    allow: [
      "myproject.config.TrainConfig",
      { global: "myproject.enums.*", why: "our enums" },
      "os.system",
      "myproject.types.Mode",
    ],
  });
  assert.equal(rating("myproject.config", "TrainConfig", mine), "allowed");
  assert.equal(rating("myproject.config", "Other", mine), "unknown");
  assert.equal(rating("myproject.enums", "Color", mine), "allowed");
  assert.equal(rating("myproject.enums.sub", "Color", mine), "allowed");
  assert.equal(mine.rate("myproject.enums", "Color").reason, "our enums");
  // Wildcards never cover walks through modules or special names.
  assert.equal(rating("myproject.enums", "os.system", mine), "dangerous");
  assert.equal(rating("myproject.enums", "Color.__init__", mine), "dangerous");
  // The denylist wins over a user entry...
  assert.equal(rating("os", "system", mine), "dangerous");
  // ...except where only the module-path heuristic (a component named like
  // a dangerous module) made it dangerous.
  assert.equal(rating("myproject.types", "Mode"), "dangerous");
  assert.equal(rating("myproject.types", "Mode", mine), "allowed");
  // Users add dangerous names too.
  const strict = policy.extend({ deny: ["myproject.shell.*", "myproject.util.run"] });
  assert.equal(rating("myproject.shell", "x", strict), "dangerous");
  assert.equal(rating("myproject.util", "run", strict), "dangerous");
  assert.equal(rating("myproject.util", "walk", strict), "unknown");
});

Deno.test("policy: malformed entries and policy files are one-line errors", async () => {
  for (const bad of ["os", "os.", ".x", "a b.c", "a.*.b", "1mod.x"]) {
    assert.throws(() => policy.extend({ allow: [bad] }), CkptkitError, bad);
  }
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/policy.json`;
    await Deno.writeTextFile(file, JSON.stringify({ allow: ["myproject.X"], deny: ["bad.*"] }));
    const loaded = await ScanPolicy.fromFile(file);
    assert.equal(rating("myproject", "X", loaded), "allowed");
    assert.equal(rating("bad", "y", loaded), "dangerous");
    for (
      const [text, message] of [
        ["{", /not JSON/],
        ["[]", /expected an object/],
        [JSON.stringify({ allow: "x.y" }), /"allow" must be a list/],
        [JSON.stringify({ allowed: [] }), /unknown key "allowed"/],
        [JSON.stringify({ allow: [3] }), /expected a string/],
        [JSON.stringify({ allow: ["nodot"] }), /expected module.name/],
      ] as const
    ) {
      await Deno.writeTextFile(file, text);
      await assert.rejects(() => ScanPolicy.fromFile(file), (error: Error) => {
        assert.ok(error instanceof CkptkitError);
        assert.match(error.message, /^Cannot read policy file \S+policy\.json: /);
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      });
    }
    await assert.rejects(() => ScanPolicy.fromFile(`${dir}/missing.json`), /no such file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("policy data: every entry has its reason and its source", () => {
  for (const entry of allowlist.entries as Array<Record<string, unknown>>) {
    assert.ok(typeof entry.why === "string" && entry.why.length > 10, JSON.stringify(entry));
    assert.ok(typeof entry.source === "string" && entry.source.length > 5, JSON.stringify(entry));
  }
  const sources = new Set(Object.keys(denylist.sources));
  for (const entry of [...denylist.modules, ...denylist.names] as Array<Record<string, unknown>>) {
    assert.ok(typeof entry.why === "string" && entry.why.length > 5, JSON.stringify(entry));
    const listed = entry.sources as string[];
    assert.ok(listed.length > 0 && listed.every((s) => sources.has(s)), JSON.stringify(entry));
  }
  // At least as wide as the tools it draws on: every wholesale module of
  // picklescan, modelscan and fickling is there.
  const modules = new Set(denylist.modules.map((m) => m.module));
  for (
    const m of [
      "os",
      "subprocess",
      "pip",
      "venv",
      "uuid",
      "_osx_support",
      "_aix_support",
      "_pyrepl",
      "test",
      "ssl",
      "asyncio",
      "aiohttp",
      "bdb",
      "pdb",
      "runpy",
      "pickle",
      "_pickle",
      "webbrowser",
      "numpy.f2py",
      "torch.hub",
      "torch._dynamo",
      "torch._inductor",
      "smtplib",
      "imaplib",
      "poplib",
      "nntplib",
      "ftplib",
      "telnetlib",
      "_interpreters",
    ]
  ) {
    assert.ok(modules.has(m), m);
  }
});

Deno.test({
  name:
    "policy data: module_names.json is what the installed Python and packages have (deno task module-names)",
  ignore: skipTorch,
  fn: async () => {
    if (python === undefined) throw new Error("REQUIRE_TORCH=1 but python3 was not found");
    const committed = new URL("../lib/scan/module_names.json", import.meta.url);
    const generated = moduleNamesDocument(await readModuleNames(python));
    assert.deepEqual(JSON.parse(await Deno.readTextFile(committed)), JSON.parse(generated));
  },
});
