// `ekmctl csr`: GetClientCertificateSignRequest, printed as PEM for a CA to sign.
import { EXIT_OK } from '../../util/command';
import { runSubcommand, type Subcommand } from './subcommand';
import { json } from '../client/output';

const csr: Subcommand = {
  summary: "print the cluster's certificate signing request (PEM)",
  async run(ctx) {
    const result = await ctx
      .api()
      .call<{ clientCertificateSignRequest: string }>('GetClientCertificateSignRequest');
    ctx.out(ctx.json ? json(result) : pem(result.clientCertificateSignRequest));
    return EXIT_OK;
  },
};

/** Element returns the request base64 (PEM body) or as PEM; print PEM either way. */
function pem(text: string): string {
  if (text.includes('-----BEGIN')) return text.endsWith('\n') ? text : `${text}\n`;
  const body = text.replace(/\s+/g, '').match(/.{1,64}/g) ?? [];
  return [
    '-----BEGIN CERTIFICATE REQUEST-----',
    ...body,
    '-----END CERTIFICATE REQUEST-----',
    '',
  ].join('\n');
}

export const run = (argv: string[]) => runSubcommand('csr', csr, argv);
