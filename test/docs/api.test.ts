// docs/API.md against the method table ekmd serves (the daemon's wiring: the built-in
// methods, drives, hardware and software EAR, async results, faults) and against the
// Element error names the code can answer with.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { builtInMethods, type ApiMethod, type ParamsSchema } from '../../src/api';
import { Dispatcher } from '../../src/api/dispatcher';
import { asyncMethods } from '../../src/api/methods/async-methods';
import { driveMethods } from '../../src/api/methods/drive-methods';
import { earMethods } from '../../src/api/methods/ear-methods';
import { faultMethods } from '../../src/api/methods/fault-methods';
import { searMethods } from '../../src/api/methods/sear-methods';
import { repoRoot } from '../helpers/paths';
import { codeCell, column, docsDir, readPage, tablesHeaded } from './markdown';

// The factories only keep their services for the handlers, which are never called here.
const unused = {} as never;
const served: ApiMethod[] = [
  ...builtInMethods,
  ...driveMethods(unused, true),
  ...earMethods(unused),
  ...asyncMethods(unused),
  ...searMethods(unused),
  ...faultMethods(unused),
];
const params = new Map<string, ParamsSchema>(served.map((m) => [m.name, m.params]));
params.set('GetAPI', { type: 'object', properties: {} });
const servedNames = new Dispatcher(served, unused).names();

const page = readPage(join(docsDir, 'API.md'));

interface DocumentedMethod {
  params: string[];
  required: string[];
  /** Parameter cell entries that are neither `name` nor **`name`**. */
  malformed: string[];
}

const documented = new Map<string, DocumentedMethod>();
const duplicates: string[] = [];
for (const table of tablesHeaded(page, 'method')) {
  const at = column(table, 'parameters');
  for (const cells of table.rows) {
    const name = codeCell(cells[0], /^[A-Z]\w+$/);
    if (!name) continue;
    if (documented.has(name)) duplicates.push(name);
    const entry: DocumentedMethod = { params: [], required: [], malformed: [] };
    const cell = cells[at] ?? '';
    for (const part of cell === '—' ? [] : cell.split(',').map((p) => p.trim())) {
      const m = /^(\*\*)?`(\w+)`\1$/.exec(part);
      if (!m) entry.malformed.push(part);
      else {
        entry.params.push(m[2]!);
        if (m[1]) entry.required.push(m[2]!);
      }
    }
    documented.set(name, entry);
  }
}

const sorted = (a: Iterable<string>) => [...a].sort();

t.test('every method ekmd serves is documented, once', async (t) => {
  t.ok(servedNames.length > 30, `${servedNames.length} methods served`);
  for (const name of servedNames) t.ok(documented.has(name), `${name} has a row`);
  t.same(duplicates, [], 'no method has two rows');
});

t.test('every documented method is served', async (t) => {
  for (const name of documented.keys()) t.ok(params.has(name), `${name} is served`);
});

t.test("documented parameters are the method's", async (t) => {
  for (const [name, doc] of documented) {
    const schema = params.get(name);
    if (!schema) continue;
    t.same(doc.malformed, [], `${name}: parameters written as \`name\` or **\`name\`**`);
    t.same(sorted(doc.params), sorted(Object.keys(schema.properties)), `${name} parameters`);
    t.same(sorted(doc.required), sorted(schema.required ?? []), `${name} required parameters`);
  }
});

/** Every .ts file under dir. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    if (statSync(path).isDirectory()) return sources(path);
    return f.endsWith('.ts') ? [path] : [];
  });
}

// ekmctl's own fallbacks (a reply without a name) are not answers of ekmd.
const serverSources = sources(join(repoRoot, 'src')).filter(
  (f) => !relative(repoRoot, f).startsWith(join('src', 'cli')),
);
const sourceText = serverSources.map((f) => readFileSync(f, 'utf8')).join('\n');
const raised = new Set([...sourceText.matchAll(/['"`](x[A-Z][A-Za-z]+)['"`]/g)].map((m) => m[1]!));
// doesNotExist(thing, id) in src/cluster/errors.ts makes x<Thing>IDDoesNotExist.
const things = /doesNotExist\(\s*thing:\s*([^,]+),/.exec(sourceText)?.[1] ?? '';
for (const m of things.matchAll(/'(\w+)'/g)) raised.add(`x${m[1]}IDDoesNotExist`);

const errorRows = tablesHeaded(page, 'name')
  .flatMap((table) => table.rows)
  .map((cells) => codeCell(cells[0], /^x[A-Z]\w+$/))
  .filter((n): n is string => n !== undefined);

t.test('every error name ekmd can answer with is documented', async (t) => {
  t.ok(raised.size > 20, `${raised.size} error names found in src`);
  t.ok(raised.has('xKeyServerIDDoesNotExist'), 'the x<Thing>IDDoesNotExist names are found');
  for (const name of sorted(raised)) t.ok(errorRows.includes(name), `${name} is in API.md`);
});

t.test('every documented error name is one ekmd can answer with', async (t) => {
  for (const name of errorRows) t.ok(raised.has(name), `${name} is raised somewhere in src`);
});
