// The store port on SQLite and on etcd (one member, three members, all on loopback; data
// in the temporary directory, as the SQLite file): a put, a transaction of 10 reads and 3
// writes, a list of 1,000 keys; then three writers, each its own store (a node: on etcd
// with its own view), contending on one counter for 10,000 transactions: the counter must
// end at 10,000 (no update lost), and the runs again it took are counted. Reads come from
// the node's view, so an etcd transaction costs one Txn and the wait for its own change.
// etcd members come from scripts/etcd/members.ts and are stopped at the end, whatever
// happens. Latency goals are reported; an update lost fails the benchmark.
import { loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { openSqliteStore, StoreConflictError, type Store } from '../../src/store';
import { openEtcdStore } from '../../src/store/etcd';
import { startEtcd, type EtcdCluster } from '../etcd/members';

const CONTENDED_TXNS = 10_000;
const WRITERS = 3;
/**
 * p99 goals (ms): SQLite is a local fsync; etcd adds a round trip, raft and the watch
 * bringing the change back. Lists are of the view (etcd) or the file (SQLite).
 */
const GOALS = {
  sqlite: { put: 10, tx: 10, list: 20 },
  etcd: { put: 20, tx: 20, list: 20 },
};

interface Backend {
  name: string;
  goals: { put: number; tx: number; list: number };
  /** Client i (writers get one each; etcd clients spread over the members). */
  open(i: number): Promise<Store>;
}

interface Figures {
  p50: number;
  p99: number;
  /** This process's CPU per operation: the client's cost, without etcd's or the wait. */
  cpuP50: number;
}

async function measure(n: number, fn: (i: number) => unknown): Promise<Figures> {
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    await fn(i);
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * q)];
  return { p50: at(ms, 0.5), p99: at(ms, 0.99), cpuP50: at(cpu, 0.5) };
}

const record = (i: number) => ({ name: `drive-${i}`, serial: `S${1e6 + i}`, pad: 'x'.repeat(160) });

async function operations(b: Backend): Promise<void> {
  const store = await b.open(0);
  try {
    for (let i = 0; i < 1000; i += 100) {
      await store.transaction((tx) => {
        for (let k = i; k < i + 100; k++) tx.put(`list/${k}`, record(k));
      });
    }
    for (let k = 0; k < 10; k++) await store.put(`tx/r/${k}`, record(k));
    const rows: [string, Figures, number][] = [
      ['put', await measure(300, (i) => store.put(`put/${i % 50}`, record(i))), b.goals.put],
      [
        'tx 10 reads + 3 writes',
        await measure(200, (i) =>
          store.transaction((tx) => {
            let sum = 0;
            for (let k = 0; k < 10; k++)
              sum += tx.get<{ name: string }>(`tx/r/${k}`)!.value.name.length;
            for (let k = 0; k < 3; k++) tx.put(`tx/w/${(i * 3 + k) % 30}`, { sum, i });
          }),
        ),
        b.goals.tx,
      ],
      ['list 1,000 keys', await measure(50, () => store.list('list/')), b.goals.list],
    ];
    for (const [what, { p50, p99, cpuP50 }, goal] of rows) {
      console.log(
        `${b.name.padEnd(8)} ${what.padEnd(23)} p50 ${p50.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms  ` +
          `cpu p50 ${cpuP50.toFixed(2)} ms  goal p99 < ${goal} ms  ${p99 < goal ? 'ok' : 'MISSED'}`,
      );
    }
  } finally {
    await store.close();
  }
}

async function contention(b: Backend): Promise<boolean> {
  const writers = await Promise.all(Array.from({ length: WRITERS }, (_, i) => b.open(i)));
  try {
    await writers[0].put('counter', 0);
    while (writers.some((w) => w.get('counter') === undefined)) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    let runs = 0;
    let gaveUp = 0;
    const started = Date.now();
    await Promise.all(
      writers.map(async (w, i) => {
        const share = Math.floor(CONTENDED_TXNS / WRITERS) + (i < CONTENDED_TXNS % WRITERS ? 1 : 0);
        for (let done = 0; done < share;) {
          try {
            await w.transaction((tx) => {
              runs++;
              tx.put('counter', tx.get<number>('counter')!.value + 1);
            });
            done++;
          } catch (err) {
            if (!(err instanceof StoreConflictError)) throw err;
            gaveUp++; // its attempts ran out: the writer tries the increment again
          }
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    // The last commit may be another node's: wait for every view to hold it.
    const settled = Date.now() + 10_000;
    while (writers.some((w) => w.get<number>('counter')!.value !== CONTENDED_TXNS)) {
      if (Date.now() > settled) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const counter = writers[0].get<number>('counter')!.value;
    const ok = counter === CONTENDED_TXNS;
    console.log(
      `${b.name.padEnd(8)} ${WRITERS} writers, one record: ${CONTENDED_TXNS} transactions committed, ` +
        `counter ${counter} (${ok ? 'no update lost' : 'UPDATES LOST'}), ${runs - CONTENDED_TXNS} ` +
        `runs again, ${gaveUp} gave up after all attempts; ${(CONTENDED_TXNS / seconds).toFixed(0)}/s`,
    );
    return ok;
  } finally {
    await Promise.all(writers.map((w) => w.close()));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ekmd-bench-store-ops-'));
  const teardowns: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  let ok = true;
  try {
    console.log(`load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`);
    const one: EtcdCluster = await startEtcd(t);
    const three: EtcdCluster = await startEtcd(t, { members: 3 });
    console.log(`etcd started: one member in ${one.startMs} ms, three in ${three.startMs} ms`);
    const etcd = (name: string, c: EtcdCluster, prefix: string): Backend => ({
      name,
      goals: GOALS.etcd,
      open: (i) =>
        openEtcdStore(
          {
            endpoints: c.endpoints.length > 1 ? [c.endpoints[i % c.endpoints.length]] : c.endpoints,
            prefix,
          },
          { create: true },
        ),
    });
    const backends: Backend[] = [
      {
        name: 'sqlite',
        goals: GOALS.sqlite,
        open: async () => openSqliteStore(join(dir, 'ekmd.db')),
      },
      etcd('etcd x1', one, '/bench/one/'),
      etcd('etcd x3', three, '/bench/three/'),
    ];
    for (const b of backends) await operations(b);
    for (const b of backends) if (!(await contention(b))) ok = false;
  } finally {
    for (const fn of teardowns.reverse()) await fn();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
