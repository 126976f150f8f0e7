// `ekmctl key-providers …`: Create/Delete/Get/List/TestKeyProviderKmip,
// AddKeyServerToProviderKmip, RemoveKeyServerFromProviderKmip.
import { EXIT_OK, UsageError } from '../../util/command';
import { idArg, runGroup, type Context, type Subcommand } from './subcommand';
import { fields, json, table } from '../client/output';

export interface KeyProvider {
  keyProviderID: number;
  keyProviderName: string;
  keyProviderIsActive: boolean;
  keyServerIDs: number[];
  kmipCapabilities: string;
}

function showProvider(ctx: Context, p: KeyProvider): void {
  ctx.out(
    ctx.json
      ? json(p)
      : fields([
          ['keyProviderID', p.keyProviderID],
          ['name', p.keyProviderName],
          ['active', p.keyProviderIsActive],
          ['keyServerIDs', p.keyServerIDs],
          ['capabilities', p.kmipCapabilities],
        ]),
  );
}

const byID = (ctx: Context) => ({ keyProviderID: idArg(ctx.args[0], 'key provider ID') });

const list: Subcommand = {
  summary: 'list key providers (ListKeyProvidersKmip)',
  flags: {
    active: { type: 'boolean', help: '--active         only active providers (keys in use)' },
    inactive: { type: 'boolean', help: '--inactive       only inactive providers' },
  },
  async run(ctx) {
    if (ctx.bool('active') && ctx.bool('inactive')) {
      throw new UsageError('--active and --inactive exclude each other');
    }
    const params: Record<string, unknown> = {};
    if (ctx.bool('active')) params.keyProviderIsActive = true;
    if (ctx.bool('inactive')) params.keyProviderIsActive = false;
    const { kmipKeyProviders } = await ctx
      .api()
      .call<{ kmipKeyProviders: KeyProvider[] }>('ListKeyProvidersKmip', params);
    ctx.out(
      ctx.json
        ? json(kmipKeyProviders)
        : table(
            ['ID', 'NAME', 'ACTIVE', 'KEY SERVERS'],
            kmipKeyProviders.map((p) => [
              p.keyProviderID,
              p.keyProviderName,
              p.keyProviderIsActive,
              p.keyServerIDs.join(','),
            ]),
          ),
    );
    return EXIT_OK;
  },
};

const get: Subcommand = {
  summary: 'show one key provider (GetKeyProviderKmip)',
  args: ['ID'],
  async run(ctx) {
    const { kmipKeyProvider } = await ctx
      .api()
      .call<{ kmipKeyProvider: KeyProvider }>('GetKeyProviderKmip', byID(ctx));
    showProvider(ctx, kmipKeyProvider);
    return EXIT_OK;
  },
};

const create: Subcommand = {
  summary: 'create a key provider with no servers (CreateKeyProviderKmip)',
  args: ['NAME'],
  async run(ctx) {
    const { kmipKeyProvider } = await ctx
      .api()
      .call<{ kmipKeyProvider: KeyProvider }>('CreateKeyProviderKmip', {
        keyProviderName: ctx.args[0],
      });
    showProvider(ctx, kmipKeyProvider);
    return EXIT_OK;
  },
};

const remove: Subcommand = {
  summary: 'delete an inactive key provider (DeleteKeyProviderKmip)',
  args: ['ID'],
  async run(ctx) {
    const params = byID(ctx);
    const result = await ctx.api().call('DeleteKeyProviderKmip', params);
    ctx.out(ctx.json ? json(result) : `key provider ${params.keyProviderID} deleted\n`);
    return EXIT_OK;
  },
};

const addServer: Subcommand = {
  summary:
    'assign a key server to a provider; the server is contacted (AddKeyServerToProviderKmip)',
  args: ['PROVIDER_ID', 'SERVER_ID'],
  async run(ctx) {
    const keyProviderID = idArg(ctx.args[0], 'key provider ID');
    const keyServerID = idArg(ctx.args[1], 'key server ID');
    const result = await ctx
      .api()
      .call('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
    ctx.out(
      ctx.json
        ? json(result)
        : `key server ${keyServerID} assigned to key provider ${keyProviderID}\n`,
    );
    return EXIT_OK;
  },
};

const removeServer: Subcommand = {
  summary: 'unassign a key server from its provider (RemoveKeyServerFromProviderKmip)',
  args: ['SERVER_ID'],
  async run(ctx) {
    const keyServerID = idArg(ctx.args[0], 'key server ID');
    const result = await ctx.api().call('RemoveKeyServerFromProviderKmip', { keyServerID });
    ctx.out(ctx.json ? json(result) : `key server ${keyServerID} unassigned\n`);
    return EXIT_OK;
  },
};

const test: Subcommand = {
  summary: "contact a provider's key servers as the cluster (TestKeyProviderKmip)",
  args: ['ID'],
  async run(ctx) {
    const params = byID(ctx);
    const result = await ctx.api().call('TestKeyProviderKmip', params);
    ctx.out(ctx.json ? json(result) : `key provider ${params.keyProviderID}: test passed\n`);
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup(
    'key-providers',
    'KMIP key providers: named groups of key servers. A provider becomes active once\nkeys are created through it, and cannot be deleted while active.',
    {
      list,
      get,
      create,
      delete: remove,
      'add-server': addServer,
      'remove-server': removeServer,
      test,
    },
    argv,
  );
