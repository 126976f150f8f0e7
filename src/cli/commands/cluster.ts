// `ekmctl cluster create|info`: CreateCluster and GetClusterInfo.
import { EXIT_OK } from '../../util/command';
import { requireFlag, runGroup, type Subcommand } from './subcommand';
import { fields, json } from '../client/output';
import { readSecretFile } from '../client/secret-file';

interface ClusterInfo {
  name: string;
  uuid: string;
  uniqueID: string;
  mvip: string;
  svip: string;
  ensemble: string[];
  encryptionAtRestState: string;
  softwareEncryptionAtRestState: string;
}

const create: Subcommand = {
  summary: 'create the cluster and set its admin (CreateCluster)',
  details: [
    "The admin given here replaces the bootstrap credentials of ekmd's config.",
    'Software encryption at rest can only be chosen now; it cannot be disabled later.',
  ],
  flags: {
    'accept-eula': {
      type: 'boolean',
      help: '--accept-eula          accept the end-user licence (required)',
    },
    mvip: { type: 'string', help: '--mvip IP              management virtual IP' },
    svip: { type: 'string', help: '--svip IP              storage virtual IP' },
    node: {
      type: 'string',
      multiple: true,
      help: "--node IP              a node's address (repeat; default: the mvip)",
    },
    'admin-username': {
      type: 'string',
      help: '--admin-username NAME  the cluster admin to create',
    },
    'admin-password-file': {
      type: 'string',
      help: "--admin-password-file FILE  that admin's password",
    },
    'software-encryption': {
      type: 'boolean',
      help: '--software-encryption  enable software encryption at rest',
    },
    'serial-number': { type: 'string', help: '--serial-number S      optional' },
    'order-number': { type: 'string', help: '--order-number O       optional' },
  },
  async run(ctx) {
    const mvip = requireFlag(ctx, 'mvip');
    const params = {
      acceptEula: ctx.bool('accept-eula'),
      mvip,
      svip: requireFlag(ctx, 'svip'),
      nodes: ctx.strings('node').length ? ctx.strings('node') : [mvip],
      username: requireFlag(ctx, 'admin-username'),
      password: readSecretFile(requireFlag(ctx, 'admin-password-file'), '--admin-password-file'),
      enableSoftwareEncryptionAtRest: ctx.bool('software-encryption'),
      ...(ctx.string('serial-number') ? { serialNumber: ctx.string('serial-number') } : {}),
      ...(ctx.string('order-number') ? { orderNumber: ctx.string('order-number') } : {}),
    };
    const result = await ctx.api().call('CreateCluster', params);
    ctx.out(ctx.json ? json(result) : `cluster created; admin is now '${params.username}'\n`);
    return EXIT_OK;
  },
};

const info: Subcommand = {
  summary: 'show the cluster (GetClusterInfo)',
  async run(ctx) {
    const { clusterInfo: c } = await ctx.api().call<{ clusterInfo: ClusterInfo }>('GetClusterInfo');
    ctx.out(
      ctx.json
        ? json(c)
        : fields([
            ['name', c.name],
            ['uuid', c.uuid],
            ['uniqueID', c.uniqueID],
            ['mvip', c.mvip],
            ['svip', c.svip],
            ['ensemble', c.ensemble],
            ['encryption at rest', c.encryptionAtRestState],
            ['software encryption', c.softwareEncryptionAtRestState],
          ]),
    );
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup('cluster', 'Create the cluster or show it.', { create, info }, argv);
