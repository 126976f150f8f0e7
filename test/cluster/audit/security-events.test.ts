// The services' own security events in the audit log, against the real simulator, SQLite
// store and dev key server: hardware EAR enabled and disabled, a drive crypto-erased, AKs
// destroyed; SEAR rekeys committed and rolled back, master keys destroyed. Each event
// names its keys (keyID, provider, KMIP UID) and never holds a key byte. The rekey also
// moves ekmd_rekey_progress_ratio in the daemon's metrics registry.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { readAudit, type AuditRecord } from '../../../src/cluster/audit';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { unwrapKey } from '../../../src/cluster/sear/key-wrap';
import { unsealInternalKey } from '../../../src/cluster/sear/master-keys';
import { daemonRegistry } from '../../../src/daemon/metrics';
import { DevKmipServer } from '../../../src/kmip/server';
import { eventRegistry } from '../../../src/metrics';
import { startRecordingMetrics } from '../../../src/metrics/recording';
import { bin } from '../../helpers/paths';
import { addProvider, eksClient } from '../sear/eks-setup';
import {
  awaitAsync,
  createCluster,
  startSearNode,
  waitFor,
  type SearNode,
} from '../sear/sear-node';

const run = promisify(execFile);
const PROGRESS = /^ekmd_rekey_progress_ratio\{kind="sear"\} (\S+)$/m;

/** Every key byte sequence seen, so the audit log can be searched for them. */
const secrets: Buffer[] = [];

function keep(...keys: Buffer[]): void {
  for (const k of keys) secrets.push(Buffer.from(k));
}

function internalMk(node: SearNode): Buffer {
  const keyID = node.store.get<any>('sear/state')!.value.currentKeyID as string;
  return unsealInternalKey(node.sealer, node.store.get<any>(`keys/${keyID}`)!.value);
}

function deksOf(node: SearNode, mk: Buffer): Buffer[] {
  return node.store
    .list<any>('sear/deks/')
    .map((e) => unwrapKey(mk, Buffer.from(e.value.wrapped, 'base64'), e.value.serial));
}

const events = (node: SearNode, action: string): AuditRecord[] =>
  readAudit(node.store).filter((r) => r.action === action && r.source === 'service');

