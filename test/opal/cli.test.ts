// `ekmctl opal` end to end against an in-process simulator over its socket: provisioning,
// lock/unlock, one attempt on a wrong PIN, PINs from files and stdin, --json, usage errors.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { UsageError } from '../../src/util/command';
import type { OpalCommandModule } from '../../src/cli/opal/opal-command';
import { lock, save, unlock } from '../../src/cli/opal/lock';
import {
  activate,
  activateUser,
  addUser,
  mbrDone,
  setPw,
  setupRange,
  takeOwnership,
} from '../../src/cli/opal/provision';
import { psidRevert, revert } from '../../src/cli/opal/revert';
import { discover, status } from '../../src/cli/opal/status';
import { SimServer } from '../../src/sim/server';
import { Simulator } from '../../src/sim/simulator';
import { bin } from '../helpers/paths';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const MODULES: Record<string, OpalCommandModule> = {
  status,
  discover,
  unlock,
  lock,
  save,
  'take-ownership': takeOwnership,
  activate,
  'setup-range': setupRange,
  'set-pw': setPw,
  'mbr-done': mbrDone,
  'activate-user': activateUser,
  'add-user': addUser,
  revert,
  'psid-revert': psidRevert,
};

/** The subcommand in this process (fast); usage errors come back as code 2. */
async function opal(args: string[], stdin = Buffer.alloc(0)): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdin: Readable.from([stdin]),
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  };
  const [name, ...rest] = args;
  try {
    const code = await MODULES[name].runWith(rest, io);
    return { code, stdout, stderr };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return { code: 2, stdout, stderr: `${err.message}\n` };
  }
}

/** The real bin, for exit codes, stdin and the dispatcher. */
function ekmctl(args: string[], stdin?: Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin.ekmctl, 'opal', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'ekmd-opal-cli-'));
const socketPath = join(dir, 'sim.sock');
const sim = new Simulator({ stateDir: join(dir, 'state'), drives: 2, sizeMiB: 2 });
const server = new SimServer(sim, socketPath);
t.teardown(async () => {
  await server.close();
  sim.close();
  rmSync(dir, { recursive: true, force: true });
});

const SID = 'sid-pin-3f9c2a';
const NEW = 'admin-pin-7b1d';
const WRONG = 'wrong-pin-0000';
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
};
const sidFile = file('sid', SID);
const newFile = file('new', NEW);
const wrongFile = file('wrong', WRONG);
const drive0 = ['--sim', socketPath, '--drive', '0'];

const json = (r: Run) => JSON.parse(r.stdout) as Record<string, any>;
const noPins = (t: { notMatch(a: string, b: string, m: string): void }, r: Run) => {
  for (const p of [SID, NEW, WRONG]) {
    t.notMatch(r.stdout, p, 'no PIN on stdout');
    t.notMatch(r.stderr, p, 'no PIN on stderr');
  }
};

t.before(() => server.listen());

