// Internal AKs sealed under the drive-access key (DAK) inside the cluster's own sealing: the
// store's blob is the cluster sealer's seal of an AES-256-GCM blob under the DAK. The
// cluster sealing key every node holds therefore opens only the outer layer; the AK needs
// the DAK too, which takes two nodes' shares.
import { framedParts, gcmOpen, gcmSeal } from '../../store/aes-gcm';
import { SealError, type Sealer } from '../../store/seal';

const FORMAT = 0x03;
const aad = (label: string): Buffer => Buffer.from(`ekmd-dak-v1\0${label}`, 'utf8');

export class DakSealer implements Sealer {
  /** `dak` stays the caller's: it zeroes it once this sealer's work is done. */
  constructor(
    private readonly dak: Buffer,
    private readonly outer: Sealer,
  ) {}

  seal(plain: Buffer, label: string): Buffer {
    const { nonce, body, tag } = gcmSeal(this.dak, aad(label), plain);
    const inner = Buffer.concat([Buffer.of(FORMAT), nonce, body, tag]);
    try {
      return this.outer.seal(inner, label);
    } finally {
      inner.fill(0);
    }
  }

  unseal(sealed: Buffer, label: string): Buffer {
    const inner = this.outer.unseal(sealed, label);
    try {
      const parts = framedParts(inner, FORMAT);
      if (!parts) throw new SealError(`sealed ${label} is not sealed under the drive-access key`);
      return gcmOpen(
        this.dak,
        aad(label),
        parts,
        () => new SealError(`cannot unseal ${label}: wrong drive-access key or damaged data`),
      );
    } finally {
      inner.fill(0);
    }
  }
}
