// The drive's platters: a sparse file of 512-byte blocks that only ever holds ciphertext.
// Encryption is the caller's job; this file knows offsets and nothing else.
import {
  closeSync,
  existsSync,
  ftruncateSync,
  fstatSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { BLOCK_SIZE } from '../crypto/xts';

export class MediaFile {
  private readonly fd: number;

  constructor(
    path: string,
    readonly blocks: number,
  ) {
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+', 0o600);
    if (fstatSync(this.fd).size !== blocks * BLOCK_SIZE)
      ftruncateSync(this.fd, blocks * BLOCK_SIZE);
  }

  read(lba: number): Buffer {
    const buf = Buffer.alloc(BLOCK_SIZE);
    readSync(this.fd, buf, 0, BLOCK_SIZE, lba * BLOCK_SIZE);
    return buf;
  }

  write(lba: number, block: Buffer): void {
    writeSync(this.fd, block, 0, BLOCK_SIZE, lba * BLOCK_SIZE);
  }

  close(): void {
    closeSync(this.fd);
  }
}
