/**
 * The scanner's policy: which globals a pickle may name, as data
 * (`allowlist.json`, `denylist.json`, `module_names.json`), and the rules
 * that rate a `(module, qualified name)` pair against it.
 *
 * Three ratings: `"allowed"` (on the allowlist, in the uses its entry
 * lists), `"dangerous"` (on the denylist, or a dotted name that walks through
 * a module or a special attribute) and `"unknown"` (everything else:
 * importing it runs code nobody vetted). Users extend the allowlist with
 * their own classes; they cannot allow what the denylist names.
 *
 * @module
 */

import { CkptkitError } from "../errors.ts";
import allowlist from "./allowlist.json" with { type: "json" };
import denylist from "./denylist.json" with { type: "json" };
import moduleNames from "./module_names.json" with { type: "json" };

/** How far a global can be trusted when Python loads the pickle. */
export type Rating = "allowed" | "unknown" | "dangerous";

/** What a pickle may do with an allowed global (see `allowlist.json`). */
export type AllowedUse = "call" | "new" | "fill" | "enum" | "typing" | "array";

/** An allowlist entry, built in or given by the user. */
export interface AllowEntry {
  /** `module.qualname`, or `module.*` for a module and its submodules. */
  global: string;
  /** What a pickle may do with it besides referencing it. */
  uses: ReadonlySet<AllowedUse>;
  /** {@linkcode AllowEntry.uses} as bits (see {@linkcode USE_BITS}), for the scanner's inner loop. */
  useBits: number;
  /** The argument rule of a function allowed in one shape only. */
  shape: string | undefined;
  /** The shape, parsed: each rule and the argument it applies to. */
  rules: readonly ShapeRule[];
  /** Why it is allowed. */
  why: string;
  /** Where the entry comes from. */
  source: string;
}

/** One rule of a shape: `hooks:5` is `{ kind: "hooks", index: 5 }`. */
export interface ShapeRule {
  /** The rule. */
  kind: string;
  /** The argument it applies to, or -1. */
  index: number;
}

/** The bit of each use in {@linkcode AllowEntry.useBits}. */
export const USE_BITS: Readonly<Record<AllowedUse, number>> = {
  call: 1,
  new: 2,
  fill: 4,
  enum: 8,
  typing: 16,
  array: 32,
};

function useBits(uses: ReadonlySet<AllowedUse>): number {
  let bits = 0;
  for (const use of uses) bits |= USE_BITS[use];
  return bits;
}

function shapeRules(shape: string | undefined): ShapeRule[] {
  if (shape === undefined) return [];
  return shape.split("+").map((rule) => {
    const [kind, index] = rule.split(":");
    return { kind, index: index === undefined ? -1 : Number(index) };
  });
}

/** The rating of one global. */
export interface GlobalRating {
  /** The rating. */
  rating: Rating;
  /** Why: the entry's justification, the danger, or why it is unknown. */
  reason: string;
  /** The list the rating comes from, e.g. `"picklescan, fickling"`; undefined for unknown. */
  source: string | undefined;
  /** The allowlist entry, for allowed globals. */
  entry: AllowEntry | undefined;
}

/** Extensions of the built-in policy. */
export interface PolicyOptions {
  /**
   * More globals to allow, as `module.qualname` or `module.*` (every name of
   * a module and its submodules), optionally with a reason after `=`:
   * `"myproject.config.TrainConfig"`. They get every use (call, new, enum);
   * globals the denylist names stay dangerous.
   */
  allow?: readonly (string | { global: string; why?: string })[];
  /** More globals or modules to rate dangerous, as `module.qualname` or `module.*`. */
  deny?: readonly (string | { global: string; why?: string })[];
}

/** A policy file: JSON with `allow` and `deny` lists, see {@linkcode PolicyOptions}. */
export interface PolicyFile {
  /** Globals to allow. */
  allow?: (string | { global: string; why?: string })[];
  /** Globals to rate dangerous. */
  deny?: (string | { global: string; why?: string })[];
}

interface DenyRule {
  why: string;
  source: string;
}

