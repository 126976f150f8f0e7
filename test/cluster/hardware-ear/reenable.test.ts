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
import { OpalUser } from '../../../src/opal/abi';
import { createCluster, sealedAk, startEarNode, waitForEarState, type EarNode } from './ear-node';

const DATA = Buffer.alloc(512, 0x3c);

/**
 * Each drive's one key (its AK under EAR, its owner key after Disable) opens it as SID and
 * as Admin1, and is the only live key of the drive.
 */
export async function checkPinsKnown(
  t: Test,
  node: EarNode,
  step: string,
  akOf: (keyID: string) => Promise<Buffer> | Buffer = (keyID) => sealedAk(node, keyID),
): Promise<void> {
  const live = node.store
    .list<DriveKeyRecord>('keys/')
    .map((e) => e.value)
    .filter((k) => k.state !== 'destroyed');
  for (const d of node.hw.drives.records()) {
    const keyID = d.keyID ?? d.ownerKeyID;
    t.ok(keyID, `${step}: drive ${d.slot} has a key`);
    if (!keyID) continue;
    t.same(
      live.filter((k) => k.driveID === d.driveID).map((k) => k.keyID),
      [keyID],
      `${step}: drive ${d.slot}'s only live key`,
    );
    const opal = node.opal(d.slot);
    const pin = await akOf(keyID);
    await t.resolves(opal.setSidPin(Buffer.from(pin), Buffer.from(pin)), `${step}: SID`);
    await t.resolves(
      opal.rangeStatus({ who: OpalUser.ADMIN1, pin: Buffer.from(pin) }, 0),
      `${step}: Admin1`,
    );
    pin.fill(0);
  }
}

export async function enable(node: EarNode, params: Record<string, unknown> = {}): Promise<void> {
  await node.client.ok('EnableEncryptionAtRest', params);
  await waitForEarState(node, 'enabled');
  await node.settle();
}

export async function disable(node: EarNode): Promise<void> {
  await node.client.ok('DisableEncryptionAtRest');
  await waitForEarState(node, 'disabled');
  await node.settle();
}

/** SecureEraseDrives of every drive: complete, data gone, factory state, no key left. */
export async function eraseAll(t: Test, node: EarNode): Promise<void> {
  const before = node.hw.drives.records();
  const { asyncHandle } = await node.client.ok('SecureEraseDrives', {
    drives: before.map((d) => d.driveID),
  });
  await node.settle();
  const r = await node.client.ok('GetAsyncResult', { asyncHandle });
  t.equal(r.status, 'complete');
  t.notOk(r.error, `no drive refused: ${JSON.stringify(r.error)}`);
  for (const d of node.hw.drives.records()) {
    t.match(d, {
      status: 'available',
      security: 'none',
      step: null,
      keyID: null,
      ownerKeyID: null,
      driveSecurityFaultReason: 'none',
    } satisfies Partial<DriveRecord>);
    t.equal(node.sim.status().drives[d.slot]!.lsp, 'manufactured-inactive', 'factory state');
    t.notSame(node.sim.drives[d.slot]!.readBlock(5), DATA, `drive ${d.slot}: data gone`);
  }
  const live = node.store
    .list<DriveKeyRecord>('keys/')
    .filter((e) => e.value.state !== 'destroyed');
  t.same(live, [], 'every key retired');
}

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
