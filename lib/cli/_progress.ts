// A one-line progress bar on stderr for long copies: bytes, MB/s and ETA.
// Drawn only on a terminal, never with --quiet or --json, so pipes and
// machine-read output stay clean.
import type { SaveProgress } from "../torch/checkpoint.ts";

/** Where and how a {@linkcode ProgressBar} draws. */
export interface ProgressBarOptions {
  /** Writes raw text; default: synchronous writes to stderr. */
  write?: (text: string) => void;
  /** Columns available; default: the terminal's width, else 80. */
  columns?: number;
  /** Clock in milliseconds; default `performance.now`. */
  now?: () => number;
  /** Least time between two redraws in milliseconds; default 100. */
  interval?: number;
}

const encoder = new TextEncoder();
const BAR_MIN = 10;
const BAR_MAX = 30;
// Room the numbers after the bar take at most.
const STATS_WIDTH = 48;

/** Formats a byte count with a decimal unit, e.g. `1.50 GB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0
    ? `${Math.round(value)} B`
    : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** Formats seconds as `45s`, `3m05s` or `2h03m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * The text of one progress line, at most `columns` wide:
 * `label [#####-----]  50%  1.00 GB / 2.00 GB  250 MB/s  ETA 4s`.
 */
export function formatProgress(
  label: string,
  progress: SaveProgress,
  elapsedMs: number,
  columns: number,
): string {
  const { done, total } = progress;
  const fraction = total > 0 ? Math.min(done / total, 1) : 1;
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = rate > 0 && done < total ? ` ETA ${formatDuration((total - done) / rate)}` : "";
  const stats = `${String(Math.floor(fraction * 100)).padStart(3)}% ${formatBytes(done)} / ${
    formatBytes(total)
  } ${formatBytes(rate)}/s${eta}`;
  // The bar's width depends on the columns only, so it does not jitter as
  // the numbers change length.
  const width = Math.min(columns - label.length - STATS_WIDTH - 4, BAR_MAX);
  if (width < BAR_MIN) return `${label} ${stats}`.slice(0, Math.max(columns - 1, 0));
  const filled = Math.round(fraction * width);
  return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${stats}`;
}

/** A progress line redrawn in place with `\r`; call {@linkcode ProgressBar.done} at the end. */
export class ProgressBar {
  #label: string;
  #write: (text: string) => void;
  #columns: number;
  #now: () => number;
  #interval: number;
  #start: number;
  #last = -Infinity;
  #drawn = false;

  /** A bar for `label` that draws through `options.write`. */
  constructor(label: string, options: ProgressBarOptions = {}) {
    this.#label = label;
    this.#write = options.write ?? ((text) => writeAll(encoder.encode(text)));
    this.#columns = options.columns ?? terminalColumns();
    this.#now = options.now ?? (() => performance.now());
    this.#interval = options.interval ?? 100;
    this.#start = this.#now();
  }

  /** Redraws when enough time passed since the last draw, or at the end. */
  update(progress: SaveProgress): void {
    const now = this.#now();
    if (now - this.#last < this.#interval && progress.done < progress.total) return;
    this.#last = now;
    const line = formatProgress(this.#label, progress, now - this.#start, this.#columns);
    this.#write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }

  /** Clears the line, so whatever is printed next starts clean. */
  done(): void {
    if (this.#drawn) this.#write("\r\x1b[2K");
    this.#drawn = false;
  }
}

/**
 * A progress callback drawing on stderr, or `undefined` when nothing should
 * be drawn: with `quiet` or `json`, or when stderr is not a terminal.
 */
export function stderrProgress(
  label: string,
  options: { quiet?: boolean; json?: boolean; isTerminal?: boolean; bar?: ProgressBarOptions } = {},
): { update(progress: SaveProgress): void; done(): void } | undefined {
  if (options.quiet || options.json) return undefined;
  if (!(options.isTerminal ?? Deno.stderr.isTerminal())) return undefined;
  return new ProgressBar(label, options.bar);
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

function writeAll(bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += Deno.stderr.writeSync(bytes.subarray(done));
}
