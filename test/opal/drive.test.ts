// Drive operations against a recording transport: the exact ioctl sequence and bytes of
// each flow, PIN zeroing, one attempt per PIN, verify-after-unlock, the per-drive lock.
import t from 'tap';
import { constants } from 'node:os';
import pino from 'pino';
import * as abi from '../../src/opal/abi';
import { OpalDrive } from '../../src/opal/drive';
import {
  OpalLockedOutError,
  OpalNotAuthorizedError,
  OpalNotSupportedError,
  OpalVerifyError,
} from '../../src/opal/errors';
import { LibcTransport } from '../../src/opal/libc-transport';
import { RecordingTransport, type Responder } from '../../src/opal/recording-transport';
import type { IoctlResult } from '../../src/opal/transport';

const OK: IoctlResult = { rc: 0, errno: 0 };
const ENOTTY: IoctlResult = { rc: -1, errno: constants.errno.ENOTTY };
const pin = (s = 'admin-pin') => Buffer.from(s);
const zeroed = (b: Buffer) => b.every((x) => x === 0);

function setup(respond?: Responder) {
  const tr = new RecordingTransport({ respond });
  return { tr, drive: new OpalDrive(tr, '/dev/sdz') };
}

/** opal_key bytes by hand: lr@0, key_len@1, key_type@2, key@8, 264 bytes. */
function keyBytes(lr: number, k: Buffer): Buffer {
  const b = Buffer.alloc(264);
  b[0] = lr;
  b[1] = k.length;
  k.copy(b, 8);
  return b;
}

t.test('take ownership: one TAKE_OWNERSHIP with the new SID PIN, then zeroed', async (t) => {
  const { tr, drive } = setup();
  const sid = pin('new-sid');
  await drive.takeOwnership(sid);
  t.same(
    tr.calls.map((c) => c.op),
    ['open', 'ioctl', 'close'],
  );
  const [call] = tr.ioctls;
  t.equal(call.request, 0x410870de);
  t.same(call.bytes, keyBytes(0, Buffer.from('new-sid')), 'exact bytes');
  t.ok(zeroed(sid), 'caller PIN zeroed');
  t.ok(zeroed(call.sent), 'struct buffer zeroed');
  t.same(tr.calls[0], { op: 'open', path: '/dev/sdz', fd: 100 });
});

t.test('activate: ACTIVATE_LSP as SID, one range entry, no SUM', async (t) => {
  const { tr, drive } = setup();
  await drive.activate(pin('sid'));
  const [call] = tr.ioctls;
  t.equal(call.name, 'IOC_OPAL_ACTIVATE_LSP');
  const want = Buffer.alloc(280);
  keyBytes(0, Buffer.from('sid')).copy(want, 0);
  want[268] = 1; // num_lrs
  want[269] = 0; // lr[0]
  t.same(call.bytes, want, 'exact bytes');
});

t.test('set up ranges: LR_SETUP per range as Admin1, in order', async (t) => {
  const { tr, drive } = setup();
  const admin = pin('admin');
  await drive.setupRanges(admin, [
    { lr: 0, start: 0n, length: 0n, readLockEnabled: true, writeLockEnabled: true },
    { lr: 1, start: 2048n, length: 1048576n, readLockEnabled: true, writeLockEnabled: false },
  ]);
  t.same(
    tr.ioctls.map((c) => c.name),
    ['IOC_OPAL_LR_SETUP', 'IOC_OPAL_LR_SETUP'],
  );
  t.equal(tr.calls.filter((c) => c.op === 'open').length, 1, 'one open for the flow');
  const want = Buffer.alloc(296);
  want.writeBigUInt64LE(2048n, 0);
  want.writeBigUInt64LE(1048576n, 8);
  want.writeUInt32LE(1, 16); // RLE
  want.writeUInt32LE(0, 20); // WLE
  want.writeUInt32LE(0, 24); // session.sum
  want.writeUInt32LE(abi.OpalUser.ADMIN1, 28); // session.who
  keyBytes(1, Buffer.from('admin')).copy(want, 32);
  t.same(tr.ioctls[1].bytes, want, 'exact bytes of range 1');
  t.equal(tr.ioctls[0].bytes.readUInt32LE(16), 1);
  t.equal(tr.ioctls[0].bytes.readUInt32LE(20), 1);
  t.ok(zeroed(admin));
});

/** Answers GET_LR_STATUS with `lState`, everything else OK. */
function rangeReadsBack(lState: number): Responder {
  return (req, buf) => {
    if (req === abi.IOC_OPAL_GET_LR_STATUS.request) buf.writeUInt32LE(lState, 296);
    return OK;
  };
}

