// `ekmctl faults list|clear`: Element's cluster faults. Listing works online
// (ListClusterFaults) and offline — with --state-dir, or when nothing answers at ekmd's
// address — by reading the store read-only, so the fault log can be inspected at boot.
// --follow polls and prints each raise, update, resolution and clearing until Ctrl-C.
import { EXIT_OK, UsageError } from '../../util/command';
import type { ClusterFault, FaultTypes } from '../../cluster/faults';
import { FAULT_CODES } from '../../cluster/faults/fault-codes';
import { readFaults } from '../../cluster/faults/fault';
import { join } from 'node:path';
import { ApiClient, ApiTransportError } from '../client/client';
import { PINS_FILE, configDir } from '../client/config-dir';
import { DEFAULT_URL } from '../client/credentials';
import { PinStore } from '../client/pins';
import { runGroup, type Context, type Subcommand } from './subcommand';
import { parseSince, shortDate, stateDirFlag, stateDirOf, withStateStore } from '../client/offline';
import { json, table } from '../client/output';

const SEVERITIES = ['warning', 'error', 'critical', 'bestPractice'];
const DEFAULT_INTERVAL_SEC = 1;

/** Where faults are read from: ekmd's API or its store file. */
interface FaultSource {
  describe: string;
  read(): Promise<ClusterFault[]>;
}

interface Filter {
  types: FaultTypes;
  code?: string;
  severity?: string;
  since?: number;
}

const typeFlags = {
  current: { type: 'boolean', help: '--current        unresolved faults only' },
  resolved: { type: 'boolean', help: '--resolved       resolved faults only' },
  all: { type: 'boolean', help: '--all            both (the default of list)' },
} as const;

function faultTypes(ctx: Context, fallback: FaultTypes): FaultTypes {
  const given = (['current', 'resolved', 'all'] as const).filter((n) => ctx.bool(n));
  if (given.length > 1) throw new UsageError('give one of --current, --resolved, --all');
  return given[0] ?? fallback;
}

function filterOf(ctx: Context): Filter {
  const code = ctx.string('code');
  if (code !== undefined && !Object.hasOwn(FAULT_CODES, code)) {
    throw new UsageError(
      `unknown --code '${code}' (one of ${Object.keys(FAULT_CODES).join(', ')})`,
    );
  }
  const severity = ctx.string('severity');
  if (severity !== undefined && !SEVERITIES.includes(severity)) {
    throw new UsageError(`bad --severity '${severity}' (one of ${SEVERITIES.join(', ')})`);
  }
  const since = ctx.string('since');
  return {
    types: faultTypes(ctx, 'all'),
    code,
    severity,
    since: since === undefined ? undefined : parseSince(since).getTime(),
  };
}

function matches(f: ClusterFault, filter: Filter): boolean {
  if (filter.types !== 'all' && f.resolved !== (filter.types === 'resolved')) return false;
  if (filter.code !== undefined && f.code !== filter.code) return false;
  if (filter.severity !== undefined && f.severity !== filter.severity) return false;
  if (filter.since === undefined) return true;
  const raised = Date.parse(f.date) >= filter.since;
  return raised || (f.resolved && Date.parse(f.resolvedDate) >= filter.since);
}

/** --state-dir: the store; otherwise the API, or the store when ekmd refuses connections. */
async function sourceOf(ctx: Context): Promise<FaultSource> {
  const dir = ctx.string('state-dir');
  if (dir !== undefined) return storeSource(dir);
  let api: ApiClient;
  try {
    api = ctx.api();
  } catch (err) {
    // No credentials at hand (a node at boot): still read the log if ekmd is down.
    if (!(err instanceof UsageError)) throw err;
    const probe = bareClient(ctx.string('url') ?? process.env.EKMCTL_URL ?? DEFAULT_URL);
    if (probe && (await probe.refused())) return fallbackSource(ctx, probe.endpoint);
    throw err;
  }
  if (await api.refused()) return fallbackSource(ctx, api.endpoint);
  return {
    describe: `ekmd at ${api.endpoint}`,
    read: async () =>
      (await api.call<{ faults: ClusterFault[] }>('ListClusterFaults', { faultTypes: 'all' }))
        .faults,
  };
}

