// Real etcd members (Debian's etcd-server) for tests, benchmarks and the dev cluster
// (`npm start -- --nodes 3`): 1 or 3 of them on free loopback ports, data in a temporary
// directory (or, for the dev cluster, on fixed ports with data kept across starts). Every
// process started is stopped, and temporary data removed, by stop(), by a test's teardown,
// when this process exits, and — should it be killed outright — by a small watchdog
// process that notices its parent is gone (scripts/cluster/watchdog.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { freePorts } from '../net/free-ports';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guardDir, guardPid, releaseDir, releasePid } from '../cluster/watchdog';

export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
}

export interface EtcdClusterOptions {
  members?: 1 | 3;
  /** Serve clients over TLS with this server certificate; with clientCertAuth, mutual TLS. */
  tls?: EtcdTls & { clientCertAuth?: boolean };
  /**
   * Raft heartbeat and election timeout (ms). A lone member has no peer to miss, so short
   * ones only make it lead sooner (about 0.2 s to healthy instead of 0.4-1.2 s); three
   * members keep etcd's defaults, which a busy machine does not mistake for a failure.
   */
  heartbeatMs?: number;
  electionMs?: number;
  /**
   * Member i listens on hosts[i] (default: all on 127.0.0.1). One loopback address per
   * member stands for one machine per member, as in a cluster of nodes.
   */
  hosts?: string[];
  /**
   * Data kept in this directory (not removed by stop()) and fixed ports on each member's
   * host, so that a later start finds the same cluster: the dev cluster's members.
   */
  persistent?: { dir: string; clientPort: number; peerPort: number; metricsPort: number };
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  running: boolean;
}

export interface EtcdCluster {
  /** Client URLs of every member. */
  endpoints: string[];
  members: EtcdMember[];
  /** Milliseconds from the first spawn until every member was healthy. */
  startMs: number;
  /** SIGKILL one member (its data stays). */
  kill(member: number): Promise<void>;
  /** Start a stopped member again on its ports and data; waits until healthy unless told. */
  restart(member: number, options?: { waitHealthy?: boolean }): Promise<void>;
  /** Wait until a running member is healthy: it knows a leader and serves reads. */
  healthy(member: number): Promise<void>;
  /** Stop every member and remove their data. */
  stop(): Promise<void>;
}

interface Member extends EtcdMember {
  args: string[];
  healthUrl: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  stderr: string;
}

const running = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Start members; the caller stops them (stop()), or this process's exit does. */
export async function startEtcdMembers(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await tryStart(options);
    } catch (err) {
      // Another process took a port between our probe and etcd's bind: new ports.
      if (
        attempt >= 3 ||
        options.persistent ||
        !/address already in use/.test((err as Error).message)
      )
        throw err;
    }
  }
}

/** Start members for a test (or anything with a teardown), stopped when it ends. */
export async function startEtcd(
  t: { teardown(fn: () => unknown): void },
  options: EtcdClusterOptions = {},
): Promise<EtcdCluster> {
  const cluster = await startEtcdMembers(options);
  t.teardown(() => cluster.stop());
  return cluster;
}

async function tryStart(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const count = options.members ?? 1;
  const kept = options.persistent;
  const dir = kept ? kept.dir : mkdtempSync(join(tmpdir(), 'ekmd-etcd-'));
  if (kept) mkdirSync(dir, { recursive: true, mode: 0o700 });
  else guardDir(dir);
  const ports = kept
    ? Array.from({ length: count }, () => [kept.clientPort, kept.peerPort, kept.metricsPort]).flat()
    : await freePorts(count * 3);
  const host = (i: number) => options.hosts?.[i] ?? '127.0.0.1';
  const scheme = options.tls ? 'https' : 'http';
  const peers = Array.from(
    { length: count },
    (_, i) => `m${i}=http://${host(i)}:${ports[i * 3 + 1]}`,
  );
  // A kept cluster's token must not change: etcd reads it only at the first start anyway.
  const token = kept ? 'ekmd-dev-cluster' : `ekmd-test-${process.pid}-${Date.now()}`;
  const members: Member[] = Array.from({ length: count }, (_, i) => {
    const [client, peer, metrics] = ports.slice(i * 3, i * 3 + 3);
    const clientUrl = `${scheme}://${host(i)}:${client}`;
    const args = [
      ...['--name', `m${i}`, '--data-dir', join(dir, `m${i}`)],
      ...['--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl],
      ...['--listen-peer-urls', `http://${host(i)}:${peer}`],
      ...['--initial-advertise-peer-urls', `http://${host(i)}:${peer}`],
      ...['--listen-metrics-urls', `http://${host(i)}:${metrics}`],
      ...['--initial-cluster', peers.join(','), '--initial-cluster-token', token],
      ...['--initial-cluster-state', 'new'],
      ...['--heartbeat-interval', String(options.heartbeatMs ?? (count === 1 ? 20 : 100))],
      ...['--election-timeout', String(options.electionMs ?? (count === 1 ? 200 : 1000))],
      ...['--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'error'],
      ...['--snapshot-count', '10000'],
      ...tlsArgs(options.tls),
    ];
    return {
      name: `m${i}`,
      clientUrl,
      args,
      healthUrl: `http://${host(i)}:${metrics}/health`,
      running: false,
      stderr: '',
    };
  });
  const started = Date.now();
  const cluster: EtcdCluster = {
    endpoints: members.map((m) => m.clientUrl),
    members,
    startMs: 0,
    kill: async (i) => {
      const m = members[i];
      m.child?.kill('SIGKILL');
      await m.exited;
    },
    healthy: (i) => healthy(members[i]),
    restart: async (i, { waitHealthy = true } = {}) => {
      launch(members[i]);
      if (waitHealthy) await healthy(members[i]);
    },
    stop: async () => {
      await Promise.all(members.map((m) => (m.child?.kill('SIGKILL'), m.exited)));
      if (kept) return;
      rmSync(dir, { recursive: true, force: true });
      releaseDir(dir);
    },
  };
  try {
    members.forEach(launch);
    await Promise.all(members.map((m) => healthy(m)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  cluster.startMs = Date.now() - started;
  return cluster;
}

function tlsArgs(tls: EtcdClusterOptions['tls']): string[] {
  if (!tls) return [];
  const args = ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca];
  return tls.clientCertAuth ? [...args, '--client-cert-auth'] : args;
}

function launch(m: Member): void {
  if (m.running) throw new Error(`etcd member ${m.name} is already running`);
  const child = spawn('etcd', m.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  m.child = child;
  m.running = true;
  m.stderr = '';
  running.add(child);
  guardPid(child.pid);
  child.stderr!.on('data', (chunk: Buffer) => {
    m.stderr = (m.stderr + chunk.toString()).slice(-4000);
  });
  m.exited = new Promise((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      releasePid(child.pid);
      m.running = false;
      resolve();
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      running.delete(child);
      m.running = false;
      m.stderr =
        err.code === 'ENOENT'
          ? 'no etcd binary on PATH (Debian: apt install etcd-server)'
          : err.message;
      resolve();
    });
  });
}

/** Poll the member's /health (leader known, a read served) until it says true. */
async function healthy(m: Member, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!m.running) {
      throw new Error(`etcd member ${m.name} exited while starting: ${m.stderr.trim()}`);
    }
    if (await probe(m.healthUrl)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`etcd member ${m.name} not healthy after ${timeoutMs} ms: ${m.stderr.trim()}`);
}

function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet(url, { timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"true"')));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export { freePorts };
