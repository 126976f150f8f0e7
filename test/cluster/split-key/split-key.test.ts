// The drive-access key (DAK) split 2-of-3 across three nodes that share one store, each
// serving its share to the others over mutual TLS (real servers on loopback): any two
// nodes put it back together; one node whose peers are down cannot; a store snapshot with
// one node's files recovers no AK; after a removal the removed node's share is useless.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { activeNodeKey, activeNodes } from '../../../src/cluster/nodes/node-records';
import { dakOf, withDakBatch } from '../../../src/cluster/split-key/dak-access';
import { DakSealer } from '../../../src/cluster/split-key/dak-sealer';
import {
  newSplitKeyIn,
  ownShare,
  resplitIn,
  SplitKeyError,
} from '../../../src/cluster/split-key/split-key';
import {
  SHARE_PREFIX,
  splitKeyState,
  type ShareRecord,
} from '../../../src/cluster/split-key/split-key-records';
import { unwrapForNode } from '../../../src/store/node-sealing-key';
import { openSealer, openSqliteStore, type Sealer, type Store } from '../../../src/store';
import { combine } from '../../../src/util/shamir';
import { startShareNodes, type ShareNode } from './share-nodes';

const CLUSTER = '5a1c0de0-0000-4000-8000-000000000001';

async function startNodes(t: { teardown(fn: () => unknown): void }, count: number) {
  const root = mkdtempSync(join(tmpdir(), 'ekmd-split-'));
  const store = openSqliteStore(join(root, 'ekmd.db'));
  // The cluster sealing key every node holds (the outer layer of an AK's blob).
  const clusterSealer = openSealer({ stateDir: root });
  t.teardown(async () => {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });
  const nodes = await startShareNodes(t, store, root, count, CLUSTER);
  return { store, clusterSealer, nodes };
}

/** The DAK made by a split across every active node; returned for the test to compare. */
async function splitAcrossAll(store: Store): Promise<Buffer> {
  return store.transaction((tx) => newSplitKeyIn(tx, activeNodes(tx), CLUSTER));
}

const AK_LABEL = 'keys/test-key/driveAuthenticationKey';

function sealAk(dak: Buffer, clusterSealer: Sealer, ak: Buffer): Buffer {
  return new DakSealer(dak, clusterSealer).seal(ak, AK_LABEL);
}

t.test('any two of three nodes put the key together; one alone cannot', async (t) => {
  const { store, nodes } = await startNodes(t, 3);
  const dak = await splitAcrossAll(store);
  const [one, two, three] = nodes as [ShareNode, ShareNode, ShareNode];

  for (const node of nodes) {
    const got = await node.dak();
    t.ok(got.equals(dak), `node ${node.nodeID} with every peer up`);
    got.fill(0);
  }

  await three.down();
  t.ok((await one.dak()).equals(dak), 'node 1 with node 3 down (from node 2)');
  t.ok((await two.dak()).equals(dak), 'node 2 with node 3 down (from node 1)');

  // Node 1 power cycled while nodes 2 and 3 are down: it has only its own share.
  await two.down();
  const err = await one.dak().catch((e: unknown) => e);
  t.type(err, SplitKeyError);
  t.match((err as Error).message, /node 2: .*ECONNREFUSED/);
  t.match((err as Error).message, /node 3: .*ECONNREFUSED/);
  t.notMatch((err as Error).message, /[0-9a-f]{32}/, 'no key material in the message');

  await two.up();
  t.ok((await one.dak()).equals(dak), 'a peer back: node 1 has it again');
});

