// The dev cluster (`npm start -- --nodes 3`): three etcd members, the dev key server and per
// node an ekmd-sim (4 drives, power-cycled first: every start is a node boot) and an ekmd,
// each node on its own loopback address 127.0.0.N with its API on the same port. The first
// start waits for nodes 2..N to be pending and creates the cluster through node 1 naming
// them all, then sets up EAR as the single-node start does; later starts are node boots
// (each node rejoins as itself). Each node's unlock line is printed; Ctrl-C stops all.
// State in <state>/cluster-N/ (etcd's data on fixed ports kept there).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimConnection } from '../../src/opal/sim-socket/connection';
import { nodeIp, startProcCluster, type ProcCluster } from '../cluster/harness';
import { shippedEnvironment } from '../reliability/load/unit-env';
import { DevApi } from './api';
import { watchBootUnlock } from './boot-report';
import { followKeyServerPort, setUpCluster } from './cluster-setup';
import { portFree, say, StartError, writeJson, type Layout } from './common';
import { adminCredentials } from './ekmd-config';

/** etcd's client, peer and metrics ports, on each member's own address. */
const ETCD_PORTS: [number, number, number] = [12379, 12380, 12381];
const PENDING_WAIT_MS = 60_000;
const DRIVES_PER_NODE = 4;

export interface ClusterStartOptions {
  nodes: number;
  port: number;
}

/** Where the dev cluster of `nodes` nodes keeps its state. */
export function clusterDir(L: Layout, nodes: number): string {
  return join(L.state, `cluster-${nodes}`);
}

/**
 * Starts it and resolves once every node is up and reported; `stop` rejects when a signal
 * came (then everything started is stopped). The caller runs it until Ctrl-C.
 */
