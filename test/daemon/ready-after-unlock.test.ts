// ekmd as systemd runs it (Type=notify): after a power cycle, READY=1 comes only once the
// first unlock pass is over — every drive unlocked or its fault raised — with STATUS=
// progress lines before it. One drive's PIN was changed out of band: it stays locked, is
// reported, and does not hold the boot; nor does a stalled key server (the first pass is
// bounded by kmip.connectTimeoutMs).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { KEY_PLAN_FILE } from '../../src/cluster/boot-unlock/key-plan';
import { readFaults } from '../../src/cluster/faults';
import { sealLabel, type DriveKeyRecord } from '../../src/cluster/drive-keys/drive-keys';
import { KmipKeyServerTester } from '../../src/cluster/key-servers/kmip-tester';
import { DevKmipServer } from '../../src/kmip/server';
import { OpalUser } from '../../src/opal/abi';
import { caFromPem, signCsr } from '../cluster/pki';
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

interface Booted {
  /** Every notification up to and including READY=1. */
  got: string[];
  /** Whether each drive was locked when READY=1 arrived. */
  lockedAtReady: boolean[];
  /** What ekmd wrote so far (its JSON log lines). */
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts ekmd on the node's state and simulator; resolves once it has sent READY=1. */
async function bootEkmd(t: Test, node: EarNode, extra: object = {}): Promise<Booted> {
  const config = join(node.dir, 'ekmd.json');
  writeFileSync(
    config,
    JSON.stringify({
      stateDir: node.dir,
      api: { listen: '127.0.0.1:0' },
      drives: { backend: 'sim', sim: { socket: node.socket } },
      log: { level: 'warn' },
      ...extra,
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
  const lockedAtReady = node.sim.status().drives.map((d) => d.locked);
  return {
    got: got.slice(0, got.indexOf('READY=1') + 1),
    lockedAtReady,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The STATUS= texts sent before READY=1. */
const statusLines = (got: string[]): string[] =>
  got.filter((m) => m.startsWith('STATUS=')).map((m) => m.slice('STATUS='.length));

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
  const booted = await bootEkmd(t, node);
  t.same(
    booted.lockedAtReady,
    [false, false, true],
    'at READY=1 the pass is over: two unlocked, one refused',
  );
  const status = statusLines(booted.got);
  t.ok(status.length >= 1, 'STATUS lines before READY=1');
  t.equal(
    status[status.length - 1],
    'unlocked 2/3 drives; 1 failed',
    'the last status before READY=1 is the pass outcome',
  );
  t.equal(await booted.stop(), 0, 'clean exit on SIGTERM');

  await node.open();
  const failed = readFaults(node.store, 'current').filter((f) => f.code === 'driveFailed');
  t.same(failed[0]?.driveIDs, [wrong.driveID], 'driveFailed raised for the refused drive');
});

t.test('a stalled key server does not hold READY=1: faults raised, drives waiting', async (t) => {
  const node = await startEarNode(t, {
    drives: 3,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const pki = await makeDevPki(join(node.dir, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const eks = await DevKmipServer.start({
    stateDir: join(node.dir, 'eks'),
    host: '127.0.0.1',
    port: 0,
    ca: read(pki.ca),
    cert: read(pki.server.cert),
    key: read(pki.server.key),
  });
  t.teardown(() => eks.close());
  await createCluster(node);
  const { client } = node;
  await client.ok('CreatePublicPrivateKeyPair', { commonName: 'storage-node-1' });
  const csr = (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest;
  const ca = caFromPem(read(pki.ca), read(join(pki.dir, 'ca-key.pem')));
  const { keyServerID } = (
    await client.ok('CreateKeyServerKmip', {
      kmipCaCertificate: ca.certPem,
      kmipClientCertificate: signCsr(ca, csr),
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: 'dev',
      kmipKeyServerPort: eks.address.port,
    })
  ).kmipKeyServer;
  const { keyProviderID } = (await client.ok('CreateKeyProviderKmip', { keyProviderName: 'eks' }))
    .kmipKeyProvider;
  await client.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
  await client.ok('EnableEncryptionAtRest', { keyProviderID });
  await waitForEarState(node, 'enabled', 30_000);
  await node.close();
  node.sim.powerCycle();
  eks.fault = { kind: 'stall' };

  const booted = await bootEkmd(t, node, { kmip: { connectTimeoutMs: 1000 } });
  t.same(booted.lockedAtReady, [true, true, true], 'READY=1 with the drives still locked');
  t.equal(
    statusLines(booted.got).pop(),
    'unlocked 0/3 drives; 3 waiting for key server',
    'the status says what it waits for',
  );
  t.equal(await booted.stop(), 0, 'clean exit on SIGTERM');
  await node.open();
  const current = readFaults(node.store, 'current');
  t.match(
    current.find((f) => f.code === 'kmipServerFault')?.details,
    /Key server dev .*timed out after 1000 ms/,
    'kmipServerFault raised in the first pass',
  );
  t.equal(current.find((f) => f.code === 'driveFailed')?.driveIDs.length, 3);
  t.ok(existsSync(join(node.dir, KEY_PLAN_FILE)), 'the first round wrote the key plan');
  await node.close();

  // Started again from the key plan: the keys are sent for before the store is loaded,
  // and that request's log lines and faults are the same as a request from the store's.
  const again = await bootEkmd(t, node, { kmip: { connectTimeoutMs: 1000 } });
  t.same(again.lockedAtReady, [true, true, true], 'still locked, still ready');
  await again.stop();
  t.match(
    again.output(),
    /"component":"boot-unlock".*"msg":"kmip endpoint failed"/,
    'the early request’s failure is in the log, under boot-unlock',
  );
  await node.open();
  t.match(
    readFaults(node.store, 'current').find((f) => f.code === 'kmipServerFault')?.details,
    /Key server dev .*timed out after 1000 ms/,
  );
  await node.close();

  eks.fault = { kind: 'none' };
  node.sim.powerCycle();
  const served = await bootEkmd(t, node, { log: { level: 'debug' } });
  t.same(served.lockedAtReady, [false, false, false], 'unlocked by the keys asked for early');
  await served.stop();
  t.match(served.output(), /keys were sent for before the store opened \(key plan\)/);
  await node.open();
  t.same(
    readFaults(node.store, 'current').filter((f) => f.code === 'kmipServerFault'),
    [],
    'kmipServerFault resolved',
  );
});