t.test('a store snapshot with one node’s files recovers no AK', async (t) => {
  const { store, clusterSealer, nodes } = await startNodes(t, 3);
  const dak = await splitAcrossAll(store);
  const ak = randomBytes(32);
  const sealed = sealAk(dak, clusterSealer, ak);
  t.ok(new DakSealer(dak, clusterSealer).unseal(sealed, AK_LABEL).equals(ak), 'the DAK opens it');

  // The attacker: every record of the store, and node 1's files (its seal.key, sealing key,
  // the cluster sealing key it holds), with every peer offline.
  for (const n of nodes) await n.down();
  const one = nodes[0]!;
  const outer = clusterSealer.unseal(sealed, AK_LABEL);
  t.notOk(outer.includes(ak), 'the cluster sealing key opens only the outer layer');

  const records = store.list<ShareRecord>(SHARE_PREFIX).map((e) => e.value);
  t.equal(records.length, 3, 'three wrapped shares in the snapshot');
  const opened = records.flatMap((r) => {
    for (const nodeID of [1, 2, 3]) {
      try {
        const context = `split-key-share\0cluster=${CLUSTER}\0node=${nodeID}\0generation=${r.generation}`;
        return [unwrapForNode(Buffer.from(r.wrapped, 'base64'), one.holder.sealingKey, context)];
      } catch {
        // not wrapped to node 1
      }
    }
    return [];
  });
  t.equal(opened.length, 1, 'node 1’s sealing key opens its own share only');
  t.throws(() => combine(opened), 'one share cannot be combined');
  // Every guess a single share allows: the share's bytes as the key, the share and the
  // other wrapped records as if they were shares.
  const guesses = [opened[0]!.subarray(0, 32)];
  for (const r of records) {
    const bytes = Buffer.from(r.wrapped, 'base64').subarray(0, 33);
    bytes[32] = opened[0]![32] === 1 ? 2 : 1; // any x but the share's own
    try {
      guesses.push(combine([opened[0]!, bytes]));
    } catch {
      // same x: not a guess
    }
  }
  for (const guess of guesses) {
    t.throws(
      () => new DakSealer(guess, clusterSealer).unseal(sealed, AK_LABEL),
      /wrong drive-access key/,
    );
  }
  await t.rejects(one.dak(), SplitKeyError, 'and asking the offline peers gets nothing');
});

t.test('after a removal the removed node’s share combines with nothing', async (t) => {
  const { store, clusterSealer, nodes } = await startNodes(t, 3);
  const dak = await splitAcrossAll(store);
  const [one, two, three] = nodes as [ShareNode, ShareNode, ShareNode];
  const generation = splitKeyState(store)!.generation;
  const kept = ownShare(store, three.holder, generation)!;

  // RemoveNodes of node 3: its record goes and the same DAK is split again across 1 and 2.
  await store.transaction((tx) => {
    tx.delete(activeNodeKey(3));
    resplitIn(tx, dak, activeNodes(tx), CLUSTER);
  });
  const state = splitKeyState(store)!;
  t.equal(state.generation, generation + 1);
  t.same(state.nodeIDs, [1, 2]);
  t.same(
    store.list(SHARE_PREFIX).map((e) => e.key),
    [`${SHARE_PREFIX}1`, `${SHARE_PREFIX}2`],
    'node 3’s share record deleted',
  );
  t.ok((await one.dak()).equals(dak), 'node 1 and 2 still put it together');
  t.ok((await two.dak()).equals(dak));

  const ak = randomBytes(32);
  const sealed = sealAk(dak, clusterSealer, ak);
  for (const current of [one, two]) {
    const theirs = ownShare(store, current.holder, state.generation)!;
    const mixed = combine([kept, theirs]);
    t.notOk(mixed.equals(dak), `node 3’s old share with node ${current.nodeID}’s new one`);
    t.throws(() => new DakSealer(mixed, clusterSealer).unseal(sealed, AK_LABEL));
  }
  const err = await three.dak().catch((e: unknown) => e);
  t.type(err, SplitKeyError, 'node 3 cannot reconstruct');
  t.match((err as Error).message, /holds no share/);
});

t.test('a split needs two nodes with sealing keys', async (t) => {
  const { store } = await startNodes(t, 1);
  await t.rejects(splitAcrossAll(store), SplitKeyError);
  t.equal(splitKeyState(store), undefined, 'nothing written');
});

t.test('a batch puts the key together once, hands out copies, and ends with it', async (t) => {
  const { store, nodes } = await startNodes(t, 3);
  const dak = await splitAcrossAll(store);
  const [one, two, three] = nodes as [ShareNode, ShareNode, ShareNode];
  const served = () => two.served() + three.served();
  let inBatch: Parameters<typeof dakOf>[1];
  const copies = await withDakBatch(store, one.access, async (batch) => {
    inBatch = batch;
    return Promise.all([dakOf(store, batch), dakOf(store, batch), dakOf(store, batch)]);
  });
  t.equal(served(), 1, 'one peer share for the three uses');
  for (const copy of copies) t.same(copy, dak, 'each use gets the key');
  copies[0]!.fill(0);
  t.same(copies[1], dak, 'each its own copy, zeroed by its user');
  await t.rejects(dakOf(store, inBatch), SplitKeyError, 'refused once the batch is over');

  await withDakBatch(store, one.access, async () => undefined);
  t.equal(served(), 1, 'a batch that needs no key fetches none');

  await two.down();
  await three.down();
  await withDakBatch(store, one.access, async (batch) => {
    await t.rejects(dakOf(store, batch), /node 2: .*ECONNREFUSED/);
    await t.rejects(dakOf(store, batch), /node 2: .*ECONNREFUSED/, 'the failure is kept');
  });
});