t.test('unlock: LOCK_UNLOCK(RW) then GET_LR_STATUS read-back', async (t) => {
  const { tr, drive } = setup(rangeReadsBack(abi.OpalLockState.RW));
  const user = pin('user1-pin');
  const r = await drive.unlock({ who: abi.OpalUser.USER1, pin: user }, 1, 'rw');
  t.same(r, { verifiedBy: 'range-status' });
  t.same(
    tr.ioctls.map((c) => c.name),
    ['IOC_OPAL_LOCK_UNLOCK', 'IOC_OPAL_GET_LR_STATUS'],
  );
  const want = Buffer.alloc(280);
  want.writeUInt32LE(0, 0); // sum
  want.writeUInt32LE(1, 4); // who = User1
  keyBytes(1, Buffer.from('user1-pin')).copy(want, 8);
  want.writeUInt32LE(abi.OpalLockState.RW, 272);
  t.same(tr.ioctls[0].bytes, want, 'exact LOCK_UNLOCK bytes');
  t.same(tr.ioctls[1].bytes.subarray(0, 272), want.subarray(0, 272), 'same session reads back');
  t.ok(zeroed(user), 'PIN zeroed');
  t.ok(
    tr.ioctls.every((c) => zeroed(c.sent)),
    'every struct buffer zeroed',
  );
});

t.test('unlock read-only', async (t) => {
  const { tr, drive } = setup(rangeReadsBack(abi.OpalLockState.RO));
  const r = await drive.unlock({ who: abi.OpalUser.ADMIN1, pin: pin() }, 0, 'ro');
  t.same(r, { verifiedBy: 'range-status' });
  t.equal(tr.ioctls[0].bytes.readUInt32LE(272), abi.OpalLockState.RO);
});

t.test('unlock that reads back locked fails verification', async (t) => {
  const { drive } = setup(rangeReadsBack(abi.OpalLockState.LK));
  const p = pin();
  await t.rejects(drive.unlock({ who: 0, pin: p }, 0), OpalVerifyError);
  await t.rejects(drive.unlock({ who: 0, pin: pin() }, 0), /range 0 reads back locked/);
  t.ok(zeroed(p), 'PIN zeroed on failure too');
});

t.test('unlock on a kernel without GET_LR_STATUS verifies with GET_STATUS', async (t) => {
  let locked: number = abi.OpalStatusFlag.LOCKED;
  const { tr, drive } = setup((req, buf) => {
    if (req === abi.IOC_OPAL_GET_LR_STATUS.request) return ENOTTY;
    if (req === abi.IOC_OPAL_GET_STATUS.request) buf.writeUInt32LE(0x07 | locked, 0);
    return OK;
  });
  t.same(await drive.unlock({ who: 0, pin: pin() }, 0), { verifiedBy: 'unverified' });
  locked = 0;
  t.same(await drive.unlock({ who: 0, pin: pin() }, 0), { verifiedBy: 'status' });
  t.same(
    tr.ioctls.slice(0, 3).map((c) => c.name),
    ['IOC_OPAL_LOCK_UNLOCK', 'IOC_OPAL_GET_LR_STATUS', 'IOC_OPAL_GET_STATUS'],
  );
});

t.test('wrong PIN: one attempt, typed error, no read-back, PIN zeroed', async (t) => {
  const { tr, drive } = setup(() => ({ rc: 1, errno: 0 }));
  const p = pin('wrong');
  await t.rejects(drive.unlock({ who: 0, pin: p }, 0), OpalNotAuthorizedError);
  t.same(
    tr.ioctls.map((c) => c.name),
    ['IOC_OPAL_LOCK_UNLOCK'],
    'never retried',
  );
  t.same(
    tr.calls.map((c) => c.op),
    ['open', 'ioctl', 'close'],
    'closed after failure',
  );
  t.ok(zeroed(p));
  const locked = setup(() => ({ rc: 0x12, errno: 0 }));
  await t.rejects(locked.drive.unlock({ who: 0, pin: pin() }, 0), OpalLockedOutError);
  const notOpal = setup(() => ({ rc: -1, errno: constants.errno.EOPNOTSUPP }));
  await t.rejects(notOpal.drive.status(), OpalNotSupportedError);
});

