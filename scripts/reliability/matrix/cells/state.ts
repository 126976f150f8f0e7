// ekmd's own state under stress: the state directory full during a change, the store
// file corrupted, a second ekmd on the same state directory.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { signClientCsr } from '../../../pki/dev-pki';
import { CellSkipped, type Cell } from '../cell';
import { checkInvariants, earScenario } from '../scenario';

/** The last line ekmd wrote, as text: a JSON log line's reason and message. */
function lastLine(output: string): string {
  const line = output.trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
  try {
    const j = JSON.parse(line) as { msg?: string; reason?: string; err?: string };
    return [j.msg, j.reason ?? j.err].filter(Boolean).join(': ');
  } catch {
    return line;
  }
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Fills the filesystem of `dir` with one file until ENOSPC; the file's path. */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0xa5);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // Top up the last partial blocks.
  const small = openSync(filler, 'a');
  try {
    for (;;) writeSync(small, Buffer.alloc(512));
  } catch {
    // full
  } finally {
    closeSync(small);
  }
  return filler;
}

export const stateDirFull: Cell = {
  name: 'state directory full (ENOSPC) during a change',
  expected:
    'stateDir on a full 16 MiB tmpfs: a change (CreateKeyProviderKmip, CreateKeyServerKmip) ' +
    'answers an API error, the store is unchanged (lists before = after), ekmd stays alive and ' +
    'serving; with space freed the same change succeeds; invariants hold',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    if (process.getuid?.() !== 0) throw new CellSkipped('needs root to mount a small tmpfs');
    const mnt = join(ctx.dir, 'mnt');
    mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', mnt]);
    if (m.status !== 0) throw new CellSkipped(`mount tmpfs failed: ${m.stderr.toString().trim()}`);
    seen.teardown(() => spawnSync('umount', ['-l', mnt]));
    const { node, csr } = await earScenario(ctx, seen, { stateDir: join(mnt, 'state') });
    const snapshot = async () =>
      JSON.stringify([
        await node.rpc.ok('ListKeyServersKmip'),
        await node.rpc.ok('ListKeyProvidersKmip'),
      ]);
    const filler = fill(mnt);
    const errors: string[] = [];
    let unchanged = true;
    const changes: [string, object][] = [
      ['CreateKeyProviderKmip', { keyProviderName: 'full-1' }],
      [
        'CreateKeyServerKmip',
        {
          kmipCaCertificate: readFileSync(ctx.pki.ca, 'utf8'),
          kmipClientCertificate: signClientCsr(ctx.pki.dir, csr),
          kmipKeyServerHostnames: ['127.0.0.1'],
          kmipKeyServerName: 'kms-full',
          kmipKeyServerPort: 5696,
        },
      ],
      ['CreateKeyProviderKmip', { keyProviderName: 'full-2'.padEnd(60, 'x') }],
    ];
    for (const [method, params] of changes) {
      const before = await snapshot();
      const r = await node.rpc.call(method, params);
      if (r.error) {
        errors.push(`${method}: ${r.error.name}: ${r.error.message.slice(0, 90)}`);
        if ((await snapshot()) !== before) unchanged = false;
      }
    }
    seen.expect(
      errors.length > 0,
      `API errors when full: ${errors.join(' | ')}`,
      'no change failed',
    );
    seen.expect(unchanged, 'store unchanged by the failed changes');
    const alive = await node.rpc.call('GetClusterInfo');
    seen.expect(!!alive.result && node.ekmd!.running, 'ekmd alive and serving');
    rmSync(filler);
    const retry = await node.rpc.call('CreateKeyProviderKmip', { keyProviderName: 'after-full' });
    seen.expect(!retry.error, 'the change succeeds once space is freed', retry.error?.message);
    await checkInvariants(node, seen);
  },
};

export const storeCorrupted: Cell = {
  name: 'store file corrupted',
  expected:
    'ekmd.db header overwritten: ekmd refuses to start (non-zero exit, one clear line naming ' +
    'the store), the file is left byte-for-byte untouched; the backup restored, ekmd starts ' +
    'and unlocks every drive; invariants hold',
  eks: 'dev',
  ci: true,
  async run(ctx, seen) {
    const { node } = await earScenario(ctx, seen);
    await node.stopEkmd();
    const db = join(node.stateDir, 'ekmd.db');
    const backup = join(ctx.dir, 'ekmd.db.backup');
    seen.expect(
      !existsSync(`${db}-wal`) || readFileSync(`${db}-wal`).length === 0,
      'clean stop: WAL checkpointed',
    );
    copyFileSync(db, backup);
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.from('this is not an SQLite database, it was overwritten!'), 0, 48, 0);
    closeSync(fd);
    const before = sha(db);
    const r = await node.ekmdRefuses();
    const line = lastLine(r.output);
    seen.expect(r.code !== 0 && r.code !== null, `ekmd refuses to start (exit ${r.code})`);
    seen.expect(/ekmd\.db|store|database/i.test(line), `error: ${line.slice(0, 200)}`);
    seen.expect(sha(db) === before, 'store file untouched');
    copyFileSync(backup, db);
    await seen.step('ekmd starts from the restored backup', node.startEkmd());
    await seen.step('drives unlocked', node.waitUnlocked());
    await checkInvariants(node, seen);
  },
};

export const secondEkmd: Cell = {
  name: 'second ekmd on the same state directory',
  expected:
    'the second ekmd refuses (flock on stateDir/ekmd.lock), naming the stateDir, and exits ' +
    'non-zero; the first keeps serving its API and drives; invariants hold',
  eks: 'dev',
  ci: false,
  async run(ctx, seen) {
    const { node } = await earScenario(ctx, seen);
    const r = await node.ekmdRefuses();
    const line = lastLine(r.output);
    seen.expect(r.code !== 0 && r.code !== null, `second ekmd exits ${r.code}`);
    seen.expect(line.includes(node.stateDir), `error names the stateDir: ${line.slice(0, 200)}`);
    seen.expect(node.ekmd!.running, 'first ekmd still running');
    const info = await node.rpc.call('GetClusterInfo');
    seen.expect(!!info.result, 'first ekmd answers the API');
    seen.expect(
      (await node.simStatus()).every((s) => !s.locked),
      'drives still unlocked',
    );
    await checkInvariants(node, seen);
  },
};
