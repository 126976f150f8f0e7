// `ekmctl drives list|add|remove`: ListDrives, AddDrives, RemoveDrives (async handles).
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../../command';
import { idArg, runGroup, type Context, type Subcommand } from '../command-kit';
import { json, table } from '../output';
import { waitDeadline, waitFlags, waitForHandle } from '../wait';

export interface Drive {
  driveID: number;
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
            ['ID', 'SLOT', 'SERIAL', 'SIZE', 'STATUS', 'TYPE', 'PROVIDER', 'PROBLEM'],
            drives.map((d) => [
              d.driveID,
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

export const run = (argv: string[]) =>
  runGroup(
    'drives',
    "The node's drives: list them, add them to or remove them from the cluster.",
    { list, add, remove },
    argv,
  );