t.test('lock: LOCK_UNLOCK(LK), no read-back', async (t) => {
  const { tr, drive } = setup();
  await drive.lock({ who: abi.OpalUser.ADMIN1, pin: pin('admin') }, 2);
  t.same(
    tr.ioctls.map((c) => c.name),
    ['IOC_OPAL_LOCK_UNLOCK'],
  );
  const want = Buffer.alloc(280);
  keyBytes(2, Buffer.from('admin')).copy(want, 8);
  want.writeUInt32LE(abi.OpalLockState.LK, 272);
  t.same(tr.ioctls[0].bytes, want, 'exact bytes');
});

t.test('revert TPer and PSID revert', async (t) => {
  const { tr, drive } = setup();
  await drive.revertTper(pin('sid'));
  await drive.psidRevert(pin('PSID0123456789ABCDEF0123456789AB'));
  t.same(
    tr.ioctls.map((c) => [c.request, c.name]),
    [
      [0x410870e2, 'IOC_OPAL_REVERT_TPR'],
      [0x410870e8, 'IOC_OPAL_PSID_REVERT_TPR'],
    ],
  );
  t.same(tr.ioctls[0].bytes, keyBytes(0, Buffer.from('sid')), 'exact REVERT_TPR bytes');
  t.same(tr.ioctls[1].bytes, keyBytes(0, Buffer.from('PSID0123456789ABCDEF0123456789AB')));
});

t.test('users, PINs, save, MBR, erase', async (t) => {
  const { tr, drive } = setup();
  await drive.setPin({ who: abi.OpalUser.ADMIN1, pin: pin('admin') }, 1, pin('user1'));
  await drive.activateUser(pin('admin'), 1);
  await drive.addUserToRange(pin('admin'), 1, 1, 'rw');
  await drive.save({ who: 1, pin: pin('user1') }, 1, 'rw', { forLock: true });
  await drive.mbrEnable(pin('admin'), false);
  await drive.mbrDone(pin('admin'), true);
  await drive.eraseRange(pin('admin'), 3);
  const [setPw, actUsr, addRo, addUsr, save, mbr, done, erase] = tr.ioctls;
  t.equal(setPw.name, 'IOC_OPAL_SET_PW');
  t.equal(setPw.bytes.readUInt32LE(4), 0, 'Admin1 authenticates');
  t.equal(setPw.bytes.readUInt32LE(276), 1, 'User1 gets the new PIN');
  t.same(setPw.bytes.subarray(280, 280 + 264), keyBytes(0, Buffer.from('user1')));
  t.equal(actUsr.name, 'IOC_OPAL_ACTIVATE_USR');
  t.equal(actUsr.bytes.readUInt32LE(4), 1);
  t.equal(addRo.name, 'IOC_OPAL_ADD_USR_TO_LR', "'rw' grants the ReadLocked ACE…");
  t.equal(addRo.bytes.readUInt32LE(272), abi.OpalLockState.RO);
  t.equal(addUsr.name, 'IOC_OPAL_ADD_USR_TO_LR', '…then the WriteLocked one');
  t.equal(addUsr.bytes.readUInt32LE(4), 1);
  t.equal(addUsr.bytes[8], 1, 'range 1');
  t.equal(addUsr.bytes.readUInt32LE(272), abi.OpalLockState.RW);
  t.equal(save.name, 'IOC_OPAL_SAVE');
  t.equal(save.bytes.readUInt16LE(276), abi.OpalLockFlags.SAVE_FOR_LOCK);
  t.equal(mbr.bytes[264], abi.OpalMbr.DISABLE);
  t.equal(done.bytes[264], abi.OpalMbrDoneFlag.DONE);
  t.equal(erase.name, 'IOC_OPAL_SECURE_ERASE_LR');
  t.equal(erase.bytes[8], 3);
});

t.test('status, geometry, discovery', async (t) => {
  const level0 = Buffer.alloc(48 + 16);
  level0.writeUInt32BE(level0.length - 4, 0);
  level0.writeUInt16BE(1, 6);
  level0.writeUInt16BE(0x0002, 48); // Locking
  level0[50] = 0x10;
  level0[51] = 12;
  level0[52] = 0x0f; // supported, enabled, locked, media encryption
  const { drive } = setup((req, buf, data) => {
    if (req === abi.IOC_OPAL_GET_STATUS.request) buf.writeUInt32LE(0x0f, 0);
    if (req === abi.IOC_OPAL_GET_GEOMETRY.request) buf.writeUInt32LE(4096, 4);
    if (req === abi.IOC_OPAL_DISCOVERY.request) {
      t.equal(abi.decodeOpalDiscovery(buf).size, 2048n, 'asks for up to 2048 bytes');
      level0.copy(data!);
      return { rc: level0.length, errno: 0 };
    }
    return OK;
  });
  t.match(await drive.status(), { supported: true, lockingEnabled: true, locked: true });
  t.match(await drive.geometry(), { logicalBlockSize: 4096 });
  const d = await drive.discover();
  t.equal(d?.features.length, 1);
  t.match(d?.locking, { lockingSupported: true, locked: true, mediaEncryption: true });
  t.equal(d?.features[0].name, 'Locking');
  const old = setup(() => ENOTTY).drive;
  t.equal(await old.geometry(), undefined, 'no GET_GEOMETRY before 6.4');
  t.equal(await old.discover(), undefined, 'no DISCOVERY');
});

