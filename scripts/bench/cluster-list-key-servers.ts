// ListKeyServersKmip on a cluster of three ekmd processes (etcd with three members, one per
// loopback address; nodes on 127.0.0.1-3): 64 keep-alive HTTPS clients with Basic auth,
// spread over the three nodes and over source addresses (the API caps connections per
// client address), paced as the single-node API bench paces them: each client one request
// every 100 ms (640 req/s offered over the cluster). Every node answers from its own view
// of the store. Goal: p99 < 20 ms.
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { RefusedBeforeHandshake, type RpcClient } from '../reliability/matrix/rpc';
import type { ProcCluster } from '../cluster/harness';
import { createKeyServers, withProcCluster } from './fixtures/proc-cluster';

const NODES = 3;
const CLIENTS = 64;
const SERVERS = 4;
const SOURCE_ADDRESSES = 8;
const WARMUP_PER_CLIENT = 5;
const REQUESTS_PER_CLIENT = 50;
const PACED_INTERVAL_MS = 100;
const GOAL_P99_MS = 20;

async function listed(api: RpcClient): Promise<void> {
  const r = await api.ok('ListKeyServersKmip');
  if ((r.kmipKeyServers as unknown[]).length !== SERVERS) {
    throw new Error(`unexpected answer: ${JSON.stringify(r).slice(0, 200)}`);
  }
}

/** A warm-up call; a connection turned away before its handshake is tried again. */
async function warmUp(api: RpcClient): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await listed(api);
    } catch (err) {
      if (!(err instanceof RefusedBeforeHandshake) || attempt >= 20) throw err;
      await sleep(20 * attempt);
    }
  }
}

async function client(cluster: ProcCluster, index: number, latencies: number[][]) {
  const node = 1 + (index % NODES);
  const api = cluster.api(node, `127.0.0.${10 + (index % SOURCE_ADDRESSES)}`);
  try {
    for (let i = 0; i < WARMUP_PER_CLIENT; i++) await warmUp(api);
    let due = performance.now() + Math.random() * PACED_INTERVAL_MS;
    for (let i = 0; i < REQUESTS_PER_CLIENT; i++) {
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const started = performance.now();
      await listed(api);
      latencies[node - 1]!.push(performance.now() - started);
      due += PACED_INTERVAL_MS;
    }
  } finally {
    api.close();
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

function line(label: string, values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const f = (p: number) => percentile(s, p).toFixed(2);
  return `${label}p50 ${f(50)} ms  p90 ${f(90)} ms  p99 ${f(99)} ms  max ${s[s.length - 1]!.toFixed(2)} ms  (${s.length} requests)`;
}

async function main(): Promise<void> {
  await withProcCluster(NODES, async (cluster) => {
    await createKeyServers(cluster, SERVERS);
    console.log(
      `ListKeyServersKmip on ${NODES} ekmd nodes (etcd, 3 members), ${CLIENTS} keep-alive HTTPS ` +
        `clients with Basic auth spread over the nodes, ${SERVERS} key servers listed, ` +
        `each client every ${PACED_INTERVAL_MS} ms ` +
        `(${Math.round((CLIENTS * 1000) / PACED_INTERVAL_MS)} req/s offered)`,
    );
    const latencies: number[][] = Array.from({ length: NODES }, () => []);
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(cluster, i, latencies)));
    latencies.forEach((l, i) => console.log(line(`  node ${i + 1}: `, l)));
    const all = latencies.flat();
    console.log(line('  all:    ', all));
    const p99 = percentile(
      all.sort((a, b) => a - b),
      99,
    );
    console.log(`  load average ${loadavg()[0]!.toFixed(2)} on this machine`);
    console.log(`  goal p99 < ${GOAL_P99_MS} ms: ${p99 < GOAL_P99_MS ? 'met' : 'NOT met'}`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
