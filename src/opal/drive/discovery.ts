// Level 0 discovery (TCG Storage Core 2.01 §3.3.6), as IOC_OPAL_DISCOVERY returns it:
// a 48-byte header, then feature descriptors {code u16 BE, version<<4, length, data}.

export const FEATURE_NAMES: Readonly<Record<number, string>> = {
  0x0001: 'TPer',
  0x0002: 'Locking',
  0x0003: 'Geometry',
  0x0100: 'Enterprise',
  0x0200: 'Opal v1',
  0x0201: 'Single User Mode',
  0x0202: 'DataStore',
  0x0203: 'Opal v2',
  0x0301: 'Opalite',
  0x0302: 'Pyrite v1',
  0x0303: 'Pyrite v2',
  0x0304: 'Ruby',
  0x0402: 'Block SID',
  0x0403: 'Namespace Locking',
};

export interface Feature {
  code: number;
  name: string;
  version: number;
  data: Buffer;
}

export interface LockingFeature {
  lockingSupported: boolean;
  lockingEnabled: boolean;
  locked: boolean;
  mediaEncryption: boolean;
  mbrEnabled: boolean;
  mbrDone: boolean;
  mbrShadowingNotSupported: boolean;
}

export interface Level0 {
  majorVersion: number;
  minorVersion: number;
  features: Feature[];
  locking: LockingFeature | undefined;
}

const HEADER = 48;

/**
 * Parse the first `count` bytes of a Level 0 response. The kernel copies (and returns)
 * only as many bytes as the header's length field, which counts the bytes after itself,
 * so the last descriptor can arrive 4 bytes short: it is clipped, not rejected.
 */
export function parseLevel0(buf: Buffer, count = buf.length): Level0 {
  if (count < HEADER || count > buf.length)
    throw new RangeError(`Level 0 discovery too short: ${count} bytes`);
  const end = Math.min(count, 4 + buf.readUInt32BE(0));
  const features: Feature[] = [];
  let off = HEADER;
  while (off + 4 <= end) {
    const code = buf.readUInt16BE(off);
    const len = Math.min(buf[off + 3], end - off - 4);
    features.push({
      code,
      name: FEATURE_NAMES[code] ?? `0x${code.toString(16).padStart(4, '0')}`,
      version: buf[off + 2] >> 4,
      data: Buffer.from(buf.subarray(off + 4, off + 4 + len)),
    });
    off += 4 + len;
  }
  const lf = features.find((f) => f.code === 0x0002);
  const bits = lf && lf.data.length > 0 ? lf.data[0] : undefined;
  return {
    majorVersion: buf.readUInt16BE(4),
    minorVersion: buf.readUInt16BE(6),
    features,
    locking:
      bits === undefined
        ? undefined
        : {
            lockingSupported: (bits & 0x01) !== 0,
            lockingEnabled: (bits & 0x02) !== 0,
            locked: (bits & 0x04) !== 0,
            mediaEncryption: (bits & 0x08) !== 0,
            mbrEnabled: (bits & 0x10) !== 0,
            mbrDone: (bits & 0x20) !== 0,
            mbrShadowingNotSupported: (bits & 0x40) !== 0,
          },
  };
}
