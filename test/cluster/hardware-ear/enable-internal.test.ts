// Hardware EAR without a key provider (internal AKs sealed on the node), against the real
// simulator: enable, a pre-owned drive, AddDrives under EAR, power-cycle relock, disable
// and enable again, parameter errors.
import t from 'tap';
import { OpalUser } from '../../../src/opal/abi';
import { sealLabel, type DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { createCluster, startEarNode, waitForEarState, type EarNode } from './ear-node';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The AK of drive `driveID`, unsealed as the daemon would (test-only look inside). */
function akOf(node: EarNode, keyID: string): Buffer {
  const rec = node.store.get<DriveKeyRecord>(`keys/${keyID}`)!.value;
  return node.sealer.unseal(Buffer.from(rec.sealedKey!, 'base64'), sealLabel(keyID));
}

t.test('hardware EAR with internal keys', async (t) => {
  const node = await startEarNode(t, { drives: 4 });
  await createCluster(node);
  const list = async () => (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  const sim = () => node.sim.status().drives;

  // Drive 3 was owned by someone else; drive 2 is unplugged while EAR is enabled.
  await node.opal(3).takeOwnership(Buffer.from('someone-elses-pin'));
  node.sim.unplug(2);
  await waitFor(async () => (await list()).length === 3);

  t.test('parameter errors change nothing', async (t) => {
    const before = node.snapshot();
    const cases: [Record<string, unknown>, string][] = [
      [{ keyProviderID: 99 }, 'xKeyProviderIDDoesNotExist'],
      [{ keyProviderID: 'one' }, 'xInvalidParameter'],
      [{ keyProviderID: 0 }, 'xInvalidParameter'],
    ];
    for (const [params, name] of cases) {
      t.equal((await node.client.call('EnableEncryptionAtRest', params)).error?.name, name);
    }
    t.equal(
      (await node.client.call('DisableEncryptionAtRest')).error?.name,
      'xEncryptionAtRestNotEnabled',
    );
    t.equal(node.snapshot(), before);
    t.same(await node.client.ok('GetEncryptionAtRestInfo'), { state: 'disabled' });
  });

  t.test('enable: owned, locking, verified; the pre-owned drive tried exactly once', async (t) => {
    t.same(await node.client.ok('EnableEncryptionAtRest'), {});
    await waitForEarState(node, 'enabled');
    const drives = await list();
    for (const d of drives.filter((x) => x.slot !== 3)) {
      t.match(d.keyID, UUID_V4);
      t.notOk('keyProviderID' in d);
      t.equal(d.driveSecurityFaultReason, 'none');
      const s = sim()[d.slot]!;
      t.equal(s.lsp, 'manufactured', `drive ${d.slot} locking SP active`);
      t.match(s.ranges[0], { rle: true, wle: true });
    }
    const foreign = drives.find((d) => d.slot === 3)!;
    t.equal(foreign.driveSecurityFaultReason, 'already owned; PSID revert needed');
    t.notOk('keyID' in foreign);
    t.equal(sim()[3]!.tries.sid, 1, 'exactly one TAKE_OWNERSHIP attempt');
    t.same(await node.client.ok('GetEncryptionAtRestInfo'), {
      authenticationKeyInfo: { keyManagementType: 'internal' },
      state: 'enabled',
    });
  });

  t.test('power cycle relocks; each drive opens with its own AK only', async (t) => {
    node.sim.powerCycle();
    const drives = (await list()).filter((d) => d.keyID);
    for (const d of drives) t.ok(sim()[d.slot]!.locked, `drive ${d.slot} locked`);
    const [a, b] = drives;
    await t.rejects(
      node.opal(a!.slot).unlock({ who: OpalUser.ADMIN1, pin: akOf(node, b!.keyID) }, 0),
      { name: 'OpalNotAuthorizedError' },
    );
    for (const d of drives) {
      await node.opal(d.slot).unlock({ who: OpalUser.ADMIN1, pin: akOf(node, d.keyID) }, 0);
      t.notOk(sim()[d.slot]!.locked, `drive ${d.slot} unlocked by its AK`);
    }
  });

  t.test('no AK in the store in plaintext', async (t) => {
    const store = node.snapshot();
    for (const d of (await list()).filter((x) => x.keyID)) {
      const ak = akOf(node, d.keyID);
      t.notOk(store.includes(ak.toString('hex')) || store.includes(ak.toString('base64')));
    }
  });

  t.test('AddDrives under EAR provisions the new drive first', async (t) => {
    node.sim.plug(2);
    await waitFor(async () => (await list()).some((d) => d.slot === 2));
    const drive = (await list()).find((d) => d.slot === 2)!;
    t.equal(drive.status, 'available');
    const { asyncHandle } = await node.client.ok('AddDrives', {
      drives: [{ driveID: drive.driveID }],
    });
    await node.settle();
    t.match(await node.client.ok('GetAsyncResult', { asyncHandle }), {
      status: 'complete',
      result: {},
    });
    const added = (await list()).find((d) => d.slot === 2)!;
    t.equal(added.status, 'active');
    t.match(added.keyID, UUID_V4);
    t.match(sim()[2]!.ranges[0], { rle: true, wle: true });
  });

  t.test('AddDrives of the foreign drive fails with the reason', async (t) => {
    const foreign = (await list()).find((d) => d.slot === 3)!;
    const { asyncHandle } = await node.client.ok('AddDrives', {
      drives: [{ driveID: foreign.driveID }],
    });
    await node.settle();
    const r = await node.client.ok('GetAsyncResult', { asyncHandle });
    t.equal(r.error?.name, 'xEnableDriveSecurityFailed');
    t.match(r.error?.message, /already owned/);
    t.equal((await list()).find((d) => d.slot === 3)!.status, 'available');
    // The earlier power cycle cleared the counter: any attempt now would show.
    t.equal(sim()[3]!.tries.sid, 0, 'a refused drive is never tried again');
  });

  t.test('after a PSID revert, RetryDriveSecurity secures the foreign drive', async (t) => {
    const foreign = (await list()).find((d) => d.slot === 3)!;
    const secured = (await list()).find((d) => d.slot === 0)!;
    const before = node.snapshot();
    const unknown = await node.client.call('RetryDriveSecurity', {
      driveIDs: [foreign.driveID, 999],
    });
    t.equal(unknown.error?.name, 'xDriveIDDoesNotExist');
    t.equal(node.snapshot(), before, 'an unknown drive: nothing changed');
    t.same(
      await node.client.ok('RetryDriveSecurity', { driveIDs: [secured.driveID] }),
      { released: [] },
      'a secured drive has nothing to release',
    );
    await node.opal(3).psidRevert(Buffer.from(node.sim.drive(3).rec.psid));
    t.same(await node.client.ok('RetryDriveSecurity', { driveIDs: [foreign.driveID] }), {
      released: [foreign.driveID],
    });
    await node.settle();
    const now = (await list()).find((d) => d.slot === 3)!;
    t.equal(now.driveSecurityFaultReason, 'none');
    t.match(now.keyID, UUID_V4, 'it has an AK now');
    t.equal(sim()[3]!.tries.sid, 0, 'no refused attempt: the reverted drive took the MSID');
    t.match(sim()[3]!.ranges[0], { rle: true, wle: true });
  });

  t.test('disable: locking off, keys retired; enable again re-keys the drives', async (t) => {
    const before = (await list()).filter((d) => d.keyID);
    t.same(await node.client.ok('DisableEncryptionAtRest'), {});
    await waitForEarState(node, 'disabled');
    for (const d of before) {
      t.match(sim()[d.slot]!.ranges[0], { rle: false, wle: false });
      const rec = node.store.get<DriveKeyRecord>(`keys/${d.keyID}`)!.value;
      t.equal(rec.state, 'destroyed');
      t.equal(rec.sealedKey, null);
    }
    node.sim.powerCycle();
    for (const d of before) t.notOk(sim()[d.slot]!.locked, `drive ${d.slot} stays open`);
    t.notOk((await list()).some((d) => d.keyID));

    await node.client.ok('EnableEncryptionAtRest');
    await waitForEarState(node, 'enabled');
    for (const d of (await list()).filter((x) => x.slot !== 3)) {
      t.match(d.keyID, UUID_V4);
      t.notOk(
        before.some((b) => b.keyID === d.keyID),
        'a new AK',
      );
      t.match(sim()[d.slot]!.ranges[0], { rle: true, wle: true });
      node.sim.powerCycle(d.slot);
      await node.opal(d.slot).unlock({ who: OpalUser.ADMIN1, pin: akOf(node, d.keyID) }, 0);
    }
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 25));
  }
}