t.test('provision, lock, unlock, change PIN, revert', async (t) => {
  let r = await opal(['status', ...drive0, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(json(r), {
    ok: true,
    device: 'sim:0',
    status: { supported: true, lockingEnabled: false },
  });

  r = await opal(['take-ownership', ...drive0, '--pin-file', sidFile]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /sim:0: ownership taken/);
  r = await opal(['activate', ...drive0, '--pin-file', sidFile]);
  t.equal(r.code, 0, r.stderr);
  r = await opal(['setup-range', ...drive0, '--pin-file', sidFile, '--range', '0', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(json(r), { range: 0, readLockEnabled: true, writeLockEnabled: true });
  r = await opal(['lock', ...drive0, '--pin-file', sidFile]);
  t.equal(r.code, 0, r.stderr);
  r = await opal(['status', ...drive0, '--json']);
  t.match(json(r).status, { lockingEnabled: true, locked: true });

  r = await ekmctl(['unlock', ...drive0, '--pin-file', wrongFile, '--json']);
  t.equal(r.code, 1, 'wrong PIN fails');
  t.match(json(r), { ok: false, error: { code: 'NOT_AUTHORIZED' } });
  t.match(r.stderr, /IOC_OPAL_LOCK_UNLOCK on sim:0: not authorized/);
  noPins(t, r);

  r = await ekmctl(['unlock', ...drive0, '--pin-file', '-', '--json'], Buffer.from(SID));
  t.equal(r.code, 0, r.stderr);
  t.match(json(r), { ok: true, range: 0, mode: 'rw' });
  t.match(json(r).verifiedBy, /^(range-status|status)$/);
  r = await opal(['status', ...drive0, '--json']);
  t.match(json(r).status, { locked: false });

  r = await opal(['set-pw', ...drive0, '--pin-file', sidFile, '--new-pin-file', newFile]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /PIN of admin1 changed/);
  r = await opal(['lock', ...drive0, '--pin-file', sidFile]);
  t.equal(r.code, 1, 'old Admin1 PIN no longer works');
  r = await opal(['lock', ...drive0, '--pin-file', newFile]);
  t.equal(r.code, 0, r.stderr);

  r = await opal([
    'set-pw',
    ...drive0,
    '--pin-file',
    newFile,
    '--target',
    'user3',
    '--new-pin-file',
    wrongFile,
  ]);
  t.equal(r.code, 0, r.stderr);
  r = await opal(['activate-user', ...drive0, '--pin-file', newFile, '--user', 'user3']);
  t.equal(r.code, 0, r.stderr);
  r = await opal([
    'add-user',
    ...drive0,
    '--pin-file',
    newFile,
    '--user',
    'user3',
    '--range',
    '0',
    '--json',
  ]);
  t.match(json(r), { ok: true, user: 'user3', range: 0, access: 'rw' });
  r = await opal(['unlock', ...drive0, '--pin-file', wrongFile, '--user', 'user3']);
  t.equal(r.code, 0, 'User3 unlocks the global range with its own PIN');
  t.match(r.stdout, /range 0 unlocked rw/);

  r = await opal(['discover', ...drive0, '--json']);
  t.equal(r.code, 0, r.stderr);
  const d = json(r);
  if (d.supported) t.ok(d.features.some((f: { name: string }) => f.name === 'Locking'));
  else t.equal(d.features.length, 0);

  r = await opal(['revert', ...drive0, '--pin-file', sidFile]);
  t.equal(r.code, 2, 'revert wants explicit confirmation');
  r = await opal(['status', ...drive0, '--json']);
  t.match(json(r).status, { lockingEnabled: true }, 'nothing changed');
  r = await opal(['revert', ...drive0, '--pin-file', sidFile, '--yes-erase-all-data']);
  t.equal(r.code, 0, r.stderr);
  noPins(t, r);
  r = await opal(['status', ...drive0, '--json']);
  t.match(json(r).status, { lockingEnabled: false, locked: false }, 'factory state');
});

t.test('usage errors exit 2 and touch nothing', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['status'], /give --device PATH or --sim SOCKET --drive N/],
    [['status', '--device', '/dev/null', ...drive0], /exclusive/],
    [['status', '--sim', socketPath], /--drive N/],
    [['status', '--device', 'relative'], /absolute/],
    [['status', ...drive0, '--pin-file', sidFile], /--pin-file is not used here/],
    [['unlock', ...drive0], /--pin-file PATH is required/],
    [['unlock', ...drive0, '--pin-file', sidFile, '--range', '9'], /--range must be 0..8/],
    [['unlock', ...drive0, '--pin-file', sidFile, '--user', 'root'], /--user must be/],
    [['unlock', ...drive0, '--pin-file', sidFile, '--mode', 'wo'], /--mode must be rw or ro/],
    [
      ['add-user', ...drive0, '--pin-file', sidFile, '--user', 'admin1', '--range', '1'],
      /user1..user9/,
    ],
    [['unlock', ...drive0, '--pin-file', sidFile, '--pin', SID], /Unknown option '--pin'/],
    [['set-pw', ...drive0, '--pin-file', '-', '--new-pin-file', '-'], /only one of/],
    [['unlock', ...drive0, '--pin-file', join(dir, 'missing')], /cannot read/],
    [['unlock', ...drive0, '--pin-file', file('empty', '')], /a PIN is 1..255 bytes, got 0/],
    [['setup-range', ...drive0, '--pin-file', sidFile, '--range', '1'], /--start must be/],
  ];
  for (const [args, msg] of cases) {
    const r = await opal(args);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, msg);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const r = await opal(['status', ...drive0, '--json']);
  t.match(json(r).status, { lockingEnabled: false }, 'drive untouched');
});

t.test('the bin: a usage error is exit 2 with one line on stderr', async (t) => {
  const r = await ekmctl(['unlock', ...drive0, '--pin-file', sidFile, '--range', '12']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^ekmctl opal unlock: --range must be 0..8/);
  t.equal(r.stderr.trim().split('\n').length, 1);
});

t.test('--help for each command', async (t) => {
  const r = await opal(['unlock', '--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /Usage: ekmctl opal unlock .*--pin-file PATH/);
  t.match(r.stdout, /never retried/);
});

t.test('a real device path goes through the kernel: /dev/null is not Opal-capable', async (t) => {
  const r = await opal(['status', '--device', '/dev/null', '--json']);
  t.equal(r.code, 1);
  t.match(json(r), { ok: false, error: { code: 'ENOTTY' } });
});
