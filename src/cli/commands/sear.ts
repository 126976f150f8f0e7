// `ekmctl sear info|rekey`: software encryption at rest — the master key that wraps the
// drives' DEKs, and its rekey (internal, or external at a key provider).
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../../util/command';
import { idArg, runGroup, type Subcommand } from './subcommand';
import { fields, json } from '../client/output';
import { waitDeadline, waitFlags, waitForHandle } from '../client/wait';

interface SearInfo {
  state: string;
  version: number;
  masterKeyInfo?: {
    keyID?: string;
    keyManagementType?: string;
    keyProviderID?: number;
    keyCreatedTime?: string;
  };
  rekeyMasterKeyAsyncResultID?: number;
  detachedDrives?: { driveID: number; reason: string }[];
}

const info: Subcommand = {
  summary: 'show the master key and the last rekey (GetSoftwareEncryptionAtRestInfo)',
  async run(ctx) {
    const r = await ctx.api().call<SearInfo>('GetSoftwareEncryptionAtRestInfo');
    const mk = r.masterKeyInfo;
    ctx.out(
      ctx.json
        ? json(r)
        : fields([
            ['state', r.state],
            ['version', r.version],
            ['key management', mk?.keyManagementType],
            ['keyProviderID', mk?.keyProviderID],
            ['keyID', mk?.keyID],
            ['key created', mk?.keyCreatedTime],
            ['last rekey handle', r.rekeyMasterKeyAsyncResultID],
            ...(r.detachedDrives ?? []).map(
              (d) => [`drive ${d.driveID}`, `DEK not attached: ${d.reason}`] as [string, string],
            ),
          ]),
    );
    return EXIT_OK;
  },
};

const rekey: Subcommand = {
  summary: 'replace the master key and re-wrap every DEK (RekeySoftwareEncryptionAtRestMasterKey)',
  flags: {
    internal: { type: 'boolean', help: '--internal       keep the new master key on the cluster' },
    external: {
      type: 'boolean',
      help: '--external       keep it at a key provider (--key-provider)',
    },
    'key-provider': {
      type: 'string',
      help: '--key-provider ID  the key provider of an external master key',
    },
    ...waitFlags,
  },
  details: [
    'Without --internal or --external the key management stays as it is.',
    "Without --wait it prints the async handle; follow with 'ekmctl async get HANDLE'.",
  ],
  async run(ctx) {
    const deadline = waitDeadline(ctx);
    const internal = ctx.bool('internal');
    const external = ctx.bool('external');
    const provider = ctx.string('key-provider');
    if (internal && external) throw new UsageError('give --internal or --external, not both');
    if (external && provider === undefined)
      throw new UsageError('--external needs --key-provider ID');
    if (internal && provider !== undefined)
      throw new UsageError('--key-provider goes with --external, not --internal');
    const params = {
      ...(internal ? { keyManagementType: 'Internal' } : {}),
      ...(external ? { keyManagementType: 'External' } : {}),
      ...(provider !== undefined ? { keyProviderID: idArg(provider, '--key-provider') } : {}),
    };
    const api = ctx.api();
    const { asyncHandle } = await api.call<{ asyncHandle: number }>(
      'RekeySoftwareEncryptionAtRestMasterKey',
      params,
    );
    if (!ctx.bool('wait')) {
      ctx.out(ctx.json ? json({ asyncHandle }) : `rekey started: async handle ${asyncHandle}\n`);
      return EXIT_OK;
    }
    const r = await waitForHandle(ctx, api, asyncHandle, deadline);
    if (ctx.json) ctx.out(json(r));
    else if (r.error) ctx.note(`ekmctl: ${r.error.name}: ${r.error.message}`);
    else {
      const done = r.result as { operation?: string; newKey?: { keyID?: string } };
      ctx.out(`${done.operation ?? 'rekeyed'}\nnew master key ${done.newKey?.keyID ?? ''}\n`);
    }
    return r.error ? EXIT_FAILURE : EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup(
    'sear',
    "Software encryption at rest: a master key wraps every drive's data encryption key\n(DEK); it is kept on the cluster (internal) or at a key provider (external).",
    { info, rekey },
    argv,
  );
