// ekmd's Prometheus endpoint, scraped from the real daemon process: drives by state, KMIP
// request latency per key server and result, faults by code and severity (a key server
// that refuses raises kmipServerFault at the next boot unlock), process metrics.
import t from 'tap';
import { request } from 'node:http';
import { enableEar, simDrives, startNode, until } from '../integration/fixtures/node-scenario';
import { runBin } from '../integration/fixtures/node-scenario';
import { bin } from '../helpers/paths';

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line `name{labels} value`, or undefined. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

t.test('metrics off by default: no metrics server', async (t) => {
  const node = await startNode(t, { drives: 1 });
  t.teardown(() => node.stop());
  t.equal(node.metricsPort, undefined);
  t.notMatch(node.ekmdOutput(), /metrics listening/);
});

t.test('scraping /metrics of a running ekmd', async (t) => {
  const node = await startNode(t, { drives: 3, metrics: true });
  t.teardown(() => node.stop());
  const port = node.metricsPort!;
  t.ok(port > 0, 'metrics port logged');

  const other = await get(port, '/');
  t.equal(other.status, 404, 'anything but /metrics is 404');
  t.equal((await get(port, '/metrics/x')).status, 404);

  const { keyProviderID } = await enableEar(node);
  const first = await get(port, '/metrics');
  t.equal(first.status, 200);
  t.match(first.type, /^text\/plain; version=0\.0\.4/);
  for (const family of [
    'ekmd_drives',
    'ekmd_faults',
    'ekmd_drive_unlock_duration_seconds',
    'ekmd_kmip_request_duration_seconds',
    'ekmd_rekey_progress_ratio',
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
  ]) {
    t.match(first.body, new RegExp(`^# TYPE ${family} `, 'm'), `family ${family}`);
  }
  t.equal(
    sample(first.body, 'ekmd_drives', { status: 'available', security: 'enabled' }),
    3,
    'three drives under EAR',
  );
  const server = `127.0.0.1:${node.kmipPort}`;
  const registers = sample(first.body, 'ekmd_kmip_request_duration_seconds_count', {
    server,
    operation: 'Register',
    result: 'ok',
  });
  t.ok((registers ?? 0) >= 1, 'the Register message is counted for the key server');
  t.equal(sample(first.body, 'ekmd_faults', { code: 'kmipServerFault' }), undefined, 'no fault');

  // The key server refuses connections; a power cycle relocks the drives and boot unlock
  // cannot fetch their keys: kmipServerFault (error) and driveFailed (warning).
  const inject = await runBin([
    bin.ekmctl,
    'kmip',
    'dev-server',
    'inject',
    '--control',
    node.kmipControl,
    'refuse',
  ]);
  t.equal(inject.code, 0, `inject refuse: ${inject.stderr}`);
  await node.sim('power-cycle');
  let text = '';
  await until(async () => {
    text = (await get(port, '/metrics')).body;
    return sample(text, 'ekmd_faults', { code: 'kmipServerFault', severity: 'error' }) === 1;
  }, 'kmipServerFault in the faults gauge');
  t.equal(sample(text, 'ekmd_faults', { code: 'kmipServerFault', severity: 'error' }), 1);
  t.ok(
    (sample(text, 'ekmd_kmip_request_duration_seconds_count', { server, result: 'failed' }) ?? 0) >=
      1,
    'failed KMIP requests counted for the key server',
  );
  t.ok(
    (await simDrives(node)).every((d) => d.locked),
    'drives still locked',
  );

  // The key server answers again: the drives unlock and the fault is gone from the gauge.
  await runBin([
    bin.ekmctl,
    'kmip',
    'dev-server',
    'inject',
    '--control',
    node.kmipControl,
    'clear',
  ]);
  await until(async () => (await simDrives(node)).every((d) => !d.locked), 'drives unlock', 90_000);
  await until(async () => {
    text = (await get(port, '/metrics')).body;
    return sample(text, 'ekmd_faults', { code: 'kmipServerFault' }) === undefined;
  }, 'kmipServerFault resolved');
  t.pass('kmipServerFault left the gauge once resolved');
  t.ok(keyProviderID > 0);
});
