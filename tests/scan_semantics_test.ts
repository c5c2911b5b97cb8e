// The scanner reads pickles as CPython's C unpickler does under torch.load
// (over io.BytesIO): frames, memo, protocol, errors. Each test is a pickle
// whose meaning depends on one of those rules; where Python with torch is
// installed, CPython itself says which globals it looks up.
import assert from "node:assert/strict";
import { scanPickle } from "../lib/scan/scan_pickle.ts";
import type { ScanResult } from "../lib/scan/scan_result.ts";
import { cpythonLookups } from "./_cpython_lookups.ts";
import { skipTorch } from "./_python.ts";
import {
  APPEND,
  asm,
  BINBYTES_LENGTH,
  BINGET,
  BININT1,
  BINPERSID,
  BINPUT,
  BU,
  BUILD,
  BYTES,
  CALL,
  EMPTY_DICT,
  EMPTY_LIST,
  EMPTY_TUPLE,
  EXT1,
  FRAME,
  GET,
  GLOBAL,
  INST,
  LONG_BINPUT,
  MARK,
  MEMOIZE,
  NEWOBJ,
  NEXT_BUFFER,
  NONE,
  POP,
  POP_MARK,
  PROTO,
  PUT,
  REDUCE,
  SETITEM,
  SG,
  STACK_GLOBAL,
  STOP,
  STRING,
  SU,
  TUPLE,
  TUPLE1,
  TUPLE2,
  UNICODE,
} from "./_pickle_asm.ts";

const paths = (r: ScanResult) => r.globals.map((g) => g.path);

/** `part` `n` times over. */
function repeat(part: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(part.length * n);
  for (let i = 0; i < n; i++) out.set(part, i * part.length);
  return out;
}
const ratingOf = (r: ScanResult, path: string) => r.globals.find((g) => g.path === path)?.rating;

const HIDDEN = asm(GLOBAL("os", "system"), MARK, STRING("'echo pwned'"), TUPLE, REDUCE);

/**
 * A BINBYTES whose length straddles a frame: linear readers see 0x107 bytes
 * of data; CPython drops the rest of the frame, reads the length 1 after it,
 * then runs `hidden`.
 */
function straddle(hidden: Uint8Array, before: Uint8Array = new Uint8Array()): Uint8Array {
  const pad = 0x107 - 2 - hidden.length;
  return asm(
    PROTO(5),
    before,
    NONE,
    MARK,
    FRAME(2),
    [0x42, 0x07],
    [0x01, 0x00, 0x00, 0x00],
    "A",
    hidden,
    "N".repeat(pad),
    POP_MARK,
    STOP,
  );
}

