// The pieces several sed-opal structs share, at any offset: sizes checked, the opal_key
// and opal_session_info embedded in most requests, and the locking-range lists. Key bytes
// are copied in; the caller zeroes its own key and the encoded buffer after the ioctl.
import { OPAL_KEY_LEN_MAX, OPAL_MAX_LRS, OpalKeyType } from './constants';
import * as L from './layouts';
import type { OpalKey, OpalSessionInfo } from './struct-types';

export function checkSize(what: L.StructLayout, buf: Buffer): void {
  if (buf.length !== what.size)
    throw new RangeError(`struct ${what.name} is ${what.size} bytes, got ${buf.length}`);
}

export function alloc(what: L.StructLayout): Buffer {
  return Buffer.alloc(what.size);
}

// ---- opal_key

export function writeKey(buf: Buffer, off: number, k: OpalKey): void {
  if (k.key.length > OPAL_KEY_LEN_MAX)
    throw new RangeError(`an Opal key holds at most ${OPAL_KEY_LEN_MAX} bytes`);
  const f = L.OPAL_KEY.fields;
  buf.writeUInt8(k.lr, off + f.lr);
  buf.writeUInt8(k.key.length, off + f.key_len);
  buf.writeUInt8(k.keyType ?? OpalKeyType.INCLUDED, off + f.key_type);
  k.key.copy(buf, off + f.key);
}

export function readKey(buf: Buffer, off: number): OpalKey & { keyType: number } {
  const f = L.OPAL_KEY.fields;
  const len = buf.readUInt8(off + f.key_len);
  return {
    lr: buf.readUInt8(off + f.lr),
    keyType: buf.readUInt8(off + f.key_type),
    key: Buffer.from(buf.subarray(off + f.key, off + f.key + len)),
  };
}

// ---- opal_session_info

export function writeSession(buf: Buffer, off: number, s: OpalSessionInfo): void {
  const f = L.OPAL_SESSION_INFO.fields;
  buf.writeUInt32LE(s.sum ? 1 : 0, off + f.sum);
  buf.writeUInt32LE(s.who, off + f.who);
  writeKey(buf, off + f.opal_key, s.opalKey);
}

export function readSession(buf: Buffer, off: number): OpalSessionInfo {
  const f = L.OPAL_SESSION_INFO.fields;
  return {
    sum: buf.readUInt32LE(off + f.sum) !== 0,
    who: buf.readUInt32LE(off + f.who),
    opalKey: readKey(buf, off + f.opal_key),
  };
}

// ---- range lists (opal_lr_act, opal_lr_react, opal_sum_ranges)

export function writeLrList(buf: Buffer, numOff: number, lrOff: number, lr: number[]): void {
  if (lr.length > OPAL_MAX_LRS)
    throw new RangeError(`at most ${OPAL_MAX_LRS} locking ranges, got ${lr.length}`);
  buf.writeUInt8(lr.length, numOff);
  lr.forEach((r, i) => buf.writeUInt8(r, lrOff + i));
}

export function readLrList(
  buf: Buffer,
  numOff: number,
  lrOff: number,
): { numLrs: number; lr: number[] } {
  const numLrs = buf.readUInt8(numOff);
  const lr = [...buf.subarray(lrOff, lrOff + Math.min(numLrs, OPAL_MAX_LRS))];
  return { numLrs, lr };
}
