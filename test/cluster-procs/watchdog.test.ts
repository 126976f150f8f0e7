// The harness stops what it started however its starter ends: a starter killed with
// kill -9 runs no handler of its own, and its watchdog process must kill its etcd member,
// key server, simulator and ekmd.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './fixtures/cluster';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const accepts = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url);
    const s = connect(Number(port), hostname);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

t.test('a starter killed with kill -9 leaves nothing running', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-procs-watchdog-'));
  const starter = spawn(process.execPath, [join(__dirname, 'fixtures/starter.js'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let started: { pids: number[]; endpoints: string[] } | undefined;
  t.teardown(() => {
    starter.kill('SIGKILL');
    for (const pid of started?.pids ?? []) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  let out = '';
  started = await new Promise((resolve, reject) => {
    starter.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as typeof started);
    });
    starter.once('exit', (code) => reject(new Error(`starter exited ${code}`)));
  });
  const { pids, endpoints } = started!;
  t.equal(pids.filter(alive).length, 3, 'ekmd, its simulator and the key server run');
  t.ok(await accepts(endpoints[0]!), 'etcd answers');

  starter.kill('SIGKILL');
  await until('every process gone', async () => (pids.some(alive) ? undefined : true), 10_000);
  t.pass('ekmd, the simulator and the key server are gone');
  await until('etcd gone', async () => ((await accepts(endpoints[0]!)) ? undefined : true), 10_000);
  t.pass('etcd is gone');
});
