// Boot unlock of a cluster: three ekmd nodes × 24 simulated drives (etcd with three members,
// nodes on 127.0.0.1-3) against PyKMIP, every boot after a power cycle of the node's drives,
// timed from a node's spawn until its simulator shows every drive unlocked. Rounds
// interleaved in one run:
//   one     node 1 alone boots (the others running): a single node's boot;
//   all     the three nodes boot at once: the slowest node's spawn → all its drives unlocked;
//   etcd↓   the three boot at once with every etcd member stopped (each unlocks from its
//           key-plan.json; the store is back before the next round).
// Goals: all ≤ 1.3 × one; etcd↓ ≤ 1.1 × all.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcCluster, type ProcCluster } from '../cluster/harness';
import type { ClusterNode } from '../cluster/node';
import { DevApi } from '../dev/api';
import { watchBootUnlock } from '../dev/boot-report';
import { setUpCluster } from '../dev/cluster-setup';
import { makeDevPki } from '../pki/dev-pki';
import { startPykmip } from '../pykmip/pykmip-server';
import { shippedEnvironment } from '../reliability/load/unit-env';
import { fmt, median } from './fixtures/boot-runs';
import { BENCH_ADMIN } from './fixtures/proc-cluster';

const NODES = 3;
const DRIVES = 24;
const ROUNDS = 5;
const GOAL_ALL = 1.3;
const GOAL_ETCD_DOWN = 1.1;

type Kind = 'one' | 'all' | 'etcdDown';

/** ekmd's spawn time per node, and its boot unlock as the simulator shows it. */
const unlocks = new Map<number, Promise<number | undefined>>();

/** Stops `nodes`, starts them again at once; the slowest one's spawn → all unlocked, ms. */
async function rebootTogether(nodes: ClusterNode[]): Promise<number> {
  await Promise.all(nodes.map((n) => n.stop()));
  for (const n of nodes) unlocks.delete(n.index);
  // "ekmd ready" waits for the store, which may be down: the simulator tells the unlock.
  for (const n of nodes) n.start().catch(() => undefined);
  const times = await Promise.all(nodes.map((n) => waitUnlock(n.index)));
  if (times.some((t) => t === undefined))
    throw new Error(`not every node unlocked its drives: ${times.join(', ')}`);
  return Math.max(...(times as number[]));
}

async function waitUnlock(index: number): Promise<number | undefined> {
  for (let i = 0; i < 500 && !unlocks.has(index); i++) await new Promise((r) => setTimeout(r, 2));
  return unlocks.get(index);
}

async function round(cluster: ProcCluster, kind: Kind): Promise<number> {
  const nodes = kind === 'one' ? [cluster.nodes[0]!] : cluster.nodes;
  if (kind !== 'etcdDown') {
    const ms = await rebootTogether(nodes);
    await Promise.all(nodes.map((n) => n.ready()));
    return ms;
  }
  const members = cluster.etcd.members.map((_, i) => i);
  await Promise.all(nodes.map((n) => n.stop()));
  for (const m of members) await cluster.etcd.kill(m);
  try {
    return await rebootTogether(nodes);
  } finally {
    await Promise.all(members.map((m) => cluster.etcd.restart(m, { waitHealthy: false })));
    await Promise.all(members.map((m) => cluster.etcd.healthy(m)));
    await Promise.all(nodes.map((n) => n.ready().catch(() => n.stop())));
    await Promise.all(nodes.filter((n) => !n.ekmd?.alive).map((n) => n.start()));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-cluster-unlock-'));
  let cluster: ProcCluster | undefined;
  let kms: Awaited<ReturnType<typeof startPykmip>> | undefined;
  let ok = false;
  try {
    const pki = await makeDevPki(join(dir, 'pki'));
    kms = await startPykmip({
      dir: join(dir, 'pykmip'),
      pki: { ca: pki.ca, server: pki.server, client: pki.client },
    });
    cluster = await startProcCluster({
      dir: join(dir, 'cluster'),
      nodes: NODES,
      admin: BENCH_ADMIN,
      drives: () => DRIVES,
      node: {
        env: shippedEnvironment(),
        powerCycle: true,
        spawned: (index, at) =>
          unlocks.set(index, watchBootUnlock(join(dir, 'cluster', `node${index}`, 'sim.sock'), at)),
      },
    });
    const node1 = cluster.nodes[0]!;
    const api = new DevApi(node1.port, node1.ca, BENCH_ADMIN);
    try {
      await waitPending(api, NODES - 1);
      await setUpCluster(
        api,
        BENCH_ADMIN,
        pki.dir,
        kms.port,
        cluster.nodes.map((n) => n.ip),
      );
      await waitSecured(api, NODES * DRIVES);
    } finally {
      api.close();
    }
    const load = loadavg()[0]!;
    await round(cluster, 'all'); // warm up: page cache, PyKMIP, each node's key plan
    const times: Record<Kind, number[]> = { one: [], all: [], etcdDown: [] };
    for (let i = 0; i < ROUNDS; i++)
      for (const kind of ['one', 'all', 'etcdDown'] as const)
        times[kind].push(await round(cluster, kind));
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    const [one, all, down] = [median(times.one), median(times.all), median(times.etcdDown)];
    console.log(
      `load average ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (2 cores: the three nodes, etcd and PyKMIP share them)`,
    );
    console.log(`${NODES} nodes × ${DRIVES} drives against PyKMIP, spawn → all unlocked:`);
    console.log(`  one node booting alone: median ${fmt(one)} [${list(times.one)}]`);
    console.log(`  three at once (slowest): median ${fmt(all)} [${list(times.all)}]`);
    console.log(`  three at once, etcd down: median ${fmt(down)} [${list(times.etcdDown)}]`);
    const okAll = all <= GOAL_ALL * one;
    const okDown = down <= GOAL_ETCD_DOWN * all;
    console.log(
      `three / one ${(all / one).toFixed(2)} ×; goal ≤ ${GOAL_ALL} ×: ${okAll ? 'met' : 'NOT met'}`,
    );
    console.log(
      `etcd down / up ${(down / all).toFixed(2)} ×; goal ≤ ${GOAL_ETCD_DOWN} ×: ${okDown ? 'met' : 'NOT met'}`,
    );
    ok = true;
  } finally {
    await cluster?.stop();
    await kms?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

async function waitPending(api: DevApi, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await api.ok('ListPendingNodes')).pendingNodes.length < count) {
    if (Date.now() > deadline) throw new Error(`${count} pending nodes not seen in 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Until `count` drives hold an AK (every node secured its own). */
async function waitSecured(api: DevApi, count: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const drives = (await api.ok('ListDrives')).drives as { keyID?: string | null }[];
    if (drives.filter((d) => d.keyID).length >= count) return;
    if (Date.now() > deadline) throw new Error(`not ${count} drives secured in 180 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
