// The cluster admin's credentials, kept as a scrypt hash. Before CreateCluster the
// bootstrap credentials from the config authenticate (hashed in memory, never stored);
// CreateCluster's username/password then replace them.
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Store, StoreTx } from '../store/store';

export const ADMIN_KEY = 'cluster/admin';

export interface AdminCredentialRecord {
  username: string;
  /** base64 */
  salt: string;
  /** base64 scrypt output */
  hash: string;
  N: number;
  r: number;
  p: number;
}

const PARAMS = { N: 1 << 14, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(password: Buffer, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LENGTH, { ...params, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** Hashes a password; the caller's plaintext is copied into a buffer that is zeroed. */
export async function hashCredentials(
  username: string,
  password: string,
): Promise<AdminCredentialRecord> {
  const salt = randomBytes(16);
  const plain = Buffer.from(password, 'utf8');
  try {
    const hash = await derive(plain, salt, PARAMS);
    return { username, salt: salt.toString('base64'), hash: hash.toString('base64'), ...PARAMS };
  } finally {
    plain.fill(0);
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time in both the username and the password: scrypt runs whatever the username. */
export async function verifyCredentials(
  record: AdminCredentialRecord,
  username: string,
  password: string,
): Promise<boolean> {
  const plain = Buffer.from(password, 'utf8');
  try {
    const hash = await derive(plain, Buffer.from(record.salt, 'base64'), record);
    const passwordOk = timingSafeEqual(hash, Buffer.from(record.hash, 'base64'));
    const usernameOk = timingSafeEqual(digest(username), digest(record.username));
    return passwordOk && usernameOk;
  } finally {
    plain.fill(0);
  }
}

export function storeCredentials(tx: StoreTx, record: AdminCredentialRecord): void {
  tx.put(ADMIN_KEY, record as unknown as Parameters<StoreTx['put']>[1]);
}

/** Whoever may call the API now: the cluster admin once created, else the bootstrap admin. */
export class AdminCredentials {
  private constructor(
    private readonly store: Store,
    private readonly bootstrap: AdminCredentialRecord | undefined,
  ) {}

  static async open(
    store: Store,
    bootstrap?: { username: string; password: string },
  ): Promise<AdminCredentials> {
    const hashed = bootstrap && (await hashCredentials(bootstrap.username, bootstrap.password));
    return new AdminCredentials(store, hashed);
  }

  /** Changes whenever the accepted credentials change (0 = bootstrap); keys auth caches. */
  revision(): number {
    return this.store.get(ADMIN_KEY)?.revision ?? 0;
  }

  async verify(username: string, password: string): Promise<boolean> {
    const record = this.store.get<AdminCredentialRecord>(ADMIN_KEY)?.value ?? this.bootstrap;
    if (!record) return false;
    return verifyCredentials(record, username, password);
  }
}
