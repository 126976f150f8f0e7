// A node's key share crosses to a peer over mutual TLS only: the client must present the
// link certificate recorded for an active node, and takes the answer only from the peer
// whose certificate its record pins.
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { nodeLinkIdentity } from '../../../src/cluster/node-link/link-identity';
import { fetchPeerShare, PeerShareError } from '../../../src/cluster/node-link/share-client';
import { ShareServer } from '../../../src/cluster/node-link/share-server';
import { activeNodeKey, type NodeRecord } from '../../../src/cluster/nodes/node-records';
import type { TlsIdentity } from '../../../src/cluster/self-signed';
import { testNodeRecord } from '../split-key/share-nodes';
import { openSealer, openSqliteStore, type Store } from '../../../src/store';

interface TestNode {
  dir: string;
  identity: () => Promise<TlsIdentity>;
}

async function testNode(root: string, name: string): Promise<TestNode> {
  const dir = join(root, name);
  const sealer = openSealer({ stateDir: mkdirp(dir) });
  // Each call reads the kept identity again: the server zeroes the key it is given.
  const identity = () => nodeLinkIdentity(dir, sealer, name);
  await identity();
  return { dir, identity };
}

function mkdirp(dir: string): string {
  require('node:fs').mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function record(nodeID: number, cert: string, port = 0): NodeRecord {
  return { ...testNodeRecord(nodeID), link: { port, certificate: cert } };
}

async function put(store: Store, r: NodeRecord): Promise<void> {
  await store.transaction((tx) => tx.put(activeNodeKey(r.nodeID), r as never));
}

t.test('mutual TLS between nodes: who gets a share', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ekmd-link-'));
  const store = openSqliteStore(join(root, 'ekmd.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });
  const [one, two, stranger] = await Promise.all(
    ['one', 'two', 'stranger'].map((n) => testNode(root, n)),
  );
  const oneCert = (await one!.identity()).cert;
  const twoCert = (await two!.identity()).cert;

  const served: Array<{ nodeID: number; generation: number; share: Buffer }> = [];
  const server = new ShareServer({
    store,
    identity: await one!.identity(),
    shares: (requester, generation) => {
      if (generation !== 3) return undefined;
      const share = Buffer.from('share of node one');
      served.push({ nodeID: requester.nodeID, generation, share });
      return share;
    },
  });
  const port = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  await put(store, record(1, oneCert, port));
  await put(store, record(2, twoCert));
  const peer = { host: '127.0.0.1', port, certificate: oneCert };

  await t.test('an active node gets the share', async (t) => {
    const share = await fetchPeerShare(peer, await two!.identity(), 3);
    t.equal(share.toString(), 'share of node one');
    t.same(
      served.map((s) => [s.nodeID, s.generation]),
      [[2, 3]],
      'served to node 2',
    );
    t.ok(
      served[0]!.share.every((b) => b === 0),
      'the server zeroed its copy once written',
    );
  });

  await t.test('no share of an unknown generation', async (t) => {
    const err = await fetchPeerShare(peer, await two!.identity(), 4).catch((e: unknown) => e);
    t.type(err, PeerShareError);
    t.match((err as PeerShareError).message, /noKeyShare/);
  });

  await t.test('a certificate the cluster never recorded is refused', async (t) => {
    const before = served.length;
    const err = await fetchPeerShare(peer, await stranger!.identity(), 3).catch((e: unknown) => e);
    t.type(err, PeerShareError);
    t.equal((err as PeerShareError).reason, 'refused');
    t.match((err as PeerShareError).message, /notActiveNode/);
    t.equal(served.length, before, 'nothing served');
  });

  await t.test('a client without a certificate is refused', async (t) => {
    const status = await new Promise<number>((resolve, reject) =>
      get(
        { host: '127.0.0.1', port, path: '/v1/share?generation=3', rejectUnauthorized: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      ).on('error', reject),
    );
    t.equal(status, 403);
  });

  await t.test('a node whose record is gone (removed) is refused', async (t) => {
    await store.transaction((tx) => tx.delete(activeNodeKey(2)));
    const err = await fetchPeerShare(peer, await two!.identity(), 3).catch((e: unknown) => e);
    t.match((err as PeerShareError).message, /notActiveNode/);
    await put(store, record(2, twoCert));
  });

  await t.test(
    'a server presenting another certificate than its pin is not believed',
    async (t) => {
      const impostor = new ShareServer({
        store,
        identity: await stranger!.identity(),
        shares: () => Buffer.from('a forged share'),
      });
      const impostorPort = await impostor.listen('127.0.0.1', 0);
      t.teardown(() => impostor.close());
      // The stranger is made active, so it would serve node 2: the client must still refuse it.
      await put(store, record(3, (await stranger!.identity()).cert, impostorPort));
      const err = await fetchPeerShare(
        { host: '127.0.0.1', port: impostorPort, certificate: oneCert },
        await two!.identity(),
        3,
      ).catch((e: unknown) => e);
      t.type(err, PeerShareError);
      t.equal((err as PeerShareError).reason, 'untrusted');
    },
  );

  await t.test('a share that cannot be had is an error answer, not a crash', async (t) => {
    const failing = new ShareServer({
      store,
      identity: await one!.identity(),
      shares: () => {
        throw new Error('cannot open the share');
      },
    });
    const failingPort = await failing.listen('127.0.0.1', 0);
    t.teardown(() => failing.close());
    const peerOf = { host: '127.0.0.1', port: failingPort, certificate: oneCert };
    for (let i = 0; i < 2; i++) {
      const err = await fetchPeerShare(peerOf, await two!.identity(), 3).catch((e: unknown) => e);
      t.match(err, { reason: 'refused', message: /shareUnavailable/ }, `answer ${i + 1}`);
    }
  });

  await t.test('a peer that is down is a clear error', async (t) => {
    const down = new ShareServer({
      store,
      identity: await one!.identity(),
      shares: () => undefined,
    });
    const downPort = await down.listen('127.0.0.1', 0);
    await down.close();
    const err = await fetchPeerShare(
      { host: '127.0.0.1', port: downPort, certificate: oneCert },
      await two!.identity(),
      3,
    ).catch((e: unknown) => e);
    t.type(err, PeerShareError);
    t.equal((err as PeerShareError).reason, 'unreachable');
    t.match((err as PeerShareError).message, `127.0.0.1:${downPort}`);
  });
});

t.test('the link identity is kept: the same certificate at every call, key sealed', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ekmd-link-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const node = await testNode(root, 'kept');
  const a = await node.identity();
  const b = await node.identity();
  t.equal(a.cert, b.cert);
  t.ok(a.key.equals(b.key));
  const sealedFile = require('node:fs').readFileSync(join(node.dir, 'node-link.key.sealed'));
  t.notOk(sealedFile.includes(Buffer.from('PRIVATE KEY')), 'not in the clear');
});
