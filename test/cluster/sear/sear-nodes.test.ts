// The SEAR master key rekey across two nodes on one etcd, each with its simulator and drives,
// the dev key server holding the external MKs. Each node re-wraps the DEKs of its own drives
// and records its marker; the master commits once every online node has. With node 2 offline
// (its SEAR stopped, its alive key gone) the rekey completes naming node 2, the old MK stays
// at the key server (`retiring`) and still unwraps node 2's DEKs; back, node 2 re-wraps them
// and the master destroys the old MK. At every step each DEK unwraps with the MK its record
// names, and the data written through the DEK layer reads back.
import t from 'tap';
import type { KmipClient } from '../../../src/kmip/client';
import { unwrapKey } from '../../../src/cluster/sear/key-wrap';
import { aliveKey } from '../../../src/cluster/nodes/node-records';
import {
  SEAR_NODE_PREFIX,
  getSearState,
  listDeks,
  type DekRecord,
  type MasterKeyRecord,
} from '../../../src/cluster/sear/sear-store';
import type { Json } from '../../../src/store';
import { tempDir } from '../../store/tmpdir';
import { joinCluster, startTwoNodes, until, type ClusterNode } from '../drives/two-node-fixture';
import { addProvider, eksClient, mkName, startStoppableDevEks } from './eks-setup';
import { waitFor } from './sear-node';

const LBA = 9;
const pattern = (node: ClusterNode, index: number): Buffer =>
  Buffer.alloc(512, (node.name === 'node-a' ? 0x40 : 0x60) + index);

const mkRecord = (node: ClusterNode, keyID: string): MasterKeyRecord =>
  node.store.get<MasterKeyRecord>(`keys/${keyID}`)!.value;

/** Each node's marker: the MK all its DEKs are wrapped by. */
const markers = (node: ClusterNode): Record<string, string> =>
  Object.fromEntries(
    node.store
      .list<{ reached: string }>(SEAR_NODE_PREFIX)
      .map((e) => [e.key.slice(SEAR_NODE_PREFIX.length), e.value.reached]),
  );

/** The DEKs of node `nodeID` unwrap with `mk` (throws otherwise); how many. */
function unwrapAll(deks: DekRecord[], mk: Buffer): number {
  for (const d of deks) unwrapKey(mk, Buffer.from(d.wrapped, 'base64'), d.serial).fill(0);
  return deks.length;
}

/** Every drive reads its pattern back (false while a DEK is not attached). */
function readsBack(node: ClusterNode): boolean {
  try {
    return node.sim.drives.every((d) => d.readBlock(LBA).equals(pattern(node, d.index)));
  } catch {
    return false;
  }
}

async function rekey(node: ClusterNode, params: Record<string, unknown>) {
  const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', params);
  let r: Record<string, any> = {};
  await waitFor(
    'the rekey to complete',
    async () => {
      r = await node.client.ok('GetAsyncResult', { asyncHandle, keepResult: true });
      return r.status === 'complete';
    },
    60_000,
  );
  return r;
}

async function externalMk(eks: KmipClient, uuid: string, keyID: string) {
  const [uid] = await eks.locate({ names: [mkName(uuid, keyID)] });
  return { uid: uid!, mk: (await eks.get(uid!)).material };
}

