// The cluster sealing key across nodes on a real etcd: each node receives it wrapped to the
// key it published while pending, so the key pair made through node 1 serves node 2's CSR
// and node 3's key server test; neither the key nor a private key is ever in the store.
// RemoveNodes deletes the removed node's grant and rotates the key: with a copy of the
// removed node's files and the store, nothing written after the removal unseals, while the
// nodes that remain unseal everything.
import t, { type Test } from 'tap';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcd } from '../../../scripts/etcd/members';
import { makeDevPki, signClientCsr } from '../../../scripts/pki/dev-pki';
import { ClusterService } from '../../../src/cluster/cluster-info';
import { ClusterKeyPair, KEY_PAIR_KEY, type KeyPairRecord } from '../../../src/cluster/key-pair';
import type { KeyServerTester } from '../../../src/cluster/key-servers/key-server-tester';
import { KeyProviderService } from '../../../src/cluster/key-servers/key-providers';
import { KeyServerService } from '../../../src/cluster/key-servers/key-servers';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import { ClusterSealing } from '../../../src/cluster/sealing/cluster-sealing';
import { openSealer, type Json, type Store } from '../../../src/store';
import { blobGeneration, ClusterKeySealer, CskKeyring } from '../../../src/store/cluster-seal';
import { nodeSealingKey, unwrapForNode } from '../../../src/store/node-sealing-key';
import { tempDir } from '../../store/tmpdir';
import { client, etcdBackend, type Location } from '../../store/contract/backends';
import { until } from '../../helpers/until';

const TTL = 2;

/** Passes when the key it is handed is the private key of the client certificate. */
const matchingKeyTester: KeyServerTester = {
  test: async ({ clientCertificate, clientKey }) => {
    const cert = new X509Certificate(clientCertificate);
    const mine = createPublicKey(createPrivateKey(clientKey)).export({
      format: 'pem',
      type: 'spki',
    });
    const theirs = cert.publicKey.export({ format: 'pem', type: 'spki' });
    return mine === theirs
      ? { ok: true, kmipVersion: '1.4' }
      : { ok: false, failedStep: 'auth', message: 'not the certificate key' };
  },
};

async function startNode(t: Test, location: Location, n: number, dir = tempDir(t)) {
  const store = await client(t, location);
  const local = openSealer({ stateDir: dir });
  const sealing = new ClusterSealing(store, local, dir);
  const self = {
    ...nodeIdentity(dir, { name: `node-${n}`, ip: `10.0.0.${n}` }),
    sealingKey: sealing.publicKey,
  };
  const nodes = new NodeService(store, self, { leaseTtlSeconds: TTL, stateDir: dir, sealing });
  t.teardown(() => nodes.close());
  await nodes.start();
  const keyPair = new ClusterKeyPair(store, sealing.sealer);
  const keyServers = new KeyServerService(store, keyPair, matchingKeyTester);
  return {
    dir,
    store,
    local,
    sealing,
    nodes,
    keyPair,
    keyServers,
    keyProviders: new KeyProviderService(store, keyServers),
    cluster: new ClusterService(store, { nodes }),
  };
}

/** Every key and value under the store's prefix, as a full range read returns them. */
function dump(store: Store): string {
  return store
    .list('')
    .map((e) => `${e.key}=${JSON.stringify(e.value)}`)
    .join('\n');
}

const forms = (b: Buffer) => [b.toString('hex'), b.toString('base64'), b.toString('base64url')];

const CREATE = (nodes: string[]) => ({
  acceptEula: true,
  mvip: '10.0.0.100',
  svip: '10.0.1.100',
  nodes,
  username: 'admin',
  password: 'a long enough password',
});

