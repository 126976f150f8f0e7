// Prometheus text metrics on `metrics.listen` (off by default), in prom-client registries
// of our own (never the global one). Drives and faults are read from the store at each
// scrape, so they cannot drift from what the API reports; durations and progress are
// observed as they happen (src/metrics: observeUnlock, setRekeyProgress, KMIP requests).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { SINGLE_NODE, type NodeScope } from '../cluster/drives/node-scope';
import type { FaultService } from '../cluster/faults';
import type { FaultSyslog } from '../cluster/faults/fault-syslog';
import { eventRegistry, observeKmipRequests } from '../metrics';
import { startRecordingMetrics } from '../metrics/recording';
import type { Store } from '../store/store';
import type { ListenAddress } from './config';

const PREFIX = 'ekmd_';

/** Kept for callers that import them from here. */
export { observeUnlock, setRekeyProgress } from '../metrics';

export interface MetricsDeps {
  store: Store;
  /** This node's drives: the drive gauge counts only those. */
  scope?: NodeScope;
  faults: FaultService;
  /** Fault lines to syslog, when syslog.faults is on: their dropped count is exported. */
  faultSyslog?: FaultSyslog;
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
      for (const d of (deps.scope ?? SINGLE_NODE).drives(deps.store)) {
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
  new Counter({
    name: `${PREFIX}syslog_dropped_lines_total`,
    help: 'Fault lines not sent to syslog (socket missing, refusing or full); 0 when off.',
    registers: [own],
    collect() {
      this.reset();
      this.inc(deps.faultSyslog?.counts.dropped ?? 0);
    },
  });
  collectDefaultMetrics({ register: own });
  return Registry.merge([own, eventRegistry]);
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
  // KMIP latency, unlocks and rekey progress are observed only while a metrics server runs.
  const stopKmip = observeKmipRequests();
  const stopRecording = startRecordingMetrics();
  const unsubscribe = () => {
    stopKmip();
    stopRecording();
  };
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
