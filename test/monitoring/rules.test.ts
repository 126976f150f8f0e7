// The alert rules as Prometheus sees them: promtool checks the file and runs the unit tests
// under monitoring/tests/ (synthetic series; which alerts fire, and when). Around them:
// one alert per fault code with the code's severity, a firing and a quiet case per alert,
// runbook links to sections that exist, and only metrics and labels ekmd exports.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { FAULT_CODES } from '../../src/cluster/faults';
import { exportedInProcess } from './exported';
import {
  DEFAULT_RUNBOOK_BASE,
  alertsDoc,
  loadRules,
  markdownAnchors,
  promtool,
  promtoolTestsDir,
  rulesFile,
} from './monitoring-files';
import { unknownNames } from './promql';

/**
 * Cluster codes ekmd does not raise yet (they come with clustering), with the severity
 * their alerts carry until the fault-code table holds them; from then on the table's.
 */
const PENDING_CLUSTER_CODES: Record<string, string> = {};

const rules = loadRules();
const testFiles = readdirSync(promtoolTestsDir)
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => join(promtoolTestsDir, f));

t.test('promtool check rules accepts the file', async (t) => {
  const r = await promtool('check', 'rules', rulesFile);
  t.equal(r.status, 0, r.output);
  t.match(r.output, `SUCCESS: ${rules.length} rules found`);
});

t.test('promtool test rules: the unit tests under monitoring/tests pass', async (t) => {
  t.ok(testFiles.length >= 2, 'the fault and the metric alert tests');
  const r = await promtool('test', 'rules', ...testFiles);
  t.equal(r.status, 0, r.output);
  t.notMatch(r.output, /FAILED/);
});

t.test('every alert has a firing and a quiet case in the unit tests', async (t) => {
  const cases = new Map<string, { firing: number; quiet: number }>();
  for (const file of testFiles) {
    const doc = parse(readFileSync(file, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    for (const test of doc.tests) {
      for (const c of test.alert_rule_test ?? []) {
        const n = cases.get(c.alertname) ?? { firing: 0, quiet: 0 };
        if ((c.exp_alerts ?? []).length > 0) n.firing++;
        else n.quiet++;
        cases.set(c.alertname, n);
      }
    }
  }
  for (const rule of rules) {
    const n = cases.get(rule.alert);
    t.ok(n && n.firing > 0, `${rule.alert}: a case where it fires`);
    t.ok(n && n.quiet > 0, `${rule.alert}: a case where it does not`);
  }
  t.same(
    [...cases.keys()].filter((name) => !rules.some((r) => r.alert === name)),
    [],
    'no test of an alert that does not exist',
  );
});

t.test("one alert per fault code, labelled with the code's severity", async (t) => {
  const codes = [...Object.keys(FAULT_CODES), ...Object.keys(PENDING_CLUSTER_CODES)];
  const byCode = new Map<string, string[]>();
  for (const rule of rules) {
    const code = /code="(\w+)"/.exec(rule.expr)?.[1];
    if (!code) continue;
    t.match(rule.expr, /^ekmd_faults\{/, `${rule.alert} reads the faults gauge`);
    byCode.set(code, [...(byCode.get(code) ?? []), rule.alert]);
    const table = (FAULT_CODES as Record<string, { severity: string }>)[code];
    t.equal(
      rule.labels.severity,
      table?.severity ?? PENDING_CLUSTER_CODES[code],
      `${rule.alert}: severity of ${code}`,
    );
    t.match(rule.annotations.summary, `(${code})`, `${rule.alert}: the summary names ${code}`);
  }
  for (const code of codes) t.equal(byCode.get(code)?.length, 1, `one alert for ${code}`);
  t.same(
    [...byCode.keys()].filter((c) => !codes.includes(c)),
    [],
    'no alert for a code ekmd neither raises nor will',
  );
});

t.test('each alert has a summary and a runbook_url to its section of ALERTS.md', async (t) => {
  const anchors = markdownAnchors(alertsDoc);
  for (const rule of rules) {
    t.ok(rule.annotations.summary, `${rule.alert}: summary`);
    t.match(rule.labels.severity, /^(warning|error|critical)$/, `${rule.alert}: severity`);
    const anchor = rule.alert.toLowerCase();
    t.equal(
      rule.annotations.runbook_url,
      `${DEFAULT_RUNBOOK_BASE}/ALERTS.md#${anchor}`,
      `${rule.alert}: runbook_url from the documented base`,
    );
    t.ok(anchors.has(anchor), `ALERTS.md has a section ${rule.alert}`);
  }
  // install.sh --runbook-base rewrites this one prefix: no other spelling may exist.
  const text = readFileSync(rulesFile, 'utf8');
  t.equal(
    (text.match(/^ +runbook_url: /gm) ?? []).length,
    (text.match(new RegExp(`^ +runbook_url: ${DEFAULT_RUNBOOK_BASE}/ALERTS\\.md#`, 'gm')) ?? [])
      .length,
    'every runbook_url starts with the base',
  );
});

t.test('the rules name only metrics and labels ekmd exports', async (t) => {
  const exported = await exportedInProcess(t);
  for (const rule of rules) t.same(unknownNames(rule.expr, exported), [], rule.alert);
  // The check itself: a renamed metric or label is caught.
  t.not(unknownNames('ekmd_fault{code="x"}', exported).length, 0, 'a misspelt metric');
  t.not(unknownNames('sum by (node) (ekmd_faults)', exported).length, 0, 'a missing label');
});
