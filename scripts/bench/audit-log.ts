// Audit log cost: appending one event (one durable commit, as each audited API call and
// failed login makes) on a full log of 10,000 events, and reading the whole log as
// `ekmctl audit` does. BENCH_DIR picks the file system (default tmpdir). The CPU time of
// an append is what the log costs without the wait for the disk's fsync.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUDIT_RETENTION,
  readAudit,
  recordAudit,
  recordAuditIn,
  type AuditEvent,
} from '../../src/cluster/audit';
import { openSqliteStore } from '../../src/store';

// Goals: an append within the store's 10 ms durable-commit budget (it adds to an API call);
// reading the full log, and a --since read, within half a second for an operator.
const GOALS = { appendP99Ms: 10, readAllMs: 500, readSinceMs: 500 };

const event = (i: number): AuditEvent => ({
  source: 'api',
  action: 'CreateKeyServerKmip',
  user: 'admin',
  remoteAddress: '127.0.0.1',
  params: {
    kmipKeyServerName: `kms-${i}`,
    kmipKeyServerHostnames: [`kms-${i}.example`],
    kmipCaCertificate: 'x'.repeat(1200),
    kmipClientCertificate: 'y'.repeat(1200),
  },
  outcome: 'ok',
});

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ekmd-bench-audit-'));
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  for (let i = 0; i < AUDIT_RETENTION; i += 500) {
    await store.transaction((tx) => {
      for (let k = i; k < i + 500; k++) recordAuditIn(tx, event(k));
    });
  }
  const appends: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 300; i++) {
    const c0 = process.cpuUsage();
    appends.push(await timeAsync(() => recordAudit(store, event(i))));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  appends.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  let count = 0;
  const readAll = time(() => (count = readAudit(store).length));
  const readSince = time(() => readAudit(store, { since: new Date(Date.now() - 60_000) }));
  const rows = store.list('audit/').length;
  await store.close();
  rmSync(dir, { recursive: true, force: true });

  console.log(`load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`);
  const p50 = appends[Math.floor(appends.length * 0.5)];
  const p99 = appends[Math.floor(appends.length * 0.99)];
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  console.log(
    `append (full log)      p50 ${p50.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms  ` +
      `cpu p50 ${cpu[Math.floor(cpu.length / 2)].toFixed(3)} ms  ` +
      `goal p99 < ${GOALS.appendP99Ms} ms  ${verdict(p99 < GOALS.appendP99Ms)}`,
  );
  console.log(
    `read all ${count} events  ${readAll.toFixed(1)} ms  goal < ${GOALS.readAllMs} ms  ` +
      verdict(readAll < GOALS.readAllMs),
  );
  console.log(
    `read --since 1m        ${readSince.toFixed(1)} ms  goal < ${GOALS.readSinceMs} ms  ` +
      verdict(readSince < GOALS.readSinceMs),
  );
  console.log(`store rows of the log  ${rows} (retention ${AUDIT_RETENTION} + the sequence key)`);
}

void main();
