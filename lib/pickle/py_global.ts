/**
 * References to Python globals (classes and functions) as the pickle names
 * them. Decoding never imports anything: a global is only a name.
 *
 * @module
 */

import { INSPECT, inspectValue } from "./_inspect.ts";

const interned = new Map<string, Map<string, PyGlobal>>();

/** A module-level Python name, e.g. `collections.OrderedDict`. Instances are interned. */
export class PyGlobal {
  /** The module, e.g. `collections` (Python 3 spelling). */
  readonly module: string;
  /** The qualified name inside the module, e.g. `OrderedDict`. */
  readonly name: string;

  private constructor(module: string, name: string) {
    this.module = module;
    this.name = name;
  }

  /** Returns the one `PyGlobal` for `module` and `name`, so `===` compares them. */
  static of(module: string, name: string): PyGlobal {
    // Two levels rather than one joined key: the callers' strings are
    // mostly literals whose hashes V8 caches, while a joined key would be
    // built and hashed on every call (once per tensor when encoding).
    let names = interned.get(module);
    if (names === undefined) interned.set(module, names = new Map());
    let found = names.get(name);
    if (found === undefined) {
      found = new PyGlobal(module, name);
      names.set(name, found);
    }
    return found;
  }

  /** The dotted path, `module.name`. */
  get path(): string {
    return `${this.module}.${this.name}`;
  }

  /** True when this global is `module.name`. */
  is(module: string, name: string): boolean {
    return this.module === module && this.name === name;
  }

  /** The dotted path. */
  toString(): string {
    return this.path;
  }

  /** How `console.log` and `Deno.inspect` show the global: `PyGlobal(collections.OrderedDict)`. */
  [INSPECT](inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
    return inspectValue(
      this,
      "PyGlobal",
      inspect,
      options,
      (printer) => `PyGlobal(${printer.style(this.path, "special")})`,
      true,
    );
  }
}
