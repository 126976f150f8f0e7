// Cluster faults to syslog (config syslog.faults): each fault raised, updated or resolved
// becomes one RFC 5424 line on the local syslog socket, so a site's log pipeline sees them
// without Prometheus (Element forwards its cluster faults to syslog too).
//
// The line is built from a fixed list of the fault's members: its details text (written
// for operators; never key material or credentials), codes, enums and IDs. The fault's
// `data` contributes only its integer *ID members, so nothing put there later can leak.
//
// Sending never waits: a non-blocking datagram per line; a missing, refusing or full socket
// drops the line, counts it and says so once in the log until lines get through again.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import {
  UnixDatagramSender,
  unixSocketAddress,
  type SendResult,
  type UnixAddress,
} from '../../util/unix-datagram';
import type { FaultSeverity } from './fault-codes';
import type { ClusterFault } from './fault';
import type { FaultChange, FaultService } from './fault-service';

/** Syslog facilities a site may pick for the lines (RFC 5424 §6.2.1). */
export const SYSLOG_FACILITY_CODES = {
  user: 1,
  daemon: 3,
  auth: 4,
  authpriv: 10,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITY_CODES;

/** Syslog severities: a fault's own by its Element severity; a resolved one is news only. */
const LINE_SEVERITY: Record<FaultSeverity, number> = {
  critical: 2,
  error: 3,
  warning: 4,
  bestPractice: 5,
};
const RESOLVED_SEVERITY = 6; // informational

/**
 * The structured-data ID of the fault element. 32473 is the example enterprise number of
 * RFC 5612: ekmd has none registered, and a site's parser keys on the whole ID.
 */
export const FAULT_SD_ID = 'fault@32473';

export interface SyslogOrigin {
  facility: SyslogFacility;
  hostname: string;
  appName: string;
  procId: string;
}

type FaultLineChange = Exclude<FaultChange, { change: 'cleared' }>;

const MSG_IDS: Record<FaultLineChange['change'], string> = {
  raised: 'faultRaised',
  updated: 'faultUpdated',
  resolved: 'faultResolved',
};

/** One RFC 5424 line for a fault change (no trailing newline: one datagram, one line). */
export function faultSyslogLine(
  { change, fault }: FaultLineChange,
  origin: SyslogOrigin,
  now: Date = new Date(),
): Buffer {
  const severity = change === 'resolved' ? RESOLVED_SEVERITY : LINE_SEVERITY[fault.severity];
  const pri = SYSLOG_FACILITY_CODES[origin.facility] * 8 + severity;
  const header = [
    `<${pri}>1`,
    now.toISOString(),
    headerField(origin.hostname, 255),
    headerField(origin.appName, 48),
    headerField(origin.procId, 128),
    MSG_IDS[change],
  ].join(' ');
  const params: [string, string | number][] = [
    ['change', change],
    ['clusterFaultID', fault.clusterFaultID],
    ['code', fault.code],
    ['severity', fault.severity],
    ['type', fault.type],
    ['nodeID', fault.nodeID],
    ['serviceID', fault.serviceID],
    ['driveIDs', fault.driveIDs.join(',')],
    ...idMembers(fault.data),
    ['date', fault.date],
    ['resolvedDate', fault.resolvedDate],
  ];
  const sd = `[${FAULT_SD_ID} ${params.map(([k, v]) => `${k}="${sdValue(String(v))}"`).join(' ')}]`;
  const msg = `${fault.code} ${change}: ${fault.details}`;
  // RFC 5424 §6.4: a UTF-8 MSG starts with a BOM; plain ASCII needs none.
  const bom = /^[\x20-\x7e]*$/.test(msg) ? '' : '\ufeff';
  return Buffer.from(`${header} ${sd} ${bom}${msg}`, 'utf8');
}

/** Only integer members named like IDs (keyServerID, keyProviderID), sorted by name. */
function idMembers(data: ClusterFault['data']): [string, number][] {
  if (!data) return [];
  return Object.entries(data)
    .filter((e): e is [string, number] => /^[A-Za-z]{1,30}ID$/.test(e[0]))
    .filter(([, v]) => Number.isSafeInteger(v))
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

/** A header field: printable US-ASCII without spaces, or the NILVALUE "-". */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean || '-';
}

/** RFC 5424 §6.3.3: '"', '\' and ']' are escaped inside a PARAM-VALUE. */
function sdValue(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

export interface DatagramSink {
  send(message: Buffer): SendResult;
  close(): void;
}

export interface FaultSyslogOptions {
  /** Path of the local syslog socket (a datagram socket: /dev/log). */
  socket: string;
  facility: SyslogFacility;
  logger?: Logger;
  /** Where lines go; a non-blocking datagram sender to `socket` by default. */
  sink?: DatagramSink;
}

export interface FaultSyslog {
  /** Lines sent and lines dropped (socket missing, refusing or full) since the start. */
  readonly counts: { sent: number; dropped: number };
  close(): void;
}

/** Forwards every fault change `faults` announces to syslog; close() stops it. */
export function forwardFaultsToSyslog(
  faults: FaultService,
  options: FaultSyslogOptions,
): FaultSyslog {
  const { socket, logger } = options;
  // Checked before anything is sent: a path too long for an address is the config's error.
  const address: UnixAddress = unixSocketAddress(socket, 'syslog.socket');
  const sink = options.sink ?? new UnixDatagramSender(address);
  const origin: SyslogOrigin = {
    facility: options.facility,
    hostname: hostname(),
    appName: 'ekmd',
    procId: String(process.pid),
  };
  const counts = { sent: 0, dropped: 0 };
  let droppedInOutage = 0;
  const unsubscribe = faults.onChange((change) => {
    if (change.change === 'cleared') return; // ClearClusterFaults: no fault left to report
    const result = sendSafely(sink, faultSyslogLine(change, origin));
    if (result.sent) {
      counts.sent++;
      if (droppedInOutage > 0) {
        logger?.info({ socket, dropped: droppedInOutage }, 'fault lines reach syslog again');
        droppedInOutage = 0;
      }
      return;
    }
    counts.dropped++;
    // Once per outage: a syslog daemon that is down must not flood ekmd's own log.
    if (droppedInOutage++ === 0) {
      logger?.warn(
        { socket, error: result.error },
        'fault line not sent to syslog; lines are dropped until it accepts them',
      );
    }
  });
  return {
    counts,
    close() {
      unsubscribe();
      sink.close();
    },
  };
}

function sendSafely(sink: DatagramSink, line: Buffer): SendResult {
  try {
    return sink.send(line);
  } catch (err) {
    // koffi or libc could not be loaded: nothing will be sent, and ekmd goes on.
    return { sent: false, error: (err as Error).message };
  }
}