function fallbackSource(ctx: Context, endpoint: string): FaultSource {
  const source = storeSource(stateDirOf(undefined));
  ctx.note(`ekmctl: nothing answers at ${endpoint} (connection refused); ${source.describe}`);
  return source;
}

/** A client good for refused() only: no credentials. Undefined for a bad URL. */
function bareClient(url: string): ApiClient | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const conn = { url: parsed, username: '', password: '' };
  return new ApiClient(conn, { pins: new PinStore(join(configDir(), PINS_FILE)) });
}

function storeSource(stateDir: string): FaultSource {
  return {
    describe: `reading the fault log from ${stateDir} (read-only)`,
    // Opened afresh for each read: ekmd may start, stop or checkpoint in between.
    read: async () => withStateStore(stateDir, (store) => readFaults(store, 'all')),
  };
}

function faultTable(faults: ClusterFault[]): string {
  return table(
    ['ID', 'DATE', 'SEVERITY', 'CODE', 'NODE', 'DRIVES', 'RESOLVED', 'DETAILS'],
    faults.map((f) => [
      f.clusterFaultID,
      shortDate(f.date),
      f.severity,
      f.code,
      f.nodeID || undefined,
      f.driveIDs.join(','),
      f.resolved ? shortDate(f.resolvedDate) : undefined,
      f.details,
    ]),
  );
}

type Change = 'listed' | 'raised' | 'updated' | 'resolved' | 'cleared';

function changeLine(ctx: Context, change: Change, fault: ClusterFault): string {
  if (ctx.json) return JSON.stringify({ change, fault }) + '\n';
  const when =
    change === 'raised'
      ? shortDate(fault.date)
      : change === 'resolved'
        ? shortDate(fault.resolvedDate)
        : shortDate(new Date().toISOString());
  const what = `#${fault.clusterFaultID} ${fault.severity} ${fault.code}: ${fault.details}`;
  return `${when}  ${change.padEnd(8)}  ${what}\n`;
}

const list: Subcommand = {
  summary: 'list cluster faults, online or from the store when ekmd is down',
  flags: {
    ...typeFlags,
    code: { type: 'string', help: '--code CODE      only this fault code (e.g. kmipServerFault)' },
    severity: {
      type: 'string',
      help: `--severity S     only this severity (${SEVERITIES.join(', ')})`,
    },
    since: {
      type: 'string',
      help: '--since TIME     raised or resolved since TIME (30m, 2h, 7d, or ISO 8601)',
    },
    follow: {
      type: 'boolean',
      help: '--follow         keep printing new, updated and resolved faults until Ctrl-C',
    },
    interval: {
      type: 'string',
      help: `--interval SEC   how often --follow looks (default ${DEFAULT_INTERVAL_SEC})`,
    },
    ...stateDirFlag,
  },
  details: [
    'Without --state-dir, faults come from ekmd (ListClusterFaults). When nothing',
    "answers at ekmd's address (connection refused), ekmctl reads the fault log from",
    "the store instead: --state-dir DIR, EKMCTL_STATE_DIR, the dev daemon's .state, or",
    '/var/lib/ekmd; the store is opened read-only and may be read while ekmd runs.',
    'With --json, a list prints Element fault objects; --follow prints one JSON',
    'object per line: {"change": listed|raised|updated|resolved|cleared, "fault"}.',
  ],
  async run(ctx) {
    const filter = filterOf(ctx);
    const interval = intervalOf(ctx.string('interval'));
    const source = await sourceOf(ctx);
    const shown = (await source.read()).filter((f) => matches(f, filter));
    if (!ctx.bool('follow')) {
      ctx.out(ctx.json ? json(shown) : shown.length ? faultTable(shown) : 'no faults\n');
      return EXIT_OK;
    }
    if (ctx.json) for (const f of shown) ctx.out(changeLine(ctx, 'listed', f));
    else ctx.out(shown.length ? faultTable(shown) : 'no faults\n');
    await follow(ctx, source, filter, shown, interval);
    return EXIT_OK;
  },
};

function intervalOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_INTERVAL_SEC * 1000;
  const sec = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || sec < 0.1 || sec > 3600) {
    throw new UsageError(`bad --interval '${text}' (seconds, 0.1 to 3600)`);
  }
  return sec * 1000;
}

/** Polls until SIGINT or SIGTERM; a source that stops answering is noted and retried. */
async function follow(
  ctx: Context,
  source: FaultSource,
  filter: Filter,
  initial: ClusterFault[],
  intervalMs: number,
): Promise<void> {
  const seen = new Map(initial.map((f) => [f.clusterFaultID, JSON.stringify(f)]));
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let running = true;
  const onSignal = () => {
    running = false;
    stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let failing = false;
  try {
    while (running) {
      await Promise.race([stopped, new Promise((r) => setTimeout(r, intervalMs))]);
      if (!running) break;
      let faults: ClusterFault[];
      try {
        faults = await source.read();
      } catch (err) {
        if (!(err instanceof ApiTransportError) && !/store/.test((err as Error).message)) {
          throw err;
        }
        if (!failing) ctx.note(`ekmctl: ${(err as Error).message}; still trying`);
        failing = true;
        continue;
      }
      if (failing) ctx.note(`ekmctl: ${source.describe} answers again`);
      failing = false;
      report(ctx, faults, filter, seen);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function report(
  ctx: Context,
  faults: ClusterFault[],
  filter: Filter,
  seen: Map<number, string>,
): void {
  const present = new Set<number>();
  for (const f of faults) {
    present.add(f.clusterFaultID);
    const before = seen.get(f.clusterFaultID);
    const now = JSON.stringify(f);
    if (before === now) continue;
    // Faults already shown are followed whatever the filter: their resolution matters.
    if (before === undefined && !matches(f, filter)) continue;
    const wasResolved = before !== undefined && (JSON.parse(before) as ClusterFault).resolved;
    const change: Change =
      f.resolved && !wasResolved ? 'resolved' : before === undefined ? 'raised' : 'updated';
    seen.set(f.clusterFaultID, now);
    ctx.out(changeLine(ctx, change, f));
  }
  for (const [id, text] of seen) {
    if (present.has(id)) continue;
    seen.delete(id);
    const fault = JSON.parse(text) as ClusterFault;
    ctx.out(
      ctx.json
        ? JSON.stringify({ change: 'cleared', clusterFaultID: id }) + '\n'
        : changeLine(ctx, 'cleared', fault),
    );
  }
}

const clear: Subcommand = {
  summary: 'forget resolved (default) or current faults (ClearClusterFaults)',
  flags: {
    current: {
      type: 'boolean',
      help: '--current        current faults (they recur while their cause lasts)',
    },
    resolved: { type: 'boolean', help: '--resolved       resolved faults (the default)' },
    all: { type: 'boolean', help: '--all            both' },
  },
  details: [
    'Clearing goes through ekmd: it needs ekmd running. A current fault cleared while',
    'its cause persists comes back, with a new ID, the next time ekmd sees the cause.',
  ],
  async run(ctx) {
    const types = faultTypes(ctx, 'resolved');
    await ctx.api().call('ClearClusterFaults', { faultTypes: types });
    ctx.out(ctx.json ? json({ faultTypes: types }) : `cleared ${types} faults\n`);
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup(
    'faults',
    "Cluster faults: what ekmd found wrong (key servers, certificates, drives).\n'faults list' also works offline, reading the store when ekmd is down.",
    { list, clear },
    argv,
  );
