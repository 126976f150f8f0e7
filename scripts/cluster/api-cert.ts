// A node's API certificate for the harness: EC P-256, self-signed, naming the node's own
// loopback address (ekmd's self-signed one names 127.0.0.1 only, and a client checks the
// address it dialled). openssl makes it in milliseconds.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ApiCert {
  cert: string;
  key: string;
  /** The certificate's PEM: a client's CA for this node. */
  pem: string;
}

/** Made once in `dir` (api.crt, api.key); an existing pair is kept. */
export function apiCert(dir: string, ip: string): ApiCert {
  const cert = join(dir, 'api.crt');
  const key = join(dir, 'api.key');
  if (!existsSync(cert) || !existsSync(key)) {
    const r = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
        .concat(['-keyout', key, '-out', cert, '-days', '365', '-subj', `/CN=${ip}`])
        .concat(['-addext', `subjectAltName=IP:${ip}`]),
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`openssl could not make the API certificate: ${r.stderr}`);
  }
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}
