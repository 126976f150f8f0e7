// Recovery of an interrupted SecureEraseDrives, each kind of evidence: a node process is
// killed (SIGKILL, EKMD_TEST_HOOKS) at each step of an erase of a drive under hardware EAR
// (the Locking SP was active: status tells whether the revert happened) and of a never-owned
// drive (owned with a throwaway key, Locking SP inactive: status cannot tell). The next start
// leaves the drive erased and available with no key, at most one refused SID attempt.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { readAudit } from '../../../src/cluster/audit';
import type { DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { getDrive, putDrive } from '../../../src/cluster/drives/drive-records';
import { createCluster, startEarNode, waitForEarState, type EarNode } from './ear-node';

const fixture = join(__dirname, 'erase-process.js');
const SLOT = 1;
const pattern = Buffer.alloc(512, 0x5a);

function runUntilCrash(node: EarNode, driveID: number, point: string) {
  return new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [fixture, node.dir, node.socket, String(driveID)], {
      env: { ...process.env, EKMD_TEST_HOOKS: `crash:${point}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (_code, signal) => resolve({ signal, stderr }));
  });
}

async function crashedErase(t: Test, underEar: boolean, point: string) {
  const node = await startEarNode(t, { drives: 3 });
  await createCluster(node);
  if (underEar) {
    await node.client.ok('EnableEncryptionAtRest');
    await waitForEarState(node, 'enabled');
  }
  for (const d of node.sim.drives) d.writeBlock(7, pattern);
  const before = node.hw.drives.records().find((d) => d.slot === SLOT)!;
  await node.close();
  const r = await runUntilCrash(node, before.driveID, point);
  t.equal(r.signal, 'SIGKILL', `killed at ${point}${r.stderr ? `: ${r.stderr}` : ''}`);
  await node.open();
  await node.settle();
  return { node, before, after: getDrive(node.store, before.driveID) };
}

function liveKeys(node: EarNode): DriveKeyRecord[] {
  return node.store
    .list<DriveKeyRecord>('keys/')
    .map((e) => e.value)
    .filter((k) => k.state !== 'destroyed');
}

/** Erased, available, no key, its data gone, the other drives untouched. */
async function checkErased(
  t: Test,
  node: EarNode,
  after: ReturnType<typeof getDrive>,
  point: string,
) {
  const erases = readAudit(node.store).filter((r) => r.action === 'SecureEraseDrive');
  t.equal(erases.length, 1, 'one erase recorded');
  t.equal(
    /finished after a restart/.test(erases[0]?.details ?? ''),
    point !== 'erase.afterRecord',
    'recorded by the restart unless the killed process had recorded it',
  );
  t.match(after, {
    status: 'available',
    security: 'none',
    step: null,
    keyID: null,
    ownerKeyID: null,
    driveSecurityFaultReason: 'none',
  });
  t.notOk('erase' in after, 'the erase journal is closed');
  t.notSame(node.sim.drives[SLOT]!.readBlock(7), pattern, 'data gone');
  t.same(node.sim.drives[0]!.readBlock(7), pattern, 'another drive keeps its data');
  const s = node.sim.status().drives[SLOT]!;
  t.equal(s.lsp, 'manufactured-inactive');
  t.ok(s.tries.sid <= 1, `at most one refused SID attempt (${s.tries.sid})`);
  t.ok(
    liveKeys(node).every((k) => k.driveID !== after.driveID),
    'no key of the erased drive is left',
  );
  // Factory state: MSID is the SID PIN again, so anyone can own it.
  await node.opal(SLOT).takeOwnership(Buffer.from('next-owner-pin'));
  t.pass('the drive can be owned again');
}

for (const point of ['erase.afterJournal', 'erase.afterRevert', 'erase.afterRecord']) {
  t.test(`a drive under EAR, killed at ${point}: erased at the next start`, async (t) => {
    const { node, before, after } = await crashedErase(t, true, point);
    t.ok(before.keyID, 'the drive had its AK');
    await checkErased(t, node, after, point);
    t.equal(node.sim.status().drives[SLOT]!.tries.sid, 0, 'status told: no SID attempt needed');
  });
}

for (const point of ['erase.afterJournal', 'erase.afterRevert', 'erase.afterRecord']) {
  t.test(`a never-owned drive, killed at ${point}: erased at the next start`, async (t) => {
    const { node, before, after } = await crashedErase(t, false, point);
    t.equal(before.keyID, null);
    await checkErased(t, node, after, point);
  });
}

t.test(
  'a drive that is being secured cannot be erased: a clear error, nothing changes',
  async (t) => {
    const node = await startEarNode(t, { drives: 2 });
    await createCluster(node);
    const d = node.hw.drives.records()[1]!;
    await node.store.transaction((tx) => putDrive(tx, { ...d, step: 'recorded' }));
    const before = node.snapshot();
    const reply = await node.client.call('SecureEraseDrives', { drives: [d.driveID] });
    t.equal(reply.error?.name, 'xDriveNotAvailable');
    t.match(reply.error?.message, /being secured/);
    t.equal(node.snapshot(), before);
  },
);
