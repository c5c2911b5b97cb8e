// Numbers for objects by identity, as the pickler's memo needs them. A class
// can lend each instance a slot (a method under a symbol that reads, or sets
// and reads, a private field) where the number's position is kept on the
// object itself; other objects go in a Map. A method, not an accessor: V8
// calls an accessor reached from many classes twice as slowly.
// A Map of every object of a large checkpoint (1.2 million for 400,000
// tensors) took a quarter of the encoding time, mostly in cache misses.

/** The pickler's memo slot. */
export const MEMO_SLOT: unique symbol = Symbol("ckptkit.memoSlot");

/** An object lending a slot under `S`: called with a number it stores it, and returns the slot (-1 when new). */
export type Slotted<S extends symbol> = { [K in S]: (slot?: number) => number };

// Slots in use by a live IdentityMemo. A second one at the same time (a hook
// that pickles while pickling) uses its Map only, so neither overwrites the
// other's slots.
const busy = new Set<symbol>();

export class IdentityMemo {
  #objects = new Map<object, number>();
  #slot: symbol | undefined;
  // A slot is only a hint: it may be left over from an earlier memo, so it
  // counts only when it points back at the object here.
  #slotted: object[] = [];
  #numbers: number[] = [];

  /** Uses the slots under `slot` until {@linkcode release}. */
  constructor(slot: symbol) {
    if (!busy.has(slot)) {
      busy.add(slot);
      this.#slot = slot;
    }
  }

  /** Leaves the slots to the next memo. */
  release(): void {
    if (this.#slot !== undefined) busy.delete(this.#slot);
    this.#slot = undefined;
  }

  /** Changes whenever an object without a slot is added. */
  get version(): number {
    return this.#objects.size;
  }

  get(value: object): number | undefined {
    const at = this.#slotOf(value);
    if (at === undefined) return this.#objects.get(value);
    return this.#slotted[at] === value ? this.#numbers[at] : undefined;
  }

  /**
   * Like `get`, given the version read before `value` could have been
   * added: an unchanged version spares the Map lookup.
   */
  getSince(value: object, version: number): number | undefined {
    const at = this.#slotOf(value);
    if (at === undefined) {
      return this.#objects.size === version ? undefined : this.#objects.get(value);
    }
    return this.#slotted[at] === value ? this.#numbers[at] : undefined;
  }

  set(value: object, number: number): void {
    const slot = this.#slot;
    if (slot === undefined || this.#slotOf(value) === undefined) {
      this.#objects.set(value, number);
      return;
    }
    (value as Slotted<symbol>)[slot](this.#slotted.length);
    this.#slotted.push(value);
    this.#numbers.push(number);
  }

  #slotOf(value: object): number | undefined {
    const slot = this.#slot;
    return slot === undefined ? undefined : (value as Partial<Slotted<symbol>>)[slot]?.();
  }
}
