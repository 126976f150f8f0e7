// Writes of one key, each one etcd Txn: a delete (a tombstone, put only over a live key)
// and a compare-and-set. When one does not apply, its failure branch reads the key, and
// the call waits for this node's view to be as new as that read before it answers, so a
// node never hears "absent" or "changed" from etcd and then reads otherwise from its view.
import type { ICompare, IKeyValue, IRangeResponse } from 'etcd3';
import type { EtcdIo } from './client';
import type { WriteGate } from './health';

export async function deleteKey(io: EtcdIo, gate: WriteGate, key: string): Promise<boolean> {
  const etcdKey = io.dataKey(key);
  const tombstone = io.tombstone();
  const what = `delete of store key ${JSON.stringify(key)}`;
  const res = await io.call(what, true, (o) =>
    io.client.kv.txn(
      {
        compare: [{ key: etcdKey, target: 'Value', result: 'NotEqual', value: tombstone }],
        success: [{ request_put: { key: etcdKey, value: tombstone } }],
        failure: [{ request_range: { key: etcdKey, keys_only: true } }],
      },
      o,
    ),
  );
  if (res.succeeded) {
    await gate.viewHolds(Number(res.header.revision), what);
    return true;
  }
  await settle(gate, key, res.responses[0]?.response_range, Number(res.header.revision), what);
  return false;
}

/**
 * Write `encoded` iff the key's revision is `expected` (0: absent, which in etcd is two
 * states, missing or a tombstone: try missing, then the tombstone found, as long as it
 * stays a tombstone).
 */
export async function compareAndSetKey(
  io: EtcdIo,
  gate: WriteGate,
  key: string,
  expected: number,
  encoded: string,
  lease?: string,
): Promise<boolean> {
  const etcdKey = io.dataKey(key);
  const put = { request_put: { key: etcdKey, value: Buffer.from(encoded), lease: lease ?? '0' } };
  const what = `compare-and-set of store key ${JSON.stringify(key)}`;
  let mod = expected;
  for (let round = 0; round < 8; round++) {
    const compare: ICompare[] = [
      { key: etcdKey, target: 'Mod', result: 'Equal', mod_revision: mod },
    ];
    if (expected > 0) {
      // A tombstone's revision is not a live one, whatever number the caller passed.
      compare.push({ key: etcdKey, target: 'Value', result: 'NotEqual', value: io.tombstone() });
    }
    const res = await io.call(what, true, (o) =>
      io.client.kv.txn(
        { compare, success: [put], failure: [{ request_range: { key: etcdKey } }] },
        o,
      ),
    );
    if (res.succeeded) {
      await gate.viewHolds(Number(res.header.revision), what);
      return true;
    }
    const found = res.responses[0]?.response_range;
    const current = found?.kvs[0];
    if (expected > 0 || !current || current.value.length > 0) {
      await settle(gate, key, found, Number(res.header.revision), what);
      return false; // live, or gone with a revision expected: not what was expected
    }
    mod = Number(current.mod_revision);
  }
  return false;
}

async function settle(
  gate: WriteGate,
  key: string,
  found: IRangeResponse | undefined,
  revision: number,
  what: string,
): Promise<void> {
  if (!found) return;
  const kv: IKeyValue | undefined = found.kvs[0];
  await gate.viewHoldsKey(key, kv && Number(kv.mod_revision), revision, what);
}
