// `ekmctl audit`: the audit log of security operations, read from ekmd's store (read-only),
// whether ekmd runs or not: API calls that change state, failed logins, service events.
import { EXIT_OK } from '../../util/command';
import { readAudit, type AuditRecord } from '../../cluster/audit/audit-log';
import { runSubcommand, type Subcommand } from './subcommand';
import { parseSince, shortDate, stateDirFlag, stateDirOf, withStateStore } from '../client/offline';
import { json, table } from '../client/output';

const audit: Subcommand = {
  summary: 'show the audit log of security operations (offline: reads the store)',
  offline: true,
  flags: {
    since: {
      type: 'string',
      help: '--since TIME     events since TIME (30m, 2h, 7d, or ISO 8601)',
    },
    action: {
      type: 'string',
      help: '--action NAME    only this action (e.g. Login, CreateCluster)',
    },
    user: { type: 'string', help: '--user NAME      only events of this user' },
    failed: { type: 'boolean', help: '--failed         only events that ended in an error' },
    ...stateDirFlag,
    json: { type: 'boolean', help: '--json           machine-readable output' },
  },
  details: [
    'Every API call that can change state (anything but Get*, List* and Test*, plus',
    'GetClientCertificateSignRequest) with its user, client address, parameters and',
    'outcome; failed logins with the user name given and the address (never the',
    'password); events recorded by ekmd itself. Secrets are never recorded: passwords',
    'and keys show as [redacted], certificates as their SHA-256. The store keeps the',
    'last 10,000 operations and, in a ring of their own, the last 2,000 failed logins.',
    '',
    "The store is read from --state-dir DIR, EKMCTL_STATE_DIR, the dev daemon's .state,",
    'or /var/lib/ekmd; it is opened read-only and may be read while ekmd runs.',
  ],
  async run(ctx) {
    const sinceText = ctx.string('since');
    const since = sinceText === undefined ? undefined : parseSince(sinceText);
    const stateDir = stateDirOf(ctx.string('state-dir'));
    const action = ctx.string('action')?.toLowerCase();
    const user = ctx.string('user');
    const records = (await withStateStore(stateDir, (store) => readAudit(store, { since }))).filter(
      (r) =>
        (action === undefined || r.action.toLowerCase() === action) &&
        (user === undefined || r.user === user) &&
        (!ctx.bool('failed') || r.outcome !== 'ok'),
    );
    ctx.out(ctx.json ? json(records) : records.length ? render(records) : 'no audit events\n');
    return EXIT_OK;
  },
};

function render(records: AuditRecord[]): string {
  return table(
    ['SEQ', 'DATE', 'USER', 'FROM', 'ACTION', 'OUTCOME', 'PARAMETERS'],
    records.map((r) => [
      r.seq,
      shortDate(r.date),
      r.user,
      r.remoteAddress.replace(/^::ffff:/, ''),
      r.action,
      r.outcome,
      describe(r),
    ]),
  );
}

/** key=value pairs on one line; long values (certificate fingerprints) cut short. */
function describe(r: AuditRecord): string {
  const pairs = Object.entries(r.params).map(([k, v]) => {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    return `${k}=${text.length > 40 ? `${text.slice(0, 39)}…` : text}`;
  });
  if (r.details) pairs.push(`(${r.details})`);
  return pairs.join(' ');
}

export const run = (argv: string[]) => runSubcommand('audit', audit, argv);
