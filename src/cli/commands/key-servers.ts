// `ekmctl key-servers …`: the KMIP key server objects (Create/Modify/Delete/Get/List/
// TestKeyServerKmip).
import { EXIT_OK, UsageError } from '../../util/command';
import { idArg, requireFlag, runGroup, type Context, type Subcommand } from './subcommand';
import { fields, json, table } from '../client/output';
import { readPemFile } from '../client/secret-file';

export interface KeyServer {
  keyServerID: number;
  keyProviderID: number | null;
  kmipAssignedProviderIsActive: boolean | null;
  kmipKeyServerName: string;
  kmipKeyServerHostnames: string[];
  kmipKeyServerPort: number;
  kmipCaCertificate: string;
  kmipClientCertificate: string;
}

const settingFlags = {
  name: { type: 'string', help: '--name NAME              display name' },
  hostname: {
    type: 'string',
    multiple: true,
    help: '--hostname HOST          key server name or address (repeat for a server cluster)',
  },
  port: { type: 'string', help: '--port N                 KMIP port (default 5696)' },
  'ca-file': {
    type: 'string',
    help: "--ca-file FILE           the key server's CA certificate(s), PEM",
  },
  'client-cert-file': {
    type: 'string',
    help: "--client-cert-file FILE  the cluster's signed client certificate, PEM",
  },
} as const;

/** The settings given on the command line, as Element's members. */
function settings(ctx: Context): Record<string, unknown> {
  const s: Record<string, unknown> = {};
  const name = ctx.string('name');
  if (name !== undefined) s.kmipKeyServerName = name;
  if (ctx.strings('hostname').length) s.kmipKeyServerHostnames = ctx.strings('hostname');
  const port = ctx.string('port');
  if (port !== undefined) {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n < 1 || n > 65535) throw new UsageError(`bad --port '${port}'`);
    s.kmipKeyServerPort = n;
  }
  const ca = ctx.string('ca-file');
  if (ca !== undefined) s.kmipCaCertificate = readPemFile(ca, '--ca-file');
  const cert = ctx.string('client-cert-file');
  if (cert !== undefined) s.kmipClientCertificate = readPemFile(cert, '--client-cert-file');
  return s;
}

export function serverRows(servers: KeyServer[]): string {
  return table(
    ['ID', 'NAME', 'HOSTS', 'PORT', 'PROVIDER', 'PROVIDER ACTIVE'],
    servers.map((s) => [
      s.keyServerID,
      s.kmipKeyServerName,
      s.kmipKeyServerHostnames.join(','),
      s.kmipKeyServerPort,
      s.keyProviderID,
      s.kmipAssignedProviderIsActive,
    ]),
  );
}

function showServer(ctx: Context, s: KeyServer): void {
  ctx.out(
    ctx.json
      ? json(s)
      : fields([
          ['keyServerID', s.keyServerID],
          ['name', s.kmipKeyServerName],
          ['hostnames', s.kmipKeyServerHostnames],
          ['port', s.kmipKeyServerPort],
          ['keyProviderID', s.keyProviderID],
          ['provider active', s.kmipAssignedProviderIsActive],
          ['CA certificates', countCerts(s.kmipCaCertificate)],
          ['client certificate', countCerts(s.kmipClientCertificate) ? 'present' : 'none'],
        ]),
  );
}

const countCerts = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;

const list: Subcommand = {
  summary: 'list key servers (ListKeyServersKmip)',
  flags: {
    provider: { type: 'string', help: '--provider ID    only servers of this key provider' },
    assigned: { type: 'boolean', help: '--assigned       only servers assigned to a provider' },
    unassigned: { type: 'boolean', help: '--unassigned     only servers assigned to none' },
  },
  async run(ctx) {
    if (ctx.bool('assigned') && ctx.bool('unassigned')) {
      throw new UsageError('--assigned and --unassigned exclude each other');
    }
    const params: Record<string, unknown> = {};
    const provider = ctx.string('provider');
    if (provider !== undefined) params.keyProviderID = idArg(provider, '--provider');
    if (ctx.bool('assigned')) params.kmipHasProviderAssigned = true;
    if (ctx.bool('unassigned')) params.kmipHasProviderAssigned = false;
    const { kmipKeyServers } = await ctx
      .api()
      .call<{ kmipKeyServers: KeyServer[] }>('ListKeyServersKmip', params);
    ctx.out(ctx.json ? json(kmipKeyServers) : serverRows(kmipKeyServers));
    return EXIT_OK;
  },
};

const get: Subcommand = {
  summary: 'show one key server (GetKeyServerKmip)',
  args: ['ID'],
  async run(ctx) {
    const { kmipKeyServer } = await ctx
      .api()
      .call<{ kmipKeyServer: KeyServer }>('GetKeyServerKmip', {
        keyServerID: idArg(ctx.args[0], 'key server ID'),
      });
    showServer(ctx, kmipKeyServer);
    return EXIT_OK;
  },
};

const create: Subcommand = {
  summary: 'add a key server (CreateKeyServerKmip; it is not contacted)',
  flags: settingFlags,
  async run(ctx) {
    for (const f of ['name', 'ca-file', 'client-cert-file']) requireFlag(ctx, f);
    if (!ctx.strings('hostname').length) throw new UsageError('--hostname is required');
    const { kmipKeyServer } = await ctx
      .api()
      .call<{ kmipKeyServer: KeyServer }>('CreateKeyServerKmip', {
        kmipKeyServerPort: 5696,
        ...settings(ctx),
      });
    showServer(ctx, kmipKeyServer);
    return EXIT_OK;
  },
};

const modify: Subcommand = {
  summary: 'change a key server (ModifyKeyServerKmip; it is contacted)',
  args: ['ID'],
  flags: settingFlags,
  async run(ctx) {
    const changes = settings(ctx);
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give a flag');
    const { kmipKeyServer } = await ctx
      .api()
      .call<{ kmipKeyServer: KeyServer }>('ModifyKeyServerKmip', {
        keyServerID: idArg(ctx.args[0], 'key server ID'),
        ...changes,
      });
    showServer(ctx, kmipKeyServer);
    return EXIT_OK;
  },
};

const remove: Subcommand = {
  summary: 'delete a key server (DeleteKeyServerKmip)',
  args: ['ID'],
  async run(ctx) {
    const keyServerID = idArg(ctx.args[0], 'key server ID');
    const result = await ctx.api().call('DeleteKeyServerKmip', { keyServerID });
    ctx.out(ctx.json ? json(result) : `key server ${keyServerID} deleted\n`);
    return EXIT_OK;
  },
};

const test: Subcommand = {
  summary: 'contact a key server as the cluster (TestKeyServerKmip)',
  args: ['ID'],
  async run(ctx) {
    const keyServerID = idArg(ctx.args[0], 'key server ID');
    const result = await ctx.api().call('TestKeyServerKmip', { keyServerID });
    ctx.out(ctx.json ? json(result) : `key server ${keyServerID}: test passed\n`);
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup(
    'key-servers',
    "KMIP key servers: where the cluster's keys live. Assign them to a key provider\nwith 'ekmctl key-providers add-server'.",
    { list, get, create, modify, delete: remove, test },
    argv,
  );
