// docs/OPERATIONS.md: its fault table names every fault code ekmd raises (the one table in
// src/cluster/faults) with that code's severity, and the fault section leads to the alert
// runbook.
import t from 'tap';
import { join } from 'node:path';
import { FAULT_CODES } from '../../src/cluster/faults';
import { codeCell, column, docsDir, readPage, section, tablesHeaded } from './markdown';

const page = readPage(join(docsDir, 'OPERATIONS.md'));
const faults = section(page, 'Faults and what to do');
const table = tablesHeaded(faults, 'code')[0];

const rows = new Map<string, string>();
if (table) {
  const severity = column(table, 'severity');
  for (const cells of table.rows) {
    const code = codeCell(cells[0], /^[a-z]\w+$/);
    if (code) rows.set(code, cells[severity] ?? '');
  }
}

t.test('the fault section has a table of codes', async (t) => {
  t.ok(table, 'a table headed | code | … | under "Faults and what to do"');
});

t.test('every fault code ekmd raises has a row with its severity', async (t) => {
  for (const [code, info] of Object.entries(FAULT_CODES)) {
    t.equal(rows.get(code), info.severity, `${code} is documented as ${info.severity}`);
  }
});

t.test('every documented fault code is one ekmd raises', async (t) => {
  for (const code of rows.keys()) t.ok(Object.hasOwn(FAULT_CODES, code), `${code} exists`);
});

t.test('the fault section links to the alert runbook', async (t) => {
  t.match(faults, /\]\(ALERTS\.md(#[^)]*)?\)/);
});
