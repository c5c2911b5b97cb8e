// What the scanner knows about the values on the unpickler's stack: only
// what decides what Python will import, call or mutate.
import type { AllowEntry, GlobalRating } from "./policy.ts";

/** A global as the unpickler resolves it, with its rating and where it is reported. */
export interface GlobalInfo {
  /** Module, as Python imports it. */
  module: string;
  /** Qualified name inside the module (dotted for nested names). */
  name: string;
  /** `module.name`: the key of its report. */
  path: string;
  rating: GlobalRating;
  /** The allowlist entry that allows it, if any. */
  entry: AllowEntry | undefined;
  /** For getattr, type, getitem, or_ and reduce: allowed only as the callee of their shape. */
  primitive: string | undefined;
  /** The allowlist entry's uses as bits (0 when not allowed). */
  uses: number;
  /** Whether it unpickles the bytes it is given. */
  loader: boolean;
}

// Value kinds.
export const K_SCALAR = 0; // int, float, bool
export const K_NONE = 1;
export const K_STR = 2; // a = start, b = end of its bytes; text decoded on demand
export const K_BYTES = 3; // a = start, b = end
export const K_BYTEARRAY = 4;
export const K_TUPLE = 5; // items (undefined: only scalars)
export const K_LIST = 6; // a = items appended
export const K_DICT = 7; // a = items set, b = flags
export const K_SET = 8; // b = 1 for a frozenset
export const K_GLOBAL = 9; // g
export const K_PRIMITIVE = 10; // g; a = uses, b = uses in an allowed shape
export const K_INSTANCE = 11; // g = its class; a = items set, b = flags
export const K_RESULT = 12; // g = the allowed function that returned it
export const K_ENUM = 13; // g = the enum class
export const K_TYPE = 14; // a typing value, NoneType, a generic alias
export const K_BOUND = 15; // g = the class of the object; text = the attribute
export const K_STORAGE = 16; // torch's persistent_load result
export const K_OPAQUE = 17; // anything else
// getattr(cls, '__new__'), allowed only inside the __newobj_ex__ form below;
// tracked like a primitive (a = uses, b = uses in the form); items = [cls].
export const K_NEW = 18;
// functools.partial(cls.__new__): protocol 2's spelling of __newobj_ex__;
// items = [its K_NEW]; b = 1 once BUILD gave it (cls.__new__, (cls,), kwargs, None), g = cls.
export const K_PARTIAL = 19;

// Flags of dicts and instances.
export const F_DUNDER_KEY = 1; // a str key of the form __x__
export const F_HOOKS = 2; // used as backward hooks: later items are deferred calls
export const F_SETATTR = 4; // used as attributes set with setattr: later dunder keys matter

export class Val {
  k: number;
  a: number;
  b: number;
  text: string | undefined;
  items: Val[] | undefined;
  g: GlobalInfo | undefined;
  payload: Uint8Array | undefined;
  /** Offset of the opcode that made it (primitives: for the report). */
  at: number;

  constructor(k: number, a = 0, b = 0) {
    this.k = k;
    this.a = a;
    this.b = b;
    this.text = undefined;
    this.items = undefined;
    this.g = undefined;
    this.payload = undefined;
    this.at = 0;
  }
}

export const SCALAR = new Val(K_SCALAR);
export const NONE = new Val(K_NONE);
export const OPAQUE = new Val(K_OPAQUE);
export const STORAGE = new Val(K_STORAGE);
export const TYPE = new Val(K_TYPE);
/** A tuple of scalars only: no shape rule needs its items. */
export const SCALAR_TUPLE = new Val(K_TUPLE);
export const EMPTY_TUPLE = new Val(K_TUPLE);
EMPTY_TUPLE.items = [];

export function withGlobal(k: number, g: GlobalInfo): Val {
  const v = new Val(k);
  v.g = g;
  return v;
}

/** A value that cannot be an exact `str` at run time (STACK_GLOBAL refuses it). */
export function isNeverStr(v: Val): boolean {
  switch (v.k) {
    case K_SCALAR:
    case K_NONE:
    case K_BYTES:
    case K_BYTEARRAY:
    case K_TUPLE:
    case K_LIST:
    case K_DICT:
    case K_SET:
    case K_GLOBAL:
    case K_PRIMITIVE:
    case K_ENUM:
    case K_TYPE:
    case K_STORAGE:
      return true;
    default:
      return false;
  }
}

/** A value Python cannot call (TypeError): the load stops there. */
export function isNeverCallable(v: Val): boolean {
  switch (v.k) {
    case K_SCALAR:
    case K_NONE:
    case K_STR:
    case K_BYTES:
    case K_BYTEARRAY:
    case K_TUPLE:
    case K_LIST:
    case K_DICT:
    case K_SET:
      return true;
    default:
      return false;
  }
}

/** A key a dict refuses (TypeError: unhashable type). */
export function isUnhashable(v: Val): boolean {
  return v.k === K_LIST || v.k === K_DICT || (v.k === K_SET && v.b === 0) || v.k === K_BYTEARRAY;
}
