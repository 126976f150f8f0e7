// Nodes holding shares of the drive-access key on one store, each serving its share over
// mutual TLS (a real ShareServer on loopback) and recorded as an active node with its
// sealing key and link certificate, as AddNodes would record it. A node that exists
// already (the one a test runs its drives on) keeps its record, completed with both.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { nodeLinkIdentity } from '../../../src/cluster/node-link/link-identity';
import { ShareServer } from '../../../src/cluster/node-link/share-server';
import {
  activeNodeKey,
  counters,
  NODE_COUNTERS_KEY,
  type NodeRecord,
} from '../../../src/cluster/nodes/node-records';
import type { DakAccess } from '../../../src/cluster/split-key/dak-access';
import { reconstructDak } from '../../../src/cluster/split-key/reconstruct';
import { shareSource, type ShareHolder } from '../../../src/cluster/split-key/split-key';
import { nodeSealingKey } from '../../../src/store/node-sealing-key';
import { openSealer, type Sealer, type Store } from '../../../src/store';

/** An active node's record on 127.0.0.1, as AddNodes would write it (no link yet). */
export function testNodeRecord(nodeID: number): NodeRecord {
  return {
    nodeID,
    uuid: `uuid-${nodeID}`,
    name: `node${nodeID}`,
    mip: '127.0.0.1',
    cip: '127.0.0.1',
    sip: '127.0.0.1',
    softwareVersion: 'test',
    platform: { nodeType: 'ekmd', chassisType: 'ekmd', cpuModel: 'test', nodeMemoryGB: 1 },
    addedAt: new Date().toISOString(),
  };
}

export interface ShareNode {
  nodeID: number;
  holder: ShareHolder;
  linkIdentity: () => ReturnType<typeof nodeLinkIdentity>;
  /** What the node's hardware EAR and boot unlock are given. */
  access: DakAccess;
  /** Starts its share server (again) on its recorded port; running already: nothing. */
  up(): Promise<void>;
  down(): Promise<void>;
  dak(): Promise<Buffer>;
  /** How many share requests its server has answered with its share. */
  served(): number;
}

/**
 * Node `nodeID` in `dir` (made when missing; its seal.key there unless `local` is given),
 * serving until `t` ends.
 */
export async function startShareNode(
  t: { teardown(fn: () => unknown): void },
  store: Store,
  opts: { nodeID: number; dir: string; clusterUuid: string; local?: Sealer },
): Promise<ShareNode> {
  const { nodeID, dir } = opts;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const local = opts.local ?? openSealer({ stateDir: dir });
  const sealingKey = nodeSealingKey(dir, local);
  const holder: ShareHolder = { nodeID, sealingKey, clusterUuid: opts.clusterUuid };
  const linkIdentity = () => nodeLinkIdentity(dir, local, `node${nodeID}`);
  const certificate = (await linkIdentity()).cert;
  let server: ShareServer | undefined;
  let port = 0;
  let served = 0;
  const source = shareSource(store, holder);
  const access: DakAccess = { holder: () => holder, linkIdentity, timeoutMs: 3000 };
  const node: ShareNode = {
    nodeID,
    holder,
    linkIdentity,
    access,
    async up() {
      if (server) return;
      server = new ShareServer({
        store,
        identity: await linkIdentity(),
        shares: (requester, generation) => {
          const share = source(requester, generation);
          if (share) served++;
          return share;
        },
      });
      port = await server.listen('127.0.0.1', port);
    },
    async down() {
      await server?.close();
      server = undefined;
    },
    dak: () => reconstructDak({ store, holder, linkIdentity, timeoutMs: 3000 }),
    served: () => served,
  };
  t.teardown(() => node.down());
  await node.up();
  await store.transaction((tx) => {
    const existing = tx.get<NodeRecord>(activeNodeKey(nodeID))?.value;
    const record: NodeRecord = {
      ...(existing ?? testNodeRecord(nodeID)),
      mip: '127.0.0.1',
      sealingKey: sealingKey.publicKey,
      link: { port, certificate },
    };
    tx.put(activeNodeKey(nodeID), record as never);
    // Its nodeID is taken, as AddNodes would have taken it.
    const c = counters(tx);
    tx.put(NODE_COUNTERS_KEY, { ...c, nextNodeID: Math.max(c.nextNodeID, nodeID + 1) } as never);
  });
  return node;
}

/** `count` share nodes (1..count) in `root`, on `store`. */
export async function startShareNodes(
  t: { teardown(fn: () => unknown): void },
  store: Store,
  root: string,
  count: number,
  clusterUuid: string,
): Promise<ShareNode[]> {
  const nodes: ShareNode[] = [];
  for (let nodeID = 1; nodeID <= count; nodeID++) {
    nodes.push(
      await startShareNode(t, store, { nodeID, dir: join(root, `node${nodeID}`), clusterUuid }),
    );
  }
  return nodes;
}
