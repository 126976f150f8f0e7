// Drive operations against the simulator over its socket: the multi-step flows as the
// kernel ABI would carry them, a User on a range, verify-after-unlock, SAVE across a
// suspend, relock on a power cycle, and SID's PIN changed on its own.
import t from 'tap';
import { OpalUser } from '../../src/opal/abi';
import { OpalDrive } from '../../src/opal/drive';
import { OpalNotAuthorizedError } from '../../src/opal/errors';
import { servedSim } from '../helpers/served-sim';

const { sim, transport } = servedSim(t, { prefix: 'ekmd-opal-sim-', drives: 1, sizeMiB: 2 });

const admin = () => Buffer.from('admin-pin-5d3e');
const user = () => Buffer.from('user2-pin-9a8b');
const drive = new OpalDrive(transport, 'sim:0');

t.test('provision: ownership, activate, global range, a user on range 1', async (t) => {
  t.match(await drive.status(), { supported: true, lockingEnabled: false });
  await drive.takeOwnership(admin());
  await drive.activate(admin());
  const geometry = await drive.geometry();
  t.ok(geometry && geometry.logicalBlockSize > 0, 'geometry');
  const align = geometry ? geometry.alignmentGranularity : 1n;
  await drive.setupRanges(admin(), [
    { lr: 0, start: 0n, length: 0n, readLockEnabled: true, writeLockEnabled: true },
    { lr: 1, start: align * 4n, length: align * 8n, readLockEnabled: true, writeLockEnabled: true },
  ]);
  await drive.setPin({ who: OpalUser.ADMIN1, pin: admin() }, OpalUser.USER2, user());
  await drive.activateUser(admin(), OpalUser.USER2);
  await drive.addUserToRange(admin(), OpalUser.USER2, 1, 'rw');
  t.match(await drive.status(), { lockingEnabled: true });
  const r1 = await drive.rangeStatus({ who: OpalUser.ADMIN1, pin: admin() }, 1);
  t.match(r1, { lr: 1, start: align * 4n, length: align * 8n, readLockEnabled: true });
});

t.test('lock and unlock range 1 as User2, verified by GET_LR_STATUS', async (t) => {
  const cred = () => ({ who: OpalUser.USER2, pin: user() });
  await drive.lock(cred(), 1);
  t.match(await drive.rangeStatus(cred(), 1), { mode: 'locked' });
  t.match(await drive.status(), { locked: true });
  t.same(await drive.unlock(cred(), 1, 'ro'), { verifiedBy: 'range-status' });
  t.same(await drive.unlock(cred(), 1), { verifiedBy: 'range-status' });
  await t.rejects(
    drive.unlock({ who: OpalUser.USER2, pin: Buffer.from('not-it') }, 1),
    OpalNotAuthorizedError,
  );
  await t.rejects(drive.unlock(cred(), 2), OpalNotAuthorizedError, 'User2 has no ACE on range 2');
});

t.test('Admin1 lost range 1 to User2 (the kernel replaces the ACE)', async (t) => {
  await t.rejects(drive.lock({ who: OpalUser.ADMIN1, pin: admin() }, 1), OpalNotAuthorizedError);
});

t.test('power cycle relocks; SAVE re-unlocks after suspend', async (t) => {
  const adminCred = () => ({ who: OpalUser.ADMIN1, pin: admin() });
  const userCred = () => ({ who: OpalUser.USER2, pin: user() });
  await drive.unlock(adminCred(), 0);
  sim.powerCycle(0);
  t.match(await drive.status(), { locked: true }, 'LockOnReset');
  t.match(await drive.rangeStatus(userCred(), 1), { mode: 'locked' });
  await drive.unlock(adminCred(), 0);
  await drive.unlock(userCred(), 1);
  await drive.save(adminCred(), 0, 'rw');
  await drive.save(userCred(), 1, 'rw');
  sim.suspendResume(0);
  t.match(await drive.status(), { locked: false }, 'kernel replayed the saved unlocks');
});

t.test('SET_SID_PW: SID takes a new PIN, Admin1 keeps its own', async (t) => {
  const sid = () => Buffer.from('sid-pin-77c1');
  await t.rejects(drive.setSidPin(sid(), sid()), OpalNotAuthorizedError, 'not the SID PIN yet');
  await drive.setSidPin(admin(), sid());
  await t.rejects(drive.revertTper(admin()), OpalNotAuthorizedError, 'the old SID PIN is refused');
  t.match(await drive.rangeStatus({ who: OpalUser.ADMIN1, pin: admin() }, 0), { lr: 0 });
  await drive.setSidPin(sid(), admin());
});

t.test('revert with the SID PIN: factory state', async (t) => {
  await drive.revertTper(admin());
  t.match(await drive.status(), { lockingEnabled: false, locked: false });
});
