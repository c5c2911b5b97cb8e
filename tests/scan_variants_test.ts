// Beyond the corpus: the same classes of attack in other spellings. Every
// dangerous global in every opcode form and protocol, every split of a
// frame across a global's arguments, every walk from a module attribute.
// Where CPython is installed, it confirms the scanner lists every global it
// looks up.
import assert from "node:assert/strict";
import { scanPickle } from "../lib/scan/scan_pickle.ts";
import { scanSource } from "../lib/scan/scan_file.ts";
import { BytesSource } from "../lib/zip/source.ts";
import { cpythonLookups } from "./_cpython_lookups.ts";
import { skipTorch } from "./_python.ts";
import { npyObjectArray, torchZip } from "./_scan_containers.ts";
import {
  asm,
  BU,
  CALL,
  EMPTY_TUPLE,
  FRAME,
  GLOBAL,
  INST,
  MARK,
  MEMOIZE,
  NEWOBJ,
  OBJ,
  PROTO,
  REDUCE,
  SG,
  STACK_GLOBAL,
  STOP,
  STRING,
  SU,
  TUPLE,
  TUPLE1,
} from "./_pickle_asm.ts";

// The misses and their neighbours: code, processes, files, network,
// other unpicklers, reached by name.
const DANGEROUS: Array<[string, string]> = [
  ["pip", "main"],
  ["pip._internal.cli.main", "main"],
  ["venv", "create"],
  ["ensurepip", "_run_pip"],
  ["uuid", "_get_command_stdout"],
  ["torch.utils.collect_env", "run"],
  ["torch.utils.collect_env", "run_and_read_all"],
  ["_osx_support", "_read_output"],
  ["_aix_support", "_read_cmd_output"],
  ["_pyrepl.pager", "pipe_pager"],
  ["test.support.script_helper", "assert_python_ok"],
  ["logging", "FileHandler"],
  ["logging.handlers", "SocketHandler"],
  ["distutils.file_util", "write_file"],
  ["imaplib", "IMAP4"],
  ["imaplib", "IMAP4_stream"],
  ["poplib", "POP3"],
  ["nntplib", "NNTP"],
  ["smtplib", "SMTP"],
  ["ssl", "get_server_certificate"],
  ["aiohttp.client", "ClientSession"],
  ["asyncio.unix_events", "_UnixSubprocessTransport._start"],
  ["asyncio.subprocess", "create_subprocess_shell"],
  ["_interpreters", "create"],
  ["torch._dynamo.guards", "GuardBuilder.get"],
  ["torch._inductor.codecache", "compile_file"],
  ["torch.utils.bottleneck.__main__", "run_cprofile"],
  ["torch.utils._config_module", "ConfigModule.load_config"],
  ["numpy.lib.format", "read_array"],
  ["numpy.lib.npyio", "load"],
  ["numpy.lib._npyio_impl", "load"],
  ["numpy", "load"],
  ["numpy.testing._private.utils", "runstring"],
  ["numpy.f2py.crackfortran", "getlincoef"],
  ["torch.serialization", "load"],
  ["torch.storage", "_load_from_bytes"],
  ["torch.hub", "load"],
  ["torch.jit", "load"],
  ["torch.package.package_importer", "PackageImporter"],
  ["pickle", "loads"],
  ["_pickle", "Unpickler"],
  ["dill", "loads"],
  ["cloudpickle", "loads"],
  ["joblib", "load"],
  ["marshal", "loads"],
  ["shelve", "open"],
  ["os", "system"],
  ["posix", "execv"],
  ["nt", "spawnv"],
  ["subprocess", "check_output"],
  ["pty", "spawn"],
  ["runpy", "run_module"],
  ["code", "InteractiveInterpreter.runsource"],
  ["timeit", "timeit"],
  ["cProfile", "run"],
  ["pdb", "run"],
  ["bdb", "Bdb.run"],
  ["trace", "Trace.runctx"],
  ["doctest", "debug_script"],
  ["pydoc", "locate"],
  ["pkgutil", "resolve_name"],
  ["importlib", "import_module"],
  ["importlib.util", "spec_from_file_location"],
  ["ctypes", "CDLL"],
  ["webbrowser", "open"],
  ["shutil", "rmtree"],
  ["tempfile", "NamedTemporaryFile"],
  ["socket", "socket"],
  ["http.client", "HTTPSConnection"],
  ["urllib.request", "urlretrieve"],
  ["requests", "post"],
  ["functools", "partial"],
  ["_operator", "methodcaller"],
  ["types", "FunctionType"],
  ["builtins", "eval"],
  ["builtins", "exec"],
  ["builtins", "__import__"],
  ["builtins", "open"],
  ["builtins", "breakpoint"],
  ["sys", "settrace"],
  ["signal", "signal"],
  ["threading", "Thread"],
  ["multiprocessing.util", "spawnv_passfds"],
  ["platform", "popen"],
  ["mailcap", "findmatch"],
  ["transformers.dynamic_module_utils", "get_class_from_dynamic_module"],
  ["mlflow.projects.backend.local", "_run_entry_point"],
  ["pandas.io.pickle", "read_pickle"],
  ["pandas", "read_csv"],
  ["sympy", "sympify"],
  ["yaml", "unsafe_load"],
  ["IPython", "get_ipython"],
  ["fickling.hook", "remove_hook"],
  ["_winapi", "CreateProcess"],
  ["concurrent.futures", "ThreadPoolExecutor"],
  ["weakref", "finalize"],
  ["hydra.utils", "instantiate"],
  ["omegaconf.omegaconf", "OmegaConf.load"],
  ["fsspec", "open"],
  ["numpy", "DataSource"],
  ["torch", "save"],
  ["torch.ops", "load_library"],
  ["torch.distributed.rpc", "rpc_sync"],
  ["lightning.fabric.utilities.cloud_io", "_load"],
  ["typing", "get_type_hints"],
  ["typing", "ForwardRef._evaluate"],
  ["dataclasses", "_create_fn"],
  ["rlcompleter", "Completer.attr_matches"],
  ["optparse", "Values.read_file"],
  ["warnings", "_getcategory"],
  ["tracemalloc", "Snapshot.load"],
  ["gzip", "open"],
  ["torch.testing._internal.common_utils", "shell"],
  ["torch.utils.model_zoo", "load_url"],
  ["torch.utils.benchmark", "Timer"],
  ["torch.distributed.elastic.rendezvous.etcd_server", "EtcdServer.start"],
];