t.test('bad arguments: clear error, no ioctl, PIN still zeroed', async (t) => {
  const { tr, drive } = setup();
  const p = pin();
  await t.rejects(drive.unlock({ who: 0, pin: p }, 9), /locking range must be 0..8/);
  t.ok(zeroed(p));
  await t.rejects(drive.addUserToRange(pin(), 0, 1, 'rw'), /user must be 1..9/);
  await t.rejects(drive.setPin({ who: 0, pin: pin() }, 10, pin()), /authority must be 0/);
  await t.rejects(drive.lock({ who: 12, pin: pin() }, 0), /authority must be 0/);
  await t.rejects(drive.unlock({ who: -1, pin: pin() }, 0), RangeError);
  await t.rejects(drive.takeOwnership(Buffer.alloc(256, 1)), /at most 255/);
  t.equal(tr.ioctls.length, 0, 'nothing reached the drive');
});

t.test('the per-drive lock serialises flows on one drive', async (t) => {
  const gates: Array<() => void> = [];
  const tr = new RecordingTransport({
    respond: () => new Promise<IoctlResult>((r) => gates.push(() => r(OK))),
  });
  const a = new OpalDrive(tr, '/dev/sdz');
  const b = new OpalDrive(tr, '/dev/sdz');
  const other = new OpalDrive(tr, '/dev/sdy');
  const flows = [
    a.setupRanges(pin(), [
      { lr: 1, start: 0n, length: 8n, readLockEnabled: true, writeLockEnabled: true },
      { lr: 2, start: 8n, length: 8n, readLockEnabled: true, writeLockEnabled: true },
    ]),
    b.lock({ who: 0, pin: pin() }, 1),
    other.lock({ who: 0, pin: pin() }, 1),
  ];
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setImmediate(r));
    gates.shift()?.();
  }
  await Promise.all(flows);
  const opens = tr.calls.filter((c) => c.op === 'open').map((c) => c.path);
  t.same(opens, ['/dev/sdz', '/dev/sdy', '/dev/sdz'], 'other drive not blocked');
  const sdzFds = new Set(
    tr.calls.filter((c) => c.op === 'open' && c.path === '/dev/sdz').map((c) => c.fd),
  );
  const seq = tr.calls
    .filter((c) => sdzFds.has(c.fd))
    .map((c) => (c.op === 'ioctl' ? c.name : c.op));
  t.same(
    seq,
    [
      'open',
      'IOC_OPAL_LR_SETUP',
      'IOC_OPAL_LR_SETUP',
      'close',
      'open',
      'IOC_OPAL_LOCK_UNLOCK',
      'close',
    ],
    'no interleaving on /dev/sdz',
  );
});

t.test('PINs never reach logs or error messages', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, {
    write: (s: string) => void lines.push(s),
  } as unknown as NodeJS.WritableStream);
  const SECRET = 'Secret-PIN-0a1b2c';
  const transport = new LibcTransport({ logger });
  const drive = new OpalDrive(transport, '/dev/null', { logger });
  const err = await drive.unlock({ who: 0, pin: Buffer.from(SECRET) }, 0).catch((e: Error) => e);
  t.match(String(err), /IOC_OPAL_LOCK_UNLOCK on \/dev\/null/);
  const wrong = setup(() => ({ rc: 1, errno: 0 }));
  const err2 = await wrong.drive.lock({ who: 0, pin: Buffer.from(SECRET) }, 0).catch((e) => e);
  t.ok(lines.length >= 2, 'something was logged');
  const hex = Buffer.from(SECRET).toString('hex');
  const b64 = Buffer.from(SECRET).toString('base64');
  for (const text of [...lines, String(err), String(err2), JSON.stringify(err2)]) {
    t.notOk(text.includes(SECRET) || text.includes(hex) || text.includes(b64), 'no PIN');
  }
});