const ALL_USES: ReadonlySet<AllowedUse> = new Set(["call", "new", "enum", "typing", "array"]);
const SOFT_COMPONENTS = new Set(
  denylist.modules.filter((m) => m.sources.includes("fickling") && !m.module.includes("."))
    .map((m) => m.module),
);
// Module names a dotted segment may walk through: the generated list plus
// the roots of every denylisted module (test, pip, sympy, ...).
const TOP_LEVEL: ReadonlySet<string> = new Set([
  ...moduleNames.topLevel,
  ...denylist.modules.map((m) => m.module.split(".")[0]),
]);
const MODULE_PATHS: ReadonlySet<string> = new Set(moduleNames.modulePaths);
const BUILTIN_MODULES: ReadonlySet<string> = new Set(denylist.builtins.modules);
const HARMLESS_BUILTINS: ReadonlySet<string> = new Set(denylist.builtins.harmless);
const EVAL_NAMES: ReadonlySet<string> = new Set(denylist.evalNames.names);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function sourceText(sources: readonly string[]): string {
  return sources.join(", ");
}

/** `__x__`: a special attribute, from which the interpreter's internals are reachable. */
export function isDunder(part: string): boolean {
  return part.length > 4 && part.startsWith("__") && part.endsWith("__");
}

/** `_x_`: an enum hook (`_missing_`, `_generate_next_value_`, `_convert_`). */
export function isSunder(part: string): boolean {
  return part.length > 2 && part[0] === "_" && part[1] !== "_" && part.endsWith("_") &&
    !part.endsWith("__");
}

/** A name a pickle may fetch with getattr: an identifier, neither `__dunder__` nor `_sunder_`. */
export function isPlainName(part: string): boolean {
  return IDENTIFIER.test(part) && !isDunder(part) && !isSunder(part);
}

/** A segment that names a module (`os`, `torch`) or a private alias of one (`_sys`). */
function isModuleName(part: string): boolean {
  return TOP_LEVEL.has(part) || (part.startsWith("_") && TOP_LEVEL.has(part.slice(1)));
}

function within(module: string, prefix: string): boolean {
  return module === prefix ||
    (module.length > prefix.length && module.startsWith(prefix) && module[prefix.length] === ".");
}

function builtInEntries(): AllowEntry[] {
  const entries: AllowEntry[] = [];
  for (const raw of allowlist.entries as Array<Record<string, unknown>>) {
    const names = (raw.globals ?? [raw.global]) as string[];
    const uses = new Set((raw.uses ?? []) as AllowedUse[]);
    const shape = raw.shape as string | undefined;
    for (const global of names) {
      entries.push({
        global,
        uses,
        useBits: useBits(uses),
        shape,
        rules: shapeRules(shape),
        why: raw.why as string,
        source: raw.source as string,
      });
    }
  }
  return entries;
}

function builtInDenials(): { modules: Map<string, DenyRule>; names: Map<string, DenyRule> } {
  const modules = new Map<string, DenyRule>();
  const names = new Map<string, DenyRule>();
  for (const m of denylist.modules) {
    modules.set(m.module, { why: m.why, source: sourceText(m.sources) });
  }
  for (const raw of denylist.names as Array<Record<string, unknown>>) {
    const rule = { why: raw.why as string, source: sourceText(raw.sources as string[]) };
    for (const global of (raw.globals ?? [raw.global]) as string[]) names.set(global, rule);
  }
  return { modules, names };
}

const BUILT_IN_ENTRIES = builtInEntries();
const BUILT_IN_DENIALS = builtInDenials();

function parseGlobal(text: string, what: string): string {
  const global = text.trim();
  const parts = global.split(".");
  if (parts.length < 2 || parts.some((p, i) => !(IDENTIFIER.test(p) || (p === "*" && i > 0)))) {
    throw new CkptkitError(
      `Cannot use ${what} ${JSON.stringify(text)}: expected module.name or module.*`,
    );
  }
  if (parts.slice(0, -1).includes("*")) {
    throw new CkptkitError(`Cannot use ${what} ${JSON.stringify(text)}: * must come last`);
  }
  return global;
}

function normalize(
  item: string | { global: string; why?: string },
  what: string,
): { global: string; why: string | undefined } {
  if (typeof item === "string") return { global: parseGlobal(item, what), why: undefined };
  if (item === null || typeof item !== "object" || typeof item.global !== "string") {
    throw new CkptkitError(
      `Cannot use ${what} ${JSON.stringify(item)}: expected a string or {"global": ...}`,
    );
  }
  return { global: parseGlobal(item.global, what), why: item.why };
}

