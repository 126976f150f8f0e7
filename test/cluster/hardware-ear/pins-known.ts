// Checks for hardware EAR across Enable, Disable and erase: each drive's SID and Admin1
// PINs are the one key ekmd records for it (checked on the simulator), and an erase of
// every drive leaves them in factory state with no key left.
import type { Test } from 'tap';
import type { DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import type { DriveRecord } from '../../../src/cluster/drives/drive-records';
import { OpalUser } from '../../../src/opal/abi';
import { loadAks } from '../../../src/cluster/drive-keys/key-source';
import { ClusterKeyPair } from '../../../src/cluster/key-pair';
import type { DakAccess } from '../../../src/cluster/split-key/dak-access';
import { waitForEarState, type EarNode } from './ear-node';

/** Written to block 5 of every drive by a test, gone after the erase. */
export const DATA = Buffer.alloc(512, 0x3c);

/** A key as ekmd opens it: sealed (under the DAK too, given `dak`) or at its key server. */
export async function ekmdAk(node: EarNode, keyID: string, dak?: DakAccess): Promise<Buffer> {
  const aks = await loadAks(
    {
      store: node.store,
      sealer: node.sealer,
      keyPair: new ClusterKeyPair(node.store, node.sealer),
      kmip: { connectTimeoutMs: 2000, requestTimeoutMs: 10000 },
      ...(dak ? { dak } : {}),
    },
    [keyID],
  );
  const ak = aks.get(keyID)!;
  if (ak instanceof Error) throw ak;
  return ak;
}

/**
 * Each drive's one key (its AK under EAR, its owner key after Disable) opens it as SID and
 * as Admin1, and is the only live key of the drive.
 */
export async function checkPinsKnown(
  t: Test,
  node: EarNode,
  step: string,
  dak?: DakAccess,
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
    const pin = await ekmdAk(node, keyID, dak);
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
