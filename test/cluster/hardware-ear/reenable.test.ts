// Enable, Disable and Enable again (and again), then SecureEraseDrives, with internal keys:
// after every step each drive's SID and Admin1 PINs are the one key ekmd records for it, so
// the erase (REVERT_TPR as SID) succeeds and a second Disable destroys no key a drive holds.
import t, { type Test } from 'tap';
import {
  keyRecordFor,
  newDriveKey,
  putKeyRecord,
  type DriveKeyRecord,
} from '../../../src/cluster/drive-keys/drive-keys';
import { getDrive, putDrive, type DriveRecord } from '../../../src/cluster/drives/drive-records';
import { createCluster, sealedAk, startEarNode, type EarNode } from './ear-node';
import { checkPinsKnown, DATA, disable, enable, eraseAll } from './pins-known';

async function twoDrives(t: Test): Promise<EarNode> {
  const node = await startEarNode(t, { drives: 2 });
  await createCluster(node);
  for (const d of node.sim.drives) d.writeBlock(5, DATA);
  return node;
}

t.test('enable, disable, enable: the erase opens every drive as SID', async (t) => {
  const node = await twoDrives(t);
  await enable(node);
  await checkPinsKnown(t, node, 'enabled');
  await disable(node);
  await checkPinsKnown(t, node, 'disabled');
  await enable(node);
  await checkPinsKnown(t, node, 'enabled again');
  for (const d of node.hw.drives.records()) {
    t.equal(d.security, 'enabled');
    t.equal(d.ownerKeyID, null, `drive ${d.slot}: the owner key went with the rekey`);
  }
  await eraseAll(t, node);
});

t.test('a second disable keeps the SID PIN: enable, disable twice over, erase', async (t) => {
  const node = await twoDrives(t);
  const steps: [string, () => Promise<void>][] = [
    ['enabled', () => enable(node)],
    ['disabled', () => disable(node)],
    ['enabled again', () => enable(node)],
    ['disabled again', () => disable(node)],
    ['enabled a third time', () => enable(node)],
  ];
  for (const [name, step] of steps) {
    await step();
    await checkPinsKnown(t, node, name);
  }
  await eraseAll(t, node);
});

/**
 * The state an older ekmd left after a rekey: Admin1's PIN the AK, SID's still the owner
 * key, which the record names.
 */
async function asRekeyedByOlderEkmd(node: EarNode, d: DriveRecord): Promise<string> {
  const owner = newDriveKey(d.driveID, d.serial);
  await node.opal(d.slot).setSidPin(sealedAk(node, d.keyID!), Buffer.from(owner.ak));
  await node.store.transaction((tx) => {
    putKeyRecord(tx, keyRecordFor(owner, { sealer: node.sealer }));
    putDrive(tx, { ...getDrive(tx, d.driveID), ownerKeyID: owner.keyID });
  });
  owner.ak.fill(0);
  return owner.keyID;
}

t.test('drives an older ekmd rekeyed (SID still the owner key): erase, disable', async (t) => {
  const node = await twoDrives(t);
  await enable(node);
  await disable(node);
  await enable(node);
  const [first, second] = node.hw.drives.records();
  await asRekeyedByOlderEkmd(node, first!);
  const oldOwner = await asRekeyedByOlderEkmd(node, second!);

  const { asyncHandle } = await node.client.ok('SecureEraseDrives', { drives: [first!.driveID] });
  await node.settle();
  const r = await node.client.ok('GetAsyncResult', { asyncHandle });
  t.notOk(r.error, `the erase authenticates with the owner key: ${JSON.stringify(r.error)}`);
  t.equal(node.sim.status().drives[first!.slot]!.lsp, 'manufactured-inactive');

  await disable(node);
  const opened = getDrive(node.store, second!.driveID);
  t.equal(opened.ownerKeyID && sealedAk(node, opened.ownerKeyID).length, 32, 'the AK kept');
  t.equal(node.store.get<DriveKeyRecord>(`keys/${oldOwner}`)!.value.state, 'destroyed');
  await t.resolves(
    node.opal(second!.slot).setSidPin(sealedAk(node, opened.ownerKeyID!), Buffer.from('x')),
    'SID moved to it before the old owner key went',
  );
  await node.opal(second!.slot).setSidPin(Buffer.from('x'), sealedAk(node, opened.ownerKeyID!));
  await enable(node);
  await checkPinsKnown(t, node, 'enabled after both');
  await eraseAll(t, node);
});
