// `ekmctl status`: one screen for an operator or a monitoring check — cluster, encryption
// at rest, key providers and whether their key servers answer, drives by state, current
// faults — with exit codes 0 ok, 1 warning, 2 critical. Critical: ekmd unreachable, a
// critical or error fault, a failed drive, or an active provider none of whose key
// servers answers. Warning: a warning fault, a key server that does not answer, work in
// progress (enabling, disabling), no cluster yet.
import type { ClusterFault } from '../../cluster/faults';
import { ApiTransportError, ElementApiError, type ApiClient } from '../client/client';
import { runSubcommand, type Subcommand } from './subcommand';
import { json, table } from '../client/output';
import type { Drive } from './drives';
import type { KeyProvider } from './key-providers';
import type { KeyServer } from './key-servers';

type Severity = 'ok' | 'warning' | 'critical';
const EXIT: Record<Severity, number> = { ok: 0, warning: 1, critical: 2 };
const RANK: Record<Severity, number> = EXIT;

interface Problem {
  severity: Exclude<Severity, 'ok'>;
  message: string;
}

interface ServerCheck {
  keyServerID: number;
  name: string;
  keyProviderID: number | null;
  reachable: boolean | null;
  message?: string;
}

interface Report {
  state: Severity;
  endpoint: string;
  cluster: { name: string; uuid: string } | null;
  encryptionAtRestState: string | null;
  softwareEncryptionAtRestState: string | null;
  keyProviders: { keyProviderID: number; name: string; active: boolean; keyServerIDs: number[] }[];
  keyServers: ServerCheck[];
  drives: Record<string, number> | null;
  /** Current (unresolved) cluster faults; null when ekmd does not serve them. */
  faults: ClusterFault[] | null;
  problems: Problem[];
}

const status: Subcommand = {
  summary: 'one-screen health summary with monitoring exit codes',
  flags: {
    'no-test': {
      type: 'boolean',
      help: '--no-test        do not contact the key servers (TestKeyServerKmip)',
    },
  },
  details: [
    'Key servers assigned to a provider are tested in parallel unless --no-test.',
    'Exit codes for monitoring:',
    '  0 ok',
    '  1 warning: a warning fault, a key server not answering, encryption at rest',
    '    enabling or disabling, no cluster created yet',
    '  2 critical: ekmd unreachable, a critical or error fault, a failed drive, or an',
    '    active key provider none of whose key servers answers',
    'Bad flags also exit 2.',
  ],
  async run(ctx) {
    const api = ctx.api();
    let report: Report;
    try {
      report = await gather(api, !ctx.bool('no-test'));
    } catch (err) {
      if (!(err instanceof ApiTransportError)) throw err;
      report = emptyReport(api.endpoint, err.message);
    }
    ctx.out(ctx.json ? json(report) : render(report));
    return EXIT[report.state];
  },
};

function emptyReport(endpoint: string, message: string): Report {
  return {
    state: 'critical',
    endpoint,
    cluster: null,
    encryptionAtRestState: null,
    softwareEncryptionAtRestState: null,
    keyProviders: [],
    keyServers: [],
    drives: null,
    faults: null,
    problems: [{ severity: 'critical', message }],
  };
}

async function gather(api: ApiClient, testServers: boolean): Promise<Report> {
  const problems: Problem[] = [];
  const methods = new Set(
    (await api.call<{ currentVersion: string } & Record<string, unknown>>('GetAPI'))[
      '12.3'
    ] as string[],
  );
  const cluster = await clusterInfo(api, problems);
  const { kmipKeyProviders } = await api.call<{ kmipKeyProviders: KeyProvider[] }>(
    'ListKeyProvidersKmip',
  );
  const { kmipKeyServers } = await api.call<{ kmipKeyServers: KeyServer[] }>('ListKeyServersKmip');
  const keyServers = await Promise.all(
    kmipKeyServers.map((s) => checkServer(api, s, testServers && s.keyProviderID !== null)),
  );
  judgeProviders(kmipKeyProviders, keyServers, problems);
  const drives = methods.has('ListDrives') ? await driveCounts(api, problems) : null;
  const faults = methods.has('ListClusterFaults') ? await currentFaults(api, problems) : null;
  const state = problems.reduce<Severity>(
    (worst, p) => (RANK[p.severity] > RANK[worst] ? p.severity : worst),
    'ok',
  );
  return {
    state,
    endpoint: api.endpoint,
    cluster: cluster && { name: cluster.name, uuid: cluster.uuid },
    encryptionAtRestState: cluster?.encryptionAtRestState ?? null,
    softwareEncryptionAtRestState: cluster?.softwareEncryptionAtRestState ?? null,
    keyProviders: kmipKeyProviders.map((p) => ({
      keyProviderID: p.keyProviderID,
      name: p.keyProviderName,
      active: p.keyProviderIsActive,
      keyServerIDs: p.keyServerIDs,
    })),
    keyServers,
    drives,
    faults,
    problems,
  };
}

interface ClusterView {
  name: string;
  uuid: string;
  encryptionAtRestState: string;
  softwareEncryptionAtRestState: string;
}

