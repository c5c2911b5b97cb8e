// Storage keys as torch.save numbers them: in the order the pickle first
// meets each storage.
import { IdentityMemo } from "../pickle/_identity_memo.ts";
import type { Storage } from "./storage.ts";

/** The slot a storage lends to the numbering (see IdentityMemo). */
export const ORDER_SLOT: unique symbol = Symbol("ckptkit.storageOrder");

export class StorageOrder {
  #numbers = new IdentityMemo(ORDER_SLOT);
  #storages: Storage[] = [];

  /** The key of `storage`, numbering it when new. */
  keyOf(storage: Storage): string {
    let number = this.#numbers.get(storage);
    if (number === undefined) {
      number = this.#storages.length;
      this.#numbers.set(storage, number);
      this.#storages.push(storage);
    }
    return String(number);
  }

  /** The storages met, in key order. */
  get storages(): Storage[] {
    return this.#storages;
  }

  /** Frees the storages' slots for the next numbering. */
  release(): void {
    this.#numbers.release();
  }
}
