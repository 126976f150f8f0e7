// The TypeScript ABI tables against the published request numbers, and every encoder
// against the layout table (the C program's cross-check lives in abi-native.test.ts).
import t from 'tap';
import * as abi from '../../src/opal/abi';

// Request numbers as printed by gcc from the 6.1 and upstream headers.
const EXPECTED: Record<string, number> = {
  IOC_OPAL_SAVE: 0x411870dc,
  IOC_OPAL_LOCK_UNLOCK: 0x411870dd,
  IOC_OPAL_TAKE_OWNERSHIP: 0x410870de,
  IOC_OPAL_ACTIVATE_LSP: 0x411870df,
  IOC_OPAL_SET_PW: 0x422070e0,
  IOC_OPAL_ACTIVATE_USR: 0x411070e1,
  IOC_OPAL_REVERT_TPR: 0x410870e2,
  IOC_OPAL_LR_SETUP: 0x412870e3,
  IOC_OPAL_ADD_USR_TO_LR: 0x411870e4,
  IOC_OPAL_ENABLE_DISABLE_MBR: 0x411070e5,
  IOC_OPAL_ERASE_LR: 0x411070e6,
  IOC_OPAL_SECURE_ERASE_LR: 0x411070e7,
  IOC_OPAL_PSID_REVERT_TPR: 0x410870e8,
  IOC_OPAL_MBR_DONE: 0x411070e9,
  IOC_OPAL_WRITE_SHADOW_MBR: 0x412070ea,
  IOC_OPAL_GENERIC_TABLE_RW: 0x413870eb,
  IOC_OPAL_GET_STATUS: 0x800870ec,
  IOC_OPAL_GET_LR_STATUS: 0x413070ed,
  IOC_OPAL_GET_GEOMETRY: 0x802070ee,
  IOC_OPAL_DISCOVERY: 0x401070ef,
  IOC_OPAL_REVERT_LSP: 0x411070f0,
  IOC_OPAL_SET_SID_PW: 0x422070f1,
  IOC_OPAL_REACTIVATE_LSP: 0x422070f2,
  IOC_OPAL_LR_SET_START_LEN: 0x412870f3,
  IOC_OPAL_ENABLE_DISABLE_LR: 0x412870f4,
  IOC_OPAL_GET_SUM_STATUS: 0x411870f5,
  IOC_OPAL_STACK_RESET: 0x000070f6,
};

t.test('every ioctl request number, nr, size and direction', async (t) => {
  t.equal(abi.OPAL_IOCTLS.length, Object.keys(EXPECTED).length, 'ioctls 220..246');
  for (const d of abi.OPAL_IOCTLS) {
    t.equal(d.request, EXPECTED[d.name], d.name);
    t.equal(abi.iocNr(d.request), d.nr, `${d.name} nr`);
    t.equal(abi.iocType(d.request), 0x70, `${d.name} type 'p'`);
    t.equal(abi.iocSize(d.request), d.struct ? d.struct.size : 0, `${d.name} size`);
    t.equal(abi.iocDirection(d.request), d.direction, `${d.name} direction`);
    t.equal(abi.opalIoctlByRequest(d.request), d, `${d.name} lookup`);
  }
  t.equal(abi.opalIoctlByRequest(0x5401), undefined, 'TCGETS is not an Opal ioctl');
  t.equal(abi.IOC_OPAL_GET_STATUS.direction, 'read');
  t.equal(abi.IOC_OPAL_GET_GEOMETRY.direction, 'read');
  t.equal(abi.IOC_OPAL_GET_LR_STATUS.direction, 'write', 'kernel writes back into a _IOW arg');
});

t.test('checkIoctlBuffer wants exactly the size in the request', async (t) => {
  const req = abi.IOC_OPAL_LOCK_UNLOCK.request;
  t.doesNotThrow(() => abi.checkIoctlBuffer(req, Buffer.alloc(280)));
  t.throws(() => abi.checkIoctlBuffer(req, Buffer.alloc(279)), RangeError);
  t.throws(() => abi.checkIoctlBuffer(req, Buffer.alloc(281)), /280-byte argument, got 281/);
  t.doesNotThrow(() => abi.checkIoctlBuffer(abi.IOC_OPAL_STACK_RESET.request, Buffer.alloc(0)));
  t.throws(() => abi.ioc('write', 0x70, 1, 0x4000), RangeError);
});

