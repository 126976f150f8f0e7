// Metrics observed where things happen, for ekmd's Prometheus endpoint (src/daemon/
// metrics.ts serves them): drive unlock durations, KMIP request latency, rekey progress.
// They live in a prom-client registry of their own (never the global one); recording
// costs a few additions, and nothing is exported unless metrics.listen is set.
import { Gauge, Histogram, Registry } from 'prom-client';
import { onKmipRequest } from '../kmip/client';

const PREFIX = 'ekmd_';

/** Metrics observed as they happen, shared by every caller in the process. */
export const eventRegistry = new Registry();

const unlockSeconds = new Histogram({
  name: `${PREFIX}drive_unlock_duration_seconds`,
  help: 'One drive unlock attempt with its AK (unlock, status check, save), by result.',
  labelNames: ['result'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [eventRegistry],
});

const kmipSeconds = new Histogram({
  name: `${PREFIX}kmip_request_duration_seconds`,
  help: 'One KMIP request message, by key server endpoint, operation and result (ok, partial, failed).',
  labelNames: ['server', 'operation', 'result'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [eventRegistry],
});

const rekeyProgress = new Gauge({
  name: `${PREFIX}rekey_progress_ratio`,
  help: 'Progress of the running rekey, 0..1, by what is rekeyed; 1 when done.',
  labelNames: ['kind'] as const,
  registers: [eventRegistry],
});

/** Records one unlock attempt: call it around each drive's unlock with its outcome. */
export function observeUnlock(ms: number, ok: boolean): void {
  unlockSeconds.observe({ result: ok ? 'ok' : 'failed' }, ms / 1000);
}

/** The rekey service reports `done` of `total` (drives, keys) for `kind` (e.g. "sear"). */
export function setRekeyProgress(kind: string, done: number, total: number): void {
  rekeyProgress.set({ kind }, total > 0 ? Math.min(1, done / total) : 1);
}

/** Feeds the KMIP latency histogram from every client's requests; returns the stop. */
export function observeKmipRequests(): () => void {
  return onKmipRequest((e) =>
    kmipSeconds.observe(
      { server: e.endpoint, operation: e.operation, result: e.result },
      e.ms / 1000,
    ),
  );
}
