// kill -9 in the middle of transactions, on both backends: a transaction is all or
// nothing. The writer (a child process) is killed while committing; on etcd, the member
// is killed too while the writer runs, and started again on its data.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startEtcd } from '../../scripts/etcd/members';
import { openAt, type Location } from './contract/backends';
import { until } from './contract/helpers';
import { tempDir } from './tmpdir';

const writer = join(__dirname, 'fixtures', 'writer.js');
const BATCH = 50;

/** Run the writer until it has reported `commits` more commits, then kill -9 it. */
async function killWriterAfter(t: Test, location: Location, commits: number): Promise<number> {
  const child = spawn(process.execPath, [writer, JSON.stringify(location)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  // Listened for from the start: the exit may come before the last output is read.
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let reported: number[] = [];
  let lines = '';
  await new Promise<void>((resolve, reject) => {
    const early = (code: number | null) => reject(new Error(`the writer exited (${code})`));
    child.once('exit', early);
    child.stdout.on('data', (chunk: Buffer) => {
      lines += chunk.toString();
      reported = lines
        .split('\n')
        .filter((l) => l !== '')
        .map(Number);
      if (reported.length >= commits) {
        child.off('exit', early);
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await exited;
  return reported[reported.length - 1];
}

/** Every batch whole, every reported commit there, nothing past the counter. */
async function checkWhole(t: Test, location: Location, lastReported: number, round: string) {
  const store = await openAt(location);
  try {
    const last = store.get<number>('last')!.value;
    t.ok(last >= lastReported, `${round}: every reported commit survived (${last})`);
    const counts = new Map<number, number>();
    for (const e of store.list<{ n: number }>('batch/')) {
      counts.set(e.value.n, (counts.get(e.value.n) ?? 0) + 1);
    }
    t.same(
      [...counts].filter(([, c]) => c !== BATCH),
      [],
      `${round}: no partial transaction`,
    );
    t.equal(counts.size, last + 1, `${round}: batches 0..last, nothing beyond`);
  } finally {
    await store.close();
  }
}

t.test('sqlite: kill -9 mid-transactions leaves whole ones only', async (t) => {
  const location: Location = { backend: 'sqlite', path: join(tempDir(t), 'ekmd.db') };
  for (let round = 0; round < 3; round++) {
    const last = await killWriterAfter(t, location, 15 + round * 7);
    await checkWhole(t, location, last, `round ${round}`);
  }
});

t.test('etcd: kill -9 of the writer, and of the member, leaves whole ones only', async (t) => {
  const cluster = await startEtcd(t);
  t.comment(`one etcd member healthy in ${cluster.startMs} ms`);
  const location: Location = {
    backend: 'etcd',
    config: { endpoints: cluster.endpoints, prefix: `/ekmd-crash/${process.pid}/` },
  };
  for (let round = 0; round < 2; round++) {
    const last = await killWriterAfter(t, location, 15 + round * 7);
    await checkWhole(t, location, last, `writer killed, round ${round}`);
  }
  // The member killed while the writer commits: etcd's WAL keeps each Txn whole.
  const child = spawn(process.execPath, [writer, JSON.stringify(location)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let reported = -1;
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = chunk
      .toString()
      .split('\n')
      .filter((l) => l !== '');
    if (lines.length > 0) reported = Number(lines[lines.length - 1]);
  });
  const from = reported;
  await until('the writer commits', () => reported >= from + 10, 30_000);
  await cluster.kill(0);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  await cluster.restart(0);
  await checkWhole(t, location, reported, 'member killed');
});
