// The cluster sealing key (CSK): 32 random bytes with a generation number, shared by the
// nodes of a cluster on a shared store, so that a record one node seals into the store any
// node can unseal, while the store alone yields nothing. Blobs sealed under it have format
// 0x02: format, generation (uint32 BE), nonce, ciphertext, tag; the label and the generation
// are authenticated. Blobs of format 0x01 are the node's own (seal.key) and still unseal.
//
// A node keeps the generations it holds in stateDir/cluster-seal.json, each sealed under its
// local seal.key (atomic, 0600): early unlock reads the key plan's blob without the store.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file';
import { gcmOpen, gcmSeal, NONCE_BYTES, TAG_BYTES } from './aes-gcm';
import { SealError, type Sealer } from './seal';
import { CLUSTER_SEAL_FILE } from './state-files';

export const CSK_BYTES = 32;
const FORMAT_V1 = 0x01;
const FORMAT_V2 = 0x02;
const HEAD_BYTES = 1 + 4 + NONCE_BYTES;

function aad(label: string, generation: number): Buffer {
  if (typeof label !== 'string' || label === '') {
    throw new SealError('a seal label must be a non-empty string');
  }
  return Buffer.from(`ekmd-seal-v2\0${generation}\0${label}`, 'utf8');
}

/** The CSK generation a blob was sealed under; undefined for a node-local (0x01) blob. */
export function blobGeneration(sealed: Buffer): number | undefined {
  if (sealed[0] !== FORMAT_V2 || sealed.length < HEAD_BYTES + TAG_BYTES) return undefined;
  return sealed.readUInt32BE(1);
}

export function sealWithCsk(key: Buffer, generation: number, plain: Buffer, label: string): Buffer {
  const head = Buffer.alloc(5);
  head[0] = FORMAT_V2;
  head.writeUInt32BE(generation, 1);
  const { nonce, body, tag } = gcmSeal(key, aad(label, generation), plain);
  return Buffer.concat([head, nonce, body, tag]);
}

export function unsealWithCsk(key: Buffer, sealed: Buffer, label: string): Buffer {
  const generation = blobGeneration(sealed);
  if (generation === undefined) throw new SealError(`sealed ${label} is malformed`);
  const parts = {
    nonce: sealed.subarray(5, HEAD_BYTES),
    body: sealed.subarray(HEAD_BYTES, sealed.length - TAG_BYTES),
    tag: sealed.subarray(sealed.length - TAG_BYTES),
  };
  return gcmOpen(
    key,
    aad(label, generation),
    parts,
    () => new SealError(`cannot unseal ${label}: wrong cluster sealing key, label or damaged data`),
  );
}

const keyLabel = (generation: number): string => `cluster-sealing-key/${generation}`;

/** The CSK generations this node holds, kept in its stateDir under its local seal.key. */
export class CskKeyring {
  private readonly keys = new Map<number, Buffer>();

  private constructor(
    private readonly path: string,
    private readonly local: Sealer,
  ) {}

  /** The stateDir's keyring (empty when the node holds none yet). */
  static open(stateDir: string, local: Sealer): CskKeyring {
    const ring = new CskKeyring(join(stateDir, CLUSTER_SEAL_FILE), local);
    let text: string;
    try {
      text = readFileSync(ring.path, 'utf8');
    } catch {
      return ring; // none yet
    }
    const { generations } = JSON.parse(text) as { generations?: { [g: string]: string } };
    for (const [g, sealed] of Object.entries(generations ?? {})) {
      const generation = Number(g);
      ring.keys.set(generation, local.unseal(Buffer.from(sealed, 'base64'), keyLabel(generation)));
    }
    return ring;
  }

  has(generation: number): boolean {
    return this.keys.has(generation);
  }

  /** The key of a generation; the keyring still owns it (do not zero it). */
  get(generation: number): Buffer | undefined {
    return this.keys.get(generation);
  }

  generations(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }

  /** Keeps a generation (a copy: the caller zeroes `key`), on disk before it is used. */
  add(generation: number, key: Buffer): void {
    if (key.length !== CSK_BYTES) throw new SealError('a cluster sealing key is 32 bytes');
    if (this.keys.has(generation)) return;
    this.keys.set(generation, Buffer.from(key));
    this.save();
  }

  /** Forgets every generation (this node left the cluster): memory and file. */
  clear(): void {
    for (const key of this.keys.values()) key.fill(0);
    this.keys.clear();
    rmSync(this.path, { force: true });
  }

  private save(): void {
    const generations: { [g: string]: string } = {};
    for (const [g, key] of this.keys) {
      generations[g] = this.local.seal(key, keyLabel(g)).toString('base64');
    }
    writeFileAtomic(this.path, `${JSON.stringify({ generations })}\n`, 0o600);
  }
}

/**
 * The sealer cluster code uses on a shared store: seals under the CSK generation that
 * `sealGeneration` names (undefined: under the local seal.key, as on SQLite or before the
 * cluster has a CSK); unseals either format.
 */
export class ClusterKeySealer implements Sealer {
  constructor(
    private readonly local: Sealer,
    private readonly keyring: CskKeyring,
    private readonly sealGeneration: () => number | undefined = () => undefined,
  ) {}

  seal(plain: Buffer, label: string): Buffer {
    const generation = this.sealGeneration();
    if (generation === undefined) return this.local.seal(plain, label);
    const key = this.keyring.get(generation);
    if (!key) {
      throw new SealError(
        `this node does not hold the cluster sealing key (generation ${generation}) yet; ` +
          'it receives it when it is added to the cluster',
      );
    }
    return sealWithCsk(key, generation, plain, label);
  }

  unseal(sealed: Buffer, label: string): Buffer {
    if (sealed[0] === FORMAT_V1) return this.local.unseal(sealed, label);
    const generation = blobGeneration(sealed);
    if (generation === undefined) throw new SealError(`sealed ${label} is malformed`);
    const key = this.keyring.get(generation);
    if (!key) {
      throw new SealError(
        `cannot unseal ${label}: this node does not hold cluster sealing key generation ${generation}`,
      );
    }
    return unsealWithCsk(key, sealed, label);
  }
}
