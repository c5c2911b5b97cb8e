/**
 * Objects that a pickle builds by calling something: `REDUCE`, `NEWOBJ`,
 * `NEWOBJ_EX`, `OBJ` and `INST`, followed by `APPENDS`/`SETITEMS` and
 * `BUILD`. Nothing is called while decoding; the call is kept as data.
 *
 * @module
 */

import { UNHASHABLE } from "./_hash_key.ts";
import { INSPECT, inspectValue } from "./_inspect.ts";
import { printItems, PyDict } from "./py_dict.ts";
import { PyGlobal } from "./py_global.ts";
import { Tuple } from "./tuple.ts";

/**
 * How the object is created on load: `"reduce"` calls `callable(*args)`
 * (REDUCE, OBJ, INST); `"newobj"` calls `cls.__new__(cls, *args)` (NEWOBJ);
 * `"newobj_ex"` also passes `kwargs` (NEWOBJ_EX).
 */
export type Construction = "reduce" | "newobj" | "newobj_ex";

/**
 * A Python object described by its reduce tuple: `callable`, `args`,
 * `state` (set by BUILD), list items (APPENDS) and dict items (SETITEMS).
 * The dict items are the object's own mapping methods, so an
 * `OrderedDict` or an `AttributeDict` reads like any {@linkcode PyDict}.
 */
export class PyObject<K = unknown, V = unknown> extends PyDict<K, V> {
  /** The class or function called to create the object. */
  callable: unknown;
  /** Positional arguments of the call. */
  args: Tuple;
  /** Keyword arguments, for `"newobj_ex"`. */
  kwargs: PyDict | undefined;
  /** How the object is created. */
  how: Construction;
  /** The BUILD state; `undefined` means the pickle has no BUILD for it. */
  state: unknown;
  /** Items appended after creation (list subclasses); `undefined` when none. */
  listItems: unknown[] | undefined;

  /** Creates an object made by `how` from `callable` and `args`. */
  constructor(
    callable: unknown,
    args: Tuple = Tuple.of(),
    how: Construction = "reduce",
    state?: unknown,
  ) {
    super();
    this.callable = callable;
    this.args = args;
    this.kwargs = undefined;
    this.how = how;
    this.state = state;
    this.listItems = undefined;
  }

  /** Objects hash by identity in Python unless they say otherwise. */
  override get [UNHASHABLE](): string | undefined {
    return undefined;
  }

  /** `module.name` of the callable when it is a global, e.g. `collections.OrderedDict`. */
  get className(): string | undefined {
    return this.callable instanceof PyGlobal ? this.callable.path : undefined;
  }

  /**
   * How `console.log` and `Deno.inspect` show the object: its callable,
   * then `args`, `kwargs`, `how`, `state` and `listItems` where present,
   * then its dict items as `key => value`.
   */
  override [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(this, "PyObject", inspect, options, (printer) => {
      const callable = this.callable instanceof PyGlobal
        ? this.callable.path
        : printer.child(this.callable);
      const entries: string[] = [];
      if (this.args.length > 0) entries.push(`args: ${printer.child(this.args)}`);
      if (this.kwargs !== undefined) entries.push(`kwargs: ${printer.child(this.kwargs)}`);
      if (this.how !== "reduce") entries.push(`how: ${this.how}`);
      if (this.state !== undefined) entries.push(`state: ${printer.child(this.state)}`);
      if (this.listItems !== undefined) entries.push(`listItems: ${printer.child(this.listItems)}`);
      const items = printItems(this, printer);
      return {
        label: `PyObject(${callable})`,
        entries: [...entries, ...items.entries],
        more: items.more,
      };
    });
  }

  /** True when the callable is the global `module.name`. */
  isA(module: string, name: string): boolean {
    return this.callable instanceof PyGlobal && this.callable.is(module, name);
  }
}
