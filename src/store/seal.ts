// The sealing root: AES-256-GCM over secrets kept on the node (internal AKs, the internal
// MK, the cluster private key). The key is a systemd encrypted credential when one is
// passed ($CREDENTIALS_DIRECTORY/seal.key), else stateDir/seal.key (0600, made once,
// atomically). The label is authenticated data: a blob sealed as one thing cannot be
// unsealed as another.
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { fsyncDir } from '../util/atomic-file';
import { framedParts, gcmOpen, gcmSeal } from './aes-gcm';
import { SEAL_KEY_FILE } from './state-files';
export { SEAL_KEY_FILE };

export interface Sealer {
  /** Encrypt `plain` for storage; the caller still owns (and zeroes) `plain`. */
  seal(plain: Buffer, label: string): Buffer;
  /** Decrypt a sealed blob made with the same label; the caller zeroes the result. */
  unseal(sealed: Buffer, label: string): Buffer;
}

export class SealError extends Error {
  override name = 'SealError';
}

export interface SealerOptions {
  stateDir: string;
  /** systemd's $CREDENTIALS_DIRECTORY; its seal.key wins over the stateDir's. */
  credentialsDir?: string;
  logger?: Logger;
  /** Make stateDir/seal.key when there is none (default); false: a missing key is an error. */
  create?: boolean;
}

const KEY_BYTES = 32;
const FORMAT_V1 = 0x01;

export function openSealer(options: SealerOptions): Sealer {
  const credential = options.credentialsDir && join(options.credentialsDir, SEAL_KEY_FILE);
  const fromCredential = credential !== undefined && credential !== '' && exists(credential);
  const path = fromCredential ? credential : join(options.stateDir, SEAL_KEY_FILE);
  if (!fromCredential && options.create !== false) createKeyFileOnce(path);
  const key = readKey(path, !fromCredential);
  options.logger?.info(
    { source: fromCredential ? 'systemd-credential' : 'stateDir' },
    'sealing root loaded',
  );
  return new AesGcmSealer(key);
}

class AesGcmSealer implements Sealer {
  constructor(private readonly key: KeyObject) {}

  seal(plain: Buffer, label: string): Buffer {
    const { nonce, body, tag } = gcmSeal(this.key, aad(label), plain);
    return Buffer.concat([Buffer.of(FORMAT_V1), nonce, body, tag]);
  }

  unseal(sealed: Buffer, label: string): Buffer {
    const ad = aad(label);
    const parts = framedParts(sealed, FORMAT_V1);
    if (!parts) throw new SealError(`sealed ${label} is malformed`);
    return gcmOpen(
      this.key,
      ad,
      parts,
      () => new SealError(`cannot unseal ${label}: wrong sealing key, label or damaged data`),
    );
  }
}

function aad(label: string): Buffer {
  if (typeof label !== 'string' || label === '') {
    throw new SealError('a seal label must be a non-empty string');
  }
  return Buffer.from(`ekmd-seal-v1\0${label}`, 'utf8');
}

function exists(path: string): boolean {
  try {
    closeSync(openSync(path, 'r'));
    return true;
  } catch {
    return false;
  }
}

/** Write a fresh key beside the target and hard-link it in: two racers agree on one key. */
function createKeyFileOnce(path: string): void {
  if (exists(path)) return;
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const key = randomBytes(KEY_BYTES);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, key);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    fsyncDir(dirname(path));
  } catch (err) {
    throw new SealError(`cannot create seal key ${path}: ${(err as Error).message}`);
  } finally {
    key.fill(0);
    rmSync(tmp, { force: true });
  }
}

function readKey(path: string, checkMode: boolean): KeyObject {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new SealError(`cannot read seal key ${path}: ${(err as Error).message}`);
  }
  const buf = Buffer.alloc(KEY_BYTES + 1);
  try {
    const st = fstatSync(fd);
    if (checkMode && (st.mode & 0o077) !== 0) {
      throw new SealError(
        `seal key ${path} is open to group or others (mode ${(st.mode & 0o777).toString(8)}); ` +
          'it must be 0600',
      );
    }
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n !== KEY_BYTES) {
      throw new SealError(`seal key ${path} must hold exactly ${KEY_BYTES} bytes`);
    }
    return createSecretKey(buf.subarray(0, KEY_BYTES));
  } finally {
    buf.fill(0);
    closeSync(fd);
  }
}
