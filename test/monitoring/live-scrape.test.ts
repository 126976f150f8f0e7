// The alert rules against a real ekmd: ekmd-sim drives under EAR, the node booted while its
// key server refuses connections (EKS down), then the key server back. ekmd's /metrics is
// scraped in both states and its fault lines are read from a local syslog socket.
//
// How the rules meet the scrape: each scraped sample becomes a promtool input series with
// the job and instance labels Prometheus would add, holding its value from the first scrape
// for minutes 0-10 and from the second for minutes 11-40 (a series missing from a scrape is
// missing then, as after a stale marker). promtool then evaluates every rule as Prometheus
// would, and ALERTS{alertstate="firing"} must be exactly the fault alerts at 9m and nothing
// at 40m (40m: the KMIP counters' jump at 11m has left every 10m rate window). Every
// metric the rules name must be declared in the scrape, and every label they name carried
// by it: a renamed metric or label breaks this test.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOTSTRAP } from '../daemon/ekmd-process';
import { bin } from '../helpers/paths';
import {
  ADMIN,
  enableEar,
  runBin,
  simDrives,
  startNode,
  until,
  type Node,
} from '../integration/fixtures/node-scenario';
import { NotifyListener } from '../systemd/notify-listener';
import { loadRules, promtool, rulesFile } from './monitoring-files';
import {
  declaredMetrics,
  labelsByMetric,
  parseExposition,
  unknownNames,
  type Sample,
} from './promql';

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

function injectAtKeyServer(node: Node, fault: string) {
  return runBin([bin.ekmctl, 'kmip', 'dev-server', 'inject', '--control', node.kmipControl, fault]);
}

const faultCodes = (text: string) =>
  parseExposition(text)
    .filter((s) => s.name === 'ekmd_faults')
    .map((s) => s.labels.code)
    .sort();

/** A promtool selector for a series: name{labels}. */
function selector(name: string, labels: Record<string, string>): string {
  const inner = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  return `${name}{${inner}}`;
}

/** Two scrapes as promtool input series: the first for minutes 0-10, the second 11-40. */
function inputSeries(target: Record<string, string>, phases: [Sample[], Sample[]]) {
  const series = new Map<string, [number | undefined, number | undefined]>();
  phases.forEach((samples, phase) => {
    for (const s of samples) {
      if (!Number.isFinite(s.value)) continue;
      const key = selector(s.name, { ...s.labels, ...target });
      const both = series.get(key) ?? [undefined, undefined];
      both[phase] = s.value;
      series.set(key, both);
    }
  });
  series.set(selector('up', target), [1, 1]);
  return [...series].map(([key, [first, second]]) => ({
    series: key,
    values: [
      first === undefined ? '_x11' : `${first}x10`,
      second === undefined ? 'stale' : `${second}x29`,
    ].join(' '),
  }));
}

