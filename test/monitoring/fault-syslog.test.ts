// Faults to syslog: one RFC 5424 line per fault raised, updated or resolved, on a real local
// datagram socket. A missing, refusing or full socket drops lines, counted, with one
// warning per outage; nothing blocks and nothing throws into the fault service.
import t from 'tap';
import pino from 'pino';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultService, type FaultChange } from '../../src/cluster/faults';
import {
  FAULT_SD_ID,
  faultSyslogLine,
  forwardFaultsToSyslog,
  type DatagramSink,
  type FaultSyslogOptions,
} from '../../src/cluster/faults/fault-syslog';
import { openSqliteStore } from '../../src/store';
import { NotifyListener } from '../systemd/notify-listener';

const SECRET = 'S3CRET-never-in-syslog';

/** One RFC 5424 line: PRI, version, timestamp, host, app, procid, msgid, SD, MSG. */
const LINE =
  /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([\x21-\x7e]+) ekmd (\d+) (faultRaised|faultUpdated|faultResolved) \[fault@32473((?: \w+="(?:[^"\\\]]|\\.)*")+)\] (\ufeff)?(.*)$/su;

interface ParsedLine {
  pri: number;
  msgid: string;
  params: Record<string, string>;
  bom: boolean;
  msg: string;
}

function parseLine(line: string): ParsedLine {
  const m = LINE.exec(line);
  if (!m) throw new Error(`not an RFC 5424 fault line: ${line}`);
  const params = Object.fromEntries(
    [...m[6]!.matchAll(/ (\w+)="((?:[^"\\\]]|\\.)*)"/g)].map((p) => [p[1]!, p[2]!]),
  );
  return { pri: Number(m[1]), msgid: m[5]!, params, bom: m[7] !== undefined, msg: m[8]! };
}

function tempDir(t: tap.Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-syslog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function faultService(t: tap.Test): FaultService {
  const store = openSqliteStore(join(tempDir(t), 'ekmd.db'));
  t.teardown(() => store.close());
  const faults = new FaultService(store);
  t.teardown(() => faults.close());
  return faults;
}

function captureLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  const entries = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, entries };
}

function forward(t: tap.Test, faults: FaultService, options: Partial<FaultSyslogOptions>) {
  const syslog = forwardFaultsToSyslog(faults, {
    socket: join(tempDir(t), 'unused.sock'),
    facility: 'daemon',
    ...options,
  });
  t.teardown(() => syslog.close());
  return syslog;
}

/** A sink that keeps every line, as strings. */
function memorySink(): DatagramSink & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    send: (m) => (lines.push(m.toString('utf8')), { sent: true }),
    close() {},
  };
}

t.test('raised, updated and resolved: one structured line each', async (t) => {
  const faults = faultService(t);
  const sink = memorySink();
  const syslog = forward(t, faults, { sink });

  await faults.raise(
    'kmipServerFault',
    { keyServerID: 3 },
    'Key server kms1 (10.0.0.1:5696) refused.',
    {
      data: { keyProviderID: 2, note: SECRET, tokenID: SECRET as unknown as number },
    },
  );
  await faults.reportNodeDrives('driveFailed', 1, [4, 2]);
  await faults.reportNodeDrives('driveFailed', 1, [4, 2, 7]);
  await faults.resolve('kmipServerFault', { keyServerID: 3 });
  await faults.clear('resolved');

  t.equal(sink.lines.length, 4, 'raised, raised, updated, resolved; a clear sends nothing');
  t.same(syslog.counts, { sent: 4, dropped: 0 });
  const [raised, drives, updated, resolved] = sink.lines.map(parseLine);

  t.equal(raised!.pri, 3 * 8 + 3, 'daemon facility, err severity for an error fault');
  t.equal(raised!.msgid, 'faultRaised');
  t.match(raised!.params, {
    change: 'raised',
    code: 'kmipServerFault',
    severity: 'error',
    type: 'cluster',
    keyServerID: '3',
    keyProviderID: '2',
    nodeID: '0',
    driveIDs: '',
    resolvedDate: '',
  });
  t.match(raised!.params.date, /^\d{4}-\d\d-\d\dT/);
  t.equal(raised!.msg, 'kmipServerFault raised: Key server kms1 (10.0.0.1:5696) refused.');
  t.notOk('note' in raised!.params || 'tokenID' in raised!.params, 'only integer *ID data');
  t.notMatch(sink.lines.join('\n'), SECRET, 'no other member of data reaches syslog');

  t.equal(drives!.pri, 3 * 8 + 4, 'warning');
  t.match(drives!.params, { code: 'driveFailed', nodeID: '1', driveIDs: '2,4' });
  t.equal(updated!.msgid, 'faultUpdated');
  t.match(updated!.params, { driveIDs: '2,4,7', clusterFaultID: drives!.params.clusterFaultID });
  t.equal(updated!.msg, 'driveFailed updated: Node ID 1 has 3 failed drive(s).');

  t.equal(resolved!.msgid, 'faultResolved');
  t.equal(resolved!.pri, 3 * 8 + 6, 'a resolution is informational');
  t.match(resolved!.params, {
    change: 'resolved',
    severity: 'error',
    clusterFaultID: raised!.params.clusterFaultID,
  });
  t.match(resolved!.params.resolvedDate, /^\d{4}-\d\d-\d\dT/);
  t.notOk(
    sink.lines.some((l) => l.includes('\n')),
    'one line each',
  );
});