/**
 * Rates globals: the built-in allowlist and denylist, plus the user's own
 * entries. Immutable; {@linkcode ScanPolicy.extend} returns a new policy.
 *
 * @example Rate globals
 * ```ts
 * import assert from "node:assert/strict";
 * import { ScanPolicy } from "./policy.ts";
 *
 * const policy = ScanPolicy.default;
 * assert.equal(policy.rate("torch._utils", "_rebuild_tensor_v2").rating, "allowed");
 * assert.equal(policy.rate("posix", "system").rating, "dangerous");
 * // Dotted names are walked: torch.os is the os module.
 * assert.equal(policy.rate("torch", "os.system").rating, "dangerous");
 * assert.equal(policy.rate("myproject.config", "TrainConfig").rating, "unknown");
 * const mine = policy.extend({ allow: ["myproject.config.*"] });
 * assert.equal(mine.rate("myproject.config", "TrainConfig").rating, "allowed");
 * ```
 */
export class ScanPolicy {
  /** The built-in lists alone. */
  static readonly default: ScanPolicy = new ScanPolicy();

  readonly #exact = new Map<string, AllowEntry>();
  readonly #userExact = new Map<string, AllowEntry>();
  readonly #wildcards: AllowEntry[] = [];
  readonly #denyModules: Map<string, DenyRule>;
  readonly #denyNames: Map<string, DenyRule>;
  readonly #cache = new Map<string, GlobalRating>();
  readonly #options: PolicyOptions;

