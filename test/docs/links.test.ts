// Every relative link in README.md and docs/*.md resolves: the file exists inside the
// repository, and an #anchor names a heading of its page (GitHub's slugs).
import t from 'tap';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { repoRoot } from '../helpers/paths';
import { anchors, docPages, githubSlug, isExternal, links, readPage } from './markdown';

const pages = docPages();
const rel = (p: string) => relative(repoRoot, p);

interface Resolved {
  file: string;
  anchor: string | undefined;
}

function resolveLink(page: string, target: string): Resolved {
  const hash = target.indexOf('#');
  const path = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
  return { file, anchor };
}

t.test('GitHub slugs are made as GitHub makes them', async (t) => {
  t.equal(githubSlug('Faults and what to do'), 'faults-and-what-to-do');
  t.equal(
    githubSlug('Software encryption at rest: the master-key rekey'),
    'software-encryption-at-rest-the-master-key-rekey',
  );
  t.equal(githubSlug('Break-glass and recovery'), 'break-glass-and-recovery');
  t.equal(githubSlug('`ekmd-sim` and [its socket](x.md)'), 'ekmd-sim-and-its-socket');
});

t.test('README and docs/ hold relative links to check', async (t) => {
  const count = pages.flatMap((p) => links(readPage(p))).filter((l) => !isExternal(l)).length;
  t.ok(count >= 20, `${count} relative links`);
});

for (const page of pages) {
  t.test(`links of ${rel(page)}`, async (t) => {
    for (const target of links(readPage(page))) {
      if (isExternal(target)) continue;
      const { file, anchor } = resolveLink(page, target);
      const where = `${rel(page)}: (${target})`;
      t.ok(
        file === repoRoot || file.startsWith(repoRoot + sep),
        `${where} stays in the repository`,
      );
      if (!existsSync(file)) {
        t.fail(`${where}: ${rel(file)} does not exist`);
        continue;
      }
      if (anchor === undefined) {
        t.pass(`${where} exists`);
        continue;
      }
      if (!statSync(file).isFile() || !file.endsWith('.md')) {
        t.fail(`${where}: an anchor into ${rel(file)}, which is not a Markdown page`);
        continue;
      }
      t.ok(
        anchors(readPage(file)).has(anchor),
        `${where}: #${anchor} is a heading of ${rel(file)}`,
      );
    }
  });
}

t.test('every page in docs/ is reachable from README', async (t) => {
  const readme = join(repoRoot, 'README.md');
  const reached = new Set([readme]);
  const queue = [readme];
  for (let page = queue.shift(); page; page = queue.shift()) {
    for (const target of links(readPage(page))) {
      if (isExternal(target)) continue;
      const { file } = resolveLink(page, target);
      if (file.endsWith('.md') && existsSync(file) && !reached.has(file)) {
        reached.add(file);
        queue.push(file);
      }
    }
  }
  for (const page of pages)
    t.ok(reached.has(page), `${rel(page)} is linked from README or a page it links`);
});
