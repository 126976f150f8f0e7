// Small tools the contract cases share: waiting for a condition, gathering a watch's
// changes, and a gate to hold a transaction still while another commits.
import type { Test } from 'tap';
import type { AsyncStore, StoreChange, WatchOptions } from '../../../src/store';

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
  stop(): Promise<void>;
}

export async function collect(
  t: Test,
  store: AsyncStore,
  prefix: string,
  options: WatchOptions = {},
): Promise<Collected> {
  const changes: StoreChange[] = [];
  const stop = await store.watch(prefix, (c) => changes.push(c), options);
  t.teardown(() => stop().catch(() => undefined));
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

/** The message of what `p` rejects with. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** Changes without their revisions, to compare shapes. */
export function shapes(changes: StoreChange[]): unknown[] {
  return changes.map((c) => {
    const { revision, ...rest } = c;
    void revision;
    return rest;
  });
}
