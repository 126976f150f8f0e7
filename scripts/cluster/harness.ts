// A cluster of ekmd processes on one machine, for the dev command (`npm start -- --nodes
// 3`), the multi-process tests and the benchmarks: etcd members (one per loopback address
// 127.0.0.1, .2, .3 when there are three), the dev key server, and per node N an ekmd-sim
// and an ekmd whose API and management address are 127.0.0.N. Everything lives under one
// directory; every process is stopped by stop(), and by the watchdog should the process
// that started them die (scripts/cluster/watchdog.ts).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { devPkiPaths, makeDevPki, type DevPki } from '../pki/dev-pki';
import { RpcClient } from '../reliability/matrix/rpc';
import { freePorts, startEtcdMembers, type EtcdCluster } from '../etcd/members';
import { ClusterNode, type NodeOptions } from './node';
import { Proc } from './proc';

export interface Admin {
  username: string;
  password: string;
}

export interface ProcClusterOptions {
  /** Everything goes under it: etcd's data, the PKI, the key server, one folder per node. */
  dir: string;
  /** ekmd nodes started now (more with addNode()). */
  nodes: number;
  /** The bootstrap admin, which CreateCluster keeps as the cluster admin. */
  admin: Admin;
  /** etcd members: 3 (default; a quorum that survives one) or 1. */
  etcdMembers?: 1 | 3;
  /** Fixed etcd ports and the key server's port, kept across starts (the dev cluster). */
  persistent?: { etcdPorts: [number, number, number]; kmipPort: number };
  /** The API port on every node's address; default one port free now. */
  apiPort?: number;
  /** Simulated drives of node N (default 2). */
  drives?: (index: number) => number;
  /** Per-node ekmd settings (log level, environment, an echo of its log). */
  node?: NodeOptions;
  /** How the harness says what it does (default: nothing). */
  say?: (line: string) => void;
}

export interface ProcCluster {
  dir: string;
  etcd: EtcdCluster;
  /** The dev key server's port on 127.0.0.1, and the dev PKI's directory (ca.pem…). */
  kmipPort: number;
  pkiDir: string;
  /** The dev PKI's files (a provider's CA, a KMIP client of CN storage-node-1). */
  pki: DevPki;
  /** The dev key server's state directory (its objects.json). */
  kmipState: string;
  kmip: Proc;
  admin: Admin;
  nodes: ClusterNode[];
  /** A client of node `index` (1-based); `localAddress` spreads clients over addresses. */
  api(index: number, localAddress?: string): RpcClient;
  /** Starts node N+1 (its simulator and ekmd) and waits until it is ready. */
  addNode(): Promise<ClusterNode>;
  /** Stops every ekmd, then the simulators, the key server and etcd. */
  stop(): Promise<void>;
}

/** The etcd prefix of the harness's cluster. */
export const CLUSTER_PREFIX = '/ekmd/cluster/';
export const nodeIp = (index: number): string => `127.0.0.${index}`;

export async function startProcCluster(options: ProcClusterOptions): Promise<ProcCluster> {
  const say = options.say ?? (() => {});
  const { dir } = options;
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  };
  try {
    const members = options.etcdMembers ?? 3;
    const kept = options.persistent;
    const etcd = await startEtcdMembers({
      members,
      hosts: Array.from({ length: members }, (_, i) => nodeIp(i + 1)),
      ...(kept
        ? {
            persistent: {
              dir: join(dir, 'etcd'),
              clientPort: kept.etcdPorts[0],
              peerPort: kept.etcdPorts[1],
              metricsPort: kept.etcdPorts[2],
            },
          }
        : {}),
    });
    stops.push(() => etcd.stop());
    say(`etcd: ${members} member(s) at ${etcd.endpoints.join(', ')}`);

    const pkiDir = join(dir, 'pki');
    if (!existsPki(pkiDir)) await makeDevPki(pkiDir);
    const kmip = await startKeyServer(dir, pkiDir, kept?.kmipPort ?? 0);
    stops.push(() => kmip.proc.stop());
    say(`dev key server at 127.0.0.1:${kmip.port}`);

    const apiPort = options.apiPort ?? (await freePorts(1))[0]!;
    const nodes: ClusterNode[] = [];
    const makeNode = (index: number) => {
      const node = new ClusterNode({
        index,
        dir: join(dir, `node${index}`),
        logs: join(dir, 'logs'),
        apiPort,
        drives: options.drives?.(index) ?? 2,
        admin: options.admin,
        etcd: { endpoints: etcd.endpoints, prefix: CLUSTER_PREFIX },
        options: options.node ?? {},
      });
      nodes.push(node);
      stops.push(() => node.stopAll());
      return node;
    };
    const started = Array.from({ length: options.nodes }, (_, i) => makeNode(i + 1));
    await Promise.all(started.map((n) => n.start()));
    for (const n of started) say(`node ${n.index}: ekmd API at https://${n.ip}:${n.port}`);

    return {
      dir,
      etcd,
      kmipPort: kmip.port,
      pkiDir,
      pki: devPkiPaths(pkiDir),
      kmipState: join(dir, 'kmip'),
      kmip: kmip.proc,
      admin: options.admin,
      nodes,
      api: (index, localAddress) => {
        const n = nodes[index - 1];
        if (!n) throw new Error(`no node ${index}`);
        return new RpcClient(n.port, n.ca, options.admin, localAddress, n.ip);
      },
      addNode: async () => {
        const node = makeNode(nodes.length + 1);
        await node.start();
        say(`node ${node.index}: ekmd API at https://${node.ip}:${node.port}`);
        return node;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Started for a test: stopped by its teardown, even when the test fails. */
export async function startTestCluster(
  t: { teardown(fn: () => unknown): void },
  options: ProcClusterOptions,
): Promise<ProcCluster> {
  const cluster = await startProcCluster(options);
  t.teardown(() => cluster.stop());
  return cluster;
}

function existsPki(dir: string): boolean {
  try {
    readFileSync(join(dir, 'ca-key.pem'));
    readFileSync(join(dir, 'server-key.pem'));
    return true;
  } catch {
    return false;
  }
}

/** The dev key server on 127.0.0.1 (`port` 0: any), its objects under dir/kmip. */
async function startKeyServer(
  dir: string,
  pkiDir: string,
  port: number,
): Promise<{ proc: Proc; port: number }> {
  const proc = new Proc('kmip-dev-server', join(dir, 'logs', 'kmip-dev-server.log'), [
    join(__dirname, '../../src/cli/main.js'),
    ...['kmip', 'dev-server', '--state', join(dir, 'kmip'), '--listen', `127.0.0.1:${port}`],
    ...['--ca', join(pkiDir, 'ca.pem'), '--cert', join(pkiDir, 'server.pem')],
    ...['--key', join(pkiDir, 'server-key.pem'), '--control', join(dir, 'kmip.ctl')],
  ]);
  try {
    const m = await proc.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 'listening', 30_000);
    return { proc, port: Number(m[1]) };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
