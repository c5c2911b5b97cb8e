// Python 2 spellings that protocol 0-2 pickles use for globals (CPython's
// fix_imports): mapped to Python 3 on load and back on dump, with CPython's
// own tables and precedence, so a round trip writes the bytes CPython would.
import {
  IMPORT_MAPPING,
  NAME_MAPPING,
  REVERSE_IMPORT_MAPPING,
  REVERSE_NAME_MAPPING,
} from "./_compat_tables.ts";

type Names = readonly [string, string];

function names(rows: ReadonlyArray<readonly string[]>): ReadonlyMap<string, Names> {
  return new Map(rows.map(([m, n, toM, toN]) => [`${m}\n${n}`, [toM, toN] as const]));
}

function modules(rows: ReadonlyArray<readonly string[]>): ReadonlyMap<string, string> {
  return new Map(rows.map(([from, to]) => [from, to]));
}

const toPy3Names = names(NAME_MAPPING);
const toPy3Modules = modules(IMPORT_MAPPING);
const toPy2Names = names(REVERSE_NAME_MAPPING);
const toPy2Modules = modules(REVERSE_IMPORT_MAPPING);

// A (module, name) pair first, else the module alone, as CPython does.
function rename(
  module: string,
  name: string,
  pairs: ReadonlyMap<string, Names>,
  moduleMap: ReadonlyMap<string, string>,
): Names {
  const renamed = pairs.get(`${module}\n${name}`);
  if (renamed !== undefined) return renamed;
  const mapped = moduleMap.get(module);
  return mapped === undefined ? [module, name] : [mapped, name];
}

/** Python 3 module and name for a global as a protocol 0-2 pickle spells it. */
export function fromPickledName(module: string, name: string): Names {
  return rename(module, name, toPy3Names, toPy3Modules);
}

/** The spelling CPython's protocol 2 pickler writes for a Python 3 global. */
export function toPickledName(module: string, name: string): Names {
  return rename(module, name, toPy2Names, toPy2Modules);
}