/** Pickles whose meaning depends on CPython's reading; checked against CPython below. */
const SAMPLES: Record<string, Uint8Array> = {
  macos: asm(PROTO(5), FRAME(4), "cmac", "os\nsystem\n", EMPTY_TUPLE, REDUCE, STOP),
  osTem: asm(PROTO(4), FRAME(7), "cos\nsys", "tem\n", STOP),
  binbytesHidden: straddle(HIDDEN),
  // The hidden part fetches memo slots that linear readers never fetch.
  memoHidden: straddle(
    asm(BINGET(7), BINGET(8), STACK_GLOBAL, MARK, SU("id"), TUPLE, REDUCE),
    asm(SU("os"), BINPUT(7), POP, SU("system"), BINPUT(8), POP),
  ),
  binbytesCrossing: asm(PROTO(5), FRAME(5), BINBYTES_LENGTH(3), "AAA", STOP),
  frameInFrame: asm(PROTO(5), FRAME(11), FRAME(1), NONE, STOP),
  unicodeCrossing: asm(PROTO(5), FRAME(4), [0x8c, 5], "abc", "de", STOP),
  wellFramed: asm(PROTO(5), FRAME(2), EMPTY_LIST, MEMOIZE, FRAME(3), BININT1(1), APPEND, STOP),
  oversizedFrame: asm(
    GLOBAL("os", "system"),
    MARK,
    STRING("'x'"),
    TUPLE,
    REDUCE,
    FRAME(1000),
    STOP,
  ),
  memoizeCount: asm(
    PROTO(4),
    SU("os"),
    PUT(5),
    SU("system"),
    MEMOIZE,
    POP,
    POP,
    SU("torch"),
    BINPUT(2),
    POP,
    GET(5),
    GET(1),
    STACK_GLOBAL,
    STOP,
  ),
  putOverwrite: asm(
    SU("torch"),
    PUT(0),
    POP,
    SU("os"),
    PUT(0),
    POP,
    GET(0),
    SU("system"),
    STACK_GLOBAL,
    STOP,
  ),
  putText: asm(
    SU("os"),
    PUT(" 1_0 "),
    POP,
    SU("system"),
    PUT("+3"),
    POP,
    GET("10"),
    GET(3),
    STACK_GLOBAL,
    STOP,
  ),
  compatP0: asm(GLOBAL("__builtin__", "eval"), STOP),
  compatP3: asm(PROTO(3), GLOBAL("__builtin__", "eval"), STOP),
  protoMidstream: asm(PROTO(4), PROTO(2), SG("__builtin__", "eval"), STOP),
  dottedP2: asm(PROTO(2), GLOBAL("torch", "os.system"), STOP),
  dottedP4: asm(PROTO(4), GLOBAL("torch", "os.system"), STOP),
  escapes: asm(STRING("'o\\x73'"), UNICODE("sy\\u0073tem"), STACK_GLOBAL, STOP),
};

Deno.test("frames: GLOBAL 'macos\\nsystem' in a 4-byte frame is os.system under torch.load", () => {
  const data = SAMPLES.macos;
  const result = scanPickle(data);
  assert.equal(result.verdict, "dangerous");
  assert.equal(ratingOf(result, "os.system"), "dangerous");
  // The linear reading (pickle.loads) is scanned too.
  assert.ok(paths(result).includes("macos.system"));
  assert.ok(result.findings.some((f) => /frame boundary/.test(f.message) && f.offset === 11));
});

Deno.test("frames: a frame ending inside the name reads the rest from after the frame", () => {
  // FRAME(9) holds "cos\nsys"; CPython drops "sys" and reads "tem\n": os.tem.
  const data = SAMPLES.osTem;
  const result = scanPickle(data);
  assert.equal(ratingOf(result, "os.tem"), "dangerous");
  assert.equal(result.verdict, "dangerous");
});

Deno.test("frames: a BINBYTES straddling the frame end hides a call from linear readers", () => {
  assert.equal(ratingOf(scanPickle(SAMPLES.binbytesHidden), "os.system"), "dangerous");
  // What the hidden part fetches from the memo is known too: the scan starts
  // over keeping every slot when CPython's reading fetches one the linear
  // prescan did not expect.
  const memo = scanPickle(SAMPLES.memoHidden);
  assert.equal(ratingOf(memo, "os.system"), "dangerous");
});

Deno.test("frames: crossings the decoder refuses are findings, never clean", () => {
  // An argument that starts right after the frame (the opcode byte is in
  // it), a FRAME opened inside a frame, a string continuing past the frame.
  for (const name of ["binbytesCrossing", "frameInFrame", "unicodeCrossing"]) {
    const result = scanPickle(SAMPLES[name]);
    assert.equal(result.verdict, "unknown", name);
    assert.ok(result.findings.some((f) => /frame boundary/.test(f.message)), name);
  }
  // Frames that hold whole opcodes are fine, however many.
  assert.equal(scanPickle(SAMPLES.wellFramed).verdict, "clean");
});

Deno.test("frames: a frame longer than the data stops the unpickler after what ran", () => {
  const result = scanPickle(SAMPLES.oversizedFrame);
  assert.equal(result.verdict, "dangerous");
  assert.match(result.error!, /truncated/);
});

Deno.test("memo: MEMOIZE stores at the number of occupied slots; PUT overwrites", () => {
  // PUT 5 then MEMOIZE stores at 1; GET 1 is "system", not the decoy.
  assert.deepEqual(paths(scanPickle(SAMPLES.memoizeCount)), ["os.system"]);
  assert.deepEqual(paths(scanPickle(SAMPLES.putOverwrite)), ["os.system"]);
  // Text indices read like int(): spaces, a sign, underscores.
  assert.deepEqual(paths(scanPickle(SAMPLES.putText)), ["os.system"]);
});

