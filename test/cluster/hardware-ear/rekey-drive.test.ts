// The drive side of a rekey from an owner key, on the real simulator: both PINs move to the
// AK with the step between them recorded; a refused owner key or a kernel without
// SET_SID_PW changes nothing and lets the AK go; a resumed rekey finds a PIN already moved.
import t, { type Test } from 'tap';
import {
  OWNER_KEY_REFUSED,
  rekeyAndSecure,
  SID_PIN_UNSUPPORTED,
} from '../../../src/cluster/hardware-ear/drive-locking';
import { IOC_OPAL_SET_SID_PW, OpalUser } from '../../../src/opal/abi';
import { OpalDrive } from '../../../src/opal/drive';
import { OpalNotAuthorizedError } from '../../../src/opal/errors';
import type { DriveTransport } from '../../../src/opal/transport';
import { servedSim } from '../../helpers/served-sim';

const ENOTTY = 25;
const { sim, transport } = servedSim(t, { prefix: 'ekmd-rekey-', drives: 4, sizeMiB: 1 });

/** A kernel before 6.10: SET_SID_PW is an unknown ioctl. */
const olderKernel: DriveTransport = {
  open: (path) => transport.open(path),
  close: (fd) => transport.close(fd),
  ioctl: (fd, request, buf) =>
    request === IOC_OPAL_SET_SID_PW.request
      ? Promise.resolve({ rc: -ENOTTY, errno: ENOTTY })
      : transport.ioctl(fd, request, buf),
};

const owner = () => Buffer.from('owner-key-4b1f');
const ak = () => Buffer.from('new-ak-93e0');

/** Drive `i` as a Disable leaves it: owned, locking active, both PINs the owner key. */
async function ownedDrive(i: number): Promise<OpalDrive> {
  const drive = new OpalDrive(transport, `sim:${i}`);
  await drive.takeOwnership(owner());
  await drive.activate(owner());
  return drive;
}

async function pinsAre(t: Test, drive: OpalDrive, pin: () => Buffer, what: string) {
  await t.resolves(drive.setSidPin(pin(), pin()), `SID: ${what}`);
  await t.resolves(drive.rangeStatus({ who: OpalUser.ADMIN1, pin: pin() }, 0), `Admin1: ${what}`);
}

t.test('both PINs to the AK, the step between them recorded', async (t) => {
  const drive = await ownedDrive(0);
  let recorded = 0;
  const outcome = await rekeyAndSecure(drive, owner(), ak(), {
    sidRekeyed: async () => {
      recorded++;
      // Recorded with SID moved and Admin1 not yet.
      await t.rejects(drive.setSidPin(owner(), owner()), OpalNotAuthorizedError);
      t.ok(await drive.rangeStatus({ who: OpalUser.ADMIN1, pin: owner() }, 0));
    },
  });
  t.same(outcome, { kind: 'enabled' });
  t.equal(recorded, 1);
  await pinsAre(t, drive, ak, 'the AK');
  t.match(sim.status().drives[0]!.ranges[0], { rle: true, wle: true });
});

t.test('a kernel without SET_SID_PW: refused, the drive untouched', async (t) => {
  await ownedDrive(1);
  const outcome = await rekeyAndSecure(new OpalDrive(olderKernel, 'sim:1'), owner(), ak(), {
    sidRekeyed: () => Promise.reject(new Error('not to be recorded')),
  });
  t.same(outcome, { kind: 'refused', reason: SID_PIN_UNSUPPORTED });
  await pinsAre(t, new OpalDrive(transport, 'sim:1'), owner, 'still the owner key');
});

t.test('an owner key the drive refuses: refused after one SID try', async (t) => {
  const drive = await ownedDrive(2);
  const outcome = await rekeyAndSecure(drive, Buffer.from('not-the-owner'), ak(), {
    sidRekeyed: () => Promise.reject(new Error('not to be recorded')),
  });
  t.same(outcome, { kind: 'refused', reason: OWNER_KEY_REFUSED });
  t.equal(sim.status().drives[2]!.tries.sid, 1, 'one try, no more');
  await pinsAre(t, drive, owner, 'still the owner key');
});

t.test('resumed: SID or Admin1 already moved before the kill', async (t) => {
  const drive = await ownedDrive(3);
  await drive.setSidPin(owner(), ak());
  let outcome = await rekeyAndSecure(drive, owner(), ak(), {
    sidRekeyed: async () => {},
    resumedAt: 'owning',
  });
  t.same(outcome, { kind: 'enabled' }, 'from owning, SID already the AK');
  await pinsAre(t, drive, ak, 'the AK');
  outcome = await rekeyAndSecure(drive, owner(), ak(), {
    sidRekeyed: () => Promise.reject(new Error('recorded already')),
    resumedAt: 'sidRekeyed',
  });
  t.same(outcome, { kind: 'enabled' }, 'from sidRekeyed, Admin1 already the AK');
  await pinsAre(t, drive, ak, 'the AK');
});
