// No secret leaves ekmd: a full scenario with real processes (ekmd at debug level,
// ekmd-sim, the dev key server) — cluster, key pair, CSR, key server and provider, EAR
// enabled, power cycle while running, break-glass unlock and a recovery report while
// ekmd is down, restart and boot unlock, SecureEraseDrives,
// DisableEncryptionAtRest — then every byte sequence of every secret seen on the way (AKs
// = drive PINs from the key server's objects, the sealed internal keys and the cluster's
// private key unsealed from the store, the sealing root, the admin password, the
// simulator's internal key) is looked for, as hex, upper-case hex, base64 and base64url,
// in all of ekmd's log output, every API response and every plaintext file of the state
// directory, and as raw bytes in the SQLite files (where secrets are only ever sealed) or,
// on etcd (test/etcd/secret-leak.test.ts), in a snapshot of etcd's whole backend, history
// included: a store snapshot alone yields no secret.
import t from 'tap';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterKeyPair } from '../../src/cluster/key-pair';
import { KEY_REFERENCE_PREFIX } from '../../src/cluster/key-references';
import { sealLabel } from '../../src/cluster/drive-keys/drive-keys';
import { openSealer } from '../../src/store';
import { ClusterKeySealer, CskKeyring } from '../../src/store/cluster-seal';
import { openTestStore, testEtcd } from '../helpers/test-store';
import { bin } from '../helpers/paths';
import {
  ADMIN,
  enableEar,
  runBin,
  simDrives,
  startNode,
  until,
  waitEar,
  type Node,
} from './fixtures/node-scenario';

/** etcd's whole backend (every key of every prefix, with its kept history), as a member sends it. */
async function etcdSnapshot(endpoints: string[]): Promise<Buffer> {
  const { Etcd3 } = require('etcd3') as typeof import('etcd3');
  const client = new Etcd3({ hosts: endpoints });
  try {
    const stream = await client.maintenance.snapshot();
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (r) => chunks.push(Buffer.from(r.blob)));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return Buffer.concat(chunks);
  } finally {
    client.close();
  }
}

interface Secret {
  what: string;
  bytes: Buffer;
}

/** The text forms a secret could take in a log line, a JSON reply or a file. */
function encodings(b: Buffer): string[] {
  const hex = b.toString('hex');
  return [hex, hex.toUpperCase(), b.toString('base64'), b.toString('base64url')];
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    const s = statSync(p);
    return s.isDirectory() ? walk(p) : s.isFile() ? [p] : [];
  });
}

function keyServerObjects(
  node: Node,
): { uid: string; material?: string; attributes: { names?: string[] } }[] {
  return JSON.parse(readFileSync(join(node.kmipState, 'objects.json'), 'utf8')).objects;
}

/** Every AK the dev key server holds now (destroyed objects have lost theirs). */
function keyServerAks(node: Node): Secret[] {
  return keyServerObjects(node)
    .filter((o) => o.material)
    .map((o) => ({
      what: `AK ${o.uid} at the key server`,
      bytes: Buffer.from(o.material!, 'hex'),
    }));
}

function search(
  secrets: Secret[],
  texts: [string, string][],
  binaries: [string, Buffer][],
): string[] {
  const found: string[] = [];
  for (const s of secrets) {
    const forms = encodings(s.bytes);
    for (const [where, text] of texts)
      if (forms.some((f) => text.includes(f))) found.push(`${s.what} in ${where}`);
    for (const [where, bytes] of binaries)
      if (bytes.includes(s.bytes)) found.push(`${s.what} as raw bytes in ${where}`);
  }
  return found;
}

async function asyncDone(node: Node, asyncHandle: number): Promise<Record<string, any>> {
  let r: Record<string, any> = {};
  await until(async () => {
    r = await node.call('GetAsyncResult', { asyncHandle });
    return r.status === 'complete';
  }, `async result ${asyncHandle}`);
  return r;
}

