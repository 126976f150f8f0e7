// docs/CONFIGURATION.md against the config schema (src/daemon/config-schema.ts), both ways:
// every leaf of the schema has a row and every row is a leaf, with the schema's default,
// its required keys, its allowed values and its integer ranges.
import t from 'tap';
import { join } from 'node:path';
import { configSchema } from '../../src/daemon/config-schema';
import { codeCell, codeSpans, column, docsDir, readPage, tablesHeaded } from './markdown';

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  required?: readonly string[];
  additionalProperties?: boolean | SchemaNode;
  enum?: readonly unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
}

interface Leaf {
  path: string;
  node: SchemaNode;
  /** Required at every level from the top: the file is invalid without it. */
  required: boolean;
}

/** Keys with no properties of their own (values, lists, maps), by dotted path. */
function leaves(node: SchemaNode, prefix = '', required = true): Leaf[] {
  return Object.entries(node.properties ?? {}).flatMap(([name, child]) => {
    const path = prefix ? `${prefix}.${name}` : name;
    const req = required && (node.required ?? []).includes(name);
    return child.properties ? leaves(child, path, req) : [{ path, node: child, required: req }];
  });
}

/** The values a leaf allows, for enums and maps of enums. */
function allowed(node: SchemaNode): readonly unknown[] | undefined {
  if (node.enum) return node.enum;
  const inner = node.additionalProperties;
  return typeof inner === 'object' ? inner.enum : undefined;
}

const schemaLeaves = leaves(configSchema as unknown as SchemaNode);
const page = readPage(join(docsDir, 'CONFIGURATION.md'));
const table = tablesHeaded(page, 'key')[0];

interface Row {
  values: string;
  default: string;
}

const rows = new Map<string, Row>();
const duplicates: string[] = [];
if (table) {
  const values = column(table, 'values');
  const def = column(table, 'default');
  for (const cells of table.rows) {
    const key = codeCell(cells[0], /^[A-Za-z][\w.]*$/);
    if (!key) continue;
    if (rows.has(key)) duplicates.push(key);
    rows.set(key, { values: cells[values] ?? '', default: cells[def] ?? '' });
  }
}

t.test('CONFIGURATION.md has a key table', async (t) => {
  t.ok(table, 'a table headed | key | … |');
  t.same(duplicates, [], 'each key has one row');
});

t.test('every key of the schema is documented', async (t) => {
  t.ok(schemaLeaves.length > 10, 'the schema walk found its keys');
  for (const { path } of schemaLeaves) t.ok(rows.has(path), `${path} has a row`);
});

t.test('every documented key is in the schema', async (t) => {
  const known = new Set(schemaLeaves.map((l) => l.path));
  for (const key of rows.keys()) t.ok(known.has(key), `${key} is a key of the schema`);
});

t.test("documented defaults are the schema's", async (t) => {
  for (const { path, node } of schemaLeaves) {
    const row = rows.get(path);
    if (!row) continue;
    if (node.default !== undefined) {
      t.equal(row.default, `\`${String(node.default)}\``, `${path} defaults to ${node.default}`);
    } else {
      t.same(codeSpans(row.default), [], `${path} has no default in the schema: none is shown`);
    }
  }
});

t.test('required keys are marked required, and no others', async (t) => {
  t.ok(
    schemaLeaves.some((l) => l.required),
    'the schema has required keys',
  );
  for (const { path, required } of schemaLeaves) {
    const row = rows.get(path);
    if (!row) continue;
    t.equal(row.default === 'required', required, `${path} ${required ? 'is' : 'is not'} required`);
  }
});

t.test('keys with a fixed set of values list every one', async (t) => {
  for (const { path, node } of schemaLeaves) {
    const row = rows.get(path);
    const values = allowed(node);
    if (!row || !values) continue;
    t.same(
      codeSpans(row.values).filter((v) => values.includes(v)),
      values,
      `${path}: ${values.join(', ')}, in the schema's order`,
    );
  }
});

t.test('integer keys give their range', async (t) => {
  for (const { path, node } of schemaLeaves) {
    const row = rows.get(path);
    if (!row || node.type !== 'integer') continue;
    const spans = codeSpans(row.values);
    t.ok(spans.includes(String(node.minimum)), `${path} from ${node.minimum}`);
    t.ok(spans.includes(String(node.maximum)), `${path} to ${node.maximum}`);
  }
});
