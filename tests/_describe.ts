// The TypeScript side of tests/fixtures/describe.py: the same typed JSON
// description, built from ckptkit's decoding, so tests compare what ckptkit
// reads with what torch.load reads.
import { PyByteArray } from "../lib/pickle/py_bytearray.ts";
import { PyDict } from "../lib/pickle/py_dict.ts";
import { PyFloat } from "../lib/pickle/py_float.ts";
import { PyGlobal } from "../lib/pickle/py_global.ts";
import { PyObject } from "../lib/pickle/py_object.ts";
import { PyFrozenSet, PySet } from "../lib/pickle/py_set.ts";
import { PyStr } from "../lib/pickle/py_str.ts";
import { Tuple } from "../lib/pickle/tuple.ts";
import { readNdarray, readNumpyScalar } from "../lib/torch/ndarray.ts";
import type { Storage } from "../lib/torch/storage.ts";
import { Parameter, Tensor } from "../lib/torch/tensor.ts";

type Node = Record<string, unknown>;

// Dict subclasses whose instances may be empty, so items alone cannot tell.
const DICT_CLASSES = new Set([
  "collections.OrderedDict",
  "collections.defaultdict",
  "pytorch_lightning.utilities.parsing.AttributeDict",
]);

export function floatHex(value: number, nanBits?: Uint8Array): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  if (Number.isNaN(value)) {
    const bits = nanBits ?? new Uint8Array(view.buffer);
    return `nan:${[...bits].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  const sign = view.getUint8(0) & 0x80 ? "-" : "";
  const exponent = (view.getUint16(0) >> 4) & 0x7ff;
  const mantissa = (BigInt(view.getUint32(0) & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  if (exponent === 0 && mantissa === 0n) return `${sign}0x0.0p+0`;
  const digits = mantissa.toString(16).padStart(13, "0");
  if (exponent === 0) return `${sign}0x0.${digits}p-1022`;
  const e = exponent - 1023;
  return `${sign}0x1.${digits}p${e >= 0 ? "+" : ""}${e}`;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes.slice());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

function compactJson(node: unknown): string {
  return JSON.stringify(node);
}

function compareCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

export class Describer {
  #ids = new Map<object, number>();
  #storages = new Map<Storage, number>();
  #withIds: boolean;

  constructor(withIds = true) {
    this.#withIds = withIds;
  }

  #enter(value: object, kind: string): Node {
    const node: Node = { t: kind };
    if (this.#withIds) {
      node.id = this.#ids.size;
      this.#ids.set(value, node.id as number);
    }
    return node;
  }

  async describe(value: unknown): Promise<Node> {
    if (this.#withIds && typeof value === "object" && value !== null && this.#ids.has(value)) {
      return { t: "ref", id: this.#ids.get(value) };
    }
    if (value === null) return { t: "none" };
    if (typeof value === "boolean") return { t: "bool", v: value };
    if (typeof value === "number" || typeof value === "bigint") {
      if (typeof value === "number" && !Number.isSafeInteger(value)) {
        return { t: "float", v: floatHex(value) };
      }
      return { t: "int", v: String(value) };
    }
    if (value instanceof PyFloat) return { t: "float", v: floatHex(value.value, value.nanBits) };
    if (typeof value === "string") {
      if (!value.isWellFormed()) return { t: "str", cp: [...value].map((c) => c.codePointAt(0)) };
      return { t: "str", v: value };
    }
    if (value instanceof PyStr) {
      return {
        t: "str",
        cp: value.codePoints(),
      };
    }
    if (value instanceof Uint8Array) return { t: "bytes", v: hex(value) };
    if (value instanceof PyByteArray) {
      const node = this.#enter(value, "bytearray");
      node.v = hex(value.bytes);
      return node;
    }
    if (value instanceof PyGlobal) return { t: "global", v: value.path };
    if (value instanceof Tensor || value instanceof Parameter) return await this.#tensor(value);
    if (value instanceof Tuple) {
      if (value.length === 0) return { t: "tuple", items: [] };
      const node = this.#enter(value, "tuple");
      node.items = await this.#all(value);
      return node;
    }
    if (Array.isArray(value)) {
      const node = this.#enter(value, "list");
      node.items = await this.#all(value);
      return node;
    }
    if (value instanceof PySet || value instanceof PyFrozenSet) {
      const node = this.#enter(value, value instanceof PySet ? "set" : "frozenset");
      const members: Node[] = [];
      for (const member of value) members.push(await new Describer(false).describe(member));
      node.items = members.sort((a, b) => compareCodePoints(compactJson(a), compactJson(b)));
      return node;
    }
    if (value instanceof PyObject) return await this.#object(value);
    if (value instanceof PyDict) return await this.#dict(value, "builtins.dict", undefined);
    throw new TypeError(`cannot describe ${String(value)}`);
  }

  async #all(values: readonly unknown[]): Promise<Node[]> {
    const out: Node[] = [];
    for (const item of values) out.push(await this.describe(item));
    return out;
  }

  async #dict(value: PyDict, cls: string, object: PyObject | undefined): Promise<Node> {
    const node = this.#enter(value, "dict");
    node.class = cls;
    if (cls === "collections.defaultdict") node.factory = await this.describe(object!.args[0]);
    const items: Node[][] = [];
    for (const [key, item] of value.entries()) {
      const k = await this.describe(key);
      items.push([k, await this.describe(item)]);
    }
    node.items = items;
    if (object !== undefined && object.state !== undefined && object.state !== null) {
      node.attrs = await this.describe(object.state);
    }
    return node;
  }

  async #object(value: PyObject): Promise<Node> {
    const cls = value.className ?? "?";
    if (cls === "builtins.complex") {
      const [re, im] = value.args as unknown as PyFloat[];
      return {
        t: "complex",
        re: floatHex(re.value, re.nanBits),
        im: floatHex(im.value, im.nanBits),
      };
    }
    const scalar = readNumpyScalar(value);
    if (scalar !== undefined) return { t: "npscalar", dtype: scalar.dtype, v: hex(scalar.data) };
    const array = readNdarray(value);
    if (array !== undefined) {
      const node = this.#enter(value, "ndarray");
      Object.assign(node, {
        dtype: array.dtype,
        shape: array.shape,
        fortran: array.fortran,
        sha256: await sha256(array.data as Uint8Array),
      });
      return node;
    }
    if (value.size > 0 || DICT_CLASSES.has(cls)) return await this.#dict(value, cls, value);
    const node = this.#enter(value, "object");
    node.class = cls;
    node.state = await this.describe(value.state ?? null);
    return node;
  }

  async #tensor(value: Tensor | Parameter): Promise<Node> {
    const tensor = value instanceof Parameter ? value.data : value;
    const storage = tensor.storage;
    let index = this.#storages.get(storage);
    if (index === undefined) {
      index = this.#storages.size;
      this.#storages.set(storage, index);
    }
    const node = this.#enter(value, "tensor");
    Object.assign(node, {
      class: value instanceof Parameter ? "torch.nn.parameter.Parameter" : "torch.Tensor",
      dtype: tensor.dtype.name,
      shape: tensor.shape,
      stride: tensor.stride,
      offset: tensor.offset,
      requires_grad: value.requiresGrad,
      storage: index,
      storage_nbytes: storage.nbytes,
      sha256: await sha256(await storage.bytes()),
    });
    return node;
  }
}

export function describe(value: unknown): Promise<Node> {
  return new Describer().describe(value);
}
