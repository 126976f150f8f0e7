// The DataPath port: attach or detach a software-encryption DEK to a drive. Simulated
// side: ekmd-sim's DEK layer; real side: dm-crypt later, today a typed "unsupported".

export class DataPathUnsupportedError extends Error {
  override name = 'DataPathUnsupportedError';
  constructor(backend: string) {
    super(`software encryption at rest is unsupported on the ${backend} backend`);
  }
}

export interface DataPath {
  /** Attach a 64-byte DEK to the drive (the caller zeroes its copy afterwards). */
  attach(serial: string, dek: Buffer): Promise<void>;
  detach(serial: string): Promise<void>;
  isAttached(serial: string): Promise<boolean>;
}
