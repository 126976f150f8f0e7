// `ekmd-sim status` at the simulator's maximum of 1,024 drives: the answer (about 1.24 KB
// per drive) is larger than the old 1 MiB frame limit, and must still reach the client.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin } from '../helpers/paths';
import { encodeFrame, MAX_FRAME_BYTES } from '../../src/opal/sim-socket/frame';
import { MAX_DRIVES, Simulator } from '../../src/sim/simulator';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-sim-max-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const sock = join(dir, 'sim.sock');
const env = { ...process.env, EKMD_SIM_SOCKET: sock, NODE_EXTRA_CA_CERTS: '' };

function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin.ekmdSim, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function serve(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [bin.ekmdSim, 'serve', '--state', join(dir, 'state'), '--socket', sock].concat([
      '--drives',
      String(MAX_DRIVES),
      '--size',
      '1',
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('serving')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err.trim()}`)));
  });
}

t.test('the status of 1,024 drives needs more than a MiB and fits the frame limit', async (t) => {
  const sim = new Simulator({ stateDir: join(dir, 'inproc'), drives: MAX_DRIVES, sizeMiB: 1 });
  const bytes = encodeFrame({ id: 1, ok: true, ...sim.status() }).length;
  t.ok(bytes > 1 << 20, `${bytes} bytes: more than the old 1 MiB limit`);
  t.ok(bytes * 2 < MAX_FRAME_BYTES, 'with room to spare');
});

t.test('ekmd-sim status and status --json at 1,024 drives', async (t) => {
  await serve();
  const json = await run(['status', '--json']);
  t.equal(json.status, 0, json.stderr);
  const drives = (JSON.parse(json.stdout) as { drives: { index: number }[] }).drives;
  t.equal(drives.length, MAX_DRIVES, 'every drive answered');
  t.equal(drives[MAX_DRIVES - 1]!.index, MAX_DRIVES - 1);
  const table = await run(['status']);
  t.equal(table.status, 0, table.stderr);
  t.equal(table.stdout.trim().split('\n').length, MAX_DRIVES, 'one line per drive');
});