t.test('layouts: fields in order, inside the struct', async (t) => {
  for (const l of abi.STRUCT_LAYOUTS) {
    const offs = Object.values(l.fields);
    t.same(
      offs,
      [...offs].sort((a, b) => a - b),
      `${l.name} fields ascending`,
    );
    t.ok(
      offs.every((o) => o < l.size),
      `${l.name} fields inside ${l.size} bytes`,
    );
  }
});

const pin = Buffer.from('correct horse');
const key = (lr = 0) => ({ lr, key: pin });
const session = (who: number = abi.OpalUser.ADMIN1, lr = 0) => ({
  sum: false,
  who,
  opalKey: key(lr),
});

t.test('opal_key bytes', async (t) => {
  const buf = abi.encodeOpalKey({ lr: 3, key: pin, keyType: abi.OpalKeyType.KEYRING });
  t.equal(buf.length, 264);
  t.equal(buf[0], 3, 'lr@0');
  t.equal(buf[1], pin.length, 'key_len@1');
  t.equal(buf[2], 1, 'key_type@2');
  t.same(buf.subarray(8, 8 + pin.length), pin, 'key@8');
  t.ok(
    buf.subarray(8 + pin.length).every((b) => b === 0),
    'rest zero',
  );
  t.same(abi.decodeOpalKey(buf), { lr: 3, keyType: 1, key: pin });
  t.throws(() => abi.encodeOpalKey({ lr: 0, key: Buffer.alloc(256, 0x41) }), {
    message: /at most 255/,
  });
  const err = (() => {
    try {
      abi.encodeOpalKey({ lr: 0, key: Buffer.alloc(300, 0x41) });
    } catch (e) {
      return String(e);
    }
  })();
  t.notMatch(err, /AAAA/, 'error does not quote key bytes');
});

t.test('opal_lock_unlock bytes', async (t) => {
  const buf = abi.encodeOpalLockUnlock({
    session: session(abi.OpalUser.USER2, 1),
    lState: abi.OpalLockState.RW,
    flags: abi.OpalLockFlags.SAVE_FOR_LOCK,
  });
  t.equal(buf.length, 280);
  t.equal(buf.readUInt32LE(0), 0, 'sum');
  t.equal(buf.readUInt32LE(4), 2, 'who');
  t.equal(buf[8], 1, 'session.opal_key.lr');
  t.equal(buf[9], pin.length, 'key_len');
  t.same(buf.subarray(16, 16 + pin.length), pin, 'key@16');
  t.equal(buf.readUInt32LE(272), 2, 'l_state@272');
  t.equal(buf.readUInt16LE(276), 1, 'flags@276');
  const d = abi.decodeOpalLockUnlock(buf);
  t.equal(d.lState, 2);
  t.equal(d.flags, 1);
  t.equal(d.session.who, 2);
  t.same(d.session.opalKey.key, pin);
  t.throws(() => abi.decodeOpalLockUnlock(Buffer.alloc(272)), /opal_lock_unlock is 280 bytes/);
});

