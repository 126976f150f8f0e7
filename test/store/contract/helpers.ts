// Small tools the contract cases share: waiting for a condition, gathering a watch's
// changes, a refusal's error, and a race between two stores' commits.
import type { Test } from 'tap';
import type { Store, StoreChange, StoreTx } from '../../../src/store';
import type { Backend, Location } from './backends';

/** One contract case. */
export interface Case {
  /** What the backend must offer for the case to mean something there. */
  needs?: 'shared' | 'racer';
  run(t: Test, b: Backend): Promise<void>;
}

/** A store's entries as [key, value] pairs, to compare two views. */
export function contents(store: Store, prefix = ''): [string, unknown][] {
  return store.list(prefix).map((e) => [e.key, e.value]);
}

export async function until(
  what: string | (() => string),
  pred: () => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Collected {
  changes: StoreChange[];
  /** Wait until at least n changes arrived. */
  count(n: number, timeoutMs?: number): Promise<StoreChange[]>;
  stop(): void;
}

export function collect(t: Test, store: Store, prefix: string): Collected {
  const changes: StoreChange[] = [];
  const stop = store.watch(prefix, (c) => changes.push(c));
  t.teardown(() => stop());
  return {
    changes,
    count: async (n, timeoutMs) => {
      await until(
        () => `${n} changes under ${prefix} (have ${changes.length})`,
        () => changes.length >= n,
        timeoutMs,
      );
      return changes;
    },
    stop,
  };
}

/** A promise and its resolve, to hold one side of a race at a chosen point. */
export function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** The error `call` throws, or its promise rejects with. */
export async function refusal(call: () => unknown): Promise<Error> {
  try {
    await call();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal');
}

/** Changes without their revisions, to compare shapes. */
export function shapes(changes: StoreChange[]): unknown[] {
  return changes.map((c) => {
    const { revision, ...rest } = c;
    void revision;
    return rest;
  });
}

export interface Race {
  /** The store whose transactions race. */
  store: Store;
  /**
   * Run a transaction of `read` (then a write of its own), with `interfere` committing
   * between its first run's reads and its commit (etcd: the commit is held back until
   * `interfere` resolves, so it conflicts and runs again). On SQLite nothing can come
   * between: `interfere` commits first and the one run sees it. Either way the result is
   * the serial one: `interfere`, then the transaction.
   */
  run<R>(
    read: (tx: StoreTx) => R,
    interfere: () => Promise<unknown>,
  ): Promise<{ attempts: number; result: R }>;
}

/** A race on `at`'s location; where commits cannot race, `at.store` runs both sides. */
export async function race(
  t: Test,
  b: Backend,
  at: { location: Location; store: Store },
): Promise<Race> {
  const racer = b.racer && (await b.racer(t, at.location));
  const store = racer?.store ?? at.store;
  return {
    store,
    run: async (read, interfere) => {
      let attempts = 0;
      if (!racer) await interfere();
      const running = store.transaction((tx) => {
        attempts++;
        const result = read(tx);
        if (attempts === 1) racer?.hold();
        tx.put('marker', attempts);
        return result;
      });
      if (racer) {
        await interfere().finally(() => racer.release());
      }
      const result = await running;
      return { attempts, result };
    },
  };
}
