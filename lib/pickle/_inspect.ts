// How value classes print in console.log and Deno.inspect: through Deno's
// custom inspect hook, concise, depth-limited and safe with cycles (Deno's
// own cycle and depth tracking stop at a hook, so they are kept here).

/** The symbol Deno's inspect calls. */
export const INSPECT: unique symbol = Symbol.for("Deno.customInspect") as never;

/** What Deno passes to the hook: its public options plus its position in the walk. */
export interface InspectOptions extends Deno.InspectOptions {
  /** Nesting level of the value being printed. */
  currentDepth?: number;
  /** Spaces before the value's line; Deno does not indent a hook's later lines. */
  indentationLvl?: number;
  /** Colors a piece of text by kind (`"number"`, `"string"`, `"special"`...). */
  stylize?: (text: string, kind: string) => string;
}

/** Deno's inspect function as passed to the hook. */
export type Inspect = (value: unknown, options?: Deno.InspectOptions) => string;

/** A printed container: `label`, then `entries` in `open`/`close`. */
export interface Printed {
  label: string;
  entries: string[];
  /** Entries not shown (beyond the iterable limit). */
  more?: number;
  open?: string;
  close?: string;
}

// Objects whose hook is running: a value met again inside itself is a cycle.
const printing = new Set<object>();

const PUBLIC_OPTIONS = [
  "colors",
  "compact",
  "breakLength",
  "iterableLimit",
  "strAbbreviateSize",
  "sorted",
  "trailingComma",
  "getters",
  "showHidden",
  "showProxy",
  "escapeSequences",
] as const;

/** A printer of one nested value, and what the hook needs to lay itself out. */
export interface Printer {
  /** Prints a nested value, one level deeper. */
  child(value: unknown): string;
  /** Colors `text` as Deno colors values of `kind` (no-op without colors). */
  style(text: string, kind: string): string;
  /** How many entries to show at most. */
  limit: number;
}

/**
 * Runs the hook of `self`: `[Name]` past the depth limit (unless `leaf`:
 * a value without children always prints whole, as a number does),
 * `[Circular Name]` for a value inside itself, else what `render` prints,
 * indented for where Deno puts it.
 */
export function inspectValue(
  self: object,
  name: string,
  inspect: Inspect,
  publicOptions: Deno.InspectOptions,
  render: (printer: Printer) => string | Printed,
  leaf = false,
): string {
  const options = publicOptions as InspectOptions;
  const depth = typeof options.depth === "number" ? options.depth : 4;
  const level = options.currentDepth ?? 0;
  if (level > depth && !leaf) return `[${name}]`;
  if (printing.has(self)) return `[Circular ${name}]`;
  const width = (options.breakLength ?? 80) - (options.indentationLvl ?? 0);
  // Nested values start a new walk: give them what is left of the depth and width.
  const nested: Deno.InspectOptions = { depth: depth - level - 1 };
  for (const key of PUBLIC_OPTIONS) {
    if (options[key] !== undefined) (nested as Record<string, unknown>)[key] = options[key];
  }
  nested.breakLength = Math.max(width - 2, 20);
  const printer: Printer = {
    child: (value) => inspect(value, nested),
    style: (text, kind) => options.stylize?.(text, kind) ?? text,
    limit: options.iterableLimit ?? 100,
  };
  printing.add(self);
  let text: string;
  try {
    const printed = render(printer);
    text = typeof printed === "string" ? printed : layout(printed, width);
  } finally {
    printing.delete(self);
  }
  const indent = " ".repeat(options.indentationLvl ?? 0);
  return indent === "" ? text : text.replaceAll("\n", `\n${indent}`);
}

/** One line when it fits and no entry spans lines, else one entry per indented line. */
function layout(printed: Printed, width: number): string {
  const { label, entries, more = 0 } = printed;
  const open = printed.open ?? "{";
  const close = printed.close ?? "}";
  const all = more > 0 ? [...entries, `... ${more} more item${more === 1 ? "" : "s"}`] : entries;
  const head = label === "" ? open : `${label} ${open}`;
  if (all.length === 0) return `${head}${close}`;
  const line = `${head} ${all.join(", ")} ${close}`;
  if (line.length <= width && !all.some((entry) => entry.includes("\n"))) return line;
  const body = all.map((entry) => `  ${entry.replaceAll("\n", "\n  ")}`).join(",\n");
  return `${head}\n${body}\n${close}`;
}

/** `text` cut to `max` characters with an ellipsis, for long reprs. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(max - 3, 0))}...` : text;
}
