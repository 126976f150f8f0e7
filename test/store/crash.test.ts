import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store';
import { tempDir } from './tmpdir';

const writer = join(__dirname, 'fixtures', 'writer.js');
const BATCH = 50;

t.test('kill -9 mid-writes leaves only whole transactions', async (t) => {
  const path = join(tempDir(t), 'ekmd.db');
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, [writer, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => child.kill('SIGKILL'));
    let lastReported = -1;
    let lines = '';
    const target = 20 + round * 7;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        lines += chunk.toString();
        const done = lines.split('\n').filter((l) => l !== '');
        lastReported = Number(done[done.length - 1]);
        if (done.length >= target) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once('exit', resolve));

    const store = openSqliteStore(path);
    const last = store.get<number>('last')!.value;
    t.ok(last >= lastReported, `round ${round}: every reported commit survived`);
    const counts = new Map<number, number>();
    for (const e of store.list<{ n: number }>('batch/')) {
      counts.set(e.value.n, (counts.get(e.value.n) ?? 0) + 1);
    }
    const partial = [...counts].filter(([, c]) => c !== BATCH);
    t.same(partial, [], `round ${round}: no partial transaction`);
    t.equal(counts.size, last + 1, `round ${round}: batches 0..last, nothing beyond`);
    // The next writer restarts numbering at 0 and rewrites; clear for a clean round.
    store.transaction((tx) => {
      for (const e of tx.list('')) tx.delete(e.key);
    });
    store.close();
  }
});
