// A counting semaphore (also used to bound key-server tests and password checks), made for
// blocking native calls. koffi `.async` calls run on libuv's
// thread pool, shared with fs, dns.lookup and zlib; an ioctl on a wedged drive can sit in
// the kernel for a transport timeout (tens of seconds) and cannot be cancelled. Capping
// in-flight calls below the pool size keeps threads free for everything else.

/** libuv's pool size as this process started it (UV_THREADPOOL_SIZE, default 4). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** Half the pool, at least one: with the default 4 threads, 2 for drives, 2 for the rest. */
export function defaultInFlightCap(poolSize = threadPoolSize()): number {
  return Math.max(1, Math.floor(poolSize / 2));
}

export class InFlightLimit {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`in-flight limit must be a positive integer, got ${max}`);
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter so `running` never dips below busy.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
