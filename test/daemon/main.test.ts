import t from 'tap';
import { spawnSync } from 'node:child_process';
import { bin } from '../helpers/paths';

const ekmd = (...args: string[]) =>
  spawnSync(process.execPath, [bin.ekmd, ...args], { encoding: 'utf8' });

t.test('ekmd --help prints usage', async (t) => {
  const r = ekmd('--help');
  t.equal(r.status, 0);
  t.match(r.stdout, /Usage: ekmd \[--config FILE\]/);
});

t.test('ekmd rejects an unknown option with exit 2', async (t) => {
  const r = ekmd('--bogus');
  t.equal(r.status, 2);
  t.match(r.stderr, /bogus/);
});

t.test('ekmd-sim with an unknown command exits 2', async (t) => {
  const r = spawnSync(process.execPath, [bin.ekmdSim, 'nope'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown command 'nope'/);
});
