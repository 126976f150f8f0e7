import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  IOC_OPAL_ENABLE_DISABLE_MBR,
  IOC_OPAL_MBR_DONE,
  OpalLockState,
  OpalMbr,
  OpalMbrDoneFlag,
  OpalStatusFlag,
  TcgStatus,
  encodeOpalMbrData,
  encodeOpalMbrDone,
} from '../../src/opal/abi';
import { Simulator } from '../../src/sim/simulator';
import { lockUnlock, provision, psidRevert, save, statusFlags, type Ioctl } from './opal-ops';

function setup(t: tap.Test, opts: { mode?: 'opal' | 'plain'; stateDir?: string } = {}) {
  const stateDir = opts.stateDir ?? t.testdir();
  const sim = new Simulator({ stateDir, drives: 2, sizeMiB: 2, mode: opts.mode });
  t.teardown(() => sim.close());
  const io: Ioctl = (req, buf) => sim.ioctl(0, req, buf);
  return { sim, io, stateDir, d: sim.drive(0) };
}

t.test('provision, write, power-cycle locks, right PIN unlocks the same data', async (t) => {
  const { sim, io, d } = setup(t);
  const pin = randomBytes(32);
  const data = randomBytes(512);
  t.same(await provision(io, pin), [0, 0, 0]);
  d.writeBlock(7, data);
  sim.powerCycle();
  t.ok((await statusFlags(io)) & OpalStatusFlag.LOCKED, 'GET_STATUS says locked');
  t.throws(() => d.readBlock(7), { name: 'MediaError', code: 'EIO', message: /locked/ });
  t.throws(() => d.writeBlock(7, data), { code: 'EIO' });
  t.equal((await lockUnlock(io, pin)).rc, 0);
  t.same(d.readBlock(7), data);
  t.notOk((await statusFlags(io)) & OpalStatusFlag.LOCKED);
  t.equal(sim.drive(1).status().lsp, 'manufactured-inactive', 'other drives untouched');
});

t.test('wrong PIN: NOT_AUTHORIZED, Tries + 1, still locked', async (t) => {
  const { sim, io, d } = setup(t);
  const pin = randomBytes(32);
  await provision(io, pin);
  sim.powerCycle();
  t.equal((await lockUnlock(io, randomBytes(32))).rc, TcgStatus.NOT_AUTHORIZED);
  t.equal(d.status().tries.admin1, 1);
  t.equal((await lockUnlock(io, randomBytes(32))).rc, TcgStatus.NOT_AUTHORIZED);
  t.equal(d.status().tries.admin1, 2);
  t.ok(d.status().locked);
  t.equal((await lockUnlock(io, pin)).rc, 0, 'the right PIN before the limit works');
  t.equal(d.status().tries.admin1, 0, 'success resets Tries');
});

t.test('TryLimit reached: locked out even with the right PIN until power cycle', async (t) => {
  const { sim, io, d } = setup(t);
  const pin = randomBytes(32);
  await provision(io, pin);
  sim.powerCycle();
  for (let i = 0; i < 5; i++)
    t.equal((await lockUnlock(io, randomBytes(32))).rc, TcgStatus.NOT_AUTHORIZED);
  t.equal((await lockUnlock(io, pin)).rc, TcgStatus.AUTHORITY_LOCKED_OUT);
  t.equal((await lockUnlock(io, randomBytes(32))).rc, TcgStatus.AUTHORITY_LOCKED_OUT);
  t.equal(d.status().tries.admin1, 5, 'a locked-out authority counts no further');
  t.ok(d.status().locked);
  sim.powerCycle();
  t.equal(d.status().tries.admin1, 0);
  t.equal((await lockUnlock(io, pin)).rc, 0);
});

t.test('PSID revert crypto-erases: factory state, old data gone', async (t) => {
  const { sim, io, d } = setup(t);
  const pin = randomBytes(32);
  const data = randomBytes(512);
  await provision(io, pin);
  d.writeBlock(3, data);
  t.equal((await psidRevert(io, randomBytes(16))).rc, TcgStatus.NOT_AUTHORIZED);
  t.equal((await psidRevert(io, Buffer.from(d.rec.psid))).rc, 0);
  t.equal(d.status().lsp, 'manufactured-inactive');
  t.notOk(d.status().locked);
  t.notSame(d.readBlock(3), data, 'the old ciphertext no longer decrypts to the data');
  t.equal((await lockUnlock(io, pin)).rc, TcgStatus.INVALID_PARAMETER, 'no Locking SP session');
  t.same(await provision(io, randomBytes(32)), [0, 0, 0], 'can be owned again');
  sim.powerCycle();
  t.ok(d.status().locked);
});

t.test('IOC_OPAL_SAVE is replayed on suspend/resume, not after a power cycle', async (t) => {
  const { sim, io, d } = setup(t);
  const pin = randomBytes(32);
  await provision(io, pin);
  const data = randomBytes(512);
  d.writeBlock(1, data);
  t.equal((await save(io, pin)).rc, 0);
  t.equal(d.status().savedUnlocks, 1);
  const events: string[] = [];
  sim.onInventory((e) => events.push(e.type));
  sim.suspendResume();
  t.notOk(d.status().locked, 'resume replayed the saved unlock');
  t.same(d.readBlock(1), data);
  t.same(events, [], 'no relock seen');
  sim.powerCycle();
  t.ok(d.status().locked);
  t.equal(d.status().savedUnlocks, 0, 'a power cycle empties the kernel list');
  t.same(events, ['relocked']);
  sim.suspendResume();
  t.ok(d.status().locked);
});

