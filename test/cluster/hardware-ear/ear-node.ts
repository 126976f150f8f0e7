// A node for drive and hardware-EAR tests: the real simulator served on its Unix socket,
// a real SQLite store and sealing root, the API server with the drive, EAR and async
// methods, and an SDK-like client. restart() reopens everything from disk, as a new
// daemon process would (the drives keep their state).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../../../src/api';
import { API_CERT_FILE } from '../../../src/store/state-files';
import { faultMethods } from '../../../src/api/methods/fault-methods';
import { withoutAudit } from '../../../src/cluster/audit';
import type { DakAccess } from '../../../src/cluster/split-key/dak-access';
import { FaultService } from '../../../src/cluster/faults';
import type { KeyServerTester } from '../../../src/cluster/key-servers/key-server-tester';
import { openHardwareEar, type HardwareEar } from '../../../src/daemon/hardware-ear-wiring';
import { OpalDrive } from '../../../src/opal/drive';
import { SimServer } from '../../../src/sim/server';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import { Simulator } from '../../../src/sim/simulator';
import { openSealer, type Sealer, type Store } from '../../../src/store';
import { sealLabel, type DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { openTestStore } from '../../helpers/test-store';
import { ElementClient } from '../../api/element-client';

export const ADMIN = { username: 'admin', password: 'admin-secret-1' };

export interface EarNode {
  dir: string;
  socket: string;
  sim: Simulator;
  store: Store;
  sealer: Sealer;
  api: ApiServer;
  hw: HardwareEar;
  /** With `faults: true`: the cluster faults, also served as ListClusterFaults. */
  faults?: FaultService;
  client: ElementClient;
  /** A drive operated directly, as an operator's tool would (through the same socket). */
  opal(index: number): OpalDrive;
  snapshot(): string;
  /** Waits for background drive and EAR work. */
  settle(): Promise<void>;
  restart(): Promise<void>;
  /** Opens the store, services and API (after close(), e.g. once a child process is done). */
  open(): Promise<void>;
  /** Closes them, leaving the simulator running, so another process can use the state. */
  close(): Promise<void>;
}

const noContact: KeyServerTester = {
  test: async () => ({ ok: false, failedStep: 'connect', message: 'not used in this test' }),
};

export interface EarNodeOptions {
  drives?: number;
  tester?: KeyServerTester;
  faults?: boolean;
  /** Its hardware EAR's way to the drive-access key (read at each open, from the node). */
  dak?: (node: EarNode) => DakAccess | undefined;
}

export async function startEarNode(
  t: { teardown(fn: () => unknown): void },
  options: EarNodeOptions = {},
): Promise<EarNode> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-ear-'));
  const socket = join(dir, 'sim.sock');
  const sim = new Simulator({
    stateDir: join(dir, 'sim'),
    drives: options.drives ?? 4,
    sizeMiB: 1,
  });
  const simServer = new SimServer(sim, socket);
  await simServer.listen();
  const transport = new SimTransport(socket);
  const node = { dir, socket, sim } as EarNode;
  let opened = false;
  node.open = async () => {
    node.store = await openTestStore(dir);
    node.sealer = openSealer({ stateDir: dir });
    const faults = options.faults ? new FaultService(node.store) : undefined;
    if (faults) node.faults = faults;
    const dak = options.dak?.(node);
    node.hw = openHardwareEar(
      {
        drives: { backend: 'sim', sim: { socket } },
        kmip: { connectTimeoutMs: 2000, requestTimeoutMs: 10000 },
      },
      {
        store: node.store,
        sealer: node.sealer,
        ...(faults ? { faults } : {}),
        ...(dak ? { dak } : {}),
      },
    );
    node.api = await startApiServer({
      store: node.store,
      sealer: node.sealer,
      listen: { host: '127.0.0.1', port: 0 },
      stateDir: dir,
      bootstrapAdmin: ADMIN,
      tester: options.tester ?? noContact,
      nodeName: 'node-1',
      methods: [...node.hw.methods, ...(faults ? faultMethods(faults) : [])],
      encryptionStates: node.hw.encryptionStates,
    });
    await node.hw.start();
    const ca = readFileSync(join(dir, API_CERT_FILE), 'utf8');
    node.client?.close();
    node.client = new ElementClient(node.api.address.port, ca, ADMIN.username, ADMIN.password);
    opened = true;
  };
  const close = async () => {
    if (!opened) return;
    opened = false;
    node.client.close();
    await node.api.close();
    await node.hw.close();
    node.faults?.close();
    await node.store.close();
  };
  node.opal = (index) => new OpalDrive(transport, `sim:${index}`);
  // The audit log records refused calls too: it is not part of the state compared.
  node.snapshot = () => JSON.stringify(withoutAudit(node.store.list('')));
  node.settle = async () => {
    await node.hw.drives.idle();
    await node.hw.ear.idle();
  };
  node.close = close;
  node.restart = async () => {
    await close();
    await node.open();
  };
  t.teardown(async () => {
    await close();
    await transport.end();
    await simServer.close();
    sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await node.open();
  return node;
}

/** CreateCluster with the test admin (the bootstrap credentials become the cluster's). */
export async function createCluster(node: EarNode): Promise<void> {
  await node.client.ok('CreateCluster', {
    acceptEula: true,
    mvip: '127.0.0.1',
    svip: '127.0.0.1',
    nodes: ['127.0.0.1'],
    username: ADMIN.username,
    password: ADMIN.password,
  });
}

/** Polls GetClusterInfo until encryptionAtRestState is `state`. */
export async function waitForEarState(node: EarNode, state: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { clusterInfo } = await node.client.ok('GetClusterInfo');
    if (clusterInfo.encryptionAtRestState === state) return;
    if (Date.now() > deadline)
      throw new Error(`encryptionAtRestState stayed ${clusterInfo.encryptionAtRestState}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The AK of an internal key record (sealed under the node's sealer alone), as ekmd opens it. */
export function sealedAk(node: EarNode, keyID: string): Buffer {
  const rec = node.store.get<DriveKeyRecord>(`keys/${keyID}`)!.value;
  return node.sealer.unseal(Buffer.from(rec.sealedKey!, 'base64'), sealLabel(keyID));
}