Deno.test("memo: values of overwritten slots are the last ones put", () => {
  // LONG_BINPUT of one value per slot, then a GET of an early slot.
  const parts: Uint8Array[] = [
    asm(PROTO(2), SU("os"), LONG_BINPUT(0), SU("system"), LONG_BINPUT(1)),
  ];
  const filler = asm(NONE, LONG_BINPUT(0), POP);
  for (let i = 0; i < 1000; i++) parts.push(filler.slice());
  // Overwrite slot 0 with "x": the GET must see the last value.
  parts.push(asm(GET(1), POP, BINGET(0), STOP));
  const result = scanPickle(asm(...parts));
  assert.equal(result.verdict, "clean");
  assert.equal(result.error, undefined);
});

Deno.test("protocol: _compat_pickle applies only under protocol < 3; both spellings are rated", () => {
  // No PROTO: protocol 0, so __builtin__.eval is builtins.eval.
  const p0 = scanPickle(SAMPLES.compatP0);
  assert.deepEqual(p0.globals.map((g) => [g.path, g.spelling, g.rating]), [
    ["builtins.eval", "__builtin__.eval", "dangerous"],
  ]);
  // PROTO 3: not mapped (the import of __builtin__ fails), yet dangerous:
  // ckptkit's decoder maps it and rewrites it live.
  const p3 = scanPickle(SAMPLES.compatP3);
  assert.deepEqual(p3.globals.map((g) => [g.path, g.rating]), [["__builtin__.eval", "dangerous"]]);
  // Protocol 2 spellings of allowed globals are allowed.
  const set = scanPickle(asm(PROTO(2), GLOBAL("__builtin__", "set"), MARK, TUPLE, REDUCE, STOP));
  assert.equal(set.verdict, "clean");
  // PROTO may repeat anywhere; the last one decides.
  assert.deepEqual(paths(scanPickle(SAMPLES.protoMidstream)), ["builtins.eval"]);
  // Dotted names are rated as if walked, whatever the protocol.
  assert.equal(scanPickle(SAMPLES.dottedP2).verdict, "dangerous");
  assert.equal(scanPickle(SAMPLES.dottedP4).verdict, "dangerous");
});

Deno.test("STACK_GLOBAL: STRING and UNICODE operands, escapes decoded; computed operands are dangerous", () => {
  assert.deepEqual(paths(scanPickle(SAMPLES.escapes)), ["os.system"]);
  const computed = asm(
    PROTO(4),
    CALL(GLOBAL("builtins", "str"), SU("os")),
    SU("system"),
    STACK_GLOBAL,
    STOP,
  );
  const result = scanPickle(computed);
  assert.equal(result.verdict, "dangerous");
  assert.ok(result.findings.some((f) => /computed at load time/.test(f.message)));
  // A bytes operand stops CPython ("STACK_GLOBAL requires str"); what ran before counts.
  const bytesOperand = asm(
    CALL(GLOBAL("os", "system"), SU("id")),
    POP,
    BYTES(new Uint8Array([0x6f])),
    SU("x"),
    STACK_GLOBAL,
    STOP,
  );
  const stopped = scanPickle(bytesOperand);
  assert.equal(stopped.verdict, "dangerous");
  assert.match(stopped.error!, /requires str/);
});

