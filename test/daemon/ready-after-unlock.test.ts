// ekmd as systemd runs it (Type=notify): after a power cycle, READY=1 comes only once the
// first unlock pass is over — every drive unlocked or its fault raised — with STATUS=
// progress lines before it. One drive's PIN was changed out of band: it stays locked, is
// reported, and does not hold the boot.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFaults } from '../../src/cluster/faults';
import { sealLabel, type DriveKeyRecord } from '../../src/cluster/hardware-ear/drive-keys';
import { OpalUser } from '../../src/opal/abi';
import {
  createCluster,
  startEarNode,
  waitForEarState,
  type EarNode,
} from '../cluster/hardware-ear/ear-node';
import { bin } from '../helpers/paths';
import { NotifyListener } from '../systemd/notify-listener';

function akOf(node: EarNode, keyID: string): Buffer {
  const rec = node.store.get<DriveKeyRecord>(`keys/${keyID}`)!.value;
  return node.sealer.unseal(Buffer.from(rec.sealedKey!, 'base64'), sealLabel(keyID));
}

t.test('READY=1 after the first unlock pass, STATUS lines before it', async (t) => {
  const node = await startEarNode(t, { drives: 3 });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  const wrong = drives.find((d) => d.slot === 2)!;
  await node
    .opal(2)
    .setPin(
      { who: OpalUser.ADMIN1, pin: akOf(node, wrong.keyID) },
      OpalUser.ADMIN1,
      Buffer.from('changed-out-of-band'),
    );
  await node.close();
  node.sim.powerCycle();
  const config = join(node.dir, 'ekmd.json');
  writeFileSync(
    config,
    JSON.stringify({
      stateDir: node.dir,
      api: { listen: '127.0.0.1:0' },
      drives: { backend: 'sim', sim: { socket: node.socket } },
      log: { level: 'warn' },
    }),
  );

  const listener = new NotifyListener(`@ekmd-ready-test-${randomBytes(6).toString('hex')}`);
  t.teardown(() => listener.close());
  const env: NodeJS.ProcessEnv = { ...process.env, NOTIFY_SOCKET: listener.address };
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  const child = spawn(process.execPath, [bin.ekmd, '--config', config], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const diedEarly = exited.then((code) => {
    throw new Error(`ekmd exited ${code} while running: ${output}`);
  });
  diedEarly.catch(() => undefined);

  // A bound for a loaded machine, not a timing under test.
  const got = await Promise.race([listener.waitFor('READY=1', 60_000), diedEarly]);
  const locked = node.sim.status().drives.map((d) => d.locked);
  t.same(locked, [false, false, true], 'at READY=1 the pass is over: two unlocked, one refused');
  const ready = got.indexOf('READY=1');
  const status = got.slice(0, ready).filter((m) => m.startsWith('STATUS='));
  t.ok(status.length >= 1, 'STATUS lines before READY=1');
  t.equal(
    status[status.length - 1],
    'STATUS=unlocked 2/3 drives; 1 failed',
    'the last status before READY=1 is the pass outcome',
  );
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'clean exit on SIGTERM');

  await node.open();
  const failed = readFaults(node.store, 'current').filter((f) => f.code === 'driveFailed');
  t.same(failed[0]?.driveIDs, [wrong.driveID], 'driveFailed raised for the refused drive');
});