t.test('security events in the audit log', async (t) => {
  const node = await startSearNode(t, {
    drives: 3,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const pki = await makeDevPki(join(node.dir, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const kms = await DevKmipServer.start({
    stateDir: join(node.dir, 'eks'),
    host: '127.0.0.1',
    port: 0,
    ca: read(pki.ca),
    cert: read(pki.server.cert),
    key: read(pki.server.key),
  });
  let kmsUp = true;
  t.teardown(() => (kmsUp ? kms.close() : undefined));
  const eks = eksClient(pki, kms.address.port);
  t.teardown(() => eks.close());
  const registry = daemonRegistry({ store: node.store, faults: node.faults });
  // As a metrics server does: without one, nothing is recorded.
  t.teardown(startRecordingMetrics());

  await createCluster(node);
  await node.settle();
  const { keyProviderID } = await addProvider(node, pki, kms.address.port);
  const list = async () => (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  const akAt = async (keyID: string) =>
    (await eks.get(node.store.get<any>(`keys/${keyID}`)!.value.kmipUID)).material;

  t.test('hardware EAR enabled: one event with the state reached', async (t) => {
    await node.client.ok('EnableEncryptionAtRest', { keyProviderID });
    await waitFor('enabled', async () => {
      const info = (await node.client.ok('GetClusterInfo')).clusterInfo;
      return info.encryptionAtRestState === 'enabled';
    });
    for (const d of await list()) keep(await akAt(d.keyID));
    const [enabled, ...more] = events(node, 'EncryptionAtRestEnabled');
    t.same(more, []);
    t.match(enabled, { outcome: 'ok', params: { keyProviderID, enabled: 3, failed: 0 } });
  });

  t.test('secure erase: the erase and its AK destroyed at the EKS', async (t) => {
    const d = (await list())[0]!;
    const kmipUID = node.store.get<any>(`keys/${d.keyID}`)!.value.kmipUID as string;
    const { asyncHandle } = await node.client.ok('SecureEraseDrives', { drives: [d.driveID] });
    await node.settle();
    t.equal((await node.client.ok('GetAsyncResult', { asyncHandle })).status, 'complete');
    t.match(events(node, 'SecureEraseDrive'), [
      { outcome: 'ok', params: { driveID: d.driveID, serial: d.serial, keyID: d.keyID } },
    ]);
    const destroyed = events(node, 'DestroyAuthenticationKey');
    t.same(
      destroyed.map((r) => r.params),
      [
        {
          keyID: d.keyID,
          keyProviderID,
          kmipUID,
          driveID: d.driveID,
          serial: d.serial,
        },
      ],
      'the AK by keyID, provider and KMIP UID',
    );
    await t.rejects(eks.get(kmipUID), /Item Not Found/, 'and it is gone at the EKS');
  });

  t.test('hardware EAR disabled: every remaining AK destroyed, then the state', async (t) => {
    const keyIDs = (await list()).filter((d) => d.keyID).map((d) => d.keyID as string);
    t.equal(keyIDs.length, 2);
    await node.client.ok('DisableEncryptionAtRest');
    await waitFor('disabled', async () => {
      const info = (await node.client.ok('GetClusterInfo')).clusterInfo;
      return info.encryptionAtRestState === 'disabled';
    });
    await node.settle();
    const destroyed = events(node, 'DestroyAuthenticationKey').slice(1);
    t.same(destroyed.map((r) => r.params.keyID).sort(), [...keyIDs].sort());
    t.ok(destroyed.every((r) => typeof r.params.kmipUID === 'string' && r.params.keyProviderID));
    const [disabled] = events(node, 'EncryptionAtRestDisabled');
    t.match(disabled, { outcome: 'ok', params: { keyProviderID, enabled: 0, none: 3 } });
    t.ok(disabled!.seq > destroyed.at(-1)!.seq, 'disabled is recorded after the destroys');
  });

  t.test('SEAR rekey internal → external: committed, the internal MK dropped', async (t) => {
    t.notMatch(await registry.metrics(), PROGRESS, 'no rekey progress before a rekey');
    const mk = internalMk(node);
    keep(mk, ...deksOf(node, mk));
    const from = node.store.get<any>('sear/state')!.value.currentKeyID as string;
    const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
      keyManagementType: 'External',
      keyProviderID,
    });
    const done = await awaitAsync(node, asyncHandle);
    const to = done.result.newKey.keyID as string;
    t.match(events(node, 'RekeyMasterKeyCommitted'), [
      {
        outcome: 'ok',
        params: {
          asyncHandle,
          fromKeyID: from,
          toKeyID: to,
          toKeyProviderID: keyProviderID,
          deks: 3,
        },
      },
    ]);
    t.match(events(node, 'DestroyMasterKey'), [
      { params: { keyID: from, keyProviderID: null, kmipUID: null }, details: /sealed copy/ },
    ]);
    t.equal(Number(PROGRESS.exec(await registry.metrics())?.[1]), 1, 'progress reached 1');
    const external = node.store.get<any>(`keys/${to}`)!.value;
    keep((await eks.get(external.kmipUID)).material);
  });

  t.test('SEAR rekey external → internal: the external MK destroyed at the EKS', async (t) => {
    const from = node.store.get<any>('sear/state')!.value.currentKeyID as string;
    const kmipUID = node.store.get<any>(`keys/${from}`)!.value.kmipUID as string;
    // Progress is set as DEKs are re-wrapped: watch the gauge's values during this rekey.
    const gauge = eventRegistry.getSingleMetric('ekmd_rekey_progress_ratio') as any;
    const seen: number[] = [];
    const set = gauge.set.bind(gauge);
    gauge.set = (labels: object, v: number) => (seen.push(v), set(labels, v));
    t.teardown(() => (gauge.set = set));
    const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
      keyManagementType: 'Internal',
    });
    await awaitAsync(node, asyncHandle);
    await node.settle();
    t.same(seen, [0, 1], 'from 0 while re-wrapping to 1 once committed');
    t.equal(events(node, 'RekeyMasterKeyCommitted').length, 2);
    const destroyed = events(node, 'DestroyMasterKey').at(-1)!;
    t.same(destroyed.params, { keyID: from, keyProviderID, kmipUID });
    t.match(destroyed.details, /revoked and destroyed/);
    await t.rejects(eks.get(kmipUID), /Item Not Found/);
    const mk = internalMk(node);
    keep(mk, ...deksOf(node, mk));
  });

  t.test('SEAR rekey with the EKS down: rolled back, and recorded as such', async (t) => {
    await kms.close();
    kmsUp = false;
    const current = node.store.get<any>('sear/state')!.value.currentKeyID as string;
    const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
      keyManagementType: 'External',
      keyProviderID,
    });
    await waitFor('rolled back', async () => events(node, 'RekeyMasterKeyRolledBack').length > 0);
    const [rolledBack] = events(node, 'RekeyMasterKeyRolledBack');
    t.match(rolledBack, {
      outcome: 'xSoftwareEncryptionAtRestRekeyRolledBack',
      params: { asyncHandle, fromKeyID: current, toKeyProviderID: keyProviderID },
    });
    t.ok(rolledBack!.details.length > 0, 'with the reason');
    t.equal(node.store.get<any>('sear/state')!.value.currentKeyID, current, 'old MK current');
    t.equal(Number(PROGRESS.exec(await registry.metrics())?.[1]), 1, 'no rekey running');
  });

  t.test('ekmctl audit --json shows the events, offline from the store', async (t) => {
    const { stdout } = await run(process.execPath, [
      bin.ekmctl,
      'audit',
      '--json',
      '--state-dir',
      node.dir,
    ]);
    const shown = JSON.parse(stdout) as AuditRecord[];
    t.same(
      shown.map((r) => r.seq),
      readAudit(node.store).map((r) => r.seq),
      'every event',
    );
    const service = shown.filter((r) => r.source === 'service').map((r) => r.action);
    t.same([...new Set(service)].sort(), [
      'DestroyAuthenticationKey',
      'DestroyMasterKey',
      'EncryptionAtRestDisabled',
      'EncryptionAtRestEnabled',
      'RekeyMasterKeyCommitted',
      'RekeyMasterKeyRolledBack',
      'SecureEraseDrive',
    ]);
  });

  t.test('no key byte anywhere in the audit log', async (t) => {
    const text = JSON.stringify(readAudit(node.store));
    t.ok(secrets.length >= 3 + 1 + 3 + 1 + 1 + 3, `${secrets.length} keys searched for`);
    const leaked = secrets.filter((k) =>
      [k.toString('hex'), k.toString('base64'), k.toString('base64url')].some((s) =>
        text.includes(s),
      ),
    );
    t.equal(leaked.length, 0, 'no key in hex or base64');
  });
});
