// AddDrives, RemoveDrives and RetryDriveUnlock of node 2's drives, sent to node 1's API: two
// nodes on one etcd, each with its simulator. Node 1 checks the request against the store
// (unknown drive, wrong state, drives of two nodes, node 2 offline: the error, nothing
// recorded) and records it as node 2's intent; node 2 takes it, carries it out as its own
// call and records the outcome, which node 1's GetAsyncResult and ListDrives show. A request
// recorded while node 2 is down is carried out when it starts again, unless node 2 is removed
// first: RemoveNodes fails its waiting requests' results. ekmctl's retry-unlock through node 1
// follows node 2's retry.
import t from 'tap';
import { join } from 'node:path';
import { withoutAudit } from '../../../src/cluster/audit';
import { GUARD_PREFIX } from '../../../src/cluster/boot-unlock/try-guard';
import { sealLabel, type DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { INTENT_PREFIX } from '../../../src/cluster/drives/drive-intents';
import { getDrive } from '../../../src/cluster/drives/drive-records';
import { readFaults } from '../../../src/cluster/faults';
import { aliveKey } from '../../../src/cluster/nodes/node-records';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import { OpalUser } from '../../../src/opal/abi';
import { API_CERT_FILE } from '../../../src/store/state-files';
import { ekmctl, operator } from '../../cli/commands/harness';
import { ADMIN } from '../hardware-ear/ear-node';
import { joinCluster, startTwoNodes, until, type ClusterNode } from './two-node-fixture';

interface ListedDrive {
  driveID: number;
  nodeID: number;
  status: string;
  type: string;
  driveFailureDetail?: string;
}

async function listed(node: ClusterNode, driveID: number): Promise<ListedDrive | undefined> {
  const drives = (await node.client.ok('ListDrives')).drives as ListedDrive[];
  return drives.find((d) => d.driveID === driveID);
}

/** GetAsyncResult on `node` until the result is complete (kept for later reads). */
async function completed(node: ClusterNode, asyncHandle: number): Promise<Record<string, any>> {
  let outcome: Record<string, any> = {};
  await until(
    `async result ${asyncHandle} complete`,
    async () => {
      outcome = await node.client.ok('GetAsyncResult', { asyncHandle, keepResult: true });
      return outcome.status === 'complete';
    },
    30_000,
  );
  return outcome;
}

/** Which node's process ran the async result (its record names it). */
const ranBy = (node: ClusterNode, handle: number): unknown =>
  (node.store.get(`async/results/${handle}`)?.value as { nodeID?: number } | undefined)?.nodeID;

/** Everything in the store but the audit log (which records refused calls too). */
const state = (node: ClusterNode): string => JSON.stringify(withoutAudit(node.store.list('')));

t.test("AddDrives and RemoveDrives of node 2's drives through node 1", async (t) => {
  const { a, b } = await startTwoNodes(t, { a: 1, b: 2 });
  await joinCluster(a, b, 2);
  await until('node 2 alive', () => a.store.get(aliveKey(2)) !== undefined);
  const [first, second] = b.hw.drives.records().map((d) => d.driveID) as [number, number];
  const own = a.hw.drives.records()[0]!.driveID;

  const add = await a.client.ok('AddDrives', { drives: [{ driveID: first, type: 'block' }] });
  t.match(await completed(a, add.asyncHandle), {
    resultType: 'DriveAdd',
    result: { driveIDs: [first] },
  });
  t.equal(ranBy(a, add.asyncHandle), 2, 'node 2 carried it out');
  t.match(await listed(a, first), { nodeID: 2, status: 'active', type: 'block' });
  t.same(a.store.list(INTENT_PREFIX), [], 'the intent was taken');

  // Checked on node 1 against the store: the same errors as node 2's API gives, no record.
  const unchanged = state(a);
  for (const [method, params, error] of [
    ['AddDrives', { drives: [{ driveID: first }] }, 'xDriveNotAvailable'],
    ['RemoveDrives', { drives: [second] }, 'xDriveNotActive'],
    ['AddDrives', { drives: [{ driveID: 999 }] }, 'xDriveIDDoesNotExist'],
    ['AddDrives', { drives: [{ driveID: own }, { driveID: second }] }, 'xInvalidParameter'],
    ['RemoveDrives', { drives: [first, first] }, 'xInvalidParameter'],
  ] as const) {
    const reply = await a.client.call(method, params);
    t.equal(reply.error?.name, error, `${method} ${JSON.stringify(params)}: ${error}`);
  }
  t.equal(state(a), unchanged, 'nothing recorded');

  const removal = await a.client.ok('RemoveDrives', { drives: [first] });
  t.match(await completed(a, removal.asyncHandle), {
    resultType: 'DriveRemoval',
    result: { driveIDs: [first] },
  });
  t.equal(ranBy(a, removal.asyncHandle), 2);
  t.match(await listed(a, first), { nodeID: 2, status: 'available', type: 'unknown' });

  // Node 2 offline (its session lapsed: alive key gone): refused, nothing recorded.
  await a.store.delete(aliveKey(2));
  const offlineState = state(a);
  for (const [method, params] of [
    ['AddDrives', { drives: [{ driveID: second }] }],
    ['RemoveDrives', { drives: [first] }],
    ['RetryDriveUnlock', { driveIDs: [second] }],
  ] as const) {
    const reply = await a.client.call(method, params);
    t.equal(reply.error?.name, 'xNodeOffline', `${method} refused while node 2 is offline`);
    t.match(reply.error?.message, `Node ID 2, which holds drive(s)`);
  }
  t.equal(state(a), offlineState, 'no intent, no async result, no record changed');
  const session = new NodeService(b.store, b.identity);
  t.teardown(() => session.close());
  await session.start();
  await until('node 2 alive again', () => a.store.get(aliveKey(2)) !== undefined);

  // Node 2's drive service is down when the request is recorded (a kill between record and
  // take): its start carries the request out instead of failing it as interrupted.
  await b.hw.drives.stop();
  const late = await a.client.ok('AddDrives', { drives: [{ driveID: second }] });
  await until('node 2 sees the intent', () => b.store.list(INTENT_PREFIX).length === 1);
  t.equal((await a.client.ok('GetAsyncResult', late)).status, 'running', 'waiting for node 2');
  await b.hw.start();
  t.match(await completed(a, late.asyncHandle), { result: { driveIDs: [second] } });
  t.match(await listed(a, second), { nodeID: 2, status: 'active' });
  t.same(a.store.list(INTENT_PREFIX), []);
  await b.hw.drives.idle();
});

t.test("RetryDriveUnlock of node 2's locked drive through node 1", async (t) => {
  const { a, b } = await startTwoNodes(t, { a: 1, b: 2 });
  await joinCluster(a, b, 2);
  await until('node 2 alive', () => a.store.get(aliveKey(2)) !== undefined);
  await a.client.ok('EnableEncryptionAtRest');
  await until(
    'hardware EAR enabled',
    async () =>
      (await a.client.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState === 'enabled',
    30_000,
  );
  // Node 2's drives added through node 1: node 2 secures them under hardware EAR first.
  const ids = b.hw.drives.records().map((d) => d.driveID);
  const add = await a.client.ok('AddDrives', { drives: ids.map((driveID) => ({ driveID })) });
  t.match(await completed(a, add.asyncHandle), { result: { driveIDs: ids } });

  // Its drive in slot 1 refuses its key (the PIN changed out of band) after a power cycle:
  // failed, its key held back by the TryLimit guard.
  const d = b.hw.drives.records().find((r) => r.slot === 1)!;
  const keyRecord = b.store.get<DriveKeyRecord>(`keys/${d.keyID!}`)!.value;
  const ak = b.sealer.unseal(Buffer.from(keyRecord.sealedKey!, 'base64'), sealLabel(d.keyID!));
  t.teardown(() => ak.fill(0));
  const other = () => Buffer.from('changed-out-of-band');
  await b.opal(1).setPin({ who: OpalUser.ADMIN1, pin: Buffer.from(ak) }, OpalUser.ADMIN1, other());
  b.sim.powerCycle();
  await until(
    'node 2 records the refusal',
    () => a.store.get(`${GUARD_PREFIX}${d.driveID}`) !== undefined,
  );
  await b.hw.unlock!.idle();
  t.match(await listed(a, d.driveID), {
    nodeID: 2,
    status: 'failed',
    driveFailureDetail: /refused its key/,
  });

  // The key is put right; node 1's API hands the retry to node 2.
  await b.opal(1).setPin({ who: OpalUser.ADMIN1, pin: other() }, OpalUser.ADMIN1, Buffer.from(ak));
  const retry = await a.client.ok('RetryDriveUnlock', { driveIDs: [d.driveID] });
  t.same(Object.keys(retry), ['asyncHandle'], 'answered with an async handle');
  t.match(await completed(a, retry.asyncHandle), {
    resultType: 'DriveUnlockRetry',
    result: { released: [d.driveID] },
  });
  t.equal(ranBy(a, retry.asyncHandle), 2, 'node 2 released it and ran its round');
  t.notOk(b.sim.drives[1]!.status().locked, 'unlocked');
  const back = await listed(a, d.driveID);
  t.match(back, { nodeID: 2, status: 'active' });
  t.notOk(back && 'driveFailureDetail' in back, 'no failure left');
  t.equal(a.store.get(`${GUARD_PREFIX}${d.driveID}`), undefined, 'guard released');
  t.same(
    readFaults(a.store, 'current').filter((f) => f.code === 'driveFailed'),
    [],
    'driveFailed resolved',
  );

  // ekmctl through node 1: the drive's node takes the retry, and --wait follows it there.
  const op = operator(t);
  const flags = ['--url', `https://127.0.0.1:${a.api.address.port}`]
    .concat(['--username', ADMIN.username, '--password-file', op.passwordFile(ADMIN.password)])
    .concat(['--ca', join(a.dir, API_CERT_FILE)]);
  const run = await ekmctl(
    op.env,
    ...['drives', 'retry-unlock', '--drive', String(d.driveID), '--wait'],
    ...flags,
  );
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, "retrying the unlock on the drives' node: done");
  await b.hw.unlock!.close();
});

t.test('RemoveNodes fails the requests still waiting for the removed node', async (t) => {
  const { a, b } = await startTwoNodes(t, { a: 1, b: 2 });
  await joinCluster(a, b, 2);
  await until('node 2 alive', () => a.store.get(aliveKey(2)) !== undefined);
  const [first, second] = b.hw.drives.records().map((d) => d.driveID) as [number, number];
  // Node 2's drive service is down: the requests wait for it. Its drives are available,
  // so nothing holds its removal back.
  await b.hw.drives.stop();
  const add = await a.client.ok('AddDrives', { drives: [{ driveID: first }] });
  const erase = await a.client.ok('SecureEraseDrives', { drives: [second] });
  t.equal(a.store.list(INTENT_PREFIX).length, 2, 'both recorded for node 2');
  t.equal((await a.client.ok('GetAsyncResult', add)).status, 'running');

  await a.client.ok('RemoveNodes', { nodes: [2] });
  t.same(a.store.list(INTENT_PREFIX), [], 'the intents went with the node');
  for (const [{ asyncHandle }, driveID, resultType] of [
    [add, first, 'DriveAdd'],
    [erase, second, 'DriveSecureErase'],
  ] as const) {
    const outcome = await a.client.ok('GetAsyncResult', { asyncHandle });
    t.match(outcome, {
      status: 'complete',
      resultType,
      error: {
        name: 'xNodeIDDoesNotExist',
        message: new RegExp(`Node ID 2, which holds drive\\(s\\) ${driveID}, was removed`),
        driveIDs: [],
        failedDriveIDs: [driveID],
      },
    });
  }
  for (const driveID of [first, second]) {
    t.match(getDrive(a.store, driveID), { status: 'available', step: null }, 'drive untouched');
  }
});
