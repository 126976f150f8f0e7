// Prometheus text metrics on `metrics.listen` (off by default), in prom-client registries
// of our own (never the global one). Drives and faults are read from the store at each
// scrape, so they cannot drift from what the API reports; durations are observed as they
// happen: unlocks through observeUnlock(), KMIP messages through the client's observer.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { listDriveRecords } from '../cluster/drives/drive-records';
import type { FaultService } from '../cluster/faults';
import { onKmipRequest } from '../kmip/client';
import type { Store } from '../store/store';
import type { ListenAddress } from './config';

const PREFIX = 'ekmd_';

/** Metrics observed as they happen, shared by every caller in the process. */
const events = new Registry();

const unlockSeconds = new Histogram({
  name: `${PREFIX}drive_unlock_duration_seconds`,
  help: 'One drive unlock attempt with its AK (unlock, status check, save), by result.',
  labelNames: ['result'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [events],
});

const kmipSeconds = new Histogram({
  name: `${PREFIX}kmip_request_duration_seconds`,
  help: 'One KMIP request message, by key server endpoint, operation and result (ok, partial, failed).',
  labelNames: ['server', 'operation', 'result'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [events],
});

const rekeyProgress = new Gauge({
  name: `${PREFIX}rekey_progress_ratio`,
  help: 'Progress of the running rekey, 0..1, by what is rekeyed; 1 when done.',
  labelNames: ['kind'] as const,
  registers: [events],
});

/** Records one unlock attempt: call it around each drive's unlock with its outcome. */
export function observeUnlock(ms: number, ok: boolean): void {
  unlockSeconds.observe({ result: ok ? 'ok' : 'failed' }, ms / 1000);
}

/** The rekey service reports `done` of `total` (drives, keys) for `kind` (e.g. "sear"). */
export function setRekeyProgress(kind: string, done: number, total: number): void {
  rekeyProgress.set({ kind }, total > 0 ? Math.min(1, done / total) : 1);
}

export interface MetricsDeps {
  store: Store;
  faults: FaultService;
  logger?: Logger;
}

/** The registry of one daemon: its store-backed gauges, process metrics and the events. */
export function daemonRegistry(deps: MetricsDeps): Registry {
  const own = new Registry();
  new Gauge({
    name: `${PREFIX}drives`,
    help: 'Drives known to the node, by Element status and hardware-encryption state.',
    labelNames: ['status', 'security'] as const,
    registers: [own],
    collect() {
      this.reset();
      for (const d of listDriveRecords(deps.store)) {
        this.inc({ status: d.present ? d.status : 'absent', security: d.security });
      }
    },
  });
  new Gauge({
    name: `${PREFIX}faults`,
    help: 'Current (unresolved) cluster faults, by code and severity.',
    labelNames: ['code', 'severity'] as const,
    registers: [own],
    collect() {
      this.reset();
      for (const f of deps.faults.list('current')) {
        this.inc({ code: f.code, severity: f.severity });
      }
    },
  });
  collectDefaultMetrics({ register: own });
  return Registry.merge([own, events]);
}

export interface MetricsServer {
  address: { host: string; port: number };
  close(): Promise<void>;
}

/** Serves GET /metrics on `listen` (plain HTTP: no secrets in it); anything else is 404. */
export async function startMetricsServer(
  listen: ListenAddress,
  deps: MetricsDeps,
): Promise<MetricsServer> {
  const registry = daemonRegistry(deps);
  // KMIP latency is observed only while a metrics server runs.
  const unsubscribe = onKmipRequest((e) =>
    kmipSeconds.observe(
      { server: e.endpoint, operation: e.operation, result: e.result },
      e.ms / 1000,
    ),
  );
  const server = createServer((req, res) => void answer(req, res));
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    try {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (err) {
      deps.logger?.warn({ err: (err as Error).message }, 'metrics scrape failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed\n');
    }
  };
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    unsubscribe();
    const e = err as NodeJS.ErrnoException;
    throw new Error(`metrics.listen ${listen.host}:${listen.port}: ${e.code ?? e.message}`);
  }
  const { address, port } = server.address() as AddressInfo;
  deps.logger?.info({ metrics: { host: address, port } }, 'metrics listening');
  return {
    address: { host: address, port },
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
