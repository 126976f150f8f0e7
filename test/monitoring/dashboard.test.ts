// The Grafana dashboard: importable as it is (core panels only, its data source a variable),
// covering what the issue lists, and every expression in it names metrics and labels that
// ekmd exports.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { exportedInProcess } from './exported';
import { dashboardFile } from './monitoring-files';
import { promqlNames, unknownNames } from './promql';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
  __requires?: { type: string; id: string }[];
}

/** Panel types Grafana ships: nothing to install before the import. */
const CORE_PANELS = new Set(['stat', 'table', 'timeseries', 'bargauge', 'heatmap', 'gauge', 'row']);
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const targets = panels.flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p, target })));

t.test('importable: core panels, one data source variable, panels laid out', async (t) => {
  t.ok(dashboard.title && dashboard.uid, 'title and uid');
  t.ok(dashboard.schemaVersion >= 36, 'a schema current Grafana reads');
  t.notOk(
    dashboard.__requires?.some((r) => r.type === 'panel' && !CORE_PANELS.has(r.id)),
    'requires no panel plugin',
  );
  const ds = dashboard.templating.list.find((v) => v.name === 'datasource');
  t.match(ds, { type: 'datasource', query: 'prometheus' }, 'the Prometheus source is chosen');
  const ids = new Set<number>();
  for (const p of dashboard.panels) {
    t.ok(CORE_PANELS.has(p.type), `${p.title}: core panel type ${p.type}`);
    t.notOk(ids.has(p.id), `${p.title}: unique id ${p.id}`);
    ids.add(p.id);
    t.ok(p.gridPos.w > 0 && p.gridPos.h > 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits`);
    if (p.type === 'row') continue;
    t.same(p.datasource, DATASOURCE, `${p.title}: the data source variable`);
    t.ok(p.targets?.length, `${p.title}: has queries`);
    for (const target of p.targets ?? []) {
      t.same(target.datasource, DATASOURCE, `${p.title} ${target.refId}: the variable`);
    }
  }
});

t.test('shows what an operator looks for', async (t) => {
  const uses = (metric: string, labels: string[] = []) =>
    targets.some(({ target }) => {
      const names = promqlNames(target.expr);
      return names.metrics.has(metric) && labels.every((l) => names.labels.has(l));
    });
  t.ok(uses('ekmd_drives', ['instance', 'status']), 'drives by status per node');
  t.ok(uses('ekmd_drives', ['instance', 'security']), 'drives by security state per node');
  t.ok(uses('ekmd_faults', ['code', 'severity']), 'current faults by code and severity');
  t.ok(uses('ekmd_drive_unlock_duration_seconds_bucket', ['le']), 'unlock duration histogram');
  t.ok(uses('ekmd_kmip_request_duration_seconds_bucket', ['server', 'le']), 'KMIP latency');
  t.ok(uses('ekmd_kmip_request_duration_seconds_count', ['server', 'result']), 'KMIP errors');
  t.ok(uses('ekmd_rekey_progress_ratio'), 'rekey progress');
  t.ok(uses('up'), 'whether each ekmd is up');
});

t.test('every expression names metrics and labels ekmd exports', async (t) => {
  const exported = await exportedInProcess(t);
  t.ok(targets.length >= panels.length, 'every panel queries');
  for (const { panel, target } of targets) {
    t.same(unknownNames(target.expr, exported), [], `${panel.title} ${target.refId}`);
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const query = typeof v.query === 'string' ? v.query : v.query.query;
    // label_values(SELECTOR, LABEL): the selector's names, and LABEL on its metric.
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(query);
    t.ok(m, `variable ${v.name}: label_values(selector, label)`);
    if (m) t.same(unknownNames(`sum by (${m[2]}) (${m[1]})`, exported), [], `variable ${v.name}`);
  }
});