/** The ways a pickle can call `module.name('x')`, in every protocol. */
function forms(module: string, name: string): Record<string, Uint8Array> {
  const arg = SU("x");
  return {
    "p0 GLOBAL": asm(GLOBAL(module, name), MARK, STRING("'x'"), TUPLE, REDUCE, STOP),
    "p0 INST": asm(MARK, STRING("'x'"), INST(module, name), STOP),
    "p1 OBJ": asm(MARK, GLOBAL(module, name), STRING("'x'"), OBJ, STOP),
    "p2 GLOBAL": asm(PROTO(2), GLOBAL(module, name), BU("x"), TUPLE1, REDUCE, STOP),
    "p2 NEWOBJ": asm(PROTO(2), GLOBAL(module, name), EMPTY_TUPLE, NEWOBJ, STOP),
    "p3 STACK_GLOBAL of STRINGs": asm(
      PROTO(3),
      STRING(`'${module}'`),
      STRING(`'${name}'`),
      STACK_GLOBAL,
      STOP,
    ),
    "p4 framed": (() => {
      const body = asm(
        SU(module),
        MEMOIZE,
        SU(name),
        MEMOIZE,
        STACK_GLOBAL,
        MEMOIZE,
        arg,
        MEMOIZE,
        TUPLE1,
        REDUCE,
        STOP,
      );
      return asm(PROTO(4), FRAME(body.length), body);
    })(),
    "p5 no frame": asm(PROTO(5), SG(module, name), arg, TUPLE1, REDUCE, STOP),
    // Reached through a module attribute of an allowed module.
    "p4 walk from torch": asm(PROTO(4), SU("torch"), SU(`${module}.${name}`), STACK_GLOBAL, STOP),
  };
}

Deno.test("variants: every dangerous global is dangerous in every opcode form and protocol", () => {
  for (const [module, name] of DANGEROUS) {
    for (const [form, data] of Object.entries(forms(module, name))) {
      const result = scanPickle(data);
      assert.equal(result.verdict, "dangerous", `${module}.${name} as ${form}`);
    }
  }
});

