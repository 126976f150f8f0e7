// `ekmctl keypair create`: CreatePublicPrivateKeyPair (the cluster's KMIP client key).
import { EXIT_OK } from '../../util/command';
import { runGroup, type Subcommand } from './subcommand';
import { json } from '../client/output';

const subject: Record<string, [param: string, help: string]> = {
  'common-name': ['commonName', '--common-name CN        subject CN (default: the cluster name)'],
  country: ['country', '--country CC            two letters'],
  'email-address': ['emailAddress', '--email-address ADDR'],
  locality: ['locality', '--locality L'],
  organization: ['organization', '--organization O'],
  'organizational-unit': ['organizationalUnit', '--organizational-unit OU'],
  state: ['state', '--state ST'],
};

const create: Subcommand = {
  summary: 'create a new key pair for the cluster (CreatePublicPrivateKeyPair)',
  details: [
    'Replaces the key pair: client certificates signed for the old one stop matching.',
    "Then sign the request that 'ekmctl csr' prints and give the certificate to",
    "'ekmctl key-servers create --client-cert-file'.",
  ],
  flags: Object.fromEntries(
    Object.entries(subject).map(([flag, [, help]]) => [flag, { type: 'string', help }]),
  ),
  async run(ctx) {
    const params: Record<string, string> = {};
    for (const [flag, [param]] of Object.entries(subject)) {
      const v = ctx.string(flag);
      if (v !== undefined) params[param] = v;
    }
    const result = await ctx.api().call('CreatePublicPrivateKeyPair', params);
    ctx.out(
      ctx.json ? json(result) : "key pair created; run 'ekmctl csr' for its signing request\n",
    );
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup('keypair', "The cluster's KMIP client key pair.", { create }, argv);
