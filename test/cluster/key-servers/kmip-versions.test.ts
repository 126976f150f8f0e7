// The store's memory of each key server's KMIP version: empty until a negotiation, kept for
// the server's current endpoints only, and written only when it changes.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KMIP_VERSIONS_PREFIX,
  versionMemory,
} from '../../../src/cluster/key-servers/kmip-versions';
import type { KeyServerRecord } from '../../../src/cluster/key-servers/kmip-records';
import { openSqliteStore } from '../../../src/store';

t.test('version memory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-kmip-versions-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(() => store.close());
  const server = {
    keyServerID: 3,
    kmipKeyServerHostnames: ['kms1.example', 'kms1b.example'],
    kmipKeyServerPort: 5696,
  } as KeyServerRecord;

  const fresh = versionMemory(store, server);
  t.equal(fresh.knownVersion, undefined, 'nothing known yet');
  fresh.onNegotiated!({ major: 1, minor: 4 });
  t.same(versionMemory(store, server).knownVersion, { major: 1, minor: 4 }, 'remembered');

  const revision = store.get(`${KMIP_VERSIONS_PREFIX}3`)!.revision;
  versionMemory(store, server).onNegotiated!({ major: 1, minor: 4 });
  t.equal(store.get(`${KMIP_VERSIONS_PREFIX}3`)!.revision, revision, 'the same version: no write');

  const moved = { ...server, kmipKeyServerPort: 15696 };
  t.equal(versionMemory(store, moved).knownVersion, undefined, 'other endpoints: not used');
  versionMemory(store, moved).onNegotiated!({ major: 1, minor: 2 });
  t.same(versionMemory(store, moved).knownVersion, { major: 1, minor: 2 });
  t.equal(versionMemory(store, server).knownVersion, undefined, 'the old endpoints are forgotten');

  // A transaction is over by the time a version is settled: a provider opened in one (to
  // check a provider can be used) neither uses nor keeps a version.
  t.same(
    await store.transaction((tx) => versionMemory(tx, server)),
    {},
    'nothing in a transaction',
  );
});
