// Progress of a save, as the byte count SaveOptions.onProgress receives.

type Report = (progress: { done: number; total: number }) => void;

/** Reports save progress as a monotonic byte count, clamped to the expected total. */
export class ProgressCounter {
  total = 0;
  #done = 0;
  #report: Report | undefined;

  constructor(report: Report | undefined) {
    this.#report = report;
  }

  /** Whether anyone listens. */
  get active(): boolean {
    return this.#report !== undefined;
  }

  /** Moves to `done` when that is further than before. */
  reach(done: number): void {
    if (this.#report === undefined || done <= this.#done) return;
    // Headers and the central directory are not in the total: stop short of it.
    this.#done = Math.min(done, Math.max(this.total - 1, 0));
    this.#report({ done: this.#done, total: this.total });
  }

  add(bytes: number): void {
    this.reach(this.#done + bytes);
  }

  finish(): void {
    this.#done = this.total;
    this.#report?.({ done: this.total, total: this.total });
  }
}
