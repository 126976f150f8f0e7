// The cluster's key pair: the identity its KMIP client presents to key servers. The
// private key is generated here, sealed before it is stored and never leaves the node;
// only its CSR (PKCS#10) goes out, for a CA to sign. The key is never a JS string: a
// KeyObject, or PEM bytes in a Buffer that is zeroed (private-key.ts).
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Json, Store, StoreTx, StoreReader } from '../store/store';
import { ElementError } from './errors';
import { activeProviderIDs } from './key-references';
import { generateRsaKeyPair, loadForge, privateKeyPem, publicKeyPem, signCsr } from './private-key';
import type { Sealer } from './sealer';

export const KEY_PAIR_KEY = 'cluster/keyPair';
/** The private key is sealed under this label (a key plan carries it sealed the same way). */
export const SEAL_LABEL = 'cluster/keyPair/privateKey';

/** X.509 subject fields, named as CreatePublicPrivateKeyPair names them. */
export interface KeyPairSubject {
  commonName?: string;
  country?: string;
  emailAddress?: string;
  locality?: string;
  organization?: string;
  organizationalUnit?: string;
  state?: string;
}

const SUBJECT_ATTRIBUTES: [keyof KeyPairSubject, string][] = [
  ['country', 'countryName'],
  ['state', 'stateOrProvinceName'],
  ['locality', 'localityName'],
  ['organization', 'organizationName'],
  ['organizationalUnit', 'organizationalUnitName'],
  ['commonName', 'commonName'],
  ['emailAddress', 'emailAddress'],
];

export interface KeyPairRecord {
  publicKeyPem: string;
  /** base64 of the sealed PKCS#8 PEM. */
  sealedPrivateKey: string;
  subject: KeyPairSubject;
  createTime: string;
}

/** The stored form of a key pair: the private key sealed; `privatePem` is zeroed here. */
function sealedRecord(
  sealer: Sealer,
  privatePem: Buffer,
  publicKeyPem: string,
  subject: KeyPairSubject,
): KeyPairRecord {
  let sealed: Buffer;
  try {
    sealed = sealer.seal(privatePem, SEAL_LABEL);
  } finally {
    privatePem.fill(0);
  }
  return {
    publicKeyPem,
    sealedPrivateKey: sealed.toString('base64'),
    subject,
    createTime: new Date().toISOString(),
  };
}

/**
 * Puts a key pair brought from elsewhere in `tx` (disaster recovery: the node's existing
 * key and certificate), stored exactly as `ClusterKeyPair.create` stores its own.
 */
export function putImportedKeyPair(
  tx: StoreTx,
  sealer: Sealer,
  privateKey: KeyObject,
  subject: KeyPairSubject,
): void {
  const publicPem = publicKeyPem(createPublicKey(privateKey));
  const record = sealedRecord(sealer, privateKeyPem(privateKey), publicPem, subject);
  tx.put(KEY_PAIR_KEY, record as unknown as Json);
}

export class ClusterKeyPair {
  constructor(
    private readonly store: Store,
    private readonly sealer: Sealer,
    private readonly logger?: Logger,
  ) {}

  /** Replaces the key pair; refused while a provider is active (its keys depend on it). */
  async create(subject: KeyPairSubject): Promise<void> {
    this.refuseWhileInUse(this.store);
    const { publicKey, privateKey } = await generateRsaKeyPair();
    const record = sealedRecord(
      this.sealer,
      privateKeyPem(privateKey),
      publicKeyPem(publicKey),
      subject,
    );
    await this.store.transaction((tx) => {
      this.refuseWhileInUse(tx);
      tx.put(KEY_PAIR_KEY, record as unknown as Json);
    });
    this.logger?.info({ subject: Object.keys(subject) }, 'cluster key pair created');
  }

  publicKey(): KeyObject {
    return createPublicKey(this.record().publicKeyPem);
  }

  /** The CSR for the current key pair, PEM armoured. */
  certificateSignRequest(): string {
    const record = this.record();
    const forge = loadForge();
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = forge.pki.publicKeyFromPem(record.publicKeyPem);
    csr.setSubject(
      SUBJECT_ATTRIBUTES.filter(([param]) => record.subject[param] !== undefined).map(
        ([param, name]) => ({ name, value: record.subject[param] }),
      ),
    );
    // The PEM bytes become a KeyObject (OpenSSL's memory) and are zeroed at once.
    const key = this.withPrivateKeyPem((pem) => createPrivateKey({ key: pem }));
    signCsr(forge, csr, key);
    return forge.pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n');
  }

  /**
   * Runs `use` with the private key as PEM bytes and zeroes them when it settles.
   * `use` must not keep the buffer.
   */
  withPrivateKeyPem<R>(use: (pem: Buffer) => R): R {
    const pem = this.sealer.unseal(
      Buffer.from(this.record().sealedPrivateKey, 'base64'),
      SEAL_LABEL,
    );
    let result: R;
    try {
      result = use(pem);
    } catch (err) {
      pem.fill(0);
      throw err;
    }
    if (result instanceof Promise) {
      return result.finally(() => pem.fill(0)) as R;
    }
    pem.fill(0);
    return result;
  }

  /** The private key as stored (sealed, base64); undefined before a key pair exists. */
  sealedPrivateKey(): string | undefined {
    return this.store.get<KeyPairRecord>(KEY_PAIR_KEY)?.value.sealedPrivateKey;
  }

  private record(): KeyPairRecord {
    const entry = this.store.get<KeyPairRecord>(KEY_PAIR_KEY);
    if (!entry) {
      throw new ElementError(
        'xKeyPairDoesNotExist',
        'The cluster has no key pair; call CreatePublicPrivateKeyPair first.',
      );
    }
    return entry.value;
  }

  private refuseWhileInUse(tx: StoreReader): void {
    const active = activeProviderIDs(tx);
    if (active.size > 0) {
      throw new ElementError(
        'xKeyPairInUse',
        `The cluster key pair is in use by active key provider(s) ${[...active].join(', ')}; ` +
          'it cannot be replaced until they are inactive.',
      );
    }
  }
}