  /** A policy with the built-in lists and `options`' extensions. */
  constructor(options: PolicyOptions = {}) {
    this.#options = options;
    for (const entry of BUILT_IN_ENTRIES) this.#add(entry, this.#exact);
    for (const item of options.allow ?? []) {
      const { global, why } = normalize(item, "allowed global");
      this.#add({
        global,
        uses: ALL_USES,
        useBits: useBits(ALL_USES),
        shape: undefined,
        rules: [],
        why: why ?? "allowed by the user",
        source: "user policy",
      }, this.#userExact);
    }
    this.#denyModules = new Map(BUILT_IN_DENIALS.modules);
    this.#denyNames = new Map(BUILT_IN_DENIALS.names);
    for (const item of options.deny ?? []) {
      const { global, why } = normalize(item, "denied global");
      const rule = { why: why ?? "denied by the user", source: "user policy" };
      if (global.endsWith(".*")) this.#denyModules.set(global.slice(0, -2), rule);
      else this.#denyNames.set(global, rule);
    }
  }

  /**
   * Reads a policy file: JSON `{"allow": [...], "deny": [...]}` whose items
   * are `"module.name"`, `"module.*"` or `{"global": ..., "why": ...}`.
   *
   * @throws {CkptkitError} when the file cannot be read or is malformed.
   */
  static async fromFile(path: string, base: ScanPolicy = ScanPolicy.default): Promise<ScanPolicy> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
      throw new CkptkitError(`Cannot read policy file ${path}: ${why}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new CkptkitError(
        `Cannot read policy file ${path}: not JSON (${(error as Error).message})`,
      );
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new CkptkitError(
        `Cannot read policy file ${path}: expected an object with "allow" and "deny" lists`,
      );
    }
    const file = parsed as Record<string, unknown>;
    for (const key of Object.keys(file)) {
      if (key !== "allow" && key !== "deny" && !key.startsWith("$") && key !== "about") {
        throw new CkptkitError(
          `Cannot read policy file ${path}: unknown key ${JSON.stringify(key)}`,
        );
      }
    }
    for (const key of ["allow", "deny"]) {
      if (file[key] !== undefined && !Array.isArray(file[key])) {
        throw new CkptkitError(`Cannot read policy file ${path}: "${key}" must be a list`);
      }
    }
    try {
      return base.extend(file as PolicyFile);
    } catch (error) {
      if (error instanceof CkptkitError) {
        throw new CkptkitError(`Cannot read policy file ${path}: ${error.message}`);
      }
      throw error;
    }
  }

  /** This policy with more allowed and denied globals. */
  extend(options: PolicyOptions): ScanPolicy {
    return new ScanPolicy({
      allow: [...(this.#options.allow ?? []), ...(options.allow ?? [])],
      deny: [...(this.#options.deny ?? []), ...(options.deny ?? [])],
    });
  }

  #add(entry: AllowEntry, exact: Map<string, AllowEntry>): void {
    if (entry.global.endsWith(".*")) this.#wildcards.push(entry);
    else exact.set(entry.global, entry);
  }

  /**
   * Rates a global as Python 3 names it (after `_compat_pickle`), with its
   * dotted name walked segment by segment whatever the protocol: a segment
   * that is a module, a special attribute or a path to a denied name makes
   * it dangerous.
   */
  rate(module: string, name: string): GlobalRating {
    const key = `${module}\n${name}`;
    let rating = this.#cache.get(key);
    if (rating === undefined) {
      rating = this.#rate(module, name);
      this.#cache.set(key, rating);
    }
    return rating;
  }

  /** The allowlist entry of exactly `module.name`, if any (no wildcard). */
  exactEntry(module: string, name: string): AllowEntry | undefined {
    const path = `${module}.${name}`;
    return this.#exact.get(path) ?? this.#userExact.get(path);
  }

  #rate(module: string, name: string): GlobalRating {
    const path = `${module}.${name}`;
    const builtIn = this.#exact.get(path);
    if (builtIn !== undefined) return allowed(builtIn);
    const firm = this.#firmDanger(module, name);
    if (firm !== undefined) return firm;
    const user = this.#userExact.get(path);
    if (user !== undefined) return allowed(user);
    const soft = softDanger(module);
    if (soft !== undefined) return soft;
    if (module === "") return unknown("an empty module name (the import fails)");
    const parts = name.split(".");
    if (parts.includes("<locals>")) return unknown("a <locals> name (the lookup fails)");
    if (parts.every(isPlainName) && !isModuleName(parts[parts.length - 1])) {
      for (const entry of this.#wildcards) {
        if (within(module, entry.global.slice(0, -2))) return allowed(entry);
      }
    }
    return unknown("not on the allowlist (importing it runs its module's code)");
  }

  /** The denylisted module that `path` is or lies under, with its rule. */
  #deniedModule(path: string): [string, DenyRule] | undefined {
    for (let m = path;;) {
      const rule = this.#denyModules.get(m);
      if (rule !== undefined) return [m, rule];
      const dot = m.lastIndexOf(".");
      if (dot < 0) return undefined;
      m = m.slice(0, dot);
    }
  }

  #firmDanger(module: string, name: string): GlobalRating | undefined {
    const parts = name.split(".");
    if (BUILTIN_MODULES.has(module)) {
      if (!HARMLESS_BUILTINS.has(parts[0]) || parts.length > 1) {
        return dangerous(denylist.builtins.why, sourceText(denylist.builtins.sources));
      }
    }
    const denied = this.#deniedModule(module);
    if (denied !== undefined) return dangerous(`${denied[0]}: ${denied[1].why}`, denied[1].source);
    for (let n = `${module}.${name}`; n.length > module.length;) {
      const rule = this.#denyNames.get(n);
      if (rule !== undefined) return dangerous(`${n}: ${rule.why}`, rule.source);
      n = n.slice(0, n.lastIndexOf("."));
    }
    for (const part of parts) {
      if (isDunder(part)) {
        return dangerous(
          `reaches the special attribute ${part}, and from it the interpreter's internals`,
          "ckptkit",
        );
      }
      if (isSunder(part)) {
        return dangerous(
          `reaches the enum hook ${part}, which builds classes or imports modules`,
          "ckptkit",
        );
      }
      if (EVAL_NAMES.has(part)) {
        return dangerous(denylist.evalNames.why, sourceText(denylist.evalNames.sources));
      }
    }
    // A walk through a module reaches every other module (torch.os.system).
    for (let k = 0; k < parts.length; k++) {
      if (k < parts.length - 1 && isModuleName(parts[k])) {
        return dangerous(
          `walks through the module ${parts[k]} (${parts.slice(0, k + 1).join(".")})`,
          "ckptkit",
        );
      }
      const through = `${module}.${parts.slice(0, k + 1).join(".")}`;
      const rule = this.#deniedModule(through);
      if (rule !== undefined) {
        return dangerous(`reaches the module ${rule[0]}: ${rule[1].why}`, rule[1].source);
      }
      if (MODULE_PATHS.has(through)) {
        return dangerous(
          k < parts.length - 1
            ? `walks through the module ${through}`
            : `is the module ${through} itself (BUILD on it rewrites the module)`,
          "ckptkit",
        );
      }
    }
    return undefined;
  }
}

function softDanger(module: string): GlobalRating | undefined {
  const parts = module.split(".");
  for (let i = 1; i < parts.length; i++) {
    if (SOFT_COMPONENTS.has(parts[i])) {
      return dangerous(
        `its module path has a component named like the dangerous module ${parts[i]}`,
        "fickling",
      );
    }
  }
  return undefined;
}

function allowed(entry: AllowEntry): GlobalRating {
  return { rating: "allowed", reason: entry.why, source: entry.source, entry };
}

function dangerous(reason: string, source: string): GlobalRating {
  return { rating: "dangerous", reason, source, entry: undefined };
}

function unknown(reason: string): GlobalRating {
  return { rating: "unknown", reason, source: undefined, entry: undefined };
}
