// The drive's volatile state (Tries, lock columns, held media keys, the kernel's saved
// unlocks, the attached DEK) must survive an ekmd-sim restart but is lost on power loss
// by definition. So it lives in an append-only journal of sealed snapshots without fsync:
// a process kill keeps the page cache, and a real power loss dropping the tail is exactly
// a power cycle. One write() per change keeps an unlock in tens of microseconds.
//
// Record: u32 BE length | sealed snapshot. The last record that opens wins; a torn tail
// fails its GCM tag and is ignored.
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { open, seal } from '../crypto/seal';
import { writeFileAtomic } from '../../util/atomic-file';

/** Rewrite the journal down to one record past this size. */
const COMPACT_BYTES = 1 << 20;

export class VolatileJournal {
  private fd: number | null = null;
  private size = 0;

  constructor(
    private readonly path: string,
    private readonly key: Buffer,
    private readonly aad: string,
  ) {}

  /** The newest snapshot that opens, or null (no journal, or nothing readable). */
  load(): Buffer | null {
    if (!existsSync(this.path)) return null;
    const data = readFileSync(this.path);
    let latest: Buffer | null = null;
    let off = 0;
    while (off + 4 <= data.length) {
      const len = data.readUInt32BE(off);
      if (off + 4 + len > data.length) break;
      const snap = open(this.key, data.subarray(off + 4, off + 4 + len), this.aad);
      if (!snap) break;
      latest?.fill(0);
      latest = snap;
      off += 4 + len;
    }
    return latest;
  }

  /** Append a snapshot (the caller zeroes its plaintext). */
  append(snapshot: Buffer): void {
    const record = this.record(snapshot);
    if (this.fd === null || this.size + record.length > COMPACT_BYTES) {
      this.close();
      writeFileAtomic(this.path, record, 0o600, false); // volatile: no fsync, see above
      this.fd = openSync(this.path, 'a', 0o600);
      this.size = record.length;
      return;
    }
    writeSync(this.fd, record);
    this.size += record.length;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private record(snapshot: Buffer): Buffer {
    const sealed = seal(this.key, snapshot, this.aad);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(sealed.length);
    return Buffer.concat([head, sealed]);
  }
}
