// The TryLimit guard through real processes (ekmd, ekmd-sim, the dev key server, ekmctl):
// a drive whose PIN was changed out of band refuses its AK once; ekmd never offers that
// key to that drive again during the boot, not after its own restart either, and offers
// it once more when a new boot is seen (EKMD_TEST_HOOKS boot-id: stands in for boot_id).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { poweredOffNode } from './fixtures/boot-flow';
import { faults, runNode, waitUntil, type Sim } from './fixtures/boot-rig';
import { bin } from '../helpers/paths';

const GUARD_LOG = /"driveID":(\d+),"reason":"[^"]*TryLimit guard[^"]*","msg":"drive left locked"/;

function setPw(sim: Sim, drive: number, pinFile: string, newPinFile: string) {
  return runNode(
    [bin.ekmctl, 'opal', 'set-pw', '--sim', sim.socket, '--drive', String(drive)].concat([
      '--pin-file',
      pinFile,
      '--new-pin-file',
      newPinFile,
    ]),
  );
}

t.test('wrong key: one attempt, guarded across a restart, released by a new boot', async (t) => {
  const { node, servers, drives } = await poweredOffNode(t, 3);
  const target = 1;
  const serial = (await node.sim.status())[target]!.serial;
  const driveID = drives.find((d) => d.serial === serial)!.driveID;
  const akFile = join(node.work.dir, 'ak.bin');
  const otherFile = join(node.work.dir, 'other.bin');
  writeFileSync(akFile, servers[0]!.akOf(serial), { mode: 0o600 });
  writeFileSync(otherFile, Buffer.alloc(32, 0x5a), { mode: 0o600 });
  const changed = await setPw(node.sim, target, akFile, otherFile);
  t.equal(changed.status, 0, `PIN changed out of band ${changed.stderr}`);
  t.equal((await node.sim.status())[target]!.tries.admin1, 0, 'no failed try yet');

  // Boot A: the drive refuses its AK once.
  let ekmd = await node.start({ hooks: 'boot-id:boot-A' });
  await waitUntil('driveFailed for the drive', async () =>
    (await faults(ekmd.client)).some((f) => f.code === 'driveFailed'),
  );
  await waitUntil('the other drives unlocked', async () =>
    (await node.sim.status()).every((d, i) => i === target || !d.locked),
  );
  let status = (await node.sim.status())[target]!;
  t.ok(status.locked, 'the drive stays locked');
  t.equal(status.tries.admin1, 1, 'exactly one attempt');
  const failed = (await faults(ekmd.client)).find((f) => f.code === 'driveFailed')!;
  t.same(failed.driveIDs, [driveID], 'driveFailed names that drive');

  // A new round in the same run (another drive replugged): the guard holds.
  t.equal((await node.sim.ctl('unplug', '--drive', '0')).status, 0);
  t.equal((await node.sim.ctl('plug', '--drive', '0')).status, 0);
  await waitUntil('guarded in a later round', () => GUARD_LOG.test(ekmd.output()));
  await waitUntil('drive 0 unlocked again', async () => !(await node.sim.status())[0]!.locked);
  t.equal((await node.sim.status())[target]!.tries.admin1, 1, 'no second attempt in this run');
  await ekmd.stop();

  // ekmd restarted in the same boot: the persisted guard holds.
  ekmd = await node.start({ hooks: 'boot-id:boot-A' });
  await waitUntil('guarded after the restart', () => GUARD_LOG.test(ekmd.output()));
  t.equal(Number(GUARD_LOG.exec(ekmd.output())![1]), driveID, 'the guard names the drive');
  status = (await node.sim.status())[target]!;
  t.ok(status.locked, 'still locked');
  t.equal(status.tries.admin1, 1, 'no second attempt after the restart');
  await ekmd.stop();

  // The operator puts the right PIN back; a new boot releases the guard: one attempt, unlocked.
  const restored = await setPw(node.sim, target, otherFile, akFile);
  t.equal(restored.status, 0, `PIN restored out of band ${restored.stderr}`);
  ekmd = await node.start({ hooks: 'boot-id:boot-B' });
  await waitUntil(
    'unlocked in the new boot',
    async () => !(await node.sim.status())[target]!.locked,
  );
  await waitUntil('driveFailed resolved', async () => (await faults(ekmd.client)).length === 0);
  t.equal((await node.sim.status())[target]!.tries.admin1, 0, 'unlocked at the one attempt');
  await ekmd.stop();
});

t.test('a new boot id with the key still wrong: exactly one more attempt', async (t) => {
  const { node, servers } = await poweredOffNode(t, 2);
  const serial = (await node.sim.status())[0]!.serial;
  const akFile = join(node.work.dir, 'ak.bin');
  const otherFile = join(node.work.dir, 'other.bin');
  writeFileSync(akFile, servers[0]!.akOf(serial), { mode: 0o600 });
  writeFileSync(otherFile, Buffer.alloc(32, 0xa5), { mode: 0o600 });
  t.equal((await setPw(node.sim, 0, akFile, otherFile)).status, 0, 'PIN changed out of band');
  let ekmd = await node.start({ hooks: 'boot-id:boot-A' });
  await waitUntil(
    'one refused attempt',
    async () => (await node.sim.status())[0]!.tries.admin1 === 1,
  );
  await ekmd.stop();
  ekmd = await node.start({ hooks: 'boot-id:boot-B' });
  await waitUntil(
    'a second attempt in the new boot',
    async () => (await node.sim.status())[0]!.tries.admin1 === 2,
  );
  await waitUntil('driveFailed', async () =>
    (await faults(ekmd.client)).some((f) => f.code === 'driveFailed'),
  );
  await ekmd.stop();
  ekmd = await node.start({ hooks: 'boot-id:boot-B' });
  await waitUntil('guarded', () => GUARD_LOG.test(ekmd.output()));
  t.equal((await node.sim.status())[0]!.tries.admin1, 2, 'one attempt per boot, no more');
  await ekmd.stop();
});
