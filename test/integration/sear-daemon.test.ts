// Software EAR in the real processes: ekmd and ekmd-sim as separate processes, the dev key
// server beside them. Data written through `ekmd-sim write` survives a rekey onto the key
// server, a kill -9 of ekmd and a power cycle. ekmd booting while the key server is down
// answers its API, raises kmipServerFault and leaves the drives detached; once the key
// server is back the DEKs are attached and the fault resolves. No MK byte reaches the log.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { DevKmipServer } from '../../src/kmip/server';
import { addProvider, eksClient, mkName } from '../cluster/sear/eks-setup';
import { BOOTSTRAP, ready, rpc, runEkmd, workdir } from '../daemon/ekmd-process';
import { bin } from '../helpers/paths';

const ADMIN = { username: 'admin', password: 'cluster-admin-pw-1' };
const DRIVES = 3;
const block = (i: number) => Buffer.alloc(512, 0x61 + i).toString('hex');

async function waitFor(what: string, probe: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('SEAR across ekmd processes, a power cycle and a key server outage', async (t) => {
  const w = workdir(t, {
    kmip: { connectTimeoutMs: 1000, requestTimeoutMs: 5000 },
    unlock: { retry: { maxDelayMs: 1000 } },
  });
  const socket = join(w.dir, 'sim.sock');
  const sim = spawn(process.execPath, [
    bin.ekmdSim,
    'serve',
    ...['--state', join(w.dir, 'sim'), '--socket', socket, '--drives', String(DRIVES)],
    ...['--size', '1'],
  ]);
  t.teardown(() => {
    sim.kill('SIGTERM');
  });
  await waitFor('ekmd-sim', async () => existsSync(socket));
  const simctl = (args: string[], input?: string) =>
    spawnSync(process.execPath, [bin.ekmdSim, ...args, '--socket', socket], {
      input,
      encoding: 'utf8',
    });

  let ekmd = runEkmd(t, w.config);
  let port = await ready(ekmd);
  let auth = BOOTSTRAP;
  const call = async (method: string, params: Record<string, unknown> = {}) =>
    JSON.parse((await rpc(port, w.ca, auth, method, params)).body) as Record<string, any>;
  const client = {
    async ok(method: string, params: Record<string, unknown> = {}) {
      const r = await call(method, params);
      if (!r.result) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
      return r.result as Record<string, any>;
    },
  };
  await client.ok('CreateCluster', {
    acceptEula: true,
    mvip: '127.0.0.1',
    svip: '127.0.0.1',
    nodes: ['127.0.0.1'],
    username: ADMIN.username,
    password: ADMIN.password,
    enableSoftwareEncryptionAtRest: true,
  });
  auth = ADMIN;
  const attachedEverywhere = async () => {
    const info = await client.ok('GetSoftwareEncryptionAtRestInfo');
    const drives = (await client.ok('ListDrives')).drives as Record<string, any>[];
    return (
      !info.detachedDrives &&
      drives.length === DRIVES &&
      drives.every((d) => d.attributes.softwareEncryptionAtRest === 'attached')
    );
  };
  await waitFor('DEKs attached', attachedEverywhere);
  for (let i = 0; i < DRIVES; i++) {
    const r = simctl(['write', '--drive', String(i), '--lba', '9'], block(i));
    t.equal(r.status, 0, `wrote drive ${i}${r.stderr}`);
  }
  const readAll = () =>
    Array.from({ length: DRIVES }, (_, i) => simctl(['read', '--drive', String(i), '--lba', '9']));

  const pki = await makeDevPki(join(w.dir, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const startKms = (kmsPort: number) =>
    DevKmipServer.start({
      stateDir: join(w.dir, 'eks'),
      host: '127.0.0.1',
      port: kmsPort,
      ca: read(pki.ca),
      cert: read(pki.server.cert),
      key: read(pki.server.key),
    });
  let kms = await startKms(0);
  const kmsPort = kms.address.port;
  t.teardown(() => kms.close());
  const { keyProviderID, keyServerID } = await addProvider({ client }, pki, kmsPort);
  const { asyncHandle } = await client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
    keyManagementType: 'External',
    keyProviderID,
  });
  let outcome: Record<string, any> = {};
  await waitFor('the rekey', async () => {
    outcome = await client.ok('GetAsyncResult', { asyncHandle });
    return outcome.status === 'complete';
  });
  t.equal(outcome.result?.state, 'Ready', 'rekeyed onto the key server');
  const uuid = (await client.ok('GetClusterInfo')).clusterInfo.uuid as string;
  const eks = eksClient(pki, kmsPort);
  t.teardown(() => eks.close());
  const [uid] = await eks.locate({ names: [mkName(uuid, outcome.result.newKey.keyID)] });
  const mk = (await eks.get(uid!)).material;

  // kill -9, the key server down, a power cycle: the node boots without its MK.
  ekmd.child.kill('SIGKILL');
  await ekmd.exited;
  await kms.close();
  t.equal(simctl(['power-cycle']).status, 0);
  t.ok(
    readAll().every((r) => r.status === 1 && /DEK/.test(r.stderr)),
    'unreadable while detached',
  );
  ekmd = runEkmd(t, w.config);
  port = await ready(ekmd);
  const fault = async () =>
    ((await client.ok('ListClusterFaults')).faults as Record<string, any>[]).filter(
      (f) => f.code === 'kmipServerFault',
    );
  await waitFor('kmipServerFault', async () => (await fault()).some((f) => !f.resolved));
  const [raised] = await fault();
  t.match(raised, {
    resolved: false,
    severity: 'error',
    type: 'cluster',
    details: /Key server eks .* of key provider \d+: software encryption master key/,
    data: { keyServerID, keyProviderID },
  });
  const info = await client.ok('GetSoftwareEncryptionAtRestInfo');
  t.equal(info.detachedDrives?.length, DRIVES, 'every drive detached, and said so');
  t.match(info.detachedDrives[0].reason, /master key unavailable/);
  t.equal(info.masterKeyInfo.keyManagementType, 'external', 'the API answers meanwhile');
  t.ok(readAll().every((r) => r.status === 1));

  kms = await startKms(kmsPort);
  await waitFor('DEKs attached once the key server is back', attachedEverywhere);
  t.ok(
    (await fault()).every((f) => f.resolved),
    'kmipServerFault resolved',
  );
  readAll().forEach((r, i) => t.equal(r.stdout.trim(), block(i), `drive ${i} reads its data`));

  const log = ekmd.output();
  for (const form of [mk.toString('hex'), mk.toString('base64')])
    t.notOk(log.includes(form), 'the MK is not in the log');
  mk.fill(0);
  ekmd.child.kill('SIGTERM');
  t.equal(await ekmd.exited, 0, 'ekmd stops cleanly');
});