Deno.test("variants: dangerous in every container, as in data.pkl", async () => {
  for (const [module, name] of DANGEROUS.slice(0, 20)) {
    const pickle = forms(module, name)["p2 GLOBAL"];
    for (
      const [container, data] of [
        ["zip", await torchZip(pickle)],
        ["deflated zip", await torchZip(pickle, { method: 8 })],
        ["npy", npyObjectArray(pickle)],
        ["bare", pickle],
      ] as const
    ) {
      const scan = await scanSource(new BytesSource(data), container);
      assert.equal(scan.verdict, "dangerous", `${module}.${name} in ${container}`);
    }
  }
});

/** Every split of a FRAME over `body`: the frame ends after 1, 2, ... bytes. */
function splits(
  body: Uint8Array,
  before: Uint8Array = new Uint8Array(),
): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (let n = 1; n < body.length; n++) {
    out[`frame of ${n}`] = asm(PROTO(5), before, FRAME(n), body);
  }
  return out;
}

const GLOBAL_BODY = asm("cmac", "os\nsystem\n", EMPTY_TUPLE, REDUCE, STOP);
const STACK_BODY = asm(SU("os"), SU("system"), STACK_GLOBAL, EMPTY_TUPLE, REDUCE, STOP);
const INST_BODY = asm(MARK, "ibuiltins\neval\n", STOP);

Deno.test("variants: no split of a frame over a global's arguments scans clean", () => {
  for (
    const [label, body] of [["GLOBAL", GLOBAL_BODY], ["STACK_GLOBAL", STACK_BODY], [
      "INST",
      INST_BODY,
    ]] as const
  ) {
    for (const [split, data] of Object.entries(splits(body))) {
      assert.notEqual(scanPickle(data).verdict, "clean", `${label}, ${split}`);
    }
  }
});

Deno.test({
  name: "variants: every global CPython looks up, whatever the split or the form, is listed",
  ignore: skipTorch,
  async fn() {
    const samples: Record<string, Uint8Array> = {};
    for (
      const [label, body] of [["GLOBAL", GLOBAL_BODY], ["STACK_GLOBAL", STACK_BODY], [
        "INST",
        INST_BODY,
      ]] as const
    ) {
      for (const [split, data] of Object.entries(splits(body))) {
        samples[`${label}, ${split}`] = data;
      }
    }
    for (const [module, name] of DANGEROUS.slice(0, 10)) {
      for (const [form, data] of Object.entries(forms(module, name))) {
        samples[`${module}.${name} ${form}`] = data;
      }
    }
    const seen = await cpythonLookups(samples);
    let lookups = 0;
    for (const [label, data] of Object.entries(samples)) {
      const listed = new Set(
        scanPickle(data).globals.flatMap((g) => [g.path, g.spelling ?? g.path]),
      );
      for (const global of seen[label]) {
        lookups++;
        assert.ok(listed.has(global), `${label}: CPython looks up ${global}`);
      }
    }
    assert.ok(lookups > 60, `${lookups} lookups`);
    // Some splits make CPython read os.system where a linear reader reads macos.system.
    assert.ok(
      Object.entries(seen).some(([label, g]) =>
        label.startsWith("GLOBAL") && g.includes("os.system")
      ),
    );
  },
});

Deno.test("variants: protocol 2 getattr chains walk like dotted names", () => {
  // getattr(getattr(torch, 'os'), 'system'): protocol 2's spelling of torch.os.system.
  const chain = asm(
    PROTO(2),
    CALL(
      GLOBAL("__builtin__", "getattr"),
      CALL(GLOBAL("__builtin__", "getattr"), GLOBAL("torch", "serialization"), BU("pickle")),
      BU("loads"),
    ),
    STOP,
  );
  assert.equal(scanPickle(chain).verdict, "dangerous");
  const nested = asm(
    PROTO(2),
    CALL(
      GLOBAL("__builtin__", "getattr"),
      CALL(GLOBAL("__builtin__", "getattr"), GLOBAL("myproject", "Outer"), BU("Inner")),
      BU("Deep"),
    ),
    STOP,
  );
  const result = scanPickle(nested);
  assert.equal(result.verdict, "unknown");
  assert.ok(
    result.globals.some((g) => g.path === "myproject.Outer.Inner.Deep" && g.rating === "unknown"),
  );
});
