// `ekmctl drives list|add|remove|retry-unlock|retry-secure`: ListDrives, AddDrives, RemoveDrives (async
// handles), RetryDriveUnlock, ekmd's release of the TryLimit guard, and RetryDriveSecurity,
// its release of drives that refused to be taken over.
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../../util/command';
import { idArg, runGroup, type Context, type Subcommand } from './subcommand';
import { json, table } from '../client/output';
import { waitDeadline, waitFlags, waitForHandle } from '../client/wait';

export interface Drive {
  driveID: number;
  /** The node that holds the drive. */
  nodeID: number;
  slot: number;
  serial: string;
  capacity: number;
  status: string;
  type: string;
  keyProviderID?: number;
  driveSecurityFaultReason?: string;
  driveFailureDetail?: string;
}

const GB = 1e9;

const list: Subcommand = {
  summary: 'list the drives and their state (ListDrives)',
  async run(ctx) {
    const { drives } = await ctx.api().call<{ drives: Drive[] }>('ListDrives');
    ctx.out(
      ctx.json
        ? json(drives)
        : table(
            ['ID', 'NODE', 'SLOT', 'SERIAL', 'SIZE', 'STATUS', 'TYPE', 'PROVIDER', 'PROBLEM'],
            drives.map((d) => [
              d.driveID,
              d.nodeID,
              d.slot,
              d.serial,
              `${(d.capacity / GB).toFixed(1)}G`,
              d.status,
              d.type,
              d.keyProviderID,
              d.driveFailureDetail ||
                (d.driveSecurityFaultReason === 'none' ? '' : d.driveSecurityFaultReason),
            ]),
          ),
    );
    return EXIT_OK;
  },
};

const ids = (ctx: Context) => ctx.args.map((a) => idArg(a, 'drive ID'));

/** Prints the handle, or waits for it and reports its outcome. */
async function finish(
  ctx: Context,
  asyncHandle: number,
  verb: string,
  deadline: number,
): Promise<number> {
  if (!ctx.bool('wait')) {
    ctx.out(
      ctx.json
        ? json({ asyncHandle })
        : `${verb}: async handle ${asyncHandle} ('ekmctl async get ${asyncHandle}')\n`,
    );
    return EXIT_OK;
  }
  const done = await waitForHandle(ctx, ctx.api(), asyncHandle, deadline);
  if (ctx.json) ctx.out(json(done));
  if (done.error) {
    process.stderr.write(`${done.error.name ?? 'xUnknown'}: ${done.error.message ?? ''}\n`);
    return EXIT_FAILURE;
  }
  if (!ctx.json) ctx.out(`${verb}: done\n`);
  return EXIT_OK;
}

const add: Subcommand = {
  summary: 'add available drives to the cluster (AddDrives)',
  args: ['DRIVE_ID...'],
  flags: {
    type: { type: 'string', help: '--type T         block or volume (default: by role)' },
    ...waitFlags,
  },
  async run(ctx) {
    const deadline = waitDeadline(ctx);
    const type = ctx.string('type');
    if (type !== undefined && type !== 'block' && type !== 'volume') {
      throw new UsageError(`bad --type '${type}' (block or volume)`);
    }
    const drives = ids(ctx).map((driveID) => ({ driveID, ...(type ? { type } : {}) }));
    const { asyncHandle } = await ctx.api().call<{ asyncHandle: number }>('AddDrives', { drives });
    return finish(ctx, asyncHandle, 'adding drives', deadline);
  },
};

const remove: Subcommand = {
  summary: 'remove drives from the cluster (RemoveDrives)',
  args: ['DRIVE_ID...'],
  flags: waitFlags,
  async run(ctx) {
    const deadline = waitDeadline(ctx);
    const { asyncHandle } = await ctx
      .api()
      .call<{ asyncHandle: number }>('RemoveDrives', { drives: ids(ctx) });
    return finish(ctx, asyncHandle, 'removing drives', deadline);
  },
};

/** The repeatable --drive ID flag of the retry commands. */
const driveFlag = (help: string): Subcommand['flags'] => ({
  drive: { type: 'string', multiple: true, help },
});

/** The drive IDs given with --drive (no positional arguments). */
function namedDrives(ctx: Context): number[] {
  if (ctx.args.length) throw new UsageError(`unexpected argument '${ctx.args[0]}'`);
  return ctx.strings('drive').map((a) => idArg(a, 'drive ID'));
}

const retryUnlock: Subcommand = {
  summary: 'try to unlock drives again with their keys (RetryDriveUnlock)',
  details: [
    'A drive that refused its key is not offered that key again until the key changes or the',
    "node reboots (the TryLimit guard, so a wrong key never burns the drive's tries). After",
    'fixing the cause, this releases the guard of the drives named (every drive of the node',
    'called by default) and runs an unlock round; see the outcome with `ekmctl drives list`',
    "and `ekmctl faults`. Another node's drives are handed to that node (an async handle).",
  ],
  flags: { ...driveFlag('--drive ID       only this drive (repeatable)'), ...waitFlags },
  async run(ctx) {
    const deadline = waitDeadline(ctx);
    const driveIDs = namedDrives(ctx);
    const answer = await ctx
      .api()
      .call<{ released: number[] } | { asyncHandle: number }>(
        'RetryDriveUnlock',
        driveIDs.length ? { driveIDs } : {},
      );
    if ('asyncHandle' in answer) {
      return finish(ctx, answer.asyncHandle, "retrying the unlock on the drives' node", deadline);
    }
    const { released } = answer;
    ctx.out(
      ctx.json
        ? json({ released })
        : released.length
          ? `guard released for drive(s) ${released.join(', ')}; unlock round started\n`
          : 'no drive was guarded; unlock round started\n',
    );
    return EXIT_OK;
  },
};

const retrySecure: Subcommand = {
  summary: 'secure again drives that refused to be taken over (RetryDriveSecurity)',
  details: [
    'A drive that refused our PIN when hardware EAR took it over (owned elsewhere) is never',
    'tried again on its own: presenting the MSID to a drive still owned burns one of its tries.',
    'Once it has been reverted (PSID revert, all data lost), this tells ekmd so, and the',
    'drives named are secured now; see the outcome with `ekmctl drives list`.',
  ],
  flags: driveFlag('--drive ID       this drive (repeatable; at least one)'),
  async run(ctx) {
    const driveIDs = namedDrives(ctx);
    if (!driveIDs.length) throw new UsageError('name the reverted drives with --drive ID');
    const { released } = await ctx
      .api()
      .call<{ released: number[] }>('RetryDriveSecurity', { driveIDs });
    ctx.out(
      ctx.json
        ? json({ released })
        : released.length
          ? `drive(s) ${released.join(', ')} released; securing them\n`
          : 'no drive named had refused to be taken over\n',
    );
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup(
    'drives',
    "The node's drives: list them, add them to or remove them from the cluster, retry their unlock or their securing.",
    { list, add, remove, 'retry-unlock': retryUnlock, 'retry-secure': retrySecure },
    argv,
  );