export async function startDevCluster(
  L: Layout,
  opts: ClusterStartOptions,
  interrupted: Promise<never>,
): Promise<ProcCluster> {
  const dir = clusterDir(L, opts.nodes);
  for (let i = 1; i <= opts.nodes; i++) {
    if (!(await portFree(opts.port, nodeIp(i)))) {
      throw new StartError(`${nodeIp(i)}:${opts.port} is busy (another ekmd?); choose --port N`);
    }
  }
  for (const p of ETCD_PORTS) {
    if (!(await portFree(p, nodeIp(1))))
      throw new StartError(`etcd's port ${nodeIp(1)}:${p} is busy (another dev cluster?)`);
  }
  const admin = adminCredentials(L.admin);
  say(`state in ${dir}; admin credentials in ${L.admin}`);
  const kmipPortFile = join(dir, 'kmip-port.json');
  const spawnedAt = new Map<number, number>();
  const unlocks = new Map<number, Promise<number | undefined>>();
  const cluster = await Promise.race([
    startProcCluster({
      dir,
      nodes: opts.nodes,
      admin,
      apiPort: opts.port,
      etcdMembers: opts.nodes >= 3 ? 3 : 1,
      persistent: { etcdPorts: ETCD_PORTS, kmipPort: await rememberedPort(kmipPortFile) },
      drives: () => DRIVES_PER_NODE,
      node: {
        // The environment the systemd unit gives ekmd (its malloc settings), as a node runs it.
        env: shippedEnvironment(),
        powerCycle: true,
        spawned: (index, at) => {
          spawnedAt.set(index, at);
          unlocks.set(index, watchBootUnlock(join(dir, `node${index}`, 'sim.sock'), at));
        },
      },
      say,
    }),
    interrupted,
  ]);
  try {
    writeJson(kmipPortFile, { port: cluster.kmipPort }, 0o644);
    say(`logs in ${join(dir, 'logs')}`);
    const api = new DevApi(cluster.nodes[0]!.port, cluster.nodes[0]!.ca, admin);
    try {
      const setupDone = join(dir, 'setup-done.json');
      if (existsSync(setupDone)) {
        say('setup already done');
        await Promise.race([followKeyServerPort(api, cluster.kmipPort), interrupted]);
      } else {
        const all = cluster.nodes.map((n) => n.ip);
        await Promise.race([waitPending(api, all.slice(1)), interrupted]);
        await Promise.race([followKeyServerPort(api, cluster.kmipPort), interrupted]);
        await Promise.race([
          setUpCluster(api, admin, cluster.pkiDir, cluster.kmipPort, all),
          interrupted,
        ]);
        writeJson(setupDone, { done: new Date().toISOString() }, 0o644);
      }
      await Promise.race([report(cluster, api, spawnedAt, unlocks), interrupted]);
    } finally {
      api.close();
    }
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

async function rememberedPort(file: string): Promise<number> {
  try {
    const { port } = JSON.parse(readFileSync(file, 'utf8')) as { port?: unknown };
    if (typeof port === 'number' && Number.isInteger(port) && (await portFree(port))) return port;
  } catch {
    // the first start: any port
  }
  return 0;
}

/** Until nodes at `mips` are pending (each ekmd registers once it runs on the store). */
async function waitPending(api: DevApi, mips: string[]): Promise<void> {
  const deadline = Date.now() + PENDING_WAIT_MS;
  for (;;) {
    const { pendingNodes } = await api.ok('ListPendingNodes');
    const have = new Set((pendingNodes as { mip: string }[]).map((p) => p.mip));
    const missing = mips.filter((m) => !have.has(m));
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new StartError(`nodes at ${missing.join(', ')} not pending after 60 s`);
    await sleep(200);
  }
}

/**
 * One line per node: its nodeID, address, whether it is master, and its boot unlock
 * (its simulator's drives, timed from its ekmd's spawn until none is locked).
 */
async function report(
  cluster: ProcCluster,
  api: DevApi,
  spawnedAt: Map<number, number>,
  unlocks: Map<number, Promise<number | undefined>>,
): Promise<void> {
  const active = (await api.ok('ListActiveNodes')).nodes as { nodeID: number; mip: string }[];
  const master = (await api.ok('GetClusterMasterNodeID')).nodeID as number;
  const ear = (await api.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string;
  say(`cluster: ${active.length} active nodes, master node ${master}, encryption at rest ${ear}`);
  const drives = (await api.ok('ListDrives')).drives as { serial: string; keyID?: string }[];
  const keyed = new Set(drives.filter((d) => d.keyID).map((d) => d.serial));
  for (const node of cluster.nodes) {
    const id = active.find((n) => n.mip === node.ip)?.nodeID;
    const ms = await unlocks.get(node.index);
    const sim = await simDrives(node.simSocket);
    const mine = sim.filter((d) => keyed.has(d.serial));
    const since = Date.now() - (spawnedAt.get(node.index) ?? Date.now());
    const locked = sim.filter((d) => d.locked).length;
    const n = sim.length;
    // The simulator tells the boot's unlock; the records only whether the drives hold an AK.
    const unlock =
      ms !== undefined && locked === 0
        ? `unlocked ${n}/${n} drives in ${ms} ms`
        : locked > 0
          ? `${locked}/${n} drives still locked ${Math.round(since / 1000)} s after its start: see ListClusterFaults`
          : `${n}/${n} drives unlocked (none was locked at its boot), ${mine.length} with an AK`;
    say(
      `node ${id ?? '(not active)'}  ${node.ip}:${node.port}${id === master ? '  master' : ''}  ${unlock}`,
    );
  }
}

/** The plugged drives of a simulator: serial and lock state. */
async function simDrives(socket: string): Promise<{ serial: string; locked: boolean }[]> {
  const conn = new SimConnection(socket);
  try {
    const r = await conn.request({ op: 'status' });
    const drives = r.header.drives as { serial: string; locked: boolean; plugged: boolean }[];
    return drives.filter((d) => d.plugged);
  } finally {
    await conn.close();
  }
}