Deno.test("errors: everything before the error counts, nothing after it runs", () => {
  for (
    const data of [
      asm(CALL(GLOBAL("os", "system"), SU("id")), GET(99), STOP),
      asm(CALL(GLOBAL("os", "system"), SU("id")), PROTO(6), STOP),
      asm(CALL(GLOBAL("os", "system"), SU("id")), [0xff]),
      asm(CALL(GLOBAL("os", "system"), SU("id"))),
      asm(CALL(GLOBAL("os", "system"), SU("id")), POP, STOP),
    ]
  ) {
    const result = scanPickle(data);
    assert.equal(result.verdict, "dangerous");
    assert.ok(result.error !== undefined);
  }
  // Underflow and MARK errors are CPython's, exactly.
  assert.match(scanPickle(asm(TUPLE, STOP)).error!, /could not find MARK/);
  assert.match(scanPickle(asm(MARK, POP, POP, STOP)).error!, /stack underflow/);
  assert.match(scanPickle(asm(NONE, MARK, TUPLE2, STOP)).error!, /unexpected MARK found/);
  assert.match(scanPickle(asm(NEXT_BUFFER, STOP)).error!, /out-of-band/);
  // A benign pickle that fails is unknown, never clean.
  assert.equal(scanPickle(asm(NONE, GET(3), STOP)).verdict, "unknown");
  assert.equal(scanPickle(new TextEncoder().encode("\x89PNG\r\n")).verdict, "unknown");
});

Deno.test("after STOP: torch.load ignores the rest, readers of several pickles run it", () => {
  const benign = asm(PROTO(2), NONE, STOP);
  const evil = asm(PROTO(2), CALL(GLOBAL("os", "system"), SU("id")), STOP);
  const result = scanPickle(asm(benign, evil));
  assert.equal(result.verdict, "dangerous");
  assert.ok(result.findings.some((f) => /bytes after STOP/.test(f.message)));
  const junk = scanPickle(asm(benign, "\n\n\t\t"));
  assert.equal(junk.verdict, "unknown");
  // As a bare file of pickles, more pickles are normal.
  assert.equal(
    scanPickle(asm(benign, benign), { stream: "all", loader: "plain" }).verdict,
    "clean",
  );
});

Deno.test("EXT, PERSID and BINPERSID: resolved by the loading process, or refused by torch", () => {
  assert.equal(scanPickle(asm(EXT1(200), STOP)).verdict, "unknown");
  assert.equal(scanPickle(asm(PERSID_LINE("x"), STOP)).verdict, "unknown");
  const module = asm(
    MARK,
    SU("module"),
    GLOBAL("x", "Y"),
    SU("f"),
    SU("src"),
    TUPLE,
    BINPERSID,
    STOP,
  );
  assert.equal(scanPickle(module).verdict, "unknown");
  const storage = asm(
    MARK,
    SU("storage"),
    GLOBAL("torch", "FloatStorage"),
    SU("0"),
    SU("cpu"),
    BININT1(4),
    TUPLE,
    BINPERSID,
    STOP,
  );
  assert.equal(scanPickle(storage).verdict, "clean");
  // Outside torch.load there is no persistent_load: the load fails there.
  assert.equal(scanPickle(storage, { loader: "plain" }).verdict, "unknown");
  // torch.load ignores the module of a storage type name; plain pickle imports it.
  const shortcut = asm(GLOBAL("definitely_not_a_module", "FloatStorage"), STOP);
  assert.equal(scanPickle(shortcut).verdict, "clean");
  assert.equal(scanPickle(shortcut, { loader: "plain" }).verdict, "unknown");
});

function PERSID_LINE(id: string): string {
  return `P${id}\n`;
}

