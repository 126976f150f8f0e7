// Two ekmd nodes on one real etcd prefix, each with its own simulator, drives, hardware EAR,
// boot unlock and API, as two daemons would run them. Node 1 creates the cluster; node 2
// starts outside it and joins through AddNodes (joinNode). With `sear`, the cluster is created
// with software EAR and each node runs its SEAR service as the daemon does (rekeys on the
// master, each node's own DEKs re-wrapped by it). Both share node 1's sealing root: the
// cluster sealing key each node would hold wrapped under its own is not this fixture's
// concern.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcdMembers, type EtcdCluster } from '../../../scripts/etcd/members';
import { startApiServer, type ApiServer } from '../../../src/api';
import { faultMethods } from '../../../src/api/methods/fault-methods';
import { NodeScope } from '../../../src/cluster/drives/node-scope';
import { FaultService } from '../../../src/cluster/faults';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import { pendingNodeKey, type NodeIdentity } from '../../../src/cluster/nodes/node-records';
import { openSear, type Sear } from '../../../src/daemon/sear-wiring';
import { openHardwareEar, type HardwareEar } from '../../../src/daemon/hardware-ear-wiring';
import { OpalDrive } from '../../../src/opal/drive';
import { SimTransport } from '../../../src/opal/sim-socket/transport';
import { SimServer } from '../../../src/sim/server';
import { Simulator } from '../../../src/sim/simulator';
import { openSealer, type Json, type Sealer, type Store } from '../../../src/store';
import { openEtcdStore } from '../../../src/store/etcd';
import { API_CERT_FILE } from '../../../src/store/state-files';
import { ElementClient } from '../../api/element-client';
import { tempDir } from '../../store/tmpdir';
import { ADMIN } from '../hardware-ear/ear-node';
import { until } from '../../helpers/until';
export { until };

export interface ClusterNode {
  name: string;
  dir: string;
  sim: Simulator;
  identity: NodeIdentity;
  scope: NodeScope;
  store: Store;
  sealer: Sealer;
  faults: FaultService;
  hw: HardwareEar;
  api: ApiServer;
  client: ElementClient;
  /** With `sear`: its SEAR service while it runs (stopSear, startSear: as its daemon would). */
  sear?: Sear;
  stopSear(): Promise<void>;
  startSear(): Promise<void>;
  /** The serials of its simulator's drives. */
  serials(): string[];
  /** Reads the inventory again (as a restart of the drive service would). */
  resync(): Promise<void>;
  /** Its simulator's drive `index`, spoken to as the node's own transport would. */
  opal(index: number): OpalDrive;
}

export interface TwoNodes {
  etcd: EtcdCluster;
  prefix: string;
  /** Node 1 (created the cluster) and the node started outside it. */
  a: ClusterNode;
  b: ClusterNode;
}

/** Starts etcd and both nodes; everything is stopped when `t` ends, in reverse order. */
export async function startTwoNodes(
  t: { teardown(fn: () => unknown): void },
  drives: { a: number; b: number },
  options: { sear?: boolean } = {},
): Promise<TwoNodes> {
  const stops: (() => Promise<unknown>)[] = [];
  t.teardown(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });
  const etcd = await startEtcdMembers({ members: 1 });
  stops.push(() => etcd.stop());
  const prefix = `/two-nodes/${process.pid}/`;
  const sealerDir = tempDir(t);
  const start = async (name: string, count: number): Promise<ClusterNode> => {
    const dir = tempDir(t);
    const socket = join(dir, 'sim.sock');
    const sim = new Simulator({ stateDir: join(dir, 'sim'), drives: count, sizeMiB: 1 });
    const simServer = new SimServer(sim, socket);
    await simServer.listen();
    const transport = new SimTransport(socket);
    stops.push(async () => {
      await transport.end();
      await simServer.close();
      sim.close();
    });
    const store = await openEtcdStore({ endpoints: etcd.endpoints, prefix }, { create: true });
    stops.push(() => store.close());
    const sealer = openSealer({ stateDir: sealerDir });
    const identity = nodeIdentity(dir, { name, ip: '127.0.0.1' });
    const scope = new NodeScope(identity.uuid);
    const faults = new FaultService(store);
    stops.push(async () => faults.close());
    const config = {
      drives: { backend: 'sim' as const, sim: { socket } },
      kmip: { connectTimeoutMs: 2000, requestTimeoutMs: 5000 },
      stateDir: dir,
    };
    const hw = openHardwareEar(config, { store, sealer, faults, scope });
    stops.push(() => hw.close());
    const searOf = () =>
      openSear(config, {
        store,
        sealer,
        faults,
        scope,
        inventory: hw.drives.inventory,
        rekeyOnMaster: true,
      });
    let sear = options.sear ? await searOf() : undefined;
    let stopMasterJob: (() => Promise<void>) | undefined;
    stops.push(() => node.stopSear());
    const api = await startApiServer({
      store,
      sealer,
      listen: { host: '127.0.0.1', port: 0 },
      stateDir: dir,
      node: identity,
      bootstrapAdmin: ADMIN,
      tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
      nodeName: name,
      methods: sear
        ? [...sear.decorate(hw.methods), ...sear.methods, ...faultMethods(faults)]
        : [...hw.methods, ...faultMethods(faults)],
      encryptionStates: hw.encryptionStates,
    });
    stops.push(() => api.close());
    await hw.start();
    const ca = readFileSync(join(dir, API_CERT_FILE), 'utf8');
    const client = new ElementClient(api.address.port, ca, ADMIN.username, ADMIN.password);
    stops.push(async () => client.close());
    const node: ClusterNode = {
      name,
      dir,
      sim,
      identity,
      scope,
      store,
      sealer,
      faults,
      hw,
      api,
      client,
      serials: () => sim.drives.map((d) => d.rec.serial),
      resync: () => hw.drives.start(),
      opal: (index) => new OpalDrive(transport, `sim:${index}`),
      get sear() {
        return sear;
      },
      async stopSear() {
        await stopMasterJob?.();
        stopMasterJob = undefined;
        await sear?.close();
        sear = undefined;
      },
      async startSear() {
        sear ??= await searOf();
        stopMasterJob ??= api.services.nodes.whileMaster(sear.masterJob);
        sear.start();
      },
    };
    if (sear) await node.startSear();
    return node;
  };
  const a = await start('node-a', drives.a);
  await a.client.ok('CreateCluster', {
    acceptEula: true,
    mvip: '127.0.0.1',
    svip: '127.0.0.1',
    nodes: ['127.0.0.1'],
    username: ADMIN.username,
    password: ADMIN.password,
    ...(options.sear ? { enableSoftwareEncryptionAtRest: true } : {}),
  });
  const b = await start('node-b', drives.b);
  return { etcd, prefix, a, b };
}

/**
 * Node `b` registers as pending and is added through `a`'s API; with `drives`, until it has
 * recorded that many drives.
 */
export async function joinCluster(a: ClusterNode, b: ClusterNode, drives?: number): Promise<void> {
  const lease = await b.store.grantLease(10);
  await lease.put(pendingNodeKey(b.identity.uuid), {
    ...b.identity,
    pendingNodeID: 1,
  } as unknown as Json);
  await until('node 2 pending', () => a.store.list('nodes/pending/').length === 1);
  await a.client.ok('AddNodes', { pendingNodes: [1] });
  await lease.revoke();
  if (drives === undefined) return;
  await until('node 2 records its drives', () => b.hw.drives.records().length === drives);
}
