// `ekmctl status` exit codes for monitoring over a node with real simulated drives and
// cluster faults: 0 ok; 1 with a warning fault; 2 with an error fault or a failed drive.
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
const status = (...args: string[]) => ekmctl(op.env, 'status', '--no-test', ...args, ...flags);

t.before(async () => {
  node = await startEarNode(t, { drives: 2, faults: true });
  await createCluster(node);
  op = operator(t);
  flags = ['--url', `https://127.0.0.1:${node.api.address.port}`]
    .concat(['--username', ADMIN.username, '--password-file', op.passwordFile(ADMIN.password)])
    .concat(['--ca', join(node.dir, API_CERT_FILE)]);
});

async function driveStatus(driveID: number): Promise<string | undefined> {
  const { drives } = await node.client.ok('ListDrives');
  return (drives as { driveID: number; status: string }[]).find((d) => d.driveID === driveID)
    ?.status;
}

async function waitForDrive(driveID: number, want: string): Promise<void> {
  const guard = Date.now() + 30_000;
  while ((await driveStatus(driveID)) !== want) {
    if (Date.now() > guard) throw new Error(`drive ${driveID} never became ${want}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('ok: one screen with cluster, EAR, drives and no faults', async (t) => {
  const [human, json] = await Promise.all([status(), status('--json')]);
  t.equal(human.status, 0, human.stdout + human.stderr);
  t.match(human.stdout, /^ekmd 127\.0\.0\.1:\d+: OK\n/);
  t.match(human.stdout, /^cluster:\s+\S+ \([0-9a-f-]{36}\)$/m);
  t.match(human.stdout, /^encryption at rest:\s+disabled$/m);
  t.match(human.stdout, /^drives:\s+2 available$/m);
  t.match(human.stdout, /^current faults:\s+none$/m);
  const report = JSON.parse(json.stdout);
  t.match(report, { state: 'ok', drives: { available: 2 }, faults: [], problems: [] });
});

t.test('a failed drive is critical', async (t) => {
  await node.client.ok('AddDrives', { drives: [{ driveID: 1 }] });
  await node.settle();
  node.sim.unplug(0);
  await waitForDrive(1, 'failed');
  const r = await status();
  t.equal(r.status, 2, r.stdout);
  t.match(r.stdout, /: CRITICAL\n/);
  t.match(r.stdout, /^drives:\s+1 failed, 1 available$/m);
  t.match(r.stdout, /^CRITICAL: 1 drive\(s\) failed$/m);
  node.sim.plug(0);
  await waitForDrive(1, 'active');
  t.equal((await status()).status, 0, 'back to ok once the drive is back');
});

t.test('faults: warning exits 1, error exits 2, resolved exits 0', async (t) => {
  const faults = node.faults!;
  await faults.raise(
    'kmipCertificateFault',
    { keyServerID: 1 },
    'Client certificate expires in 3 days.',
  );
  await faults.raise('disableDriveSecurityFailed', { nodeID: 1 }, 'Node ID 1: drive 2 refused.');
  const warn = await status();
  t.equal(warn.status, 1, warn.stdout);
  t.match(warn.stdout, /: WARNING\n/);
  t.match(warn.stdout, /^FAULT\s+SEVERITY\s+CODE\s+NODE\s+DETAILS$/m);
  // A cluster-wide fault has no node; a node's fault names it.
  t.match(warn.stdout, /^\d+\s+warning\s+kmipCertificateFault\s+-\s+Client certificate expires/m);
  t.match(warn.stdout, /^\d+\s+warning\s+disableDriveSecurityFailed\s+1\s+Node ID 1: drive 2/m);
  await faults.resolve('disableDriveSecurityFailed', { nodeID: 1 });
  t.match(warn.stdout, /^WARNING: fault kmipCertificateFault: Client certificate/m);

  await faults.raise('kmipServerFault', { keyServerID: 1 }, 'Key server 1 does not answer.');
  const crit = await status('--json');
  t.equal(crit.status, 2, crit.stdout);
  const report = JSON.parse(crit.stdout);
  t.equal(report.state, 'critical');
  t.same(
    report.faults.map((f: { code: string }) => f.code),
    ['kmipCertificateFault', 'kmipServerFault'],
  );
  t.same(
    report.problems.map((p: { severity: string }) => p.severity),
    ['warning', 'critical'],
  );

  await faults.resolve('kmipServerFault', { keyServerID: 1 });
  t.equal((await status()).status, 1, 'the warning remains');
  await faults.resolve('kmipCertificateFault', { keyServerID: 1 });
  t.equal((await status()).status, 0, 'resolved faults do not count');
});
