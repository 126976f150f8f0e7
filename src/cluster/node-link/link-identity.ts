// Each node's identity on the links between nodes: a self-signed certificate kept in its
// stateDir, published in its pending record and carried into its active record when the
// node is added. That record is the pin: a peer trusts the certificate the cluster recorded
// for an active node, and nothing else, so a removed node (its record gone) or a node that
// never joined is refused, and there is no cluster CA whose key a node's old files could
// use to vouch for a new certificate.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { StoreReader } from '../../store/store';
import { NODE_LINK_CERT_FILE, NODE_LINK_SEALED_KEY_FILE } from '../../store/state-files';
import { activeNodes, type NodeRecord } from '../nodes/node-records';
import type { Sealer } from '../sealer';
import { keptSelfSignedIdentity, readKeptIdentity, type TlsIdentity } from '../self-signed';

export const LINK_SEAL_LABEL = 'node-link/tls/privateKey';
const LINK_FILES = {
  certFile: NODE_LINK_CERT_FILE,
  sealedKeyFile: NODE_LINK_SEALED_KEY_FILE,
  label: LINK_SEAL_LABEL,
};

/** This node's link identity, made once (the key sealed under the node's own seal.key). */
export function nodeLinkIdentity(
  stateDir: string,
  sealer: Sealer,
  uuid: string,
  logger?: Logger,
): Promise<TlsIdentity> {
  return keptSelfSignedIdentity(
    stateDir,
    sealer,
    {
      ...LINK_FILES,
      commonName: `ekmd-node ${uuid}`,
      dnsNames: [],
      ips: [],
      usage: { serverAuth: true, clientAuth: true },
      validDays: 3650,
    },
    logger,
  );
}

/** This node's link identity as kept, none when it has none; never makes one (no lock held). */
export function keptNodeLinkIdentity(stateDir: string, sealer: Sealer): TlsIdentity | undefined {
  return readKeptIdentity(stateDir, sealer, LINK_FILES);
}

/** Whether the DER `raw` a peer presented is the certificate `pem`. */
export function isCertificate(pem: string, raw: Buffer): boolean {
  try {
    return new X509Certificate(pem).raw.equals(raw);
  } catch {
    return false;
  }
}

/** The active node whose recorded link certificate is `raw`, if any. */
export function activeNodeWithCertificate(
  reader: StoreReader,
  raw: Buffer,
): NodeRecord | undefined {
  return activeNodes(reader).find((n) => n.link && isCertificate(n.link.certificate, raw));
}
