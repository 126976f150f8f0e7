// Splits a TLS byte stream into whole TTLV messages: read the 8-byte header
// (tag 3, type 1, length 4), then exactly `length` more bytes.
import { ttlvMessageLength } from '../ttlv';

export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private need = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes received towards the next message. */
  get pending(): number {
    return this.have;
  }

  /** Feed received bytes; returns the messages now complete. Throws TtlvError on a bad header. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.have += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.need === 0) {
        if (this.have < 8) break;
        this.need = ttlvMessageLength(this.take(8, false), this.maxBytes);
      }
      if (this.have < this.need) break;
      out.push(this.take(this.need, true));
      this.need = 0;
    }
    return out;
  }

  /** Drop buffered bytes, zeroing them (they may hold key material). */
  clear(): void {
    for (const c of this.chunks) c.fill(0);
    this.chunks = [];
    this.have = 0;
    this.need = 0;
  }

  /** The first n buffered bytes (a view); `consume` removes them. */
  private take(n: number, consume: boolean): Buffer {
    if (this.chunks[0]!.length < n) {
      // Join once; zero the pieces, since the copy now holds their bytes.
      const joined = Buffer.concat(this.chunks, this.have);
      for (const c of this.chunks) c.fill(0);
      this.chunks = [joined];
    }
    const first = this.chunks[0]!;
    if (consume) {
      if (first.length > n) this.chunks[0] = first.subarray(n);
      else this.chunks.shift();
      this.have -= n;
    }
    return first.subarray(0, n);
  }
}