t.test('opal_lr_act, opal_user_lr_setup, opal_new_pw bytes', async (t) => {
  const act = abi.encodeOpalLrAct({ key: key(), sum: true, lr: [0, 1, 2] });
  t.equal(act.readUInt32LE(264), 1, 'sum@264');
  t.equal(act[268], 3, 'num_lrs@268');
  t.same([...act.subarray(269, 272)], [0, 1, 2], 'lr@269');
  t.match(abi.decodeOpalLrAct(act), { sum: true, numLrs: 3, lr: [0, 1, 2] });
  t.throws(() => abi.encodeOpalLrAct({ key: key(), sum: false, lr: new Array(10).fill(0) }));
  act[268] = 12;
  t.match(abi.decodeOpalLrAct(act), { numLrs: 12 }, 'raw count kept for EINVAL checks');
  t.equal(abi.decodeOpalLrAct(act).lr.length, 9);

  const setup = abi.encodeOpalUserLrSetup({
    rangeStart: 2048n,
    rangeLength: 1n << 40n,
    rle: true,
    wle: false,
    session: session(abi.OpalUser.ADMIN1, 1),
  });
  t.equal(setup.length, 296);
  t.equal(setup.readBigUInt64LE(0), 2048n, 'range_start@0');
  t.equal(setup.readBigUInt64LE(8), 1n << 40n, 'range_length@8');
  t.equal(setup.readUInt32LE(16), 1, 'RLE@16');
  t.equal(setup.readUInt32LE(20), 0, 'WLE@20');
  t.equal(setup[24 + 8], 1, 'session@24 key lr');
  t.match(abi.decodeOpalUserLrSetup(setup), { rangeStart: 2048n, rle: true, wle: false });

  const pw = abi.encodeOpalNewPw({
    session: session(),
    newUserPw: { sum: false, who: abi.OpalUser.USER1, opalKey: { lr: 0, key: Buffer.from('n') } },
  });
  t.equal(pw.length, 544);
  t.equal(pw.readUInt32LE(272 + 4), 1, 'new_user_pw.who@276');
  t.equal(pw[272 + 8 + 1], 1, 'new key_len');
  t.same(abi.decodeOpalNewPw(pw).newUserPw.opalKey.key, Buffer.from('n'));
});

t.test('mbr, shadow mbr, table rw, revert lsp bytes', async (t) => {
  const mbr = abi.encodeOpalMbrData({ key: key(), enableDisable: abi.OpalMbr.DISABLE });
  t.equal(mbr.length, 272);
  t.equal(mbr[264], 1);
  t.equal(abi.decodeOpalMbrData(mbr).enableDisable, 1);
  const done = abi.encodeOpalMbrDone({ key: key(), doneFlag: abi.OpalMbrDoneFlag.DONE });
  t.equal(done[264], 1);
  t.equal(abi.decodeOpalMbrDone(done).doneFlag, 1);
  const sh = abi.encodeOpalShadowMbr({ key: key(), data: 0xdeadn, offset: 512n, size: 4096n });
  t.equal(sh.length, 288);
  t.equal(sh.readBigUInt64LE(264), 0xdeadn);
  t.equal(sh.readBigUInt64LE(280), 4096n);
  t.match(abi.decodeOpalShadowMbr(sh), { offset: 512n });
  const uid = Buffer.from([0, 0, 8, 2, 0, 0, 0, 1]);
  const rw = abi.encodeOpalReadWriteTable({
    key: key(),
    data: 1n,
    tableUid: uid,
    offset: 2n,
    size: 3n,
    flags: BigInt(abi.OPAL_TABLE_WRITE),
    priv: 5n,
  });
  t.equal(rw.length, 312);
  t.same(rw.subarray(272, 280), uid, 'table_uid@272');
  t.equal(rw.readBigUInt64LE(296), 2n, 'flags@296');
  t.equal(rw.readBigUInt64LE(304), 5n, 'priv@304');
  t.same(abi.decodeOpalReadWriteTable(rw).tableUid, uid);
  t.throws(() =>
    abi.encodeOpalReadWriteTable({
      key: key(),
      data: 0n,
      tableUid: Buffer.alloc(7),
      offset: 0n,
      size: 0n,
      flags: 0n,
      priv: 0n,
    }),
  );
  const rl = abi.encodeOpalRevertLsp({ key: key(), options: abi.OpalRevertLspOpts.PRESERVE });
  t.equal(rl.readUInt32LE(264), 1);
  t.equal(abi.decodeOpalRevertLsp(rl).options, 1);
});

