// `ekmctl ear enable|disable|status`: hardware (self-encrypting drive) encryption at rest.
// Enable and disable answer at once; the state in GetClusterInfo shows the progress.
import { EXIT_FAILURE, EXIT_OK } from '../../util/command';
import { idArg, runGroup, type Context, type Subcommand } from './subcommand';
import { fields, json } from '../client/output';
import { pollUntil, waitDeadline, waitFlags } from '../client/wait';

interface EarInfo {
  state: string;
  authenticationKeyInfo?: { keyManagementType?: string; keyProviderID?: number };
}

/** Waits for enabling/disabling to settle; exit 1 unless it settled on `goal`. */
async function settle(
  ctx: Context,
  goal: 'enabled' | 'disabled',
  deadline: number,
): Promise<number> {
  let last = '';
  const state = await pollUntil(deadline, `encryption at rest to be ${goal}`, async () => {
    const { clusterInfo } = await ctx
      .api()
      .call<{ clusterInfo: { encryptionAtRestState: string } }>('GetClusterInfo');
    const s = clusterInfo.encryptionAtRestState;
    if (s !== last) ctx.note(`encryption at rest: ${s}`);
    last = s;
    return s === 'enabling' || s === 'disabling' ? undefined : s;
  });
  if (ctx.json) ctx.out(json({ encryptionAtRestState: state }));
  if (state === goal) return EXIT_OK;
  ctx.note(`ekmctl: encryption at rest ended ${state}, not ${goal}; see 'ekmctl drives list'`);
  return EXIT_FAILURE;
}

const enable: Subcommand = {
  summary: 'lock the drives with authentication keys (EnableEncryptionAtRest)',
  flags: {
    provider: {
      type: 'string',
      help: '--provider ID    keep the keys at this key provider (default: on the cluster)',
    },
    ...waitFlags,
  },
  details: ["Without --wait it returns at once; follow with 'ekmctl ear status'."],
  async run(ctx) {
    const deadline = waitDeadline(ctx);
    const provider = ctx.string('provider');
    const params = provider === undefined ? {} : { keyProviderID: idArg(provider, '--provider') };
    const result = await ctx.api().call('EnableEncryptionAtRest', params);
    if (ctx.bool('wait')) return settle(ctx, 'enabled', deadline);
    ctx.out(ctx.json ? json(result) : 'enabling encryption at rest\n');
    return EXIT_OK;
  },
};

const disable: Subcommand = {
  summary: 'unlock the drives for good and destroy their keys (DisableEncryptionAtRest)',
  flags: waitFlags,
  async run(ctx) {
    const deadline = waitDeadline(ctx);
    const result = await ctx.api().call('DisableEncryptionAtRest');
    if (ctx.bool('wait')) return settle(ctx, 'disabled', deadline);
    ctx.out(ctx.json ? json(result) : 'disabling encryption at rest\n');
    return EXIT_OK;
  },
};

const status: Subcommand = {
  summary: 'show the state and which provider holds the keys (GetEncryptionAtRestInfo)',
  async run(ctx) {
    const info = await ctx.api().call<EarInfo>('GetEncryptionAtRestInfo');
    const key = info.authenticationKeyInfo;
    ctx.out(
      ctx.json
        ? json(info)
        : fields([
            ['state', info.state],
            ['key management', key?.keyManagementType],
            ['keyProviderID', key?.keyProviderID],
          ]),
    );
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup(
    'ear',
    'Hardware encryption at rest: self-encrypting drives locked with keys kept at\nthe key servers of a key provider.',
    { enable, disable, status },
    argv,
  );
