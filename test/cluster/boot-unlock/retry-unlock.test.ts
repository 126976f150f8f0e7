// The operator's release of the TryLimit guard, through `ekmctl drives retry-unlock`
// (RetryDriveUnlock): a drive that refused its key is failed with the reason in ListDrives
// and not tried again on its own; each release allows exactly one more attempt, and once
// its key works the drive is unlocked, active again, and driveFailed resolves.
import t from 'tap';
import { join } from 'node:path';
import { API_CERT_FILE } from '../../../src/store/state-files';
import { sealLabel, type DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { OpalUser } from '../../../src/opal/abi';
import { ekmctl, operator } from '../../cli/commands/harness';
import {
  ADMIN,
  createCluster,
  startEarNode,
  waitForEarState,
  type EarNode,
} from '../hardware-ear/ear-node';
import { waitFor } from './unlock-harness';

function akOf(node: EarNode, keyID: string): Buffer {
  const rec = node.store.get<DriveKeyRecord>(`keys/${keyID}`)!.value;
  return node.sealer.unseal(Buffer.from(rec.sealedKey!, 'base64'), sealLabel(keyID));
}

t.test('ekmctl drives retry-unlock', async (t) => {
  const node = await startEarNode(t, { drives: 3, faults: true });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const list = async () => (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  await node.client.ok('AddDrives', {
    drives: (await list()).map((d) => ({ driveID: d.driveID })),
  });
  await node.settle();
  const op = operator(t);
  const flags = ['--url', `https://127.0.0.1:${node.api.address.port}`]
    .concat(['--username', ADMIN.username, '--password-file', op.passwordFile(ADMIN.password)])
    .concat(['--ca', join(node.dir, API_CERT_FILE)]);
  const run = (...args: string[]) => ekmctl(op.env, ...args, ...flags);
  const sim = () => node.sim.status().drives;
  const d = (await list()).find((x) => x.slot === 1)!;
  const ak = akOf(node, d.keyID);
  const other = () => Buffer.from('changed-out-of-band');
  await node
    .opal(1)
    .setPin({ who: OpalUser.ADMIN1, pin: Buffer.from(ak) }, OpalUser.ADMIN1, other());
  const tries = () => sim()[1]!.tries.admin1;
  node.sim.powerCycle();
  const before = tries();
  await waitFor(() => !sim()[0]!.locked && !sim()[2]!.locked);
  await node.hw.unlock!.idle();
  const failedDrive = async () => (await list()).find((x) => x.driveID === d.driveID)!;
  t.match(await failedDrive(), {
    status: 'failed',
    driveFailureDetail: /the drive refused its key \(NOT_AUTHORIZED\)/,
  });
  const listed = await run('drives', 'list');
  t.match(listed.stdout, /failed .*Locked: the drive refused its key/, 'ekmctl shows why');
  t.equal(tries(), before + 1, 'one attempt');

  t.test('bad input changes nothing', async (t) => {
    const snapshot = node.snapshot();
    const unknown = await run('drives', 'retry-unlock', '--drive', '999');
    t.equal(unknown.status, 1);
    t.match(unknown.stderr, /xDriveIDDoesNotExist: Drive 999 does not exist/);
    const bad = await run('drives', 'retry-unlock', '--drive', 'two');
    t.equal(bad.status, 2);
    t.equal(node.snapshot(), snapshot);
    t.equal(tries(), before + 1, 'no attempt');
  });

  t.test('retry-secure names its drives, and releases only refused ones', async (t) => {
    const snapshot = node.snapshot();
    const none = await run('drives', 'retry-secure');
    t.equal(none.status, 2);
    t.match(none.stderr, /name the reverted drives with --drive ID/);
    const secured = await run('drives', 'retry-secure', '--drive', String(d.driveID), '--json');
    t.equal(secured.status, 0, secured.stderr);
    t.same(JSON.parse(secured.stdout), { released: [] }, 'a secured drive is not released');
    t.equal(node.snapshot(), snapshot);
  });

  t.test('released while the key is still wrong → exactly one more attempt', async (t) => {
    const r = await run('drives', 'retry-unlock', '--drive', String(d.driveID), '--json');
    t.equal(r.status, 0, r.stderr);
    t.same(JSON.parse(r.stdout), { released: [d.driveID] });
    await waitFor(() => tries() === before + 2);
    await node.hw.unlock!.idle();
    await node.hw.unlock!.round();
    t.equal(tries(), before + 2, 'guarded again after its one attempt');
    t.ok(sim()[1]!.locked);
  });

  t.test('key works again → released, unlocked, active, fault resolved', async (t) => {
    await node
      .opal(1)
      .setPin({ who: OpalUser.ADMIN1, pin: other() }, OpalUser.ADMIN1, Buffer.from(ak));
    const r = await run('drives', 'retry-unlock');
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, `guard released for drive(s) ${d.driveID}; unlock round started`);
    await waitFor(() => !sim()[1]!.locked);
    await node.hw.unlock!.idle();
    const back = await failedDrive();
    t.equal(back.status, 'active');
    t.notOk('driveFailureDetail' in back);
    t.same(
      node.faults!.list('current').filter((f) => f.code === 'driveFailed'),
      [],
      'driveFailed resolved',
    );
  });
});