t.test('status, lr status, geometry, discovery bytes', async (t) => {
  const st = abi.encodeOpalStatus({ flags: 0x2f });
  t.same(st, Buffer.from([0x2f, 0, 0, 0, 0, 0, 0, 0]));
  t.same(abi.decodeOpalStatus(st), { flags: 0x2f, reserved: 0 });
  const lrs = abi.encodeOpalLrStatus({
    session: session(),
    rangeStart: 8n,
    rangeLength: 16n,
    rle: true,
    wle: true,
    lState: abi.OpalLockState.LK,
  });
  t.equal(lrs.length, 304);
  t.equal(lrs.readBigUInt64LE(272), 8n);
  t.equal(lrs.readUInt32LE(288), 1, 'RLE@288');
  t.equal(lrs.readUInt32LE(296), 4, 'l_state@296');
  t.match(abi.decodeOpalLrStatus(lrs), { rangeLength: 16n, lState: 4 });
  const g = abi.encodeOpalGeometry({
    align: true,
    logicalBlockSize: 4096,
    alignmentGranularity: 8n,
    lowestAlignedLba: 0n,
  });
  t.equal(g.length, 32);
  t.equal(g.readUInt32LE(4), 4096);
  t.equal(g.readBigUInt64LE(8), 8n);
  t.same(abi.decodeOpalGeometry(g), {
    align: true,
    logicalBlockSize: 4096,
    alignmentGranularity: 8n,
    lowestAlignedLba: 0n,
  });
  const disc = abi.encodeOpalDiscovery({ data: 0x1000n, size: 2048n });
  t.equal(disc.readBigUInt64LE(8), 2048n);
  t.same(abi.decodeOpalDiscovery(disc), { data: 0x1000n, size: 2048n });
});

t.test('7.1 structs: lr_react, sum_ranges', async (t) => {
  const r = abi.encodeOpalLrReact({
    key: key(),
    newAdminKey: { lr: 0, key: Buffer.from('admin2') },
    lr: [1, 2],
    rangePolicy: 1,
    entireTable: 0,
  });
  t.equal(r.length, 544);
  t.equal(r[264 + 1], 6, 'new_admin_key.key_len');
  t.equal(r[528], 2, 'num_lrs@528');
  t.same([...r.subarray(529, 531)], [1, 2]);
  t.equal(r[538], 1, 'range_policy@538');
  t.match(abi.decodeOpalLrReact(r), { numLrs: 2, lr: [1, 2], rangePolicy: 1 });
  const s = abi.encodeOpalSumRanges({ key: key(), lr: [3], rangePolicy: 0 });
  t.equal(s.length, 280);
  t.equal(s[264], 1);
  t.equal(s[265], 3);
  t.match(abi.decodeOpalSumRanges(s), { numLrs: 1, lr: [3] });
});

t.test('every struct decoder rejects a wrong size', async (t) => {
  const decoders: Array<[string, (b: Buffer) => unknown, number]> = [
    ['key', abi.decodeOpalKey, 264],
    ['session', abi.decodeOpalSessionInfo, 272],
    ['lock_unlock', abi.decodeOpalLockUnlock, 280],
    ['lr_act', abi.decodeOpalLrAct, 280],
    ['user_lr_setup', abi.decodeOpalUserLrSetup, 296],
    ['new_pw', abi.decodeOpalNewPw, 544],
    ['mbr_data', abi.decodeOpalMbrData, 272],
    ['mbr_done', abi.decodeOpalMbrDone, 272],
    ['shadow_mbr', abi.decodeOpalShadowMbr, 288],
    ['rw_table', abi.decodeOpalReadWriteTable, 312],
    ['status', abi.decodeOpalStatus, 8],
    ['lr_status', abi.decodeOpalLrStatus, 304],
    ['geometry', abi.decodeOpalGeometry, 32],
    ['discovery', abi.decodeOpalDiscovery, 16],
    ['revert_lsp', abi.decodeOpalRevertLsp, 272],
    ['lr_react', abi.decodeOpalLrReact, 544],
    ['sum_ranges', abi.decodeOpalSumRanges, 280],
  ];
  for (const [name, dec, size] of decoders) {
    t.doesNotThrow(() => dec(Buffer.alloc(size)), `${name} ${size}`);
    t.throws(() => dec(Buffer.alloc(size - 1)), RangeError, `${name} short`);
  }
});

t.test('TCG status names', async (t) => {
  t.equal(abi.tcgStatusName(1), 'NOT_AUTHORIZED');
  t.equal(abi.tcgStatusName(0x12), 'AUTHORITY_LOCKED_OUT');
  t.equal(abi.tcgStatusName(0x0c), 'INVALID_PARAMETER');
  t.equal(abi.tcgStatusName(0x3f), 'FAIL');
  t.equal(abi.tcgStatusName(0x55), undefined);
});
