// The README stays a front page: two screens at most, exactly the two newcomer commands,
// and the reference pages in docs/.
import t from 'tap';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths';
import { fencedBlocks, readPage } from './markdown';

const readme = readPage(join(repoRoot, 'README.md'));

t.test('README fits in about 150 lines and under 12,000 characters', async (t) => {
  const lines = readme.trimEnd().split('\n').length;
  t.ok(lines <= 150, `${lines} lines`);
  t.ok(readme.length < 12_000, `${readme.length} characters`);
});

t.test('README gives exactly the two newcomer commands', async (t) => {
  t.same(fencedBlocks(readme, 'sh'), ['npm ci && npm start', 'npm ci && npm test']);
});
