// `npm start -- --nodes 3` as a developer runs it: the compiled start script on a temp
// state directory, three etcd members, the key server, three simulators and three ekmd
// nodes on 127.0.0.1-3. The first start creates the cluster of three through node 1 and
// sets up EAR (every node secures its own drives); SIGTERM (Ctrl-C) stops every process; a second start finds the cluster
// set up and every node back in it, each node unlocking its own drives (power-cycled
// before it starts) with its own keys.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcClient } from '../../scripts/reliability/matrix/rpc';
import { portFree } from '../../scripts/dev/common';
import { repoRoot } from '../helpers/paths';
import { freePort } from './fixtures/dev-start';

const START = join(repoRoot, 'dist/scripts/dev/start.js');
/** The dev cluster's etcd client port (fixed, on each member's address). */
const ETCD_PORT = 12379;

t.test('a dev cluster of three nodes, started twice', async (t) => {
  const ips = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  for (const ip of ips) {
    if (!(await portFree(ETCD_PORT, ip))) {
      t.comment(`skipped: ${ip}:${ETCD_PORT} is taken (a dev cluster running?)`);
      t.pass('nothing to test here');
      return;
    }
  }
  const state = mkdtempSync(join(tmpdir(), 'ekmd-dev-cluster-'));
  const port = await freePort();
  const children: ReturnType<typeof spawn>[] = [];
  t.teardown(() => {
    // A start killed outright leaves its processes to its watchdog, which kills them.
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(state, { recursive: true, force: true });
  });

  const start = async () => {
    const child = spawn(
      process.execPath,
      [START, '--nodes', '3', '--state', state, '--port', String(port)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not running after 150 s:\n${out}`)),
        150_000,
      );
      child.stdout!.on('data', () => {
        if (/^running; Ctrl-C stops everything$/m.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`start exited ${code}:\n${out}`));
      });
    });
    return { child, exited, output: () => out };
  };

  const stop = async (s: Awaited<ReturnType<typeof start>>) => {
    s.child.kill('SIGTERM');
    t.equal(await s.exited, 0, 'SIGTERM: exit code 0');
    t.match(s.output(), /^stopped$/m);
    for (const ip of ips) t.ok(await portFree(port, ip), `nothing listens on ${ip}:${port}`);
    t.ok(await portFree(ETCD_PORT, ips[2]), 'etcd stopped');
  };

  const first = await start();
  const out1 = first.output();
  t.match(out1, /^setup: CreateCluster$/m, 'the first start creates the cluster');
  t.match(out1, /^setup: encryption at rest enabled$/m);
  t.match(out1, /^cluster: 3 active nodes, master node [123], encryption at rest enabled$/m);
  const lines = [...out1.matchAll(/^node (\d)  (127\.0\.0\.\d):(\d+)(  master)?  (.*)$/gm)];
  t.same(
    lines.map((m) => [m[1], m[2], Number(m[3])]),
    ips.map((ip, i) => [String(i + 1), ip, port]),
    'one line per node: its nodeID and address',
  );
  t.equal(lines.filter((m) => m[4]).length, 1, 'one of them master');
  t.notMatch(out1, /^setup: AddDrives/m, 'no node needs its drives added to secure them');
  const admin = JSON.parse(readFileSync(join(state, 'admin.json'), 'utf8')) as {
    username: string;
    password: string;
  };
  const ca = readFileSync(join(state, 'cluster-3', 'node3', 'api.crt'), 'utf8');
  const node3 = new RpcClient(port, ca, admin, undefined, '127.0.0.3');
  t.teardown(() => node3.close());
  const active = (await node3.ok('ListActiveNodes')).nodes as { mip: string }[];
  t.same(
    active.map((n) => n.mip),
    ips,
    'node 3 lists the three nodes',
  );
  // EnableEncryptionAtRest through node 1 had each node secure its own drives.
  const drives = (await node3.ok('ListDrives')).drives as { nodeID: number; keyID?: string }[];
  t.same(
    [1, 2, 3].map((id) => drives.filter((d) => d.nodeID === id && d.keyID).length),
    [4, 4, 4],
    "every node's four drives have an AK",
  );
  node3.close();
  await stop(first);

  const second = await start();
  const out2 = second.output();
  t.match(out2, /^setup already done$/m);
  t.notMatch(out2, /^setup: /m, 'setup not run again');
  t.match(out2, /^cluster: 3 active nodes/m, 'every node back in the cluster');
  const lines2 = [...out2.matchAll(/^node (\d)  127\.0\.0\.\d:\d+(?:  master)?  (.*)$/gm)];
  t.same(
    lines2.map((m) => [m[1], /^unlocked 4\/4 drives in \d+ ms$/.test(m[2]!)]),
    [
      ['1', true],
      ['2', true],
      ['3', true],
    ],
    `each node unlocked its own four drives at its boot:\n${lines2.map((m) => m[0]).join('\n')}`,
  );
  await stop(second);
});
