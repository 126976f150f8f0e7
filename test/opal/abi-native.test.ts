// Cross-check of the TypeScript ABI tables against gcc and the installed
// <linux/sed-opal.h>: native/abi-check prints request numbers, sizes, offsets, constants.
// What the installed header lacks is reported as skipped, never as passed.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as abi from '../../src/opal/abi';
import { repoRoot } from '../helpers/paths';

const outDir = mkdtempSync(join(tmpdir(), 'ekmd-abi-'));
t.teardown(() => rmSync(outDir, { recursive: true, force: true }));
const exe = execFileSync('sh', [join(repoRoot, 'native/build.sh'), outDir], {
  encoding: 'utf8',
}).trim();
const lines = execFileSync(exe, { encoding: 'utf8' }).trim().split('\n');

const cIoctls = new Map<string, { nr: number; dir: number; size: number; request: number }>();
const cSizes = new Map<string, number>();
const cFields = new Map<string, number>();
const cConsts = new Map<string, number>();
for (const line of lines) {
  const [kind, ...rest] = line.split(' ');
  if (kind === 'ioctl') {
    const [name, nr, dir, size, req] = rest;
    cIoctls.set(name, { nr: +nr, dir: +dir, size: +size, request: parseInt(req, 16) });
  } else if (kind === 'struct') cSizes.set(rest[0], +rest[1]);
  else if (kind === 'field') cFields.set(`${rest[0]}.${rest[1]}`, +rest[2]);
  else if (kind === 'const') cConsts.set(rest[0], +rest[1]);
  else throw new Error(`unexpected line from abi-check: ${line}`);
}

t.ok(cIoctls.size >= 12, 'the installed header defines at least the 4.11 ioctls');

const DIRS = { none: 0, write: 1, read: 2, readwrite: 3 } as const;

t.test('ioctl request numbers', async (t) => {
  for (const d of abi.OPAL_IOCTLS) {
    const c = cIoctls.get(d.name);
    if (!c) {
      t.skip(`${d.name}: not in the installed <linux/sed-opal.h>`, async () => {});
      continue;
    }
    t.equal(d.request, c.request, `${d.name} request`);
    t.equal(d.nr, c.nr, `${d.name} nr`);
    t.equal(d.size, c.size, `${d.name} size`);
    t.equal(DIRS[d.direction], c.dir, `${d.name} direction`);
  }
  const known = new Set(abi.OPAL_IOCTLS.map((d) => d.name));
  for (const name of cIoctls.keys()) t.ok(known.has(name), `${name} is in the TypeScript table`);
});

t.test('struct sizes and field offsets', async (t) => {
  for (const l of abi.STRUCT_LAYOUTS) {
    const size = cSizes.get(l.name);
    if (size === undefined) {
      t.skip(`struct ${l.name}: not in the installed header`, async () => {});
      continue;
    }
    t.equal(l.size, size, `sizeof(struct ${l.name})`);
    for (const [field, off] of Object.entries(l.fields)) {
      const c = cFields.get(`${l.name}.${field}`);
      if (c === undefined)
        t.skip(`${l.name}.${field}: not in the installed header`, async () => {});
      else t.equal(off, c, `offsetof(${l.name}, ${field})`);
    }
  }
  const known = new Set(abi.STRUCT_LAYOUTS.map((l) => l.name));
  for (const name of cSizes.keys()) t.ok(known.has(name), `struct ${name} is in the table`);
});

t.test('constants', async (t) => {
  const ts: Record<string, number> = {
    OPAL_KEY_MAX: abi.OPAL_KEY_MAX,
    OPAL_MAX_LRS: abi.OPAL_MAX_LRS,
    OPAL_UID_LENGTH: abi.OPAL_UID_LENGTH,
    OPAL_ADMIN1: abi.OpalUser.ADMIN1,
    OPAL_USER1: abi.OpalUser.USER1,
    OPAL_USER9: abi.OpalUser.USER9,
    OPAL_RO: abi.OpalLockState.RO,
    OPAL_RW: abi.OpalLockState.RW,
    OPAL_LK: abi.OpalLockState.LK,
    OPAL_MBR_ENABLE: abi.OpalMbr.ENABLE,
    OPAL_MBR_DISABLE: abi.OpalMbr.DISABLE,
    OPAL_MBR_NOT_DONE: abi.OpalMbrDoneFlag.NOT_DONE,
    OPAL_MBR_DONE: abi.OpalMbrDoneFlag.DONE,
    OPAL_READ_TABLE: abi.OpalTableOps.READ_TABLE,
    OPAL_WRITE_TABLE: abi.OpalTableOps.WRITE_TABLE,
    OPAL_TABLE_READ: abi.OPAL_TABLE_READ,
    OPAL_TABLE_WRITE: abi.OPAL_TABLE_WRITE,
    OPAL_FL_SUPPORTED: abi.OpalStatusFlag.SUPPORTED,
    OPAL_FL_LOCKING_SUPPORTED: abi.OpalStatusFlag.LOCKING_SUPPORTED,
    OPAL_FL_LOCKING_ENABLED: abi.OpalStatusFlag.LOCKING_ENABLED,
    OPAL_FL_LOCKED: abi.OpalStatusFlag.LOCKED,
    OPAL_FL_MBR_ENABLED: abi.OpalStatusFlag.MBR_ENABLED,
    OPAL_FL_MBR_DONE: abi.OpalStatusFlag.MBR_DONE,
    OPAL_FL_SUM_SUPPORTED: abi.OpalStatusFlag.SUM_SUPPORTED,
    OPAL_INCLUDED: abi.OpalKeyType.INCLUDED,
    OPAL_KEYRING: abi.OpalKeyType.KEYRING,
    OPAL_SAVE_FOR_LOCK: abi.OpalLockFlags.SAVE_FOR_LOCK,
    OPAL_PRESERVE: abi.OpalRevertLspOpts.PRESERVE,
  };
  for (const [name, value] of Object.entries(ts)) {
    const c = cConsts.get(name);
    if (c === undefined) t.skip(`${name}: not in the installed header`, async () => {});
    else t.equal(value, c, name);
  }
  for (const name of cConsts.keys()) t.ok(name in ts, `${name} is checked`);
});
