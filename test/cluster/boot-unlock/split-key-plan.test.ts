// The key plan's part for drives whose internal AK is sealed under the split drive-access
// key (three share nodes on one store, each serving its share over mutual TLS on loopback):
// what the plan holds and that no AK, DAK or share is in it in any spelling; that the
// schema reads it, an older (format 2) plan, and refuses a plan with nothing to unlock;
// that the early unlock's keys come from the plan and one node's files with a peer up, and
// that without a peer each drive gets the reason naming every peer.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { dakSealedKeys, stateDirSplitKey } from '../../../src/cluster/boot-unlock/early-dak-keys';
import {
  keyPlanText,
  parseKeyPlan,
  planFromStore,
  type KeyPlan,
} from '../../../src/cluster/boot-unlock/key-plan';
import type { KeyedDrive } from '../../../src/cluster/boot-unlock/round-drives';
import {
  keyCheckValue,
  sealLabel,
  type DriveKeyRecord,
} from '../../../src/cluster/drive-keys/drive-keys';
import type { DriveRecord } from '../../../src/cluster/drives/drive-records';
import { ClusterKeyPair } from '../../../src/cluster/key-pair';
import { activeNodes } from '../../../src/cluster/nodes/node-records';
import { DakSealer } from '../../../src/cluster/split-key/dak-sealer';
import { newSplitKeyIn, ownShare } from '../../../src/cluster/split-key/split-key';
import { KEY_PLAN_SCHEMA, schemaValidator } from '../../../src/daemon/generated-validators';
import { openSealer, openSqliteStore } from '../../../src/store';
import { startShareNodes, type ShareNode } from '../split-key/share-nodes';

const CLUSTER = '5a1c0de0-0000-4000-8000-0000000000aa';
const validate = schemaValidator(KEY_PLAN_SCHEMA).validate;

/** Every spelling a secret could take in a JSON file. */
const spellings = (secret: Buffer): string[] => [
  secret.toString('hex'),
  secret.toString('hex').toUpperCase(),
  secret.toString('base64'),
  secret.toString('base64url'),
  JSON.stringify([...secret]).slice(1, -1),
];

