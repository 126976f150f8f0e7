// Work over many records in several transactions: a store transaction writes at most
// MAX_TX_WRITES keys (etcd's limit, kept on every backend), so a change to each of
// hundreds of drives commits in chunks. Each chunk is atomic; the whole is not, so callers
// use this only where every item's change stands on its own (a restart finds each item
// either changed or not, and carries on).
import { MAX_TX_WRITES, type Store, type StoreTx } from '../store/store';

/**
 * Runs `write(tx, item)` for every item, `writesPerItem` keys each at most, in as few
 * transactions as the limit allows, in order.
 */
export async function writeInChunks<T>(
  store: Store,
  items: readonly T[],
  writesPerItem: number,
  write: (tx: StoreTx, item: T) => void,
): Promise<void> {
  const perTx = Math.max(1, Math.floor(MAX_TX_WRITES / writesPerItem));
  for (let i = 0; i < items.length; i += perTx) {
    const chunk = items.slice(i, i + perTx);
    await store.transaction((tx) => {
      for (const item of chunk) write(tx, item);
    });
  }
}
