// Collects what runs over one stream find: globals by path, findings, nested
// payloads. Several runs (views of the same bytes, trailing pickles) share one.
import type { Rating } from "./policy.ts";
import type { Finding, GlobalReference, NestedPickle, ScanResult, Verdict } from "./scan_result.ts";

const MAX_OFFSETS = 5;
// One line per place is enough to act on; a hostile pickle could repeat a
// finding millions of times.
const MAX_FINDINGS = 200;
const RANK: Record<Rating, number> = { allowed: 0, unknown: 1, dangerous: 2 };

export function worse(a: Rating, b: Rating): Rating {
  return RANK[b] > RANK[a] ? b : a;
}

export class Report {
  readonly globals = new Map<string, GlobalReference>();
  readonly findings: Finding[] = [];
  readonly nested: NestedPickle[] = [];
  #seen = new Set<string>();
  #dropped: Record<"unknown" | "dangerous", number> = { unknown: 0, dangerous: 0 };
  error: string | undefined;
  end: number | undefined;

  reference(
    path: string,
    init: Omit<GlobalReference, "count" | "offsets">,
    offset: number,
  ): GlobalReference {
    let ref = this.globals.get(path);
    if (ref === undefined) {
      ref = { ...init, count: 0, offsets: [] };
      this.globals.set(path, ref);
    }
    ref.count++;
    if (ref.offsets.length < MAX_OFFSETS && !ref.offsets.includes(offset)) ref.offsets.push(offset);
    return ref;
  }

  /** Makes a reference's rating worse, with the reason. */
  escalate(ref: GlobalReference, rating: Rating, reason: string): void {
    if (RANK[rating] > RANK[ref.rating]) {
      ref.rating = rating;
      ref.reason = reason;
    }
  }

  finding(rating: "unknown" | "dangerous", offset: number, message: string): void {
    const key = `${offset}\n${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    if (this.findings.length >= MAX_FINDINGS) {
      this.#dropped[rating]++;
      return;
    }
    this.findings.push({ rating, offset, message });
  }

  /** Adds what another report found (a run that started over reports into its own). */
  absorb(other: Report): void {
    for (const [path, ref] of other.globals) {
      const mine = this.globals.get(path);
      if (mine === undefined) {
        this.globals.set(path, ref);
        continue;
      }
      mine.count += ref.count;
      for (const offset of ref.offsets) {
        if (mine.offsets.length < MAX_OFFSETS && !mine.offsets.includes(offset)) {
          mine.offsets.push(offset);
        }
      }
      this.escalate(mine, ref.rating, ref.reason);
    }
    for (const f of other.findings) this.finding(f.rating, f.offset, f.message);
    this.#dropped.unknown += other.#dropped.unknown;
    this.#dropped.dangerous += other.#dropped.dangerous;
    this.nested.push(...other.nested);
    this.error ??= other.error;
    this.end ??= other.end;
  }

  get verdict(): Verdict {
    let worst: Rating = "allowed";
    for (const g of this.globals.values()) worst = worse(worst, g.rating);
    for (const f of this.findings) worst = worse(worst, f.rating);
    if (this.#dropped.dangerous > 0) worst = "dangerous";
    else if (this.#dropped.unknown > 0) worst = worse(worst, "unknown");
    for (const n of this.nested) {
      if (n.scan !== undefined) {
        worst = worse(worst, n.scan.verdict === "clean" ? "allowed" : n.scan.verdict);
      }
    }
    return worst === "allowed" ? "clean" : worst;
  }

  result(): ScanResult {
    const findings = [...this.findings];
    const dropped = this.#dropped.dangerous + this.#dropped.unknown;
    if (dropped > 0) {
      findings.push({
        rating: this.#dropped.dangerous > 0 ? "dangerous" : "unknown",
        offset: findings[findings.length - 1].offset,
        message: `${dropped} more findings not listed`,
      });
    }
    return {
      verdict: this.verdict,
      globals: [...this.globals.values()],
      findings,
      nested: this.nested,
      error: this.error,
      end: this.end,
    };
  }
}
