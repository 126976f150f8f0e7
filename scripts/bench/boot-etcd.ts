// Boot unlock of 24 simulated drives with PyKMIP, the node's store on etcd (one member on
// loopback) against the same boot on SQLite, rounds interleaved in one run: process start →
// every drive unlocked. The boot unlocks from key-plan.json before the store answers, so
// etcd must not slow it. Goal: etcd ≤ 1.2 × SQLite. Then the same with etcd stopped.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcdMembers } from '../etcd/members';
import { makeDevPki } from '../pki/dev-pki';
import { startPykmip } from '../pykmip/pykmip-server';
import { prepareNode, type BenchNode } from './fixtures/boot-node';
import { boot, fmt, median } from './fixtures/boot-runs';

const DRIVES = 24;
const ROUNDS = 7;
const GOAL = 1.2;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-bench-boot-etcd-'));
  const etcd = await startEtcdMembers({ members: 1 });
  let kms: Awaited<ReturnType<typeof startPykmip>> | undefined;
  const nodes: BenchNode[] = [];
  let ok = false;
  try {
    const pki = await makeDevPki(join(dir, 'pki'));
    kms = await startPykmip({
      dir: join(dir, 'pykmip'),
      pki: { ca: pki.ca, server: pki.server, client: pki.client },
    });
    const sqlite = await prepareNode(join(dir, 'sqlite'), pki, DRIVES, [kms.port]);
    nodes.push(sqlite);
    const onEtcd = await prepareNode(join(dir, 'etcd'), pki, DRIVES, [kms.port], {
      store: { backend: 'etcd', etcd: { endpoints: etcd.endpoints, prefix: '/bench/' } },
    });
    nodes.push(onEtcd);
    const load = loadavg()[0]!;
    await boot(sqlite); // warm up: page cache, PyKMIP, each node's key plan
    await boot(onEtcd);
    const times: Record<'sqlite' | 'etcd', number[]> = { sqlite: [], etcd: [] };
    for (let i = 0; i < ROUNDS; i++) {
      sqlite.powerCycle();
      times.sqlite.push((await boot(sqlite)).unlockedMs);
      onEtcd.powerCycle();
      times.etcd.push((await boot(onEtcd)).unlockedMs);
    }
    const s = median(times.sqlite);
    const e = median(times.etcd);
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(
      `load average ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
    );
    console.log(
      `SQLite store: process start → ${DRIVES}/${DRIVES} unlocked: median ${fmt(s)} [${list(times.sqlite)}]`,
    );
    console.log(`etcd store (1 member): median ${fmt(e)} [${list(times.etcd)}]`);
    ok = e <= GOAL * s;
    console.log(
      `etcd / SQLite ${(e / s).toFixed(2)} ×; goal ≤ ${GOAL} ×: ${ok ? 'met' : 'NOT met'}`,
    );
    // etcd gone: the drives still unlock from the key plan.
    await etcd.kill(0);
    const down: number[] = [];
    for (let i = 0; i < 3; i++) {
      onEtcd.powerCycle();
      down.push((await boot(onEtcd, { timeoutMs: 10_000 })).unlockedMs);
    }
    console.log(
      `etcd stopped: median ${fmt(median(down))} [${list(down)}] (${(median(down) / e).toFixed(2)} × with etcd up)`,
    );
  } finally {
    for (const n of nodes) await n.close();
    await kms?.stop(500);
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

void main();
