// ekmctl ear, drives and async against the API server with the drive, EAR and async
// methods over the real simulator (ekmd's own wiring of them is not in its boot yet).
import t from 'tap';
import { join } from 'node:path';
import { API_CERT_FILE } from '../../../src/store/state-files';
import {
  ADMIN,
  createCluster,
  startEarNode,
  type EarNode,
} from '../../cluster/hardware-ear/ear-node';
import { ekmctl, operator, type Operator } from './harness';

let node: EarNode;
let op: Operator;
let flags: string[];
const run = (...args: string[]) => ekmctl(op.env, ...args, ...flags);

t.before(async () => {
  node = await startEarNode(t, { drives: 3 });
  await createCluster(node);
  op = operator(t);
  flags = ['--url', `https://127.0.0.1:${node.api.address.port}`]
    .concat(['--username', ADMIN.username, '--password-file', op.passwordFile(ADMIN.password)])
    .concat(['--ca', join(node.dir, API_CERT_FILE)]);
});

interface Drive {
  driveID: number;
  status: string;
  keyID?: string;
}
const drives = async (): Promise<Drive[]> =>
  JSON.parse((await run('drives', 'list', '--json')).stdout);

t.test('drives list', async (t) => {
  const r = await run('drives', 'list');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^ID\s+NODE\s+SLOT\s+SERIAL\s+SIZE\s+STATUS\s+TYPE\s+PROVIDER\s+PROBLEM\n/);
  t.equal(r.stdout.trim().split('\n').length, 4);
  t.same(
    (await drives()).map((d) => d.status),
    ['available', 'available', 'available'],
  );
});

t.test('drives add --wait, add without waiting, async get and list', async (t) => {
  const r = await run('drives', 'add', '1', '2', '--wait');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, 'adding drives: done');
  t.match(r.stderr, /async handle \d+: complete/);
  t.same(
    (await drives()).map((d) => d.status),
    ['active', 'active', 'available'],
  );

  const started = await run('drives', 'add', '3', '--json');
  t.equal(started.status, 0, started.stderr);
  const { asyncHandle } = JSON.parse(started.stdout);
  t.type(asyncHandle, 'number');
  await node.settle();
  const listed = await run('async', 'list', '--type', 'DriveAdd', '--json');
  const entry = JSON.parse(listed.stdout).find(
    (a: { asyncResultID: number }) => a.asyncResultID === asyncHandle,
  );
  t.match(entry, { resultType: 'DriveAdd', completed: true, success: true });

  const kept = await run('async', 'get', String(asyncHandle), '--keep', '--json');
  t.match(JSON.parse(kept.stdout), { status: 'complete', resultType: 'DriveAdd' });
  const human = await run('async', 'get', String(asyncHandle));
  t.match(human.stdout, /^status:\s+complete$/m);
  const released = await run('async', 'get', String(asyncHandle));
  t.equal(released.status, 1, 'a completed result read without --keep is released');
  t.match(released.stderr, /^xAsyncHandleDoesNotExist: /);
});

t.test('ear enable --wait, status, disable --wait', async (t) => {
  const before = await run('ear', 'status');
  t.match(before.stdout, /^state:\s+disabled$/m);

  const noSuchProvider = await run('ear', 'enable', '--provider', '77');
  t.equal(noSuchProvider.status, 1);
  t.match(noSuchProvider.stderr, /^xKeyProviderIDDoesNotExist: /);

  const on = await run('ear', 'enable', '--wait');
  t.equal(on.status, 0, on.stderr);
  t.match(on.stderr, /encryption at rest: enabled/);
  const status = JSON.parse((await run('ear', 'status', '--json')).stdout);
  t.same(status, { state: 'enabled', authenticationKeyInfo: { keyManagementType: 'internal' } });
  t.ok(
    (await drives()).every((d) => d.keyID),
    'every active drive has a key',
  );

  const summary = await run('status', '--json');
  t.equal(summary.status, 0, summary.stdout);
  t.match(JSON.parse(summary.stdout), { encryptionAtRestState: 'enabled', drives: { active: 3 } });

  const off = await run('ear', 'disable', '--wait', '--json');
  t.equal(off.status, 0, off.stderr);
  t.same(JSON.parse(off.stdout), { encryptionAtRestState: 'disabled' });
});

t.test('drives remove --wait', async (t) => {
  const r = await run('drives', 'remove', '3', '--wait', '--json');
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { status: 'complete', resultType: 'DriveRemoval' });
  t.equal((await drives())[2].status, 'available');
  const bad = await run('drives', 'remove', '99', '--wait');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^xDriveIDDoesNotExist: /m);
});

t.test('usage errors exit 2 and change nothing', async (t) => {
  const before = await drives();
  for (const args of [
    ['drives', 'add'],
    ['drives', 'add', '1', '--type', 'slice'],
    ['drives', 'remove', '1', '--timeout', 'soon'],
    ['async', 'get', 'x'],
  ]) {
    const r = await run(...args);
    t.equal(r.status, 2, args.join(' '));
  }
  t.same(await drives(), before);
});