Deno.test("shapes: getattr is allowed for enum members and nested classes only", () => {
  const enumMember = asm(
    PROTO(2),
    CALL(
      GLOBAL("__builtin__", "getattr"),
      GLOBAL("lightning.pytorch.trainer.states", "TrainerFn"),
      BU("FITTING"),
    ),
    STOP,
  );
  assert.equal(scanPickle(enumMember).verdict, "clean");
  const userEnum = asm(
    CALL(GLOBAL("builtins", "getattr"), GLOBAL("myproject", "Color"), SU("RED")),
    STOP,
  );
  const user = scanPickle(userEnum);
  assert.equal(user.verdict, "unknown");
  assert.equal(ratingOf(user, "builtins.getattr"), "allowed");
  for (
    const [name, data] of [
      [
        "dunder",
        asm(
          CALL(GLOBAL("builtins", "getattr"), GLOBAL("collections", "OrderedDict"), SU("__init__")),
          STOP,
        ),
      ],
      [
        "sunder",
        asm(
          CALL(GLOBAL("builtins", "getattr"), GLOBAL("myproject", "Color"), SU("_missing_")),
          STOP,
        ),
      ],
      ["module", asm(CALL(GLOBAL("builtins", "getattr"), GLOBAL("os", "path"), SU("join")), STOP)],
      [
        "result-called",
        asm(
          CALL(
            CALL(
              GLOBAL("builtins", "getattr"),
              GLOBAL("lightning.pytorch.trainer.states", "TrainerFn"),
              SU("FITTING"),
            ),
          ),
          STOP,
        ),
      ],
      [
        "computed-name",
        asm(
          CALL(
            GLOBAL("builtins", "getattr"),
            GLOBAL("myproject", "Color"),
            CALL(GLOBAL("builtins", "str"), SU("x")),
          ),
          STOP,
        ),
      ],
      [
        "three-args",
        asm(CALL(GLOBAL("builtins", "getattr"), GLOBAL("myproject", "Color"), SU("X"), NONE), STOP),
      ],
      ["as-a-value", asm(MARK, GLOBAL("builtins", "getattr"), TUPLE, STOP)],
      [
        "method-of-instance-called",
        asm(
          CALL(
            CALL(
              GLOBAL("builtins", "getattr"),
              CALL(GLOBAL("collections", "OrderedDict")),
              SU("update"),
            ),
          ),
          STOP,
        ),
      ],
    ] as const
  ) {
    assert.equal(scanPickle(data).verdict, "dangerous", name);
  }
  // On what an unknown global returned: as unknown as that global.
  const onUnknown = asm(
    CALL(GLOBAL("builtins", "getattr"), CALL(GLOBAL("myproject", "make")), SU("join")),
    STOP,
  );
  assert.equal(scanPickle(onUnknown).verdict, "unknown");
  // getattr(parent, 'Inner') is how protocol 2 names a nested class: rated as parent.Inner.
  const nested = scanPickle(
    asm(CALL(GLOBAL("builtins", "getattr"), GLOBAL("torch", "os"), SU("system")), STOP),
  );
  assert.equal(ratingOf(nested, "torch.os.system"), "dangerous");
});

Deno.test("shapes: type(None), typing subscripts, Flag members, X | Y types", () => {
  const noneType = CALL(GLOBAL("__builtin__", "type"), NONE);
  const optional = asm(
    PROTO(2),
    CALL(
      GLOBAL("_operator", "getitem"),
      GLOBAL("typing", "Union"),
      MARK,
      GLOBAL("__builtin__", "long"),
      noneType,
      TUPLE,
    ),
    STOP,
  );
  assert.equal(scanPickle(optional).verdict, "clean");
  const unionType = asm(
    PROTO(2),
    CALL(
      GLOBAL("__builtin__", "reduce"),
      GLOBAL("_operator", "or_"),
      MARK,
      GLOBAL("__builtin__", "long"),
      noneType,
      TUPLE,
    ),
    STOP,
  );
  assert.equal(scanPickle(unionType).verdict, "clean");
  const member = (name: string) =>
    CALL(
      GLOBAL("__builtin__", "getattr"),
      GLOBAL("lightning.pytorch.trainer.states", "TrainerFn"),
      BU(name),
    );
  const flags = asm(
    PROTO(2),
    CALL(GLOBAL("_operator", "or_"), member("FITTING"), member("TESTING")),
    STOP,
  );
  assert.equal(scanPickle(flags).verdict, "clean");
  for (
    const [name, data] of [
      [
        "type-3-args",
        asm(CALL(GLOBAL("builtins", "type"), SU("X"), MARK, TUPLE, EMPTY_DICT), STOP),
      ],
      [
        "getitem-dict",
        asm(CALL(GLOBAL("_operator", "getitem"), GLOBAL("builtins", "__dict__"), SU("eval")), STOP),
      ],
      [
        "getitem-call",
        asm(
          CALL(GLOBAL("_operator", "getitem"), CALL(GLOBAL("builtins", "globals")), SU("x")),
          STOP,
        ),
      ],
      [
        "reduce-other",
        asm(
          CALL(GLOBAL("functools", "reduce"), GLOBAL("builtins", "max"), MARK, BININT1(1), TUPLE),
          STOP,
        ),
      ],
      [
        "or-mixed",
        asm(
          CALL(
            GLOBAL("_operator", "or_"),
            member("FITTING"),
            CALL(GLOBAL("builtins", "str"), SU("x")),
          ),
          STOP,
        ),
      ],
    ] as const
  ) {
    assert.equal(scanPickle(data).verdict, "dangerous", name);
  }
});