void (async () => {
  const etcd = await startEtcd(t);
  const backend = etcdBackend(etcd.endpoints);
  const pki = tempDir(t);
  await makeDevPki(pki);

  t.test('one key pair, CSR, key server and provider across nodes; rotation', async (t) => {
    const location = backend.fresh(t);
    const n1 = await startNode(t, location, 1);
    const n2 = await startNode(t, location, 2);
    const n3 = await startNode(t, location, 3);
    await until('three pending', () => n1.nodes.pending().length === 3);
    await n1.cluster.create(CREATE(['10.0.0.1', '10.0.0.2', '10.0.0.3']));
    t.same(n1.sealing.generations(), [1], 'node 1 holds the first generation at once');
    for (const n of [n2, n3]) {
      await until('grant picked up', () => n.sealing.generations().includes(1));
    }
    t.same(
      n1.store.list('sealing/grants/').map((e) => e.key),
      ['sealing/grants/1', 'sealing/grants/2', 'sealing/grants/3'],
    );
    t.match(n2.nodes.active(), [{ nodeID: 1 }, { nodeID: 2 }, { nodeID: 3 }]);

    // The key pair made through node 1; the CSR through node 2, signed; the key server
    // through node 3 (its test gets the private key unsealed on node 3), the provider
    // through node 1 and the server added to it through node 2.
    await n1.keyPair.create({ commonName: 'cluster', country: 'US' });
    await until('node 2 sees the key pair', () => n2.store.get(KEY_PAIR_KEY) !== undefined);
    const sealedPair = n1.store.get<KeyPairRecord>(KEY_PAIR_KEY)!.value.sealedPrivateKey;
    t.equal(blobGeneration(Buffer.from(sealedPair, 'base64')), 1, 'sealed under the CSK');
    const pem1 = n1.keyPair.withPrivateKeyPem((p) => Buffer.from(p));
    t.same(
      n2.keyPair.withPrivateKeyPem((p) => Buffer.from(p)),
      pem1,
      'node 2 unseals it',
    );
    const cert = signClientCsr(pki, n2.keyPair.certificateSignRequest());
    await until('node 3 sees the key pair', () => n3.store.get(KEY_PAIR_KEY) !== undefined);
    const server = await n3.keyServers.create({
      kmipKeyServerName: 'ks',
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipCaCertificate: readFileSync(join(pki, 'ca.pem'), 'utf8'),
      kmipClientCertificate: cert,
    });
    await n3.keyServers.test(server.keyServerID);
    const provider = await n1.keyProviders.create('provider');
    await until('node 2 sees the server and provider', () =>
      n2.store.list('').some((e) => JSON.stringify(e.value).includes('"keyProviderName"')),
    );
    await n2.keyProviders.addServer(provider.keyProviderID as number, server.keyServerID);
    t.pass('key server tested on node 3 and added to node 1s provider through node 2');

    // No CSK and no private key in the store.
    const csk1 = CskKeyring.open(n1.dir, n1.local).get(1)!;
    const der = createPrivateKey(pem1).export({ format: 'der', type: 'pkcs8' });
    const snapshot = dump(n1.store);
    t.notOk(
      forms(csk1).some((f) => snapshot.includes(f)),
      'the cluster sealing key is not in the store',
    );
    t.notOk(snapshot.includes('PRIVATE KEY'), 'no PEM private key in the store');
    t.notOk(
      forms(der.subarray(-48)).some((f) => snapshot.includes(f)),
      'no private key bytes in the store',
    );
    pem1.fill(0);

    // Node 2's files, as someone who keeps a copy of them would have them.
    const copy = tempDir(t);
    cpSync(n2.dir, copy, { recursive: true });

    // Node 2 is removed (through node 3): its grant is gone and the key moves on.
    await n3.nodes.remove([2]);
    t.equal(n3.store.get('sealing/grants/2'), undefined, 'the removed node has no grant');
    t.same(n3.store.get('sealing/state')?.value, { generation: 2 });
    const after = n3.store.get<KeyPairRecord>(KEY_PAIR_KEY)!.value.sealedPrivateKey;
    t.equal(blobGeneration(Buffer.from(after, 'base64')), 2, 'the key pair was sealed again');
    await until('node 1 has generation 2', () => n1.sealing.generations().includes(2));
    await until('node 2 forgot its generations', () => n2.sealing.generations().length === 0);

    // A record written after the removal (a new key pair through node 1: no provider is
    // active yet, since no key uses it).
    await n1.keyPair.create({ commonName: 'after removal' });
    await until(
      'node 3 sees it',
      () => n3.store.get<KeyPairRecord>(KEY_PAIR_KEY)!.value.subject.commonName === 'after removal',
    );
    const written = n1.store.get<KeyPairRecord>(KEY_PAIR_KEY)!.value.sealedPrivateKey;
    const blob = Buffer.from(written, 'base64');
    t.equal(blobGeneration(blob), 2);
    const pem3 = n3.keyPair.withPrivateKeyPem((p) => Buffer.from(p));
    t.same(
      n1.keyPair.withPrivateKeyPem((p) => Buffer.from(p)),
      pem3,
      'node 1 and 3 unseal it',
    );
    pem3.fill(0);

    const stolenLocal = openSealer({ stateDir: copy, create: false });
    const stolen = new ClusterKeySealer(stolenLocal, CskKeyring.open(copy, stolenLocal));
    t.same(CskKeyring.open(copy, stolenLocal).generations(), [1], 'the copy holds generation 1');
    t.throws(
      () => stolen.unseal(blob, 'cluster/keyPair/privateKey'),
      /does not hold cluster sealing key generation 2/,
      "the removed node's files do not unseal what was written after",
    );
    const stolenKey = nodeSealingKey(copy, stolenLocal);
    const uuid = (n1.store.get('cluster/info')!.value as { uuid: string }).uuid;
    for (const e of n1.store.list<{ nodeID: number; generation: number; wrapped: string }>(
      'sealing/grants/',
    )) {
      const { nodeID, generation, wrapped } = e.value;
      for (const asNode of [2, nodeID]) {
        t.throws(
          () =>
            unwrapForNode(
              Buffer.from(wrapped, 'base64'),
              stolenKey,
              `cluster=${uuid}\0node=${asNode}\0generation=${generation}`,
            ),
          /not wrapped to this node/,
          `grant ${e.key} does not open with the removed node's key`,
        );
      }
    }
  });

  t.test('records a rotation left under the old key move at the next start', async (t) => {
    const location = backend.fresh(t);
    const dir1 = tempDir(t);
    const n1 = await startNode(t, location, 1, dir1);
    const n2 = await startNode(t, location, 2);
    await until('two pending', () => n1.nodes.pending().length === 2);
    await n1.cluster.create(CREATE(['10.0.0.1', '10.0.0.2']));
    await n1.keyPair.create({ commonName: 'storage-node-1' });
    const underOne = n1.store.get<KeyPairRecord>(KEY_PAIR_KEY)!.value;
    await n1.nodes.remove([2]);
    await until('node 1 holds generation 2', () => n1.sealing.generations().includes(2));
    // As if a kill -9 had come before the rotation's follow-up commits: the key pair is
    // still sealed under generation 1.
    await n1.store.put(KEY_PAIR_KEY, underOne as unknown as Json);
    await n1.nodes.close();
    await n2.nodes.close();

    const again = await startNode(t, location, 1, dir1);
    await until(
      'the key pair under generation 2',
      () =>
        blobGeneration(
          Buffer.from(
            again.store.get<KeyPairRecord>(KEY_PAIR_KEY)!.value.sealedPrivateKey,
            'base64',
          ),
        ) === 2,
    );
    t.match(
      again.keyPair.withPrivateKeyPem((p) => p.toString()),
      /PRIVATE KEY/,
      'and it still opens',
    );
  });

  t.test('a cluster created before sealing keys gets one from node 1 at start', async (t) => {
    const location = backend.fresh(t);
    const dir = tempDir(t);
    const old = await client(t, location);
    const oldNodes = new NodeService(old, nodeIdentity(dir, { name: 'node-1', ip: '10.0.0.1' }), {
      leaseTtlSeconds: TTL,
    });
    await oldNodes.start();
    await new ClusterService(old, { nodes: oldNodes }).create(CREATE(['10.0.0.1']));
    await new ClusterKeyPair(old, openSealer({ stateDir: dir })).create({ commonName: 'old' });
    const before = old.get<KeyPairRecord>(KEY_PAIR_KEY)!.value.sealedPrivateKey;
    t.equal(Buffer.from(before, 'base64')[0], 0x01, "sealed under node 1's seal.key");
    await oldNodes.close();
    await old.close();

    const n1 = await startNode(t, location, 1, dir);
    t.same(n1.store.get('sealing/state')?.value, { generation: 1 });
    t.same(n1.sealing.generations(), [1]);
    const after = n1.store.get<KeyPairRecord>(KEY_PAIR_KEY)!.value.sealedPrivateKey;
    t.equal(blobGeneration(Buffer.from(after, 'base64')), 1, 'sealed again under the new key');
    t.match(
      n1.keyPair.withPrivateKeyPem((p) => p.toString()),
      /PRIVATE KEY/,
    );
    t.ok(n1.store.get('sealing/grants/1'), 'node 1 granted it to itself');

    // A node added now receives it and unseals the old cluster's key pair.
    const n2 = await startNode(t, location, 2);
    await until('node 2 pending', () => n1.nodes.pending().length === 1);
    await n1.nodes.add([n1.nodes.pending()[0]!.pendingNodeID as number]);
    await until('node 2 holds it', () => n2.sealing.generations().includes(1));
    t.same(
      n2.keyPair.withPrivateKeyPem((p) => Buffer.from(p)),
      n1.keyPair.withPrivateKeyPem((p) => Buffer.from(p)),
    );

    // A node without the key (as one just added, before its grant reached it) cannot
    // rotate it: RemoveNodes through it is refused and changes nothing.
    n2.sealing.forget();
    // What RemoveNodes writes (the store's revision may move meanwhile: the refusal is
    // checked against etcd's current state, and another node may have written by then).
    const written = () =>
      ['nodes/active/', 'sealing/'].flatMap((p) =>
        n2.store.list(p).map((e) => `${e.key}@${e.revision}`),
      );
    const untouched = written();
    const refused = await n2.nodes.remove([1]).then(
      () => undefined,
      (err: { elementName?: string }) => err.elementName,
    );
    t.equal(refused, 'xClusterSealingKeyNotHeld');
    t.same(written(), untouched, 'nothing removed, nothing sealed again');
    t.equal(n1.nodes.active().length, 2);
  });
})();
