// Which node a drive record belongs to, on one node: a record written before drives carried
// their node is node 1's (its node's next sync writes the nodeID); a record another node
// holds as present is left alone by this node's sync (no second record for one serial, the
// conflict only logged) and its drive methods are that node's to carry out (refused while
// it is offline, as it is here: it has no session); once that node no longer sees the
// drive, or is removed from the cluster, the node that does takes the record over, driveID
// and all. A removed node's drives leave ListDrives.
import t from 'tap';
import {
  DRIVE_PREFIX,
  driveKey,
  getDrive,
  type DriveRecord,
} from '../../../src/cluster/drives/drive-records';
import { activeNodeKey } from '../../../src/cluster/nodes/node-records';
import type { Json } from '../../../src/store';
import { startEarNode } from '../hardware-ear/ear-node';

const put = (d: object) => d as unknown as Json;

t.test('legacy records, drives held elsewhere, drives moved here', async (t) => {
  const node = await startEarNode(t, { drives: 3 });
  const { store } = node;
  const [first, second, third] = node.hw.drives.records() as [
    DriveRecord,
    DriveRecord,
    DriveRecord,
  ];
  t.equal(first.nodeID, 1, 'a new record carries its node');

  const { nodeID: _dropped, ...legacy } = first;
  await store.put(driveKey(first.driveID), put(legacy));
  const listed = (await node.client.ok('ListDrives')).drives as DriveRecord[];
  t.equal(listed.find((d) => d.driveID === first.driveID)!.nodeID, 1, 'a legacy record is node 1');
  t.equal(node.hw.drives.records().length, 3, 'and this node works on it');
  await node.hw.drives.start();
  t.equal(getDrive(store, first.driveID).nodeID, 1, "its node's sync writes its nodeID");

  // Node 2 is a node of the cluster (this one stays node 1); its record of a drive this node
  // sees says present there.
  for (const nodeID of [1, 2])
    await store.put(activeNodeKey(nodeID), put({ nodeID, uuid: `n${nodeID}` }));
  const elsewhere = { ...second, nodeID: 2, path: 'node-2:sim:1' };
  await store.put(driveKey(second.driveID), put(elsewhere));
  await node.hw.drives.start();
  t.same(getDrive(store, second.driveID), elsewhere, 'left alone');
  t.equal(store.list(DRIVE_PREFIX).length, 3, 'no second record for one serial');
  t.notOk(
    node.hw.drives.records().some((d) => d.driveID === second.driveID),
    'not among this node’s drives',
  );
  const before = JSON.stringify(store.list(DRIVE_PREFIX));
  const reply = await node.client.call('AddDrives', { drives: [{ driveID: second.driveID }] });
  t.equal(reply.error?.name, 'xNodeOffline');
  t.equal(
    reply.error?.message,
    `Node ID 2, which holds drive(s) ${second.driveID}, is offline; nothing was changed. Call again once it is back.`,
  );
  t.equal(JSON.stringify(store.list(DRIVE_PREFIX)), before, 'the refusal changed nothing');

  // Node 2 no longer sees it: it moved here, and this node takes the record over.
  await store.put(driveKey(second.driveID), put({ ...elsewhere, present: false }));
  await node.hw.drives.start();
  t.match(getDrive(store, second.driveID), {
    driveID: second.driveID,
    nodeID: 1,
    present: true,
    path: second.path,
  });
  t.equal(store.list(DRIVE_PREFIX).length, 3);

  // A drive node 2 holds, present there; then node 2 is removed from the cluster.
  const ofTwo = { ...third, nodeID: 2, path: 'node-2:sim:2' };
  await store.put(driveKey(third.driveID), put(ofTwo));
  await node.hw.drives.start();
  t.same(getDrive(store, third.driveID), ofTwo, 'left alone while node 2 is in the cluster');
  const listedIDs = async () =>
    ((await node.client.ok('ListDrives')).drives as DriveRecord[]).map((d) => d.driveID);
  t.ok((await listedIDs()).includes(third.driveID), "ListDrives lists node 2's drive");
  await store.delete(activeNodeKey(2));
  t.notOk((await listedIDs()).includes(third.driveID), "a removed node's drive is not listed");
  await node.hw.drives.start();
  t.match(getDrive(store, third.driveID), { nodeID: 1, present: true, path: third.path });
  t.ok((await listedIDs()).includes(third.driveID), 'taken over: listed as this node’s');
});