t.test('a full scenario leaks no secret into logs, replies or files', async (t) => {
  const node = await startNode(t, { drives: 3, logLevel: 'debug' });
  t.teardown(() => node.stop());
  const secrets = new Map<string, Secret>();
  const keep = (list: Secret[]) => {
    for (const s of list) {
      const seen = secrets.get(s.bytes.toString('hex'));
      // The same bytes can be two things: an AK stays a drive's PIN, sealed, after disable.
      if (seen && !seen.what.split(' = ').includes(s.what)) seen.what += ` = ${s.what}`;
      else if (!seen) secrets.set(s.bytes.toString('hex'), s);
    }
  };

  const { keyProviderID } = await enableEar(node);
  keep(keyServerAks(node));
  for (const m of [
    'GetClusterInfo',
    'ListDrives',
    'ListKeyServersKmip',
    'ListKeyProvidersKmip',
    'GetEncryptionAtRestInfo',
    'ListClusterFaults',
    'ListAsyncResults',
    'GetClientCertificateSignRequest',
  ])
    await node.call(m);
  await node.call('TestKeyProviderKmip', { keyProviderID });

  // Power cycle while ekmd runs: the relock is seen and the drives unlocked again.
  await node.sim('power-cycle');
  await until(async () => (await simDrives(node)).every((d) => !d.locked), 'unlock after relock');

  // A node boot: ekmd stopped, power cycle, ekmd started → boot unlock.
  await node.stopEkmd();
  await node.sim('power-cycle');
  t.ok(
    (await simDrives(node)).every((d) => d.locked),
    'locked after the power cycle',
  );
  // While ekmd is down, the operator tools: break-glass unlock of drive 0 with its AK
  // from the key server, and a recovery report.
  const kmipTls = ['--kmip-host', '127.0.0.1', '--kmip-port', String(node.kmipPort)];
  const d0 = (await simDrives(node))[0]!;
  const uid0 = keyServerObjects(node).find((o) =>
    (o.attributes.names ?? []).some((n) => n.includes(` serial=${d0.serial} `)),
  )!.uid;
  const cli: string[] = [];
  for (const args of [
    ['opal', 'unlock', '--sim', node.simSocket, '--drive', '0', '--kmip-uid', uid0],
    ['recover', 'drives', '--sim', node.simSocket, '--json'],
  ]) {
    const r = await runBin([bin.ekmctl, ...args, ...kmipTls, ...node.kmipFlags()]);
    t.equal(r.code, 0, `ekmctl ${args.slice(0, 2).join(' ')}: ${r.stderr}`);
    cli.push(r.stdout, r.stderr);
  }
  t.notOk((await simDrives(node))[0]!.locked, 'break-glass unlocked drive 0');
  await node.startEkmd();
  await until(async () => (await simDrives(node)).every((d) => !d.locked), 'boot unlock');
  t.pass('boot unlock unlocked every drive');

  // SecureEraseDrives of one drive: its AK destroyed at the key server.
  const drives = (await node.call('ListDrives')).drives as { driveID: number }[];
  const erase = await node.call('SecureEraseDrives', { drives: [drives[0]!.driveID] });
  const erased = await asyncDone(node, erase.asyncHandle as number);
  t.notOk(erased.error, `secure erase: ${JSON.stringify(erased.error ?? null)}`);
  keep(keyServerAks(node));
  await node.call('ListDrives');

  await node.call('DisableEncryptionAtRest');
  await waitEar(node, 'disabled');
  await node.call('ListDrives');
  await node.call('ListClusterFaults');
  await node.stopEkmd();

  // What the store holds sealed: internal keys (drive PINs after disable) and the key pair.
  const stateDir = node.work.stateDir;
  const store = await openTestStore(stateDir);
  // On etcd the store's blobs are sealed under the cluster sealing key, whose generations
  // the node keeps sealed under seal.key: each is a secret to look for too.
  const local = openSealer({ stateDir });
  const keyring = CskKeyring.open(stateDir, local);
  const sealer = new ClusterKeySealer(local, keyring);
  if (await testEtcd()) t.ok(keyring.generations().length > 0, 'the node holds a sealing key');
  keep(
    keyring.generations().map((g) => ({
      what: `cluster sealing key generation ${g}`,
      bytes: Buffer.from(keyring.get(g)!),
    })),
  );
  try {
    for (const e of store.list<{ keyID: string; sealedKey?: string | null }>(
      KEY_REFERENCE_PREFIX,
    )) {
      if (!e.value.sealedKey) continue;
      keep([
        {
          what: `internal key ${e.value.keyID}`,
          bytes: sealer.unseal(Buffer.from(e.value.sealedKey, 'base64'), sealLabel(e.value.keyID)),
        },
      ]);
    }
    const pem = new ClusterKeyPair(store, sealer).withPrivateKeyPem((p) => Buffer.from(p));
    const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
    keep([{ what: 'cluster private key (PKCS#8 DER)', bytes: der }]);
    // A PEM spread over lines: each full 48-byte line of its base64 body on its own.
    for (let i = 0; i + 48 <= der.length; i += 48)
      keep([{ what: `cluster private key bytes ${i}..${i + 47}`, bytes: der.subarray(i, i + 48) }]);
    pem.fill(0);
  } finally {
    await store.close();
  }
  keep([
    { what: 'sealing root', bytes: readFileSync(join(stateDir, 'seal.key')) },
    { what: 'admin password', bytes: Buffer.from(ADMIN.password) },
  ]);
  const simKey = join(node.simState, 'runtime.key');
  if (existsSync(simKey))
    keep([{ what: "the simulator's internal key", bytes: readFileSync(simKey) }]);

  const list = [...secrets.values()];
  t.comment(list.map((s) => s.what).join('; '));
  const aks = list.filter((s) => /(^| = )AK /.test(s.what));
  t.ok(aks.length >= 3, `one AK per drive gathered from the key server (${aks.length})`);
  t.ok(
    list.some((s) => /(^| = )internal key /.test(s.what)),
    'internal keys gathered from the store',
  );
  t.ok(
    list.some((s) => s.what.startsWith('cluster private key')),
    'private key gathered',
  );

  // Where to look.
  const logs = node.ekmdOutput();
  t.match(logs, /"level":20/, 'debug lines were written');
  t.match(logs, /"msg":"kmip batch"/, 'KMIP traffic was logged at debug');
  const texts: [string, string][] = [
    ['ekmd log output', logs],
    ['API responses', node.responses.join('\n')],
    ['ekmctl output', cli.join('\n')],
  ];
  const binaries: [string, Buffer][] = [];
  for (const file of walk(stateDir)) {
    const name = file.slice(stateDir.length + 1);
    if (name === 'seal.key') continue; // the sealing root itself, by design
    const bytes = readFileSync(file);
    binaries.push([name, bytes]);
    if (!/^ekmd\.db(-wal|-shm)?$/.test(name)) texts.push([name, bytes.toString('latin1')]);
  }
  const etcd = await testEtcd();
  if (etcd) binaries.push(['etcd snapshot', await etcdSnapshot(etcd.endpoints)]);
  t.ok(
    binaries.some(([n]) => n === (etcd ? 'etcd snapshot' : 'ekmd.db')),
    'the store is searched',
  );

  // The search itself finds a planted leak in each form.
  const ak = aks[0]!;
  for (const form of encodings(ak.bytes))
    t.same(
      search([ak], [['planted', `{"level":30,"msg":"x","v":"${form}"}`]], []),
      [`${ak.what} in planted`],
      'a planted encoding is found',
    );
  t.same(search([ak], [], [['planted', Buffer.concat([Buffer.from('x'), ak.bytes])]]), [
    `${ak.what} as raw bytes in planted`,
  ]);

  t.same(
    search(list, texts, binaries),
    [],
    `none of ${list.length} secrets found in ${texts.length} texts and ${binaries.length} files`,
  );
});
