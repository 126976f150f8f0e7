// Paths of the repository named in the docs (`src/cluster/recovery.ts`, `scripts/bench/`)
// exist: a file moved or renamed without its page fails here, not in a reader's hands.
// Built outputs (dist/…) and paths on an installed node (/usr/…, /etc/…) are not checked.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { repoRoot } from '../helpers/paths';
import { docPages, proseLines, readPage } from './markdown';

const TOP = /^(src|scripts|test|monitoring|systemd|docs|native)\//;

/** The repository paths in a page's inline code, without trailing punctuation. */
function namedPaths(text: string): string[] {
  const found = new Set<string>();
  for (const line of proseLines(text)) {
    for (const m of line.matchAll(/`([^`\s]+)`/g)) {
      const path = m[1]!.replace(/[.,:;)]+$/, '').replace(/#.*$/, '');
      if (TOP.test(path) && !/[*{}<>]/.test(path)) found.add(path);
    }
  }
  return [...found];
}

/** A file, a folder, or a module named without its .ts. */
const exists = (path: string): boolean =>
  existsSync(join(repoRoot, path)) || existsSync(join(repoRoot, `${path}.ts`));

t.test('every repository path named in README and docs/ exists', async (t) => {
  let checked = 0;
  for (const page of docPages()) {
    for (const path of namedPaths(readPage(page))) {
      checked++;
      t.ok(exists(path), `${relative(repoRoot, page)}: ${path}`);
    }
  }
  t.ok(checked > 20, `the pages name paths (${checked} checked)`);
});
