import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { openAsyncSqliteStore } from '../../src/store';
import { tempDir } from './tmpdir';

const writer = join(__dirname, 'fixtures', 'async-writer.js');
const BATCH = 50;

t.test('kill -9 mid-transactions of the asynchronous store leaves whole ones only', async (t) => {
  const dir = tempDir(t);
  for (let round = 0; round < 2; round++) {
    const path = join(dir, `ekmd-${round}.db`);
    const child = spawn(process.execPath, [writer, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => child.kill('SIGKILL'));
    let lastReported = -1;
    let lines = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        lines += chunk.toString();
        const done = lines.split('\n').filter((l) => l !== '');
        lastReported = Number(done[done.length - 1]);
        if (done.length >= 20 + round * 9) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const store = openAsyncSqliteStore(path);
    const last = (await store.get<number>('last'))!.value;
    t.ok(last >= lastReported, `round ${round}: every reported commit survived`);
    const counts = new Map<number, number>();
    for (const e of await store.list<{ n: number }>('batch/')) {
      counts.set(e.value.n, (counts.get(e.value.n) ?? 0) + 1);
    }
    t.same(
      [...counts].filter(([, c]) => c !== BATCH),
      [],
      `round ${round}: no partial transaction`,
    );
    t.equal(counts.size, last + 1, `round ${round}: batches 0..last, nothing beyond`);
    await store.close();
  }
});
