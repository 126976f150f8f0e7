// The view's keys kept in order (UTF-8 bytes, as etcd and SQLite list them), so that a
// list by prefix is a binary search and a scan instead of a sort of every key. A change
// moves at most one key: an insert or removal shifts the array, which for tens of
// thousands of keys is a memmove of microseconds.
import { compareKeys } from '../key-order';

export class SortedKeys {
  private keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** Replace every key (a resync); `keys` need not be sorted. */
  reset(keys: string[]): void {
    this.keys = keys.sort(compareKeys);
  }

  insert(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] !== key) this.keys.splice(i, 0, key);
  }

  remove(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }

  /** Keys that start with `prefix`, in order. */
  under(prefix: string): string[] {
    const found: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.keys.length; i++) {
      const key = this.keys[i];
      if (!key.startsWith(prefix)) break;
      found.push(key);
    }
    return found;
  }

  /** The index of the first key that does not sort before `key`. */
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
