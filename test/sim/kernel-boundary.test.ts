import t from 'tap';
import { randomBytes } from 'node:crypto';
import { constants as os } from 'node:os';
import {
  IOC_OPAL_ACTIVATE_USR,
  IOC_OPAL_ADD_USR_TO_LR,
  IOC_OPAL_GET_GEOMETRY,
  IOC_OPAL_GET_LR_STATUS,
  IOC_OPAL_GET_STATUS,
  IOC_OPAL_LOCK_UNLOCK,
  IOC_OPAL_REACTIVATE_LSP,
  IOC_OPAL_SET_PW,
  IOC_OPAL_STACK_RESET,
  OPAL_IOCTLS,
  OpalKeyType,
  OpalLockState,
  OpalUser,
  TcgStatus,
  decodeOpalGeometry,
  decodeOpalLrStatus,
  encodeOpalLockUnlock,
  encodeOpalLrStatus,
  encodeOpalNewPw,
  encodeOpalSessionInfo,
  ioc,
} from '../../src/opal/abi';
import { Simulator } from '../../src/sim/simulator';
import { admin1, lockUnlock, provision, statusFlags, type Ioctl } from './opal-ops';

const E = os.errno;
const err = (errno: number) => ({ rc: -errno, errno });

function setup(t: tap.Test, opts: { privileged?: boolean } = {}) {
  const sim = new Simulator({ stateDir: t.testdir(), drives: 1, sizeMiB: 2, ...opts });
  t.teardown(() => sim.close());
  const io: Ioctl = (req, buf) => sim.ioctl(0, req, buf);
  return { sim, io };
}

t.test('unknown requests are ENOTTY, as are 7.1 ioctls this kernel lacks', async (t) => {
  const { io } = setup(t);
  t.same(await io(0x1234, Buffer.alloc(0)), err(E.ENOTTY));
  t.same(await io(IOC_OPAL_STACK_RESET.request, Buffer.alloc(0)), err(E.ENOTTY));
  t.same(await io(IOC_OPAL_REACTIVATE_LSP.request, Buffer.alloc(544)), err(E.ENOTTY));
  const wrongSize = ioc('write', 0x70, 221, 100); // LOCK_UNLOCK's number with another size
  t.same(await io(wrongSize, Buffer.alloc(100)), err(E.ENOTTY));
});

t.test('a buffer that disagrees with the request size is EINVAL', async (t) => {
  const { io } = setup(t);
  t.same(await io(IOC_OPAL_LOCK_UNLOCK.request, Buffer.alloc(279)), err(E.EINVAL));
  t.same(await io(IOC_OPAL_GET_STATUS.request, Buffer.alloc(0)), err(E.EINVAL));
});

t.test('without CAP_SYS_ADMIN every Opal ioctl is EACCES', async (t) => {
  const { io } = setup(t, { privileged: false });
  for (const def of OPAL_IOCTLS.filter((d) => d.nr <= 241))
    t.same(await io(def.request, Buffer.alloc(def.size)), err(E.EACCES), def.name);
});

t.test('argument checks the kernel makes before the drive sees anything', async (t) => {
  const { sim, io } = setup(t);
  const pin = randomBytes(32);
  await provision(io, pin);
  const d = sim.drive(0);
  const lk = (who: number, key: Buffer, lState: number = OpalLockState.RW, keyType = 0) =>
    encodeOpalLockUnlock({
      session: { sum: false, who, opalKey: { lr: 0, key, keyType } },
      lState,
    });
  t.same(await io(IOC_OPAL_LOCK_UNLOCK.request, lk(10, pin)), err(E.EINVAL), 'who > USER9');
  t.same(await io(IOC_OPAL_LOCK_UNLOCK.request, lk(0, Buffer.alloc(0))), err(E.EINVAL), 'no key');
  t.same(
    await io(IOC_OPAL_LOCK_UNLOCK.request, lk(0, pin, OpalLockState.RW, OpalKeyType.KEYRING)),
    err(126),
    'empty keyring: ENOKEY',
  );
  t.same(await io(IOC_OPAL_LOCK_UNLOCK.request, lk(0, pin, OpalLockState.RW, 7)), err(E.EINVAL));
  t.same(
    await io(IOC_OPAL_ADD_USR_TO_LR.request, lk(1, pin, OpalLockState.LK)),
    err(E.EINVAL),
    'ADD_USR_TO_LR takes RO or RW only',
  );
  t.same(await io(IOC_OPAL_ADD_USR_TO_LR.request, lk(0, pin)), err(E.EINVAL), 'not Admin1');
  const activate = (who: number) =>
    encodeOpalSessionInfo({ sum: false, who, opalKey: { lr: 0, key: pin } });
  t.same(await io(IOC_OPAL_ACTIVATE_USR.request, activate(0)), err(E.EINVAL));
  t.equal(d.status().tries.admin1, 0, 'rejected before any authentication');
  t.same(
    await io(IOC_OPAL_LOCK_UNLOCK.request, lk(0, pin, 3)),
    { rc: TcgStatus.INVALID_PARAMETER, errno: 0 },
    'a bad lock state reaches the drive: positive status',
  );
});

