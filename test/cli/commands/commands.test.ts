// Every API subcommand against a real ekmd and a real (dev) KMIP key server, in the order
// an operator sets a node up: cluster, key pair, CSR, key server, provider, status.
import t from 'tap';

const tap = t;
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDevKmip, type DevKmip } from './kmip-dev-server';
import {
  BOOTSTRAP,
  ekmctl,
  login,
  operator,
  startDaemon,
  type Daemon,
  type Operator,
} from './harness';

const ADMIN = { username: 'admin', password: 'cluster-admin-pw-S3CRET' };

let d: Daemon;
let kmip: DevKmip;
let op: Operator;
/** Runs ekmctl as the cluster admin (after `cluster create`). */
const admin = (...args: string[]) => ekmctl(op.env, ...args, ...login(d, op, ADMIN));

t.before(async () => {
  [d, kmip] = await Promise.all([startDaemon(t, false), startDevKmip(t)]);
  op = operator(t);
});

const oneLine = (t: Pick<typeof tap, 'equal'>, text: string) =>
  t.equal(text.trim().split('\n').length, 1, text);

t.test('status before the cluster exists: warning, exit 1', async (t) => {
  const r = await ekmctl(op.env, 'status', ...login(d, op));
  t.equal(r.status, 1);
  t.match(r.stderr, /pinned the certificate of ekmd at 127\.0\.0\.1:\d+/);
  t.match(r.stdout, /^ekmd 127\.0\.0\.1:\d+: WARNING/);
  t.match(r.stdout, /WARNING: no cluster created yet/);
});

t.test('cluster create', async (t) => {
  const pw = op.passwordFile(ADMIN.password);
  const noEula = await ekmctl(
    op.env,
    ...['cluster', 'create', '--mvip', '10.0.0.1', '--svip', '10.0.0.2'],
    ...['--admin-username', ADMIN.username, '--admin-password-file', pw],
    ...login(d, op),
  );
  t.equal(noEula.status, 1);
  t.match(noEula.stderr, /^x\w+: .*EULA/i);
  oneLine(t, noEula.stderr);

  const args = [
    'cluster',
    'create',
    '--accept-eula',
    '--mvip',
    '10.0.0.1',
    '--svip',
    '10.0.0.2',
  ].concat(['--admin-username', ADMIN.username, '--admin-password-file', pw]);
  const r = await ekmctl(op.env, ...args, ...login(d, op));
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, "cluster created; admin is now 'admin'");
  t.notMatch(r.stdout + r.stderr, ADMIN.password);

  const bootstrap = await ekmctl(op.env, 'cluster', 'info', ...login(d, op, BOOTSTRAP));
  t.equal(bootstrap.status, 1, 'the bootstrap credentials are retired');
  t.match(bootstrap.stderr, /HTTP 401/);

  const again = await admin(
    ...args.slice(0, -4),
    '--admin-username',
    'x',
    '--admin-password-file',
    pw,
  );
  t.equal(again.status, 1);
  t.match(again.stderr, /^xClusterAlreadyCreated: /);
  oneLine(t, again.stderr);
});

t.test('cluster info', async (t) => {
  const human = await admin('cluster', 'info');
  t.equal(human.status, 0, human.stderr);
  t.match(human.stdout, /^name: /m);
  t.match(human.stdout, /^mvip:\s+10\.0\.0\.1$/m);
  const r = await admin('cluster', 'info', '--json');
  const info = JSON.parse(r.stdout);
  t.equal(info.mvip, '10.0.0.1');
  t.match(info.uuid, /^[0-9a-f-]{36}$/);
  t.equal(info.encryptionAtRestState, 'disabled');
});

t.test('nodes list, remove refused', async (t) => {
  const human = await admin('nodes', 'list');
  t.equal(human.status, 0, human.stderr);
  t.match(human.stdout, /^NODE\s+PENDING\s+NAME\s+MIP/m);
  t.match(human.stdout, /^1\s+-\s+\S+\s+\S+\s+\S+\s+\S+\s+master\s*$/m, 'node 1, the master');
  const r = await admin('nodes', 'list', '--json');
  t.equal(r.status, 0, r.stderr);
  const all = JSON.parse(r.stdout);
  t.match(all, { masterNodeID: 1, pendingNodes: [], nodes: [{ nodeID: 1 }] });
  const last = await admin('nodes', 'remove', '1');
  t.equal(last.status, 1);
  t.match(last.stderr, /^xEnsembleInvalidSize: /);
  const bad = await admin('nodes', 'add', 'x');
  t.equal(bad.status, 2, 'a usage error');
});

let clientCert: string;
t.test('keypair create and csr', async (t) => {
  const bad = await admin('keypair', 'create', '--country', 'USA');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^xInvalidParameter: .*country/);
  const r = await admin('keypair', 'create', '--common-name', 'storage-node-1', '--country', 'US');
  t.equal(r.status, 0, r.stderr);
  const csr = await admin('csr');
  t.equal(csr.status, 0, csr.stderr);
  t.match(
    csr.stdout,
    /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+-----END CERTIFICATE REQUEST-----\n$/,
  );
  clientCert = join(d.work.dir, 'client.pem');
  writeFileSync(clientCert, kmip.sign(csr.stdout));
});

