// The store marker, <prefix>store: says an ekmd store lives under the prefix, and in which
// format. Opening without it is refused (a wrong prefix must not read as an empty store);
// creating one is allowed only on a prefix with no keys at all, and a marker of a newer
// format is refused, as SQLite refuses a newer schema.
import type { IKeyValue } from 'etcd3';
import { StoreError } from '../errors';
import { prefixEnd, type EtcdIo } from './client';

const FORMAT = { format: 'ekmd-store', version: 1 };

export async function checkMarker(io: EtcdIo, create: boolean): Promise<void> {
  const res = await io.call('read of the store marker', false, (o) =>
    io.client.kv.range({ key: io.markerKey }, o),
  );
  if (res.kvs[0]) return checkFormat(io, res.kvs[0]);
  if (!create) {
    throw new StoreError(
      `${io.where}: no ekmd store under this prefix (a wrong prefix, or the cluster's store ` +
        'was never created)',
    );
  }
  const prefix = Buffer.from(io.config.prefix);
  const created = await io.call('creation of the store marker', true, (o) =>
    io.client.kv.txn(
      {
        // No key under the prefix was ever created (or all were removed).
        compare: [
          {
            key: prefix,
            range_end: prefixEnd(prefix),
            target: 'Create',
            result: 'Less',
            create_revision: 1,
          },
        ],
        success: [
          { request_put: { key: io.markerKey, value: Buffer.from(JSON.stringify(FORMAT)) } },
        ],
        failure: [{ request_range: { key: io.markerKey } }],
      },
      o,
    ),
  );
  if (created.succeeded) return;
  // Another node may have created it first: then it is there now.
  const marker = created.responses[0]?.response_range?.kvs[0];
  if (marker) return checkFormat(io, marker);
  throw new StoreError(
    `${io.where}: keys exist under this prefix but no ekmd store marker; refusing to ` +
      'create a store among them',
  );
}

function checkFormat(io: EtcdIo, marker: IKeyValue): void {
  let found: { format?: unknown; version?: unknown } | undefined;
  try {
    found = JSON.parse(marker.value.toString('utf8')) as typeof found;
  } catch {
    found = undefined;
  }
  if (found?.format !== FORMAT.format || typeof found.version !== 'number') {
    throw new StoreError(`${io.where}: the key ${io.markerKey} is not an ekmd store marker`);
  }
  if (found.version > FORMAT.version) {
    throw new StoreError(
      `${io.where}: the store has format version ${found.version}, newer than this ekmd ` +
        `supports (${FORMAT.version}); refusing to use it`,
    );
  }
}