Deno.test("shapes: BUILD on a global, AttributeDict BUILD, call gadgets, deferred calls", () => {
  const onClass = asm(
    GLOBAL("collections", "OrderedDict"),
    MARK,
    NONE,
    EMPTY_DICT,
    SU("x"),
    NONE,
    SETITEM,
    TUPLE,
    BUILD,
    STOP,
  );
  assert.equal(scanPickle(onClass).verdict, "dangerous");
  const onModule = asm(PROTO(4), SG("torch", "_utils"), EMPTY_DICT, BUILD, STOP);
  assert.equal(scanPickle(onModule).verdict, "dangerous");
  const attributeDict = GLOBAL("pytorch_lightning.utilities.parsing", "AttributeDict");
  const filled = asm(
    PROTO(2),
    attributeDict,
    EMPTY_TUPLE,
    NEWOBJ,
    SU("lr"),
    BININT1(1),
    SETITEM,
    STOP,
  );
  assert.equal(scanPickle(filled).verdict, "clean");
  const built = asm(
    PROTO(2),
    attributeDict,
    EMPTY_TUPLE,
    NEWOBJ,
    SU("__setstate__"),
    GLOBAL("collections", "OrderedDict"),
    SETITEM,
    EMPTY_DICT,
    BUILD,
    STOP,
  );
  assert.equal(scanPickle(built).verdict, "dangerous");
  const factory = asm(CALL(GLOBAL("collections", "defaultdict"), GLOBAL("posix", "system")), STOP);
  assert.equal(scanPickle(factory).verdict, "dangerous");
  const listFactory = asm(
    CALL(GLOBAL("collections", "defaultdict"), GLOBAL("__builtin__", "list")),
    STOP,
  );
  assert.equal(scanPickle(listFactory).verdict, "clean");
  const gadget = asm(
    CALL(
      GLOBAL("torch._tensor", "_rebuild_from_type_v2"),
      GLOBAL("posix", "system"),
      GLOBAL("torch", "Tensor"),
      MARK,
      SU("id"),
      TUPLE,
      EMPTY_DICT,
    ),
    STOP,
  );
  assert.equal(scanPickle(gadget).verdict, "dangerous");
  const reconstructor = asm(
    CALL(
      GLOBAL("copy_reg", "_reconstructor"),
      GLOBAL("tempfile", "_TemporaryFileCloser"),
      GLOBAL("__builtin__", "object"),
      NONE,
    ),
    STOP,
  );
  assert.equal(scanPickle(reconstructor).verdict, "dangerous");
  const hooks = asm(
    PROTO(2),
    CALL(
      GLOBAL("torch._utils", "_rebuild_parameter"),
      NONE,
      [0x89],
      CALL(GLOBAL("collections", "OrderedDict")),
    ),
    STOP,
  );
  assert.equal(scanPickle(hooks).verdict, "clean");
  const withHooks = asm(
    PROTO(2),
    CALL(
      GLOBAL("torch._utils", "_rebuild_parameter"),
      NONE,
      [0x89],
      asm(
        CALL(GLOBAL("collections", "OrderedDict")),
        BININT1(0),
        GLOBAL("myproject", "hook"),
        SETITEM,
      ),
    ),
    STOP,
  );
  assert.equal(scanPickle(withHooks).verdict, "unknown");
  // Calling a class allowed only as a value is unknown.
  const called = asm(
    CALL(GLOBAL("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"), SU("s3://x")),
    STOP,
  );
  assert.equal(scanPickle(called).verdict, "unknown");
  // INST calls with no REDUCE at all.
  assert.equal(scanPickle(asm(MARK, INST("os", "getpid"), STOP)).verdict, "dangerous");
});