t.test('rules evaluated against a live ekmd with its key server down, then back', async (t) => {
  const node = await startNode(t, { drives: 2, metrics: true });
  t.teardown(() => node.stop());
  await enableEar(node);
  await node.stopEkmd();

  // The boot again, with fault lines to a syslog socket and the key server refusing.
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-live-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const syslog = new NotifyListener(join(dir, 'log.sock'));
  t.teardown(() => syslog.close());
  const config = JSON.parse(readFileSync(node.work.config, 'utf8'));
  config.syslog = { faults: true, socket: syslog.address };
  // No metadata drive is moved to available during the test, however slow the machine.
  config.unlock = { ...config.unlock, metadataGraceSec: 3600 };
  writeFileSync(node.work.config, JSON.stringify(config));
  t.equal((await injectAtKeyServer(node, 'refuse')).code, 0, 'key server refuses');
  await node.sim('power-cycle');
  await node.startEkmd();
  const port = node.metricsPort!;
  const instance = { job: 'ekmd', instance: `127.0.0.1:${port}` };

  let down = '';
  await until(async () => {
    down = await scrape(port);
    return faultCodes(down).join() === 'driveFailed,kmipServerFault';
  }, 'kmipServerFault and driveFailed in the faults gauge');
  t.ok(
    (await simDrives(node)).every((d) => d.locked),
    'the drives stay locked',
  );

  t.equal((await injectAtKeyServer(node, 'clear')).code, 0, 'key server back');
  let back = '';
  await until(
    async () => {
      back = await scrape(port);
      const unlocks = parseExposition(back).find(
        (s) => s.name === 'ekmd_drive_unlock_duration_seconds_count' && s.labels.result === 'ok',
      );
      return faultCodes(back).length === 0 && (unlocks?.value ?? 0) >= 2;
    },
    'drives unlocked and faults resolved',
    90_000,
  );

  t.test('every metric and label the rules name is in the scrape', async (t) => {
    const samples = [...parseExposition(down), ...parseExposition(back)];
    const exported = labelsByMetric(samples);
    for (const name of [...declaredMetrics(down), ...declaredMetrics(back)]) {
      if (!exported.has(name)) exported.set(name, new Set());
    }
    for (const rule of loadRules()) t.same(unknownNames(rule.expr, exported), [], rule.alert);
  });

  t.test('promtool: the fault alerts fire while the key server is down, none after', async (t) => {
    const firing = (alertname: string, code: string, severity: string) => ({
      labels: selector('ALERTS', { alertname, alertstate: 'firing', code, severity, ...instance }),
      value: 1,
    });
    const tests = {
      rule_files: [rulesFile],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: inputSeries(instance, [parseExposition(down), parseExposition(back)]),
          promql_expr_test: [
            {
              expr: 'ALERTS{alertstate="firing"}',
              eval_time: '9m',
              exp_samples: [
                firing('EkmdKmipServerFault', 'kmipServerFault', 'error'),
                firing('EkmdDriveFailed', 'driveFailed', 'warning'),
              ],
            },
            { expr: 'ALERTS{alertstate="firing"}', eval_time: '40m', exp_samples: [] },
          ],
        },
      ],
    };
    // JSON is YAML: promtool reads it as its test file.
    const file = join(dir, 'live.test.yml');
    writeFileSync(file, JSON.stringify(tests, null, 1));
    const r = await promtool('test', 'rules', file);
    t.equal(r.status, 0, r.output);
    t.match(r.output, /SUCCESS/);
  });

  t.test('syslog saw the faults raised and resolved, and no secret', async (t) => {
    const lines = syslog.drain();
    const seen = lines.map((l) => /(faultRaised|faultResolved) .* code="(\w+)"/.exec(l)?.slice(1));
    for (const code of ['kmipServerFault', 'driveFailed']) {
      t.ok(
        seen.some((s) => s?.[0] === 'faultRaised' && s[1] === code),
        `${code} raised`,
      );
      t.ok(
        seen.some((s) => s?.[0] === 'faultResolved' && s[1] === code),
        `${code} resolved`,
      );
    }
    t.equal(
      parseExposition(back).find((s) => s.name === 'ekmd_syslog_dropped_lines_total')?.value,
      0,
      'no line dropped',
    );
    const { objects } = JSON.parse(readFileSync(join(node.kmipState, 'objects.json'), 'utf8')) as {
      objects: { material?: string }[];
    };
    const keys = objects.flatMap((o) => (o.material ? [o.material] : []));
    t.ok(keys.length >= 2, 'the drives have keys at the key server');
    const text = lines.join('\n');
    for (const secret of [BOOTSTRAP.password, ADMIN.password, 'PRIVATE KEY', ...keys]) {
      t.notOk(text.toLowerCase().includes(secret.toLowerCase()), 'a secret is not in syslog');
      t.notOk(
        text.includes(
          Buffer.from(secret, /^[0-9a-f]+$/i.test(secret) ? 'hex' : 'utf8').toString('base64'),
        ),
        'nor in base64',
      );
    }
  });
});