t.test('users: activate, set PIN, grant the range, unlock as the user', async (t) => {
  const { sim, io } = setup(t);
  const pin = randomBytes(32);
  const userPin = randomBytes(32);
  await provision(io, pin);
  const user1 = { sum: false, who: OpalUser.USER1, opalKey: { lr: 0, key: userPin } };
  const asUser = encodeOpalLockUnlock({ session: user1, lState: OpalLockState.RW });
  t.equal((await io(IOC_OPAL_LOCK_UNLOCK.request, asUser)).rc, TcgStatus.NOT_AUTHORIZED);
  const act = encodeOpalSessionInfo({ ...admin1(pin), who: OpalUser.USER1 });
  t.equal((await io(IOC_OPAL_ACTIVATE_USR.request, act)).rc, 0);
  const setPw = encodeOpalNewPw({ session: admin1(pin), newUserPw: user1 });
  t.equal((await io(IOC_OPAL_SET_PW.request, setPw)).rc, 0);
  sim.powerCycle();
  t.equal((await io(IOC_OPAL_LOCK_UNLOCK.request, asUser)).rc, TcgStatus.NOT_AUTHORIZED, 'no ACE');
  for (const lState of [OpalLockState.RO, OpalLockState.RW]) {
    const grant = encodeOpalLockUnlock({ session: { ...admin1(pin), who: 1 }, lState });
    t.equal((await io(IOC_OPAL_ADD_USR_TO_LR.request, grant)).rc, 0);
  }
  t.equal((await io(IOC_OPAL_LOCK_UNLOCK.request, asUser)).rc, 0);
  t.notOk(sim.drive(0).status().locked);
  t.equal(
    (await lockUnlock(io, pin)).rc,
    TcgStatus.NOT_AUTHORIZED,
    'the kernel replaced the ACE: Admin1 lost the range',
  );
});

t.test('GET_LR_STATUS and GET_GEOMETRY write their answers back', async (t) => {
  const { sim, io } = setup(t);
  const pin = randomBytes(32);
  await provision(io, pin);
  sim.powerCycle();
  const buf = encodeOpalLrStatus({
    session: admin1(pin),
    rangeStart: 0n,
    rangeLength: 0n,
    rle: false,
    wle: false,
    lState: 0,
  });
  t.equal((await io(IOC_OPAL_GET_LR_STATUS.request, buf)).rc, 0);
  const st = decodeOpalLrStatus(buf);
  t.same([st.rle, st.wle, st.lState], [true, true, OpalLockState.LK]);
  t.same(st.session.opalKey.key, pin, 'the session part is not copied back');
  const geo = Buffer.alloc(IOC_OPAL_GET_GEOMETRY.size);
  t.equal((await io(IOC_OPAL_GET_GEOMETRY.request, geo)).rc, 0);
  t.match(decodeOpalGeometry(geo), {
    align: true,
    logicalBlockSize: 512,
    alignmentGranularity: 8n,
  });
});

t.test('injected faults at the ioctl boundary', async (t) => {
  const { sim, io } = setup(t);
  const pin = randomBytes(32);
  await provision(io, pin);
  sim.inject(0, 'non-opal');
  t.same(await lockUnlock(io, pin), err(E.EOPNOTSUPP));
  t.same(await io(IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)), err(E.EOPNOTSUPP));
  sim.inject(0, 'clear');
  sim.inject(0, 'io-error');
  t.same(await lockUnlock(io, pin), err(E.EIO));
  t.equal(await statusFlags(io), 0, 'GET_STATUS: failed discovery reads as flags 0');
  t.throws(() => sim.drive(0).readBlock(0), { code: 'EIO' });
  sim.inject(0, 'clear');
  t.equal((await lockUnlock(io, pin)).rc, 0);
});

t.test('garbage of every size into every request: kernel-style answers, no crash', async (t) => {
  const { sim, io } = setup(t);
  const pin = randomBytes(32);
  const data = randomBytes(512);
  await provision(io, pin);
  sim.drive(0).writeBlock(100, data);
  const seen = new Set<string>();
  for (const def of OPAL_IOCTLS) {
    for (let i = 0; i < 12; i++) {
      const size = i < 10 ? def.size : randomBytes(1)[0];
      const buf = randomBytes(size);
      if (i % 3 === 0 && size > 1) buf[1] = Math.min(buf[1], 32); // plausible key_len
      const r = await io(def.request, buf);
      t.ok(Number.isInteger(r.rc) && Number.isInteger(r.errno), `${def.name} answers`);
      if (r.rc < 0) t.equal(r.errno, -r.rc);
      else t.equal(r.errno, 0);
      seen.add(r.rc < 0 ? `-${r.errno}` : `${r.rc}`);
    }
  }
  t.ok(seen.has(`-${E.EINVAL}`) && seen.has(`-${E.ENOTTY}`), 'errors of several kinds seen');
  sim.powerCycle();
  t.equal((await lockUnlock(io, pin)).rc, 0, 'the drive still answers to its PIN');
  t.same(sim.drive(0).readBlock(100), data, 'and its data survived');
});
