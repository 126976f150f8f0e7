// Crash safety of the master key rekey: a node process is killed (SIGKILL, through the
// EKMD_TEST_HOOKS crash points) at each step of a rekey internal → external and external →
// internal; the next start finishes or rolls it back, GetAsyncResult tells which, every
// DEK still unwraps (the simulator checks each attached DEK) and no key is left at the EKS
// that nothing refers to.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki, type DevPki } from '../../scripts/pki/dev-pki';
import { KmipKeyServerTester } from '../../src/cluster/key-servers/kmip-tester';
import { DevKmipServer } from '../../src/kmip/server';
import { addProvider, eksClient, mkName } from '../cluster/sear/eks-setup';
import {
  awaitAsync,
  createCluster,
  readsBack,
  startSearNode,
  writeEveryDrive,
  type SearNode,
} from '../cluster/sear/sear-node';

const fixture = join(__dirname, 'fixtures', 'sear-process.js');
const pkiDir = mkdtempSync(join(tmpdir(), 'ekmd-sear-pki-'));
t.teardown(() => rmSync(pkiDir, { recursive: true, force: true }));
let pki: DevPki;
t.before(async () => {
  pki = await makeDevPki(pkiDir);
});

function runUntilCrash(node: SearNode, point: string, args: string[]) {
  return new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [fixture, node.dir, node.socket, ...args], {
      env: { ...process.env, EKMD_TEST_HOOKS: `crash:${point}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (_code, signal) => resolve({ signal, stderr }));
  });
}

async function keyInfo(node: SearNode) {
  return (await node.client.ok('GetSoftwareEncryptionAtRestInfo')) as Record<string, any>;
}

async function crashedRekey(t: Test, toExternal: boolean, point: string) {
  const node = await startSearNode(t, {
    drives: 3,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const read = (p: string) => readFileSync(p, 'utf8');
  const kms = await DevKmipServer.start({
    stateDir: join(node.dir, 'eks'),
    host: '127.0.0.1',
    port: 0,
    ca: read(pki.ca),
    cert: read(pki.server.cert),
    key: read(pki.server.key),
  });
  t.teardown(() => kms.close());
  const eks = eksClient(pki, kms.address.port);
  t.teardown(() => eks.close());
  await createCluster(node);
  await node.settle();
  writeEveryDrive(node);
  const { keyProviderID } = await addProvider(node, pki, kms.address.port);
  if (!toExternal) {
    const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
      keyManagementType: 'External',
      keyProviderID,
    });
    await awaitAsync(node, asyncHandle);
  }
  const old = (await keyInfo(node)).masterKeyInfo;
  const uuid = (await node.client.ok('GetClusterInfo')).clusterInfo.uuid as string;
  const [oldUid] = toExternal ? [] : await eks.locate({ names: [mkName(uuid, old.keyID)] });
  await node.close();

  const args = toExternal ? ['external', String(keyProviderID)] : ['internal'];
  const r = await runUntilCrash(node, point, args);
  t.equal(r.signal, 'SIGKILL', `killed at ${point}${r.stderr ? `: ${r.stderr}` : ''}`);
  await node.open();
  await node.settle();
  const info = await keyInfo(node);
  const outcome = await node.client.ok('GetAsyncResult', {
    asyncHandle: info.rekeyMasterKeyAsyncResultID,
  });
  t.equal(outcome.status, 'complete', 'the interrupted rekey is complete, one way or the other');
  // Every DEK unwraps with the key now current: the simulator refuses a wrong DEK.
  await node.close();
  node.sim.powerCycle();
  await node.open();
  await node.settle();
  t.ok(
    node.sim.status().drives.every((d) => d.dek === 'attached'),
    'every DEK attached',
  );
  t.ok(readsBack(node), 'data readable on every drive');
  const active = (await node.client.ok('GetKeyProviderKmip', { keyProviderID })).kmipKeyProvider
    .keyProviderIsActive;
  const held = await eks.locate({ objectGroups: [`ekmd-cluster-${uuid}`] });
  return { node, info, outcome, old, oldUid, active, held, eks, uuid, keyProviderID };
}

for (const point of ['sear.afterCreate', 'sear.afterNewKey']) {
  t.test(`internal → external killed at ${point}: rolled back`, async (t) => {
    const c = await crashedRekey(t, true, point);
    t.match(c.outcome.error, {
      name: 'xSoftwareEncryptionAtRestRekeyRolledBack',
      message: /interrupted by a restart/,
    });
    t.notOk('result' in c.outcome);
    t.same(c.info.masterKeyInfo, c.old, 'the internal key is still the master key');
    const created = c.outcome.error.keyToDecommission.keyID as string;
    t.same(await c.eks.locate({ names: [mkName(c.uuid, created)] }), [], 'new key destroyed');
    t.same(c.held, [], 'nothing left at the EKS');
    t.equal(c.active, false, 'the provider is inactive');
  });
}

for (const point of ['sear.afterCommit', 'sear.afterDestroyOld']) {
  t.test(`internal → external killed at ${point}: finished`, async (t) => {
    const c = await crashedRekey(t, true, point);
    t.match(c.outcome.result, {
      keyToDecommission: { keyID: c.old.keyID, keyManagementType: 'internal' },
      newKey: { keyManagementType: 'external', keyProviderID: c.keyProviderID },
      state: 'Ready',
    });
    t.same(c.info.masterKeyInfo.keyID, c.outcome.result.newKey.keyID, 'the new key is current');
    const [uid] = await c.eks.locate({ names: [mkName(c.uuid, c.outcome.result.newKey.keyID)] });
    t.same(c.held, [uid], 'exactly the new MK at the EKS');
    t.equal(c.active, true, 'the provider is active');
  });
}

t.test(
  'internal → external killed at sear.afterNewKey: the outcome is read once, then purged',
  async (t) => {
    const c = await crashedRekey(t, true, 'sear.afterNewKey');
    const again = await c.node.client.call('GetAsyncResult', {
      asyncHandle: c.info.rekeyMasterKeyAsyncResultID,
    });
    t.equal(again.error?.name, 'xAsyncHandleDoesNotExist', 'the outcome was read once and purged');
  },
);

for (const point of ['sear.afterNewKey', 'sear.afterCommit', 'sear.afterDestroyOld']) {
  t.test(`external → internal killed at ${point}`, async (t) => {
    const c = await crashedRekey(t, false, point);
    if (point === 'sear.afterNewKey') {
      t.equal(c.outcome.error?.name, 'xSoftwareEncryptionAtRestRekeyRolledBack', 'rolled back');
      t.same(c.info.masterKeyInfo, c.old, 'the external key is still the master key');
      t.same(c.held, [c.oldUid], 'the external MK is kept at the EKS');
      t.equal(c.active, true, 'the provider stays active');
    } else {
      t.equal(c.outcome.result?.state, 'Ready', 'finished');
      t.equal(c.info.masterKeyInfo.keyManagementType, 'internal');
      await t.rejects(c.eks.get(c.oldUid!), /Item Not Found/, 'old MK revoked and destroyed');
      t.same(c.held, [], 'nothing left at the EKS');
      t.equal(c.active, false, 'the provider is inactive again');
    }
  });
}