async function clusterInfo(api: ApiClient, problems: Problem[]): Promise<ClusterView | null> {
  try {
    const { clusterInfo: c } = await api.call<{ clusterInfo: ClusterView }>('GetClusterInfo');
    if (c.encryptionAtRestState === 'enabling' || c.encryptionAtRestState === 'disabling') {
      problems.push({
        severity: 'warning',
        message: `encryption at rest is ${c.encryptionAtRestState}`,
      });
    }
    return c;
  } catch (err) {
    if (err instanceof ElementApiError && err.elementName === 'xClusterNotCreated') {
      problems.push({ severity: 'warning', message: 'no cluster created yet' });
      return null;
    }
    throw err;
  }
}

async function checkServer(api: ApiClient, s: KeyServer, test: boolean): Promise<ServerCheck> {
  const check: ServerCheck = {
    keyServerID: s.keyServerID,
    name: s.kmipKeyServerName,
    keyProviderID: s.keyProviderID,
    reachable: null,
  };
  if (!test) return check;
  try {
    await api.call('TestKeyServerKmip', { keyServerID: s.keyServerID });
    return { ...check, reachable: true };
  } catch (err) {
    if (!(err instanceof ElementApiError)) throw err;
    return { ...check, reachable: false, message: `${err.elementName}: ${err.message}` };
  }
}

/** An active provider with no answering server is critical: its drives cannot unlock. */
function judgeProviders(providers: KeyProvider[], servers: ServerCheck[], problems: Problem[]) {
  for (const p of providers) {
    const mine = servers.filter((s) => s.keyProviderID === p.keyProviderID);
    const failed = mine.filter((s) => s.reachable === false);
    const label = `key provider ${p.keyProviderID} (${p.keyProviderName})`;
    if (p.keyProviderIsActive && mine.length === 0) {
      problems.push({ severity: 'critical', message: `${label} is active but has no key server` });
    } else if (p.keyProviderIsActive && failed.length > 0 && failed.length === mine.length) {
      problems.push({
        severity: 'critical',
        message: `no key server of active ${label} answers (${failed[0].message})`,
      });
    } else {
      for (const s of failed) {
        problems.push({
          severity: 'warning',
          message: `key server ${s.keyServerID} (${s.name}) of ${label}: ${s.message}`,
        });
      }
    }
  }
}

async function driveCounts(api: ApiClient, problems: Problem[]): Promise<Record<string, number>> {
  const { drives } = await api.call<{ drives: Drive[] }>('ListDrives');
  const counts: Record<string, number> = {};
  for (const d of drives) counts[d.status] = (counts[d.status] ?? 0) + 1;
  if (counts.failed) {
    problems.push({ severity: 'critical', message: `${counts.failed} drive(s) failed` });
  }
  return counts;
}

/** Error and critical faults are critical; warnings warn; best practices are shown only. */
async function currentFaults(api: ApiClient, problems: Problem[]): Promise<ClusterFault[]> {
  const { faults } = await api.call<{ faults: ClusterFault[] }>('ListClusterFaults', {
    faultTypes: 'current',
  });
  for (const f of faults) {
    const severity =
      f.severity === 'critical' || f.severity === 'error'
        ? 'critical'
        : f.severity === 'warning'
          ? 'warning'
          : undefined;
    if (severity) problems.push({ severity, message: `fault ${f.code}: ${f.details}` });
  }
  return faults;
}

function render(r: Report): string {
  const lines = [
    `ekmd ${r.endpoint}: ${r.state.toUpperCase()}`,
    '',
    `cluster:              ${r.cluster ? `${r.cluster.name} (${r.cluster.uuid})` : '-'}`,
    `encryption at rest:   ${r.encryptionAtRestState ?? '-'}`,
    `software encryption:  ${r.softwareEncryptionAtRestState ?? '-'}`,
  ];
  if (r.drives) {
    const parts = Object.entries(r.drives).map(([s, n]) => `${n} ${s}`);
    lines.push(`drives:               ${parts.join(', ') || 'none'}`);
  }
  const out = [lines.join('\n'), ''];
  if (r.keyProviders.length) {
    out.push(
      table(
        ['PROVIDER', 'NAME', 'ACTIVE', 'KEY SERVERS'],
        r.keyProviders.map((p) => [p.keyProviderID, p.name, p.active, p.keyServerIDs.join(',')]),
      ),
    );
  }
  if (r.keyServers.length) {
    out.push(
      table(
        ['SERVER', 'NAME', 'PROVIDER', 'TEST'],
        r.keyServers.map((s) => [
          s.keyServerID,
          s.name,
          s.keyProviderID,
          s.reachable === null ? 'not tested' : s.reachable ? 'ok' : 'FAILED',
        ]),
      ),
    );
  }
  if (r.faults) {
    out.push(
      r.faults.length
        ? table(
            ['FAULT', 'SEVERITY', 'CODE', 'NODE', 'DETAILS'],
            // NODE: the node the fault is about; blank (-) for a cluster-wide fault.
            r.faults.map((f) => [
              f.clusterFaultID,
              f.severity,
              f.code,
              f.nodeID || undefined,
              f.details,
            ]),
          )
        : 'current faults:       none\n',
    );
  }
  for (const p of r.problems) out.push(`${p.severity.toUpperCase()}: ${p.message}\n`);
  return out.join('\n');
}

export const run = (argv: string[]) => runSubcommand('status', status, argv);
