// The embedded default as `npm start` runs it: the compiled start script with its three
// children (ekmd-sim, the dev key server, ekmd), set up through the public API on the
// first start, a real boot (drives power-cycled) on the second.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_CERT_FILE } from '../../src/store/state-files';
import { rpc } from '../daemon/ekmd-process';
import { repoRoot } from '../helpers/paths';

const START = join(repoRoot, 'dist/scripts/dev/start.js');
const SUMMARY =
  /^encryption at rest (\w+) on (\d+)\/(\d+) drives; keys at kmip:\/\/127\.0\.0\.1:(\d+)\n(?:unlocked (\d+)\/(\d+) drives in \d+ ms, keys from kmip:\/\/127\.0\.0\.1:\d+|(\d+)\/\d+ drives still locked)/m;

const state = mkdtempSync(join(tmpdir(), 'ekmd-dev-start-'));
const pids = new Set<number>();
const starts: ChildProcess[] = [];
t.teardown(() => {
  for (const s of starts) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(state, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  summary: RegExpExecArray;
  childPids: number[];
}

async function start(port: number): Promise<Started> {
  const child = spawn(process.execPath, [START, '--state', state, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  starts.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const summary = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no summary after 90 s:\n${out}`)), 90_000);
    const look = () => {
      for (const m of out.matchAll(/\(pid (\d+)\)/g)) pids.add(Number(m[1]));
      const m = SUMMARY.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`start exited ${code}:\n${out}`));
    });
  });
  const childPids = [...out.matchAll(/^started (\S+) \(pid (\d+)\)/gm)].map((m) => Number(m[2]));
  return { child, output: () => out, exited, summary, childPids };
}

async function stop(t: Test, s: Started): Promise<void> {
  t.equal(s.childPids.length, 3, 'three children started');
  t.ok(s.childPids.every(alive), 'children running');
  s.child.kill('SIGTERM');
  t.equal(await s.exited, 0, 'SIGTERM: exit code 0');
  t.match(s.output(), /^stopped$/m);
  t.notOk(s.childPids.some(alive), 'every child gone');
}

t.test('first start sets up EAR; a second start resumes as a boot', async (t) => {
  const port = await freePort();
  const first = await start(port);
  const out1 = first.output();
  t.match(out1, /^setup: CreateCluster$/m);
  t.match(out1, /^setup: EnableEncryptionAtRest with key provider \d+$/m);
  t.same(first.summary.slice(1, 4), ['enabled', '4', '4']);
  t.match(out1, new RegExp(`admin credentials in ${join(state, 'admin.json')}`));

  const adminFile = join(state, 'admin.json');
  t.equal(statSync(adminFile).mode & 0o777, 0o600, 'admin.json is 0600');
  const admin = JSON.parse(readFileSync(adminFile, 'utf8')) as {
    username: string;
    password: string;
  };
  t.ok(admin.password.length >= 16, 'a random password');

  const ca = readFileSync(join(state, 'ekmd', API_CERT_FILE), 'utf8');
  const call = async (method: string) => {
    const r = await rpc(port, ca, admin, method);
    t.equal(r.status, 200, method);
    return JSON.parse(r.body).result;
  };
  const drives = (await call('ListDrives')).drives as { keyID?: string; serial: string }[];
  t.equal(drives.length, 4, 'ListDrives shows 4 drives');
  t.ok(
    drives.every((d) => d.keyID),
    'every drive has an AK',
  );
  for (const d of drives) t.match(out1, new RegExp(`serial ${d.serial} `), `line for ${d.serial}`);
  t.equal((await call('GetClusterInfo')).clusterInfo.encryptionAtRestState, 'enabled');

  await stop(t, first);

  const second = await start(port);
  const out2 = second.output();
  t.match(out2, /^setup already done$/m);
  t.notMatch(out2, /^setup: /m, 'setup not run again');
  t.same(second.summary.slice(1, 4), ['enabled', '4', '4']);
  t.same(second.summary.slice(5, 7), ['4', '4'], 'boot unlock after the power cycle');
  t.match(out2, /^drive 4 .* unlocked$/m);
  const again = (await call('ListDrives')).drives as { keyID?: string }[];
  t.same(
    again.map((d) => d.keyID),
    drives.map((d) => d.keyID),
    'same drives and keys',
  );
  await stop(t, second);

  for (const [name, text] of [
    ['first start', out1],
    ['second start', out2],
    ...readdirSync(join(state, 'logs')).map((f) => [
      f,
      readFileSync(join(state, 'logs', f), 'utf8'),
    ]),
  ] as [string, string][]) {
    t.notOk(text.includes(admin.password), `no password in ${name}`);
  }
});
