// Cluster faults of hardware EAR against the real simulator: a pre-owned drive raises
// enableDriveSecurityFailed (one fault per node, listing the drive), shown by
// ListClusterFaults; a change of EAR state resolves it. A drive Disable cannot open raises
// disableDriveSecurityFailed until a retry of Disable succeeds for it.
import t from 'tap';
import { sealLabel, type DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { OpalUser } from '../../../src/opal/abi';
import { createCluster, startEarNode, waitForEarState, type EarNode } from './ear-node';

const listFaults = async (node: EarNode, code: string) =>
  (
    (await node.client.ok('ListClusterFaults', { faultTypes: 'all' })).faults as Record<
      string,
      any
    >[]
  ).filter((f) => f.code === code);

t.test('enableDriveSecurityFailed for a pre-owned drive', async (t) => {
  const node = await startEarNode(t, { drives: 3, faults: true });
  await createCluster(node);
  await node.opal(2).takeOwnership(Buffer.from('someone-elses-pin'));

  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  await node.settle();
  const foreign = ((await node.client.ok('ListDrives')).drives as Record<string, any>[]).find(
    (d) => d.slot === 2,
  )!;
  t.equal(node.sim.status().drives[2]!.tries.sid, 1, 'exactly one TAKE_OWNERSHIP attempt');

  const raised = await listFaults(node, 'enableDriveSecurityFailed');
  t.equal(raised.length, 1, 'one fault for the node');
  t.match(raised[0], {
    nodeID: 1,
    driveID: foreign.driveID,
    driveIDs: [foreign.driveID],
    resolved: false,
    severity: 'warning',
    type: 'drive',
  });
  t.match(raised[0]!.details, /already owned; PSID revert needed/);
  t.notOk(raised[0]!.details.includes('someone-elses-pin'));

  // Another round (a restart's recovery) updates nothing and adds no second fault.
  await node.restart();
  await node.settle();
  t.same(await listFaults(node, 'enableDriveSecurityFailed'), raised, 'the same fault, unchanged');

  await node.client.ok('DisableEncryptionAtRest');
  await waitForEarState(node, 'disabled');
  await node.settle();
  const after = await listFaults(node, 'enableDriveSecurityFailed');
  t.equal(after.length, 1);
  t.match(after[0], { clusterFaultID: raised[0]!.clusterFaultID, resolved: true });
  t.same(await listFaults(node, 'disableDriveSecurityFailed'), []);
});

t.test('disableDriveSecurityFailed until Disable succeeds for the drive', async (t) => {
  const node = await startEarNode(t, { drives: 2, faults: true });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const drive = ((await node.client.ok('ListDrives')).drives as Record<string, any>[]).find(
    (d) => d.slot === 1,
  )!;
  const rec = node.store.get<DriveKeyRecord>(`keys/${drive.keyID}`)!.value;
  const ak = () => node.sealer.unseal(Buffer.from(rec.sealedKey!, 'base64'), sealLabel(rec.keyID));
  // An operator changed the Admin1 PIN behind the daemon's back: Disable cannot open it.
  const other = () => Buffer.from('an-operators-pin');
  await node.opal(1).setPin({ who: OpalUser.ADMIN1, pin: ak() }, OpalUser.ADMIN1, other());

  await node.client.ok('DisableEncryptionAtRest');
  let raised: Record<string, any>[] = [];
  await waitFor(async () => {
    raised = await listFaults(node, 'disableDriveSecurityFailed');
    return raised.length > 0;
  });
  t.match(raised, [{ nodeID: 1, driveIDs: [drive.driveID], resolved: false }]);
  t.match(raised[0]!.details, /failed to disable drive security \(drive \d+: /);
  t.notOk(raised[0]!.details.includes('an-operators-pin'));
  t.equal((await node.client.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState, 'disabling');

  // The PIN back: the next retry of Disable opens the drive and resolves the fault.
  await node.opal(1).setPin({ who: OpalUser.ADMIN1, pin: other() }, OpalUser.ADMIN1, ak());
  await waitForEarState(node, 'disabled');
  await node.settle();
  t.match(await listFaults(node, 'disableDriveSecurityFailed'), [
    { clusterFaultID: raised[0]!.clusterFaultID, resolved: true },
  ]);
});

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 25));
  }
}