t.test('the plan for drives under the split drive-access key', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ekmd-dakplan-'));
  const store = openSqliteStore(join(root, 'ekmd.db'));
  const clusterSealer = openSealer({ stateDir: root });
  t.teardown(async () => {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });
  const nodes = await startShareNodes(t, store, root, 3, CLUSTER);
  const [, two, three] = nodes as [ShareNode, ShareNode, ShareNode];
  const dak = await store.transaction((tx) => newSplitKeyIn(tx, activeNodes(tx), CLUSTER));

  // Node 1's two drives, their AKs sealed under the DAK inside the cluster sealer.
  const aks = [randomBytes(32), randomBytes(32)];
  const keyed: KeyedDrive[] = aks.map((ak, i) => {
    const keyID = `key-${i + 1}`;
    const serial = `SERIAL-${i + 1}`;
    return {
      drive: { driveID: i + 1, path: `/dev/sd${'ab'[i]}` } as DriveRecord,
      key: {
        keyID,
        keyProviderID: null,
        state: 'live',
        purpose: 'driveAuthentication',
        driveID: i + 1,
        serial,
        kmipUID: null,
        sealedKey: new DakSealer(dak, clusterSealer).seal(ak, sealLabel(keyID)).toString('base64'),
        sealing: 'dak',
        keyCheckValue: keyCheckValue(ak, serial),
        createTime: new Date().toISOString(),
      } as DriveKeyRecord,
    };
  });
  const keyPair = new ClusterKeyPair(store, clusterSealer);
  const plan = planFromStore(store, keyPair, keyed, new Map(), 'boot-1', {
    nodeID: 1,
    clusterUuid: CLUSTER,
  })!;
  const text = keyPlanText(plan);

  t.test('what it holds, and no secret in any spelling', async (t) => {
    t.equal(plan.format, 3);
    t.notOk(plan.sealedPrivateKey, 'no private key: no provider');
    t.same(plan.drives, [], 'no drive at a provider');
    const split = plan.splitKey!;
    t.match(split, { nodeID: 1, clusterUuid: CLUSTER, generation: 1, nodeIDs: [1, 2, 3] });
    t.same(
      split.drives.map((d) => [d.driveID, d.keyID, d.sealedKey]),
      keyed.map(({ key }) => [key.driveID, key.keyID, key.sealedKey]),
      'the sealed AKs as the store holds them',
    );
    t.same(
      split.peers.map((p) => p.nodeID),
      [2, 3],
      'the other holders, with their link endpoints',
    );
    t.same(parseKeyPlan(text, validate), plan, 'the schema reads it back');
    const shares = nodes.map((n) => ownShare(store, n.holder, 1)!);
    const secrets = {
      ak1: aks[0]!,
      ak2: aks[1]!,
      dak,
      share1: shares[0]!,
      share2: shares[1]!,
      share3: shares[2]!,
    };
    for (const [name, secret] of Object.entries(secrets))
      for (const spelled of spellings(secret))
        t.notOk(text.includes(spelled), `${name} is not in the plan (${spelled.slice(0, 8)}…)`);
    for (const s of shares) s.fill(0);
  });

  t.test('older plans still read; a plan with nothing to unlock does not', async (t) => {
    const older = {
      format: 2,
      sealedPrivateKey: 'c2VhbGVk',
      providers: [
        {
          keyProviderID: 1,
          servers: [
            {
              keyServerID: 1,
              kmipKeyServerHostnames: ['127.0.0.1'],
              kmipKeyServerPort: 5696,
              kmipCaCertificate: 'ca',
              kmipClientCertificate: 'cert',
            },
          ],
        },
      ],
      drives: [
        {
          driveID: 1,
          serial: 'S',
          path: '/dev/sda',
          keyID: 'k',
          keyProviderID: 1,
          kmipUID: 'u',
          keyCheckValue: 'a'.repeat(64),
        },
      ],
      guards: [],
    };
    t.ok(parseKeyPlan(JSON.stringify(older), validate), 'a format 2 plan');
    const { splitKey, ...withoutSplit } = plan;
    for (const bad of [
      withoutSplit,
      { ...plan, splitKey: { ...splitKey, drives: [] } },
      { ...plan, splitKey: { ...splitKey, wrappedShare: 'not base64!' } },
      { ...plan, splitKey: { ...splitKey, extra: 1 } },
      { ...older, drives: [], providers: [] },
      { ...older, sealedPrivateKey: undefined },
    ])
      t.equal(parseKeyPlan(JSON.stringify(bad), validate), undefined, 'refused');
  });

  const earlyKeys = (planned: KeyPlan['splitKey']) => {
    const dir = join(root, 'node1');
    const local = openSealer({ stateDir: dir, create: false });
    const split = stateDirSplitKey({
      planned: planned!,
      stateDir: dir,
      local,
      outer: clusterSealer,
    });
    return dakSealedKeys(split, planned!.drives);
  };

  t.test('node 1 opens its AKs from the plan with a peer’s share', async (t) => {
    await two.down();
    const got = await earlyKeys(plan.splitKey);
    t.same(
      [...got.values()].map((ak) => Buffer.isBuffer(ak) && aks.some((a) => a.equals(ak))),
      [true, true],
      'both AKs, node 3 answering',
    );
    for (const ak of got.values()) if (Buffer.isBuffer(ak)) ak.fill(0);
    await two.up();
  });

  t.test('no peer answers: each drive gets the reason naming every peer', async (t) => {
    await Promise.all([two.down(), three.down()]);
    const got = await earlyKeys(plan.splitKey);
    for (const failure of got.values())
      t.match(failure, { reason: /node 2: .*; node 3: /, retry: true });
    await Promise.all([two.up(), three.up()]);
  });

  t.test('a peer whose certificate is not the pinned one is not believed', async (t) => {
    const split = plan.splitKey!;
    const pinnedElsewhere = {
      ...split,
      peers: split.peers.map((p) => ({
        ...p,
        certificate: split.peers[3 - p.nodeID]!.certificate,
      })),
    };
    const got = await earlyKeys(pinnedElsewhere);
    for (const failure of got.values())
      t.match(failure, { reason: /another certificate/, retry: true });
  });

  t.test('a wrong check value: the DAK is not taken', async (t) => {
    const got = await earlyKeys({ ...plan.splitKey!, keyCheckValue: 'b'.repeat(64) });
    for (const failure of got.values()) t.match(failure, { reason: /does not give the key/ });
  });
});
