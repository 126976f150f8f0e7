// Drives carry their node: two nodes on one etcd, each with its simulator. Each node records
// only its own drives (a node outside the cluster records none until AddNodes), ListDrives on
// either lists both nodes' drives with their nodeID, and a sync of one node never touches the
// other's records. SecureEraseDrives of the other node's drive is recorded as the owner's
// intent (refused while it is offline), carried out by the owner, its outcome read on any
// node, also when the owner restarts before taking it (two-nodes-intents.test.ts has the
// other drive methods). RemoveNodes
// counts the node's own drives; a node's restart fails only its own async results. Under hardware EAR (enabled
// through node 1, node 2's drives secured by node 2's agent), node 2's unlock round asks the key server for its own drives' keys only, and its drives left locked
// are node 2's driveFailed.
import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import type { DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { AsyncResultService } from '../../../src/cluster/async-results/async-results';
import { DRIVE_PREFIX } from '../../../src/cluster/drives/drive-records';
import { readFaults } from '../../../src/cluster/faults';
import { aliveKey } from '../../../src/cluster/nodes/node-records';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import { INTENT_PREFIX } from '../../../src/cluster/drives/drive-intents';
import { DevKmipServer } from '../../../src/kmip/server';
import { withoutAudit } from '../../../src/cluster/audit';
import { addProvider } from '../sear/eks-setup';
import { joinCluster, startTwoNodes, until, type ClusterNode } from './two-node-fixture';

interface ListedDrive {
  driveID: number;
  nodeID: number;
  serial: string;
  status: string;
}

async function listDrives(node: ClusterNode): Promise<ListedDrive[]> {
  return (await node.client.ok('ListDrives')).drives as ListedDrive[];
}

/** The drive records with their revisions: a write to any shows. */
const records = (node: ClusterNode) => JSON.stringify(node.store.list(DRIVE_PREFIX));

t.test('two nodes, one store: each node its own drives', async (t) => {
  const { a, b } = await startTwoNodes(t, { a: 2, b: 3 });

  // Node 2 is not in the cluster yet: it records none of its drives.
  t.same(
    (await listDrives(b)).map((d) => d.nodeID),
    [1, 1],
    'before AddNodes only node 1 has drives',
  );

  // Node 2 registers as pending and is added through node 1's API.
  await joinCluster(a, b, 3);
  await until('node 1 sees them', () => a.store.list(DRIVE_PREFIX).length === 5);

  for (const node of [a, b]) {
    const listed = await listDrives(node);
    t.equal(listed.length, 5, `${node.name}: ListDrives lists both nodes' drives`);
    const byNode = (id: number) => listed.filter((d) => d.nodeID === id).map((d) => d.serial);
    t.same(byNode(1).sort(), a.serials().sort(), `${node.name}: node 1's drives say nodeID 1`);
    t.same(byNode(2).sort(), b.serials().sort(), `${node.name}: node 2's drives say nodeID 2`);
    t.equal(new Set(listed.map((d) => d.driveID)).size, 5, 'driveIDs are cluster-unique');
  }
  t.same(
    a.hw.drives
      .records()
      .map((d) => d.serial)
      .sort(),
    a.serials().sort(),
    'each node works on its own records',
  );

  // A sync of either node (a restart's) writes nothing: no record flaps between nodes.
  const before = records(a);
  await a.resync();
  await b.resync();
  await a.resync();
  await until('views agree', () => records(a) === records(b));
  t.equal(records(a), before, 'the syncs changed no record');

  // A drive unplugged from node 1 changes node 1's record only.
  const bRecords = JSON.stringify(b.hw.drives.records());
  a.sim.unplug(1);
  await until('node 1 marks its drive gone', () => a.hw.drives.records().some((d) => !d.present));
  await until('node 2 sees it', () =>
    b.store.list(DRIVE_PREFIX).some((e) => !(e.value as { present: boolean }).present),
  );
  t.equal(JSON.stringify(b.hw.drives.records()), bRecords, "node 2's records untouched");
  a.sim.plug(1);
  await until('node 1 has it back', () => a.hw.drives.records().every((d) => d.present));

  const other = (await listDrives(a)).find((d) => d.nodeID === 2)!;
  const state = () => JSON.stringify(withoutAudit(a.store.list('')));

  // SecureEraseDrives of node 2's drive through node 1: refused while node 2 is offline (its
  // session, which its API opened once it was added, stands lapsed: its alive key removed),
  // and when the call mixes both nodes' drives, with nothing recorded...
  await until('node 2 alive', () => a.store.get(aliveKey(2)) !== undefined);
  await a.store.delete(aliveKey(2));
  await until('node 1 sees node 2 offline', () => a.store.get(aliveKey(2)) === undefined);
  const offlineState = state();
  const erase = { drives: [other.driveID] };
  const offline = await a.client.call('SecureEraseDrives', erase);
  t.equal(offline.error?.name, 'xNodeOffline', 'refused while node 2 is offline');
  t.match(offline.error?.message, `Node ID 2, which holds drive(s) ${other.driveID}, is offline`);
  const mine = (await listDrives(a)).find((d) => d.nodeID === 1)!;
  const mixed = await a.client.call('SecureEraseDrives', {
    drives: [mine.driveID, other.driveID],
  });
  t.equal(mixed.error?.name, 'xInvalidParameter', 'one node per call');
  t.equal(state(), offlineState, 'nothing recorded');
  // ...and recorded as node 2's intent once it runs again (a session of its own puts its
  // alive key back), carried out by node 2, its outcome read on node 1.
  const sessionB = new NodeService(b.store, b.identity);
  let sessionOpen = true;
  t.teardown(() => (sessionOpen ? sessionB.close() : undefined));
  await sessionB.start();
  await until('node 2 alive', () => a.store.get(aliveKey(2)) !== undefined);
  const { asyncHandle } = await a.client.ok('SecureEraseDrives', erase);
  let outcome: Record<string, unknown> = {};
  for (const deadline = Date.now() + 20_000; outcome.status !== 'complete';) {
    if (Date.now() > deadline) throw new Error(`erase still ${String(outcome.status)}`);
    outcome = await a.client.ok('GetAsyncResult', { asyncHandle, keepResult: true });
    await new Promise((r) => setTimeout(r, 50));
  }
  t.match(outcome, { resultType: 'DriveSecureErase', result: { driveIDs: [other.driveID] } });
  t.same(a.store.list(INTENT_PREFIX), [], 'the intent was taken');
  await until('node 1 sees it available', () =>
    a.store.list(DRIVE_PREFIX).some((e) => {
      const d = e.value as { driveID: number; status: string; step: unknown };
      return d.driveID === other.driveID && d.status === 'available' && d.step === null;
    }),
  );
  t.match(
    (await listDrives(a)).find((d) => d.driveID === other.driveID),
    { nodeID: 2, status: 'available' },
    'erased by node 2, still node 2’s',
  );
  // Node 2 stops before taking a recorded intent (a kill between record and take): its
  // restart leaves the request's result running and carries the request out.
  await b.hw.drives.stop();
  const second = await a.client.ok('SecureEraseDrives', erase);
  await until('node 2 sees the intent', () => b.store.list(INTENT_PREFIX).length === 1);
  await b.hw.start();
  await until('intent taken', () => a.store.list(INTENT_PREFIX).length === 0);
  outcome = {};
  for (const deadline = Date.now() + 20_000; outcome.status !== 'complete';) {
    if (Date.now() > deadline) throw new Error(`erase still ${String(outcome.status)}`);
    outcome = await a.client.ok('GetAsyncResult', { asyncHandle: second.asyncHandle });
    await new Promise((r) => setTimeout(r, 50));
  }
  t.match(outcome, { result: { driveIDs: [other.driveID] } }, 'carried out after the restart');
  await b.hw.drives.idle();

  // Node 2 adds one of its drives on its own API; RemoveNodes then counts it as node 2's.
  await b.client.ok('AddDrives', { drives: [{ driveID: other.driveID }] });
  await b.hw.drives.idle();
  await until('node 1 sees it active', () =>
    a.store
      .list(DRIVE_PREFIX)
      .some(
        (e) =>
          (e.value as { driveID: number; status: string }).driveID === other.driveID &&
          (e.value as { status: string }).status === 'active',
      ),
  );
  const removal = await a.client.call('RemoveNodes', { nodes: [2] });
  t.equal(removal.error?.name, 'xNodeHasActiveDrives');
  t.match(removal.error?.message, 'Node ID 2 still has 1 drive(s) in use');

  // A restart of node 1 fails node 1's interrupted operations, not node 2's running ones.
  const resultsOf = (node: ClusterNode) => new AsyncResultService(node.store, node.scope);
  const handle = await b.store.transaction((tx) => resultsOf(b).start(tx, 'DriveAdd', {}));
  await until('node 1 sees it', () => a.store.get(`async/results/${handle}`) !== undefined);
  t.same(await resultsOf(a).failInterrupted(), [], "node 1's restart leaves it running");
  t.equal((await resultsOf(a).get(handle, true)).status, 'running');
  t.same(await resultsOf(b).failInterrupted(), [handle], "node 2's restart fails it");
  sessionOpen = false;
  await sessionB.close();
});

t.test(
  "node 2's unlock asks for its own keys; its locked drives are its driveFailed",
  async (t) => {
    const { a, b } = await startTwoNodes(t, { a: 2, b: 2 });
    await joinCluster(a, b, 2);

    const pki = await makeDevPki(join(a.dir, 'pki'));
    const read = (p: string) => readFileSync(p, 'utf8');
    const startEks = (port: number) =>
      DevKmipServer.start({
        stateDir: join(a.dir, 'eks'),
        host: '127.0.0.1',
        port,
        ca: read(pki.ca),
        cert: read(pki.server.cert),
        key: read(pki.server.key),
      });
    let eks: DevKmipServer | undefined = await startEks(0);
    const port = eks.address.port;
    t.teardown(() => eks?.close());
    // The UIDs of the keys the server hands out (its engine's Get, observed, not replaced).
    const asked: string[] = [];
    const watchGets = (server: DevKmipServer) => {
      const engine = (server as unknown as { engine: Record<string, unknown> }).engine;
      const get = (engine.get as (p: unknown, ctx: unknown) => unknown).bind(engine);
      const owned = (engine.owned as (p: unknown, ctx: unknown) => { uid: string }).bind(engine);
      engine.get = (p: unknown, ctx: unknown) => {
        const answer = get(p, ctx);
        asked.push(owned(p, ctx).uid);
        return answer;
      };
    };
    watchGets(eks);

    const { keyProviderID } = await addProvider(a, pki, port, 'dev');
    await a.client.ok('EnableEncryptionAtRest', { keyProviderID });
    let ear = '';
    const readEar = async () =>
      (ear = (await a.client.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string);
    for (const deadline = Date.now() + 30_000; (await readEar()) !== 'enabled';) {
      if (Date.now() > deadline) throw new Error(`encryptionAtRestState stayed ${ear}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await a.hw.ear.idle();
    t.ok(
      a.hw.drives.records().every((d) => d.security === 'enabled'),
      "node 1's drives are secured by node 1",
    );
    // Node 2's agent secured its own drives before the state could say enabled.
    t.ok(
      b.hw.drives.records().every((d) => d.security === 'enabled' && d.nodeID === 2),
      "node 2's drives secured by node 2, still node 2's",
    );
    const bIDs = b.hw.drives.records().map((d) => d.driveID);
    await b.client.ok('AddDrives', { drives: bIDs.map((driveID) => ({ driveID })) });
    await b.hw.drives.idle();

    const uidsOf = (ids: number[]) =>
      a.store
        .list<DriveKeyRecord>('keys/')
        .map((e) => e.value)
        .filter((k) => k.purpose === 'driveAuthentication' && k.state === 'live')
        .filter((k) => ids.includes(k.driveID))
        .map((k) => k.kmipUID!)
        .sort();
    const aUIDs = uidsOf(a.hw.drives.records().map((d) => d.driveID));
    const bUIDs = uidsOf(bIDs);
    t.equal(bUIDs.length, 2);

    // Node 2's drives lose power; its round unlocks them with its own keys, asked once.
    await b.hw.unlock!.idle();
    asked.length = 0;
    b.sim.powerCycle();
    await until('node 2 unlocked its drives', () => b.sim.drives.every((d) => !d.status().locked));
    await b.hw.unlock!.idle();
    t.same([...new Set(asked)].sort(), bUIDs, 'only node 2’s keys were asked for');
    t.notOk(
      asked.some((uid) => aUIDs.includes(uid)),
      'none of node 1’s',
    );
    t.ok(
      a.sim.drives.every((d) => !d.status().locked),
      "node 1's drives were not touched",
    );
    const plan = JSON.parse(readFileSync(join(b.dir, 'key-plan.json'), 'utf8')) as {
      drives: { serial: string }[];
    };
    t.same(
      plan.drives.map((d) => d.serial).sort(),
      b.serials().sort(),
      "node 2's key plan holds its own drives",
    );

    // Key server down: node 2's drives stay locked, and the fault is node 2's.
    await eks.close();
    eks = undefined;
    b.sim.powerCycle();
    await until(
      'driveFailed for node 2',
      () => readFaults(a.store, 'current').some((f) => f.code === 'driveFailed'),
      30_000,
    );
    const failed = readFaults(a.store, 'current').filter((f) => f.code === 'driveFailed');
    t.match(failed, [
      { nodeID: 2, details: 'Node ID 2 has 2 failed drive(s).', driveIDs: [...bIDs].sort() },
    ]);
    await b.hw.unlock!.close();
  },
);
