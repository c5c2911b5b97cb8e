/**
 * The setup redirects of migrations: classes and modules that moved or were
 * deleted since the checkpoint was written. They act on the pickle's global
 * references while it is decoded, as anemoi-models does by patching
 * `sys.modules` before `torch.load`.
 *
 * @module
 */

import { PyGlobal } from "../pickle/py_global.ts";
import { MigrationError } from "./migration_error.ts";

/**
 * What anemoi-models puts in place of a deleted class; objects built from a
 * deleted class keep their arguments and state under this class.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MigrationContext, MISSING_ATTRIBUTE } from "../../mod.ts";
 *
 * const context = new MigrationContext();
 * context.deleteModule("pkg.removed");
 * assert.equal(context.resolve("pkg.removed", "Thing"), MISSING_ATTRIBUTE);
 * ```
 */
export const MISSING_ATTRIBUTE: PyGlobal = PyGlobal.of(
  "anemoi.models.migrations.migrator",
  "MissingAttribute",
);

// Longest chain of moves followed for one global before calling it a cycle.
const MAX_HOPS = 256;

/**
 * Collects the redirects that migration setup callbacks declare. The
 * bookkeeping matches anemoi-models' `MigrationContext`: moves are stored
 * from their end to their original start, so a move of something already
 * moved composes (A to B, then B to C, gives A to C).
 *
 * Resolution of a global `module.name`, repeated until nothing applies: an
 * exact attribute move; else an exact attribute delete; else a module move
 * (only the exact module, not its submodules); else `module.*` or a deleted
 * module. Exact attribute moves thus take precedence over module moves.
 *
 * @example Redirect a moved class while decoding
 * ```ts
 * import assert from "node:assert/strict";
 * import { MigrationContext, PyGlobal } from "../../mod.ts";
 *
 * const context = new MigrationContext();
 * context.moveModule("pkg.old", "pkg.new");
 * context.moveAttribute("pkg.old.Special", "pkg.other.Special");
 * context.deleteAttribute("pkg.gone.*");
 * const findGlobal = context.findGlobal();
 * assert.equal(findGlobal("pkg.old", "Thing"), PyGlobal.of("pkg.new", "Thing"));
 * assert.equal(findGlobal("pkg.old", "Special"), PyGlobal.of("pkg.other", "Special"));
 * assert.equal(findGlobal("pkg.gone", "X").name, "MissingAttribute");
 * ```
 */
export class MigrationContext {
  /** Attribute moves: end path to original start path. */
  readonly attributePaths: Map<string, string> = new Map();
  /** Module moves: end module to original start module. */
  readonly modulePaths: Map<string, string> = new Map();
  /** Deleted attributes (`module.name`, or `module.*` for all of a module). */
  readonly deletedAttributes: string[] = [];
  /** Deleted modules. */
  readonly deletedModules: string[] = [];

  /**
   * Declares that the attribute `start` (e.g. `pkg.mod.MyClass`) now lives
   * at `end`, possibly under another name.
   */
  moveAttribute(start: string, end: string): void {
    checkAttributePath(start, "move");
    checkAttributePath(end, "move");
    const original = this.attributePaths.get(start);
    if (original !== undefined) {
      this.attributePaths.delete(start);
      start = original;
    }
    this.attributePaths.set(end, start);
  }

  /** Declares that the module `start` is now `end`: every global of it is redirected. */
  moveModule(start: string, end: string): void {
    checkModulePath(start, "move");
    checkModulePath(end, "move");
    const original = this.modulePaths.get(start);
    if (original !== undefined) {
      this.modulePaths.delete(start);
      start = original;
    }
    this.modulePaths.set(end, start);
  }

  /**
   * Declares the attribute `path` deleted; `module.*` deletes every
   * attribute of `module`. Objects built from it become
   * {@linkcode MISSING_ATTRIBUTE} objects.
   */
  deleteAttribute(path: string): void {
    checkAttributePath(path, "delete");
    this.deletedAttributes.push(path);
  }

  /** Declares the module `path` deleted: every global of it becomes {@linkcode MISSING_ATTRIBUTE}. */
  deleteModule(path: string): void {
    checkModulePath(path, "delete");
    this.deletedModules.push(path);
  }

  /** True when no setup declared anything, so the checkpoint decodes as it is. */
  get isEmpty(): boolean {
    return this.attributePaths.size === 0 && this.modulePaths.size === 0 &&
      this.deletedAttributes.length === 0 && this.deletedModules.length === 0;
  }

  /**
   * The global that `module.name` (as the pickle spells it) resolves to:
   * the new location, {@linkcode MISSING_ATTRIBUTE}, or the same name.
   * Throws {@linkcode MigrationError} when moves form a cycle.
   */
  resolve(module: string, name: string): PyGlobal {
    return this.findGlobal()(module, name);
  }

  /**
   * A `findGlobal` hook for {@linkcode Checkpoint.open} that applies the
   * redirects. `onRedirect` hears about every global that changed, once.
   */
  findGlobal(
    onRedirect?: (from: string, to: PyGlobal) => void,
  ): (module: string, name: string) => PyGlobal {
    const attributeMoves = invert(this.attributePaths);
    const moduleMoves = invert(this.modulePaths);
    const deletedAttributes = new Set(this.deletedAttributes);
    const deletedModules = new Set(this.deletedModules);
    const cache = new Map<string, PyGlobal>();
    return (module: string, name: string): PyGlobal => {
      const original = `${module}.${name}`;
      const cached = cache.get(original);
      if (cached !== undefined) return cached;
      let result: PyGlobal | undefined;
      for (let hop = 0; hop < MAX_HOPS && result === undefined; hop++) {
        const path = `${module}.${name}`;
        const moved = attributeMoves.get(path);
        if (moved !== undefined) {
          [module, name] = splitAttribute(moved);
        } else if (deletedAttributes.has(path)) {
          result = MISSING_ATTRIBUTE;
        } else if (moduleMoves.has(module)) {
          module = moduleMoves.get(module)!;
        } else if (deletedAttributes.has(`${module}.*`) || deletedModules.has(module)) {
          result = MISSING_ATTRIBUTE;
        } else {
          result = PyGlobal.of(module, name);
        }
      }
      if (result === undefined) {
        throw new MigrationError(`Cannot resolve ${original}: the moves form a cycle`);
      }
      cache.set(original, result);
      if (result.path !== original) onRedirect?.(original, result);
      return result;
    };
  }
}

// Stored end -> start as anemoi does; resolution needs start -> end, the
// latest declaration winning as Python's setattr would.
function invert(ends: Map<string, string>): Map<string, string> {
  const starts = new Map<string, string>();
  for (const [end, start] of ends) starts.set(start, end);
  return starts;
}

function splitAttribute(path: string): [string, string] {
  const dot = path.lastIndexOf(".");
  return [path.slice(0, dot), path.slice(dot + 1)];
}

function checkAttributePath(path: string, action: string): void {
  const dot = path.lastIndexOf(".");
  if (typeof path !== "string" || dot <= 0 || dot === path.length - 1) {
    throw new MigrationError(`Cannot ${action} attribute '${path}': expected 'module.name'`);
  }
}

function checkModulePath(path: string, action: string): void {
  if (typeof path !== "string" || path === "" || path.startsWith(".") || path.endsWith(".")) {
    throw new MigrationError(`Cannot ${action} module '${path}': expected a dotted module path`);
  }
}