t.test('facility, a UTF-8 message and header fields', async (t) => {
  const fault = await faultService(t).raise('driveFailed', { nodeID: 1 }, 'Drive “A” failed…');
  const origin = {
    facility: 'local3' as const,
    hostname: 'node 1\u00e9',
    appName: 'ekmd',
    procId: '7',
  };
  const line = faultSyslogLine({ change: 'raised', fault }, origin).toString('utf8');
  const parsed = parseLine(line);
  t.equal(parsed.pri, 19 * 8 + 4, 'local3.warning');
  t.ok(parsed.bom, 'a non-ASCII MSG starts with the BOM');
  t.equal(parsed.msg, 'driveFailed raised: Drive “A” failed…');
  t.match(line, / node1 ekmd 7 faultRaised /, 'the host name without spaces or non-ASCII');
  t.match(line, `[${FAULT_SD_ID} `);
  const ascii = faultSyslogLine({ change: 'raised', fault: { ...fault, details: 'ok' } }, origin);
  t.notOk(parseLine(ascii.toString('utf8')).bom, 'plain ASCII needs no BOM');
});

t.test('lines reach a local datagram socket', async (t) => {
  const socket = join(tempDir(t), 'log.sock');
  const listener = new NotifyListener(socket);
  t.teardown(() => listener.close());
  const faults = faultService(t);
  const syslog = forward(t, faults, { socket });
  await faults.raise(
    'kmipCertificateFault',
    { keyServerID: 1 },
    'Client certificate expires in 29 days.',
  );
  const got = listener.drain();
  t.equal(got.length, 1);
  t.match(parseLine(got[0]!), {
    msgid: 'faultRaised',
    params: { code: 'kmipCertificateFault', keyServerID: '1' },
    msg: 'kmipCertificateFault raised: Client certificate expires in 29 days.',
  });
  t.same(syslog.counts, { sent: 1, dropped: 0 });
});

t.test('a missing socket: dropped and counted, one warning, then back', async (t) => {
  const socket = join(tempDir(t), 'log.sock');
  const faults = faultService(t);
  const { logger, entries } = captureLogger();
  const syslog = forward(t, faults, { socket, logger });
  for (const serviceID of [1, 2, 3]) {
    await t.resolves(
      faults.raise('sliceServiceUnhealthy', { serviceID }, 'Metadata drive locked.'),
    );
  }
  t.same(syslog.counts, { sent: 0, dropped: 3 });
  t.match(entries(), [{ level: 40, error: 'ENOENT', socket }]);
  t.equal(entries().length, 1, 'one warning for the outage, not one per line');

  const listener = new NotifyListener(socket);
  t.teardown(() => listener.close());
  await faults.resolve('sliceServiceUnhealthy', { serviceID: 1 });
  t.equal(listener.drain().length, 1, 'sent once the socket exists');
  t.same(syslog.counts, { sent: 1, dropped: 3 });
  t.match(entries()[1], { level: 30, dropped: 3, msg: 'fault lines reach syslog again' });

  listener.close();
  await faults.resolve('sliceServiceUnhealthy', { serviceID: 2 });
  t.equal(entries().length, 3, 'a new outage warns again');
});

t.test('a socket that refuses: a stream socket or a plain file', async (t) => {
  const dir = tempDir(t);
  const stream = join(dir, 'stream.sock');
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(stream, resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const file = join(dir, 'file');
  writeFileSync(file, '');
  for (const [socket, error] of [
    [stream, 'EPROTOTYPE'],
    [file, 'ECONNREFUSED'],
  ] as const) {
    const faults = faultService(t);
    const { logger, entries } = captureLogger();
    const syslog = forward(t, faults, { socket, logger });
    await faults.raise('driveFailed', { nodeID: 1 }, 'Node ID 1 has 1 failed drive(s).');
    await faults.resolve('driveFailed', { nodeID: 1 });
    t.same(syslog.counts, { sent: 0, dropped: 2 }, error);
    t.match(entries(), [{ level: 40, error }]);
  }
});

t.test('a full socket never blocks: lines beyond its queue are dropped', async (t) => {
  const socket = join(tempDir(t), 'log.sock');
  const listener = new NotifyListener(socket); // never read until the end
  t.teardown(() => listener.close());
  const fault = await faultService(t).raise(
    'driveFailed',
    { nodeID: 1 },
    'Node ID 1 has 1 failed drive(s).',
  );
  // The service's announcements, called directly: far more lines than any socket queues.
  let announce: (change: FaultChange) => void = () => {};
  const faults = {
    onChange: (fn: typeof announce) => ((announce = fn), () => {}),
  } as unknown as FaultService;
  const { logger, entries } = captureLogger();
  const syslog = forward(t, faults, { socket, logger });
  const LINES = 2000;
  // A blocking send would wait here for ever: nobody reads before the loop ends.
  for (let i = 0; i < LINES; i++) announce({ change: 'updated', fault });
  const { sent, dropped } = syslog.counts;
  t.equal(sent + dropped, LINES, 'every change was handled');
  t.ok(dropped > 0, `lines dropped once the queue was full (${dropped})`);
  t.equal(listener.drain().length, sent, 'what was sent is in the queue');
  t.match(entries(), [{ level: 40, error: 'EAGAIN' }]);
  t.equal(entries().length, 1, 'one warning');
});