Deno.test("nesting: a million levels deep scans without recursion", () => {
  const depth = 1_000_000;
  const data = new Uint8Array(2 + depth * 2 + 2);
  data.set(PROTO(2));
  data.fill(0x28, 2, 2 + depth); // MARK
  data.fill(0x74, 2 + depth, 2 + 2 * depth); // TUPLE
  data.set([0x2e], 2 + 2 * depth); // STOP
  const result = scanPickle(data.subarray(0, 3 + 2 * depth));
  assert.equal(result.verdict, "clean");
  assert.equal(result.error, undefined);
});

Deno.test("nested pickles: payloads of unpicklers are scanned", () => {
  const inner = asm(CALL(GLOBAL("posix", "system"), SU("id")), STOP);
  const outer = asm(PROTO(3), CALL(GLOBAL("pickle", "loads"), BYTES(inner)), STOP);
  const result = scanPickle(outer);
  assert.equal(result.verdict, "dangerous");
  assert.equal(result.nested.length, 1);
  assert.equal(result.nested[0].loader, "pickle.loads");
  assert.deepEqual(paths(result.nested[0].scan!), ["posix.system"]);
});

Deno.test("nested pickles: one payload loaded many times, or wrapped deeply, is scanned once", () => {
  const inner = asm(CALL(GLOBAL("posix", "system"), SU("id")), STOP);
  // _codecs.encode(text, 'latin1') of one memoized text, 20,000 times.
  const encode = asm(GLOBAL("_codecs", "encode"), BINPUT(1), POP);
  const text = asm(BU(String.fromCharCode(...inner)), BINPUT(2), POP);
  const call = asm(
    GLOBAL("pickle", "loads"),
    MARK,
    BINGET(1),
    MARK,
    BINGET(2),
    SU("latin1"),
    TUPLE,
    REDUCE,
    TUPLE,
    REDUCE,
    POP,
  );
  const many = scanPickle(asm(PROTO(2), encode, text, repeat(call, 20_000), NONE, STOP));
  assert.equal(many.nested.length, 1);
  assert.equal(many.nested[0].count, 20_000);
  assert.equal(many.verdict, "dangerous");
  // numpy.load(BytesIO(BytesIO(...(payload)))) a hundred thousand deep.
  const wraps = 100_000;
  const deep = asm(
    PROTO(2),
    GLOBAL("numpy", "load"),
    repeat(asm(GLOBAL("_io", "BytesIO"), MARK), wraps),
    BYTES(inner),
    repeat(asm(TUPLE, REDUCE), wraps),
    TUPLE1,
    REDUCE,
    STOP,
  );
  const wrapped = scanPickle(deep);
  assert.equal(wrapped.nested.length, 1);
  assert.deepEqual(paths(wrapped.nested[0].scan!), ["posix.system"]);
});

Deno.test({
  name: "differential: every global CPython's unpickler looks up is one the scanner lists",
  ignore: skipTorch,
  async fn() {
    const seen = await cpythonLookups(SAMPLES);
    assert.equal(Object.keys(seen).length, Object.keys(SAMPLES).length);
    for (const [name, data] of Object.entries(SAMPLES)) {
      const listed = new Set(
        scanPickle(data).globals.flatMap((g) => [g.path, g.spelling ?? g.path]),
      );
      for (const global of seen[name]) {
        assert.ok(listed.has(global), `${name}: CPython looks up ${global}`);
      }
    }
    // The cases mean what they say: CPython reads the hidden globals.
    assert.ok(seen.macos.includes("os.system"));
    assert.ok(seen.osTem.includes("os.tem"));
    assert.ok(seen.binbytesHidden.includes("os.system"));
    assert.ok(seen.memoHidden.includes("os.system"));
    assert.ok(seen.memoizeCount.includes("os.system"));
    assert.ok(seen.dottedP4.includes("torch.os.system"));
  },
});
