// Remembers which endpoints (or servers) failed recently, so the next attempt tries the
// healthy ones first instead of waiting out a dead one's timeout every time.
export class FailureMemory {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly memoryMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  failed(key: string): void {
    this.until.set(key, this.now() + this.memoryMs);
  }

  succeeded(key: string): void {
    this.until.delete(key);
  }

  /** Failed within the memory window. */
  isFailed(key: string): boolean {
    const t = this.until.get(key);
    if (t === undefined) return false;
    if (t > this.now()) return true;
    this.until.delete(key);
    return false;
  }

  /** items in configured order, recently failed ones last (soonest forgiven first). */
  order<T>(items: readonly T[], key: (item: T) => string): T[] {
    const healthy = items.filter((i) => !this.isFailed(key(i)));
    const failed = items
      .filter((i) => this.isFailed(key(i)))
      .sort((a, b) => this.until.get(key(a))! - this.until.get(key(b))!);
    return [...healthy, ...failed];
  }
}