t.test('each node re-wraps its own DEKs; an offline node keeps the old MK alive', async (t) => {
  const { a, b } = await startTwoNodes(t, { a: 2, b: 2 }, { sear: true });
  await joinCluster(a, b, 2);
  await until('every drive has its DEK', () => listDeks(a.store).length === 4, 30_000);
  t.same(
    listDeks(a.store)
      .map((d) => d.nodeID)
      .sort(),
    [1, 1, 2, 2],
    "each DEK record names its drive's node",
  );
  await until('every DEK attached', () => readsBackAfterWrite(a) && readsBackAfterWrite(b));
  const uuid = (await a.client.ok('GetClusterInfo')).clusterInfo.uuid as string;
  const internal = getSearState(a.store)!.currentKeyID;
  const eksServer = await startStoppableDevEks(t, tempDir(t));
  const eks = eksClient(eksServer.pki, eksServer.port);
  t.teardown(() => eks.close());
  const { keyProviderID } = await addProvider(a, eksServer.pki, eksServer.port);

  // Both nodes online: internal → external.
  const first = await rekey(a, { keyManagementType: 'External', keyProviderID });
  t.match(first.result, { keyToDecommission: { keyID: internal }, state: 'Ready' });
  t.notOk('nodesToRewrap' in first.result, 'no node left behind');
  const ext1 = first.result.newKey.keyID as string;
  t.same(markers(a), { 1: ext1, 2: ext1 }, 'each node recorded that its DEKs are re-wrapped');
  t.ok(
    listDeks(a.store).every((d) => d.keyID === ext1 && !d.next),
    'every record settled to the new MK',
  );
  t.same(
    listDeks(a.store)
      .map((d) => d.nodeID)
      .sort(),
    [1, 1, 2, 2],
    'each keeps its node',
  );
  t.equal(mkRecord(a, internal).state, 'destroyed', 'the internal MK is gone');
  t.equal(mkRecord(a, internal).sealedKey, null);
  const k1 = await externalMk(eks, uuid, ext1);
  t.equal(unwrapAll(listDeks(a.store), k1.mk), 4, 'every DEK unwraps with the new MK');

  // Node 2 offline: its SEAR stops and its alive key goes, as when its ekmd is down.
  await b.stopSear();
  await a.store.delete(aliveKey(2));
  await until('node 2 offline', () => a.store.get(aliveKey(2)) === undefined);
  const second = await rekey(a, {});
  const ext2 = second.result.newKey.keyID as string;
  t.match(second.result, {
    keyToDecommission: { keyID: ext1, keyManagementType: 'external', keyProviderID },
    newKey: { keyManagementType: 'external', keyProviderID },
    state: 'Ready',
    nodesToRewrap: [2],
    details: /kept until node\(s\) 2/,
  });
  t.equal(getSearState(a.store)!.currentKeyID, ext2, 'the new MK is current');
  t.equal(mkRecord(a, ext1).state, 'retiring', 'the old MK is kept');
  const info = await a.client.ok('GetSoftwareEncryptionAtRestInfo');
  t.match(info, {
    masterKeyInfo: { keyID: ext2 },
    retiringMasterKeys: [{ keyID: ext1, keyManagementType: 'external', nodesToRewrap: [2] }],
  });
  t.same(markers(a), { 1: ext2, 2: ext1 }, 'node 1 re-wrapped; node 2 did not');
  const of = (nodeID: number) => listDeks(a.store).filter((d) => d.nodeID === nodeID);
  t.same([of(1).length, of(2).length], [2, 2]);
  t.ok(
    of(1).every((d) => d.keyID === ext2 && !d.next),
    "node 1's DEKs under the new MK",
  );
  t.ok(
    of(2).every((d) => d.keyID === ext1 && !d.next),
    "node 2's DEKs under the old MK",
  );
  const still = await eks.get(k1.uid);
  t.equal(unwrapAll(of(2), still.material), 2, "the old MK, still at the EKS, unwraps node 2's");
  const k2 = await externalMk(eks, uuid, ext2);
  t.equal(unwrapAll(of(1), k2.mk), 2, "the new MK unwraps node 1's");

  // Node 2 back, power-cycled meanwhile: it attaches its DEKs with the old MK its records
  // name, re-wraps them to the current MK; then the old MK is destroyed.
  b.sim.powerCycle();
  const lease = await b.store.grantLease(10);
  t.teardown(() => lease.revoke().catch(() => undefined));
  await lease.put(aliveKey(2), { nodeID: 2 });
  await b.startSear();
  await until('the old MK destroyed', () => mkRecord(a, ext1).state === 'destroyed', 30_000);
  await t.rejects(eks.get(k1.uid), /Item Not Found|destroyed|not found/i, 'gone at the EKS');
  await until("node 2's data readable", () => readsBack(b), 30_000);
  t.same(markers(a), { 1: ext2, 2: ext2 }, 'node 2 recorded its re-wrap');
  t.ok(listDeks(a.store).every((d) => d.keyID === ext2 && !d.next));
  t.equal(unwrapAll(listDeks(a.store), k2.mk), 4, 'every DEK unwraps with the new MK');
  t.notOk('retiringMasterKeys' in (await a.client.ok('GetSoftwareEncryptionAtRestInfo')));

  // Both nodes power-cycled (their drives lose the DEKs) and their SEAR restarted: each
  // attaches its DEKs again from the records.
  for (const n of [a, b]) {
    n.sim.powerCycle();
    await n.stopSear();
    await n.startSear();
  }
  await until('data readable again', () => readsBack(a) && readsBack(b), 30_000);
  t.pass('every drive reads its data back under the new MK');

  // A record written before DEKs carried their node is the master's to re-wrap.
  const legacy = listDeks(a.store).find((d) => d.nodeID === 2)!;
  await a.store.transaction((tx) => {
    const { nodeID: _dropped, ...rest } = legacy;
    tx.put(`sear/deks/${legacy.serial}`, rest as unknown as Json);
  });
  const third = await rekey(a, {});
  const ext3 = third.result.newKey.keyID as string;
  t.notOk('nodesToRewrap' in third.result);
  const after = listDeks(a.store);
  t.ok(
    after.every((d) => d.keyID === ext3 && !d.next),
    'every DEK under the new MK, the one of no node too',
  );
  const k3 = await externalMk(eks, uuid, ext3);
  t.equal(unwrapAll(after, k3.mk), 4);
  k3.mk.fill(0);
  for (const k of [k1.mk, still.material, k2.mk]) k.fill(0);
});

/** Writes each drive's pattern once every DEK of the node is attached; then reads it back. */
const written = new Set<string>();
function readsBackAfterWrite(node: ClusterNode): boolean {
  if (!node.sim.drives.every((d) => d.dekAttached)) return false;
  for (const d of node.sim.drives) {
    const key = `${node.name}/${d.index}`;
    if (!written.has(key)) {
      d.writeBlock(LBA, pattern(node, d.index));
      written.add(key);
    }
  }
  return readsBack(node);
}
