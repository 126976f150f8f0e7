// ekmd as systemd runs it (Type=notify): after a power cycle, READY=1 comes only once the
// first unlock pass is over — every drive unlocked or its fault raised — with STATUS=
// progress lines before it. One drive's PIN was changed out of band: it stays locked, is
// reported, and does not hold the boot; nor does a stalled key server (the first pass is
// bounded by kmip.connectTimeoutMs), nor a cluster store that cannot be reached: the drives
// are unlocked from key-plan.json and the API answers "store unavailable" meanwhile.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { EARLY_GUARDS_FILE } from '../../src/cluster/boot-unlock/early-guards';
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

/** A node with hardware EAR enabled on a dev KMIP key server, its key plan written. */
async function earOnKeyServer(t: Test): Promise<{ node: EarNode; eks: DevKmipServer }> {
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
  return { node, eks };
}

t.test('a stalled key server does not hold READY=1: faults raised, drives waiting', async (t) => {
  const { node, eks } = await earOnKeyServer(t);
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

  // Started again from the key plan: the early unlock sends for the keys before the store
  // is loaded, and that request's log lines and faults are the same as a round's.
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
  t.match(
    served.output(),
    /"unlocked":3,"foundUnlocked":0,"failed":0,"planned":3,.*"msg":"early unlock over"/,
    'unlocked by the early unlock, before the store opened',
  );
  await node.open();
  t.same(
    readFaults(node.store, 'current').filter((f) => f.code === 'kmipServerFault'),
    [],
    'kmipServerFault resolved',
  );
});

/** The AK of `keyID` as the dev key server holds it. */
function akAtKeyServer(node: EarNode, keyID: string): Buffer {
  const { kmipUID } = node.store.get<DriveKeyRecord>(`keys/${keyID}`)!.value;
  const { objects } = JSON.parse(readFileSync(join(node.dir, 'eks', 'objects.json'), 'utf8')) as {
    objects: { uid: string; material?: string }[];
  };
  return Buffer.from(objects.find((o) => o.uid === kmipUID)!.material!, 'hex');
}

/** The first match of `re` in ekmd's output, waited for (10 s at most); null if none. */
async function logLine(booted: Booted, re: RegExp): Promise<RegExpExecArray | null> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const m = re.exec(booted.output());
    if (m) return m;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}

/** A loopback port nothing listens on (taken, then given back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A JSON-RPC call to the API at `port` (its certificate not checked): status and body. */
function callApi(port: number, method: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/json-rpc', rejectUnauthorized: false },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ id: 1, method, params: {} }));
  });
}

t.test(
  'an unreachable store does not keep the drives locked: READY=1, the API says why',
  async (t) => {
    const { node } = await earOnKeyServer(t);
    await node.close();
    // A first start with its store writes the key plan.
    const first = await bootEkmd(t, node);
    t.equal(await first.stop(), 0);
    t.ok(existsSync(join(node.dir, KEY_PLAN_FILE)), 'the key plan is written');
    await node.open();
    // One drive's PIN changed out of band: it refuses its key before the store opens.
    const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
    const wrong = drives.find((d) => d.slot === 2)!;
    await node
      .opal(2)
      .setPin(
        { who: OpalUser.ADMIN1, pin: akAtKeyServer(node, wrong.keyID) },
        OpalUser.ADMIN1,
        Buffer.from('changed-out-of-band'),
      );
    await node.close();
    node.sim.powerCycle();

    // etcd is down: nothing listens at its endpoint.
    const etcd = { endpoints: [`http://127.0.0.1:${await closedPort()}`], prefix: '/ekmd/t/' };
    const booted = await bootEkmd(t, node, {
      store: { backend: 'etcd', etcd },
      log: { level: 'info' },
    });
    t.same(booted.lockedAtReady, [false, false, true], 'unlocked from the key plan; one refused');
    t.match(
      statusLines(booted.got).pop(),
      /2 drives unlocked from the key plan; waiting for the store/,
      'the status says the store is awaited',
    );
    // Its log line may trail READY=1 (the notification does not wait for stdout).
    const listening =
      /"port":(\d+),"msg":"API answers \\"store unavailable\\" until the store opens"/;
    const at = await logLine(booted, listening);
    t.ok(at, 'the API listens while the store is awaited');
    const answer = await callApi(Number(at![1]), 'ListDrives');
    t.equal(answer.status, 503);
    t.match(answer.body.error, { code: 503, name: 'xClusterStoreUnavailable' }, 'a clear error');
    t.equal(node.sim.status().drives[2]!.tries.admin1, 1, 'one attempt at the refusing drive');
    t.ok(existsSync(join(node.dir, EARLY_GUARDS_FILE)), 'its guard waits in a file');

    // Restarted before the store is back: the refusing drive is not offered its key again.
    t.equal(await booted.stop(), 0, 'clean exit on SIGTERM while the store is awaited');
    const again = await bootEkmd(t, node, { store: { backend: 'etcd', etcd } });
    t.equal(node.sim.status().drives[2]!.tries.admin1, 1, 'no second attempt (guard file)');
    t.equal(await again.stop(), 0);

    // The store is back (here: the node's own SQLite store): the guard and the drive's
    // outcome are recorded, and the round does not try the drive either.
    const back = await bootEkmd(t, node);
    t.same(back.lockedAtReady, [false, false, true]);
    t.equal(await back.stop(), 0);
    t.equal(node.sim.status().drives[2]!.tries.admin1, 1, 'still one attempt');
    t.notOk(existsSync(join(node.dir, EARLY_GUARDS_FILE)), 'the guard file is gone');
    await node.open();
    t.match(
      node.store.get(`boot-unlock/guard/${wrong.driveID}`)?.value,
      { keyID: wrong.keyID },
      'the guard is in the store',
    );
    const failed = readFaults(node.store, 'current').filter((f) => f.code === 'driveFailed');
    t.same(failed[0]?.driveIDs, [wrong.driveID], 'driveFailed raised for the refused drive');
  },
);
