// Wire format of the simulator socket: length-prefixed frames, each a JSON header and an
// optional binary payload (ioctl arguments, blocks, DEKs travel as bytes, never as text).
//
//   u32 BE  length of what follows
//   u32 BE  header length
//   header  UTF-8 JSON object
//   payload the remaining bytes
// Both ends read with this limit. `status` answers about 1.24 KB per drive, so 1,024
// drives (the simulator's maximum) need about 1.3 MiB: 4 MiB leaves room to spare.
export const MAX_FRAME_BYTES = 4 << 20;

export interface Frame {
  header: Record<string, unknown>;
  payload: Buffer;
}

export class FrameError extends Error {
  override name = 'FrameError';
}

export function encodeFrame(header: object, payload: Buffer = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(8);
  head.writeUInt32BE(4 + json.length + payload.length, 0);
  head.writeUInt32BE(json.length, 4);
  return Buffer.concat([head, json, payload]);
}

/** Reassembles frames from stream chunks; throws FrameError on a malformed stream. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= 4) {
      const len = this.pending.readUInt32BE(0);
      if (len < 4 || len > MAX_FRAME_BYTES) throw new FrameError(`bad frame length ${len}`);
      if (this.pending.length < 4 + len) break;
      const body = this.pending.subarray(4, 4 + len);
      this.pending = this.pending.subarray(4 + len);
      frames.push(parseBody(body));
    }
    return frames;
  }

  /** Zero what is buffered (it may hold part of a key). */
  clear(): void {
    this.pending.fill(0);
    this.pending = Buffer.alloc(0);
  }
}

function parseBody(body: Buffer): Frame {
  const hlen = body.readUInt32BE(0);
  if (hlen > body.length - 4) throw new FrameError(`header length ${hlen} exceeds the frame`);
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(4, 4 + hlen).toString('utf8'));
  } catch {
    throw new FrameError('frame header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new FrameError('frame header is not a JSON object');
  return {
    header: header as Record<string, unknown>,
    payload: Buffer.from(body.subarray(4 + hlen)),
  };
}