let serverID: number;
t.test('key-servers create, list, get, test, modify', async (t) => {
  const base = ['--ca-file', kmip.pki.ca, '--client-cert-file', clientCert];
  const noHost = await admin('key-servers', 'create', '--name', 'kms', ...base);
  t.equal(noHost.status, 2);
  t.match(noHost.stderr, /--hostname is required/);

  const create = await admin(
    ...['key-servers', 'create', '--name', 'kms-1', '--hostname', '127.0.0.1'],
    ...['--port', String(kmip.port), ...base, '--json'],
  );
  t.equal(create.status, 0, create.stderr);
  const server = JSON.parse(create.stdout);
  serverID = server.keyServerID;
  t.equal(server.kmipKeyServerPort, kmip.port);
  t.equal(server.keyProviderID, null);

  const [list, unassigned, get] = await Promise.all([
    admin('key-servers', 'list'),
    admin('key-servers', 'list', '--unassigned', '--json'),
    admin('key-servers', 'get', String(serverID)),
  ]);
  t.match(
    list.stdout,
    new RegExp(`^${serverID}\\s+kms-1\\s+127\\.0\\.0\\.1\\s+${kmip.port}\\s+-\\s+-$`, 'm'),
  );
  t.equal(JSON.parse(unassigned.stdout).length, 1);
  t.match(get.stdout, /^CA certificates:\s+1$/m);
  t.notMatch(get.stdout, /BEGIN CERTIFICATE/, 'certificates summarised, not dumped');

  const test = await admin('key-servers', 'test', String(serverID));
  t.equal(test.status, 0, test.stderr);
  t.match(test.stdout, `key server ${serverID}: test passed`);

  const renamed = await admin(
    'key-servers',
    'modify',
    String(serverID),
    '--name',
    'kms-a',
    '--json',
  );
  t.equal(renamed.status, 0, renamed.stderr);
  t.equal(JSON.parse(renamed.stdout).kmipKeyServerName, 'kms-a');

  const broken = await admin('key-servers', 'modify', String(serverID), '--port', '1');
  t.equal(broken.status, 1);
  t.match(broken.stderr, /^xKeyServerTestFailed: Key server \d+ \(kms-a\) failed at step/);
  oneLine(t, broken.stderr);
  const [after, missing] = await Promise.all([
    admin('key-servers', 'get', String(serverID), '--json'),
    admin('key-servers', 'get', '9999'),
  ]);
  t.equal(JSON.parse(after.stdout).kmipKeyServerPort, kmip.port, 'a failed modify changes nothing');
  t.equal(missing.status, 1);
  t.match(missing.stderr, /^xKeyServerIDDoesNotExist: /);
});

let providerID: number;
t.test('key-providers create, add-server, get, list, test', async (t) => {
  const create = await admin('key-providers', 'create', 'provider-1', '--json');
  t.equal(create.status, 0, create.stderr);
  const provider = JSON.parse(create.stdout);
  providerID = provider.keyProviderID;
  t.same(provider.keyServerIDs, []);
  t.equal(provider.keyProviderIsActive, false);

  const add = await admin('key-providers', 'add-server', String(providerID), String(serverID));
  t.equal(add.status, 0, add.stderr);
  t.match(add.stdout, `key server ${serverID} assigned to key provider ${providerID}`);

  const [get, list, test] = await Promise.all([
    admin('key-providers', 'get', String(providerID)),
    admin('key-providers', 'list', '--inactive', '--json'),
    admin('key-providers', 'test', String(providerID)),
  ]);
  t.match(get.stdout, new RegExp(`^keyServerIDs:\\s+${serverID}$`, 'm'));
  t.match(get.stdout, /^active:\s+no$/m);
  t.same(
    JSON.parse(list.stdout).map((p: { keyProviderID: number }) => p.keyProviderID),
    [providerID],
  );
  t.equal(test.status, 0, test.stderr);
  t.match(test.stdout, 'test passed');
});

t.test('status: ok while the key server answers, warning once it stops', async (t) => {
  const [ok, okJson] = await Promise.all([admin('status'), admin('status', '--json')]);
  t.equal(ok.status, 0, ok.stdout + ok.stderr);
  t.match(ok.stdout, /: OK\n/);
  t.match(ok.stdout, new RegExp(`^${serverID}\\s+kms-a\\s+${providerID}\\s+ok$`, 'm'));
  const json = JSON.parse(okJson.stdout);
  t.equal(json.state, 'ok');
  t.equal(json.encryptionAtRestState, 'disabled');
  t.same(
    json.keyServers.map((s: { reachable: boolean }) => s.reachable),
    [true],
  );

  kmip.stop();
  const [warn, skippedRun, failedTest] = await Promise.all([
    admin('status'),
    admin('status', '--no-test', '--json'),
    admin('key-providers', 'test', String(providerID)),
  ]);
  t.equal(warn.status, 1, warn.stdout);
  t.match(warn.stdout, /: WARNING\n/);
  t.match(warn.stdout, /FAILED/);
  t.match(
    warn.stdout,
    new RegExp(
      `WARNING: key server ${serverID} \\(kms-a\\) of key provider ${providerID} \\(provider-1\\): xKeyServerTestFailed`,
    ),
  );

  const skipped = JSON.parse(skippedRun.stdout);
  t.equal(skipped.state, 'ok');
  t.same(
    skipped.keyServers.map((s: { reachable: null }) => s.reachable),
    [null],
  );

  t.equal(failedTest.status, 1);
  t.match(failedTest.stderr, /^x\w+: /);
  oneLine(t, failedTest.stderr);
});

t.test('remove-server, then delete provider and server', async (t) => {
  const remove = await admin('key-providers', 'remove-server', String(serverID));
  t.equal(remove.status, 0, remove.stderr);
  const del = await admin('key-providers', 'delete', String(providerID));
  t.equal(del.status, 0, del.stderr);
  const gone = await admin('key-providers', 'get', String(providerID));
  t.equal(gone.status, 1);
  t.match(gone.stderr, /^xKeyProviderIDDoesNotExist: /);
  const delServer = await admin('key-servers', 'delete', String(serverID), '--json');
  t.equal(delServer.status, 0, delServer.stderr);
  t.same(JSON.parse(delServer.stdout), {});
});