t.test('restart without power cycle keeps drives as they were', async (t) => {
  const stateDir = t.testdir();
  const pin = randomBytes(32);
  const data = randomBytes(512);
  const first = new Simulator({ stateDir, drives: 1, sizeMiB: 2 });
  const io1: Ioctl = (r, b) => first.ioctl(0, r, b);
  await provision(io1, pin);
  first.drive(0).writeBlock(9, data);
  await lockUnlock(io1, randomBytes(32)); // Tries 1
  await save(io1, pin);
  first.close();

  const second = new Simulator({ stateDir, drives: 1, sizeMiB: 2 });
  t.teardown(() => second.close());
  const d = second.drive(0);
  t.notOk(d.status().locked, 'still unlocked');
  t.same(d.readBlock(9), data);
  t.equal(d.status().tries.admin1, 1);
  t.equal(d.status().savedUnlocks, 1);
  second.powerCycle();
  t.ok(d.status().locked);
  t.throws(() => d.readBlock(9), { code: 'EIO' });
});

t.test('MBR shadow until Done; Done resets on power cycle', async (t) => {
  const { sim, io, d } = setup(t);
  const pin = randomBytes(32);
  await provision(io, pin);
  const data = randomBytes(512);
  d.writeBlock(0, data);
  const enable = encodeOpalMbrData({ key: { lr: 0, key: pin }, enableDisable: OpalMbr.ENABLE });
  t.equal((await io(IOC_OPAL_ENABLE_DISABLE_MBR.request, enable)).rc, 0);
  t.ok((await statusFlags(io)) & OpalStatusFlag.MBR_ENABLED);
  sim.powerCycle();
  await lockUnlock(io, pin);
  t.same(d.readBlock(0), Buffer.alloc(512), 'shadow MBR shown while not Done');
  t.throws(() => d.writeBlock(0, data), { code: 'EIO' });
  const done = encodeOpalMbrDone({ key: { lr: 0, key: pin }, doneFlag: OpalMbrDoneFlag.DONE });
  t.equal((await io(IOC_OPAL_MBR_DONE.request, done)).rc, 0);
  t.same(d.readBlock(0), data);
  sim.powerCycle();
  t.notOk((await statusFlags(io)) & OpalStatusFlag.MBR_DONE);
});

for (const mode of ['opal', 'plain'] as const) {
  t.test(`software encryption on a ${mode} drive: no DEK, no data`, async (t) => {
    const { sim, io, d } = setup(t, { mode });
    const pin = randomBytes(32);
    if (mode === 'opal') await provision(io, pin);
    const dek = randomBytes(64);
    const data = randomBytes(512);
    d.attachDek(dek);
    d.writeBlock(5, data);
    t.same(d.readBlock(5), data);
    d.detachDek();
    t.throws(() => d.readBlock(5), { code: 'ENOKEY', message: /no DEK/ });
    t.throws(() => d.writeBlock(5, data), { code: 'ENOKEY' });
    t.throws(() => d.attachDek(randomBytes(64)), { code: 'ENOKEY', message: /does not match/ });
    t.throws(() => d.attachDek(Buffer.alloc(64, 1)), {
      code: 'EINVAL',
      message: /distinct halves/,
    });
    d.attachDek(dek);
    t.same(d.readBlock(5), data);
    sim.powerCycle();
    t.equal(d.status().dek, 'detached', 'a power cycle drops the attached DEK');
    if (mode === 'opal') {
      t.throws(() => d.readBlock(5), { code: 'EIO' }, 'locked below the DEK layer');
      await lockUnlock(io, pin);
    }
    t.throws(() => d.readBlock(5), { code: 'ENOKEY' });
    d.attachDek(dek);
    t.same(d.readBlock(5), data);
  });
}

t.test('a plain drive answers Opal ioctls with EOPNOTSUPP', async (t) => {
  const { io, d } = setup(t, { mode: 'plain' });
  const r = await lockUnlock(io, randomBytes(32), OpalLockState.RW);
  t.same(r, { rc: -95, errno: 95 });
  t.equal(d.info().opal, false);
});

t.test('key buffers are zeroed when dropped', async (t) => {
  const { sim, io, d } = setup(t);
  const pin = randomBytes(32);
  await provision(io, pin);
  await save(io, pin);
  const dekIn = randomBytes(64);
  d.attachDek(dekIn);
  const media = d.opal.vol.held[0]!;
  const saved = d.opal.vol.saved[0];
  const dek = d.opal.vol.dek!;
  t.notSame(media, Buffer.alloc(64));
  sim.powerCycle();
  t.same(media, Buffer.alloc(64), 'media key of the relocked range');
  t.same(saved, Buffer.alloc(280), "the kernel's saved unlock (it holds the PIN)");
  t.same(dek, Buffer.alloc(64), 'the attached DEK');
  await lockUnlock(io, pin);
  const again = d.opal.vol.held[0]!;
  d.attachDek(dekIn);
  const dek2 = d.opal.vol.dek!;
  d.detachDek();
  t.same(dek2, Buffer.alloc(64), 'detach zeroes the DEK');
  t.notSame(again, Buffer.alloc(64), 'the unlocked range keeps its key');
});
