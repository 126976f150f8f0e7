// What a powered drive (and the kernel's opal_dev beside it) holds in RAM: lost on a power
// cycle, kept across an ekmd-sim restart through the sealed journal. Encoded as bytes, not
// JSON, so every secret stays in a Buffer that can be zeroed.
import { OPAL_LOCK_UNLOCK, OPAL_MAX_LRS } from '../../opal/abi';
import { XTS_KEY_BYTES } from '../crypto/xts';
import { LSP_AUTHORITIES } from './record';

export interface VolatileState {
  sidTries: number;
  psidTries: number;
  /** Tries of Admin1, User1..9. */
  lspTries: number[];
  readLocked: boolean[];
  writeLocked: boolean[];
  mbrDone: boolean;
  /** Media keys of the ranges that are readable or writable right now. */
  held: (Buffer | null)[];
  /** The kernel's IOC_OPAL_SAVE list: raw opal_lock_unlock structs, one per range. */
  saved: Buffer[];
  /** Software-encryption DEK attached by ekmd (the dm-crypt table of a real node). */
  dek: Buffer | null;
}

/** State right after power-on: every range locked (LockOnReset), no sessions, no keys. */
export function powerOnState(): VolatileState {
  return {
    sidTries: 0,
    psidTries: 0,
    lspTries: new Array<number>(LSP_AUTHORITIES).fill(0),
    readLocked: new Array<boolean>(OPAL_MAX_LRS).fill(true),
    writeLocked: new Array<boolean>(OPAL_MAX_LRS).fill(true),
    mbrDone: false,
    held: new Array<Buffer | null>(OPAL_MAX_LRS).fill(null),
    saved: [],
    dek: null,
  };
}

export function zeroVolatile(v: VolatileState): void {
  for (const k of v.held) k?.fill(0);
  for (const s of v.saved) s.fill(0);
  v.dek?.fill(0);
}

const VERSION = 1;
const LOCK_UNLOCK = OPAL_LOCK_UNLOCK.size;

function mask(bits: boolean[]): number {
  return bits.reduce((m, b, i) => (b ? m | (1 << i) : m), 0);
}

function unmask(m: number): boolean[] {
  return Array.from({ length: OPAL_MAX_LRS }, (_, i) => (m & (1 << i)) !== 0);
}

/** Layout: version, tries (12 bytes), ReadLocked/WriteLocked/held masks (u16 each),
 *  mbrDone, held keys (64 bytes each), DEK flag (+64), saved count (+280 each). */
export function encodeVolatile(v: VolatileState): Buffer {
  const held = v.held.filter((k): k is Buffer => k !== null);
  const size =
    1 + 2 + LSP_AUTHORITIES + 6 + 1 + held.length * XTS_KEY_BYTES + 1 + (v.dek ? XTS_KEY_BYTES : 0);
  const head = Buffer.alloc(size + 1 + v.saved.length * LOCK_UNLOCK);
  let o = 0;
  head[o++] = VERSION;
  head[o++] = Math.min(v.sidTries, 255);
  head[o++] = Math.min(v.psidTries, 255);
  for (const t of v.lspTries) head[o++] = Math.min(t, 255);
  o = head.writeUInt16BE(mask(v.readLocked), o);
  o = head.writeUInt16BE(mask(v.writeLocked), o);
  o = head.writeUInt16BE(mask(v.held.map((k) => k !== null)), o);
  head[o++] = v.mbrDone ? 1 : 0;
  for (const k of held) o += k.copy(head, o);
  head[o++] = v.dek ? 1 : 0;
  if (v.dek) o += v.dek.copy(head, o);
  head[o++] = v.saved.length;
  for (const s of v.saved) o += s.copy(head, o);
  return head;
}

/** Decode a snapshot; null when it is not one (a foreign or older file). */
export function decodeVolatile(buf: Buffer): VolatileState | null {
  try {
    let o = 0;
    if (buf[o++] !== VERSION) return null;
    const v = powerOnState();
    v.sidTries = buf[o++];
    v.psidTries = buf[o++];
    for (let i = 0; i < LSP_AUTHORITIES; i++) v.lspTries[i] = buf[o++];
    v.readLocked = unmask(buf.readUInt16BE(o));
    v.writeLocked = unmask(buf.readUInt16BE(o + 2));
    const heldMask = unmask(buf.readUInt16BE(o + 4));
    o += 6;
    v.mbrDone = buf[o++] === 1;
    v.held = heldMask.map((h) => {
      if (!h) return null;
      const k = Buffer.from(buf.subarray(o, o + XTS_KEY_BYTES));
      o += XTS_KEY_BYTES;
      return k;
    });
    if (buf[o++] === 1) {
      v.dek = Buffer.from(buf.subarray(o, o + XTS_KEY_BYTES));
      o += XTS_KEY_BYTES;
    }
    const n = buf[o++];
    for (let i = 0; i < n; i++) {
      v.saved.push(Buffer.from(buf.subarray(o, o + LOCK_UNLOCK)));
      o += LOCK_UNLOCK;
    }
    if (o !== buf.length || v.held.some((k) => k !== null && k.length !== XTS_KEY_BYTES)) {
      zeroVolatile(v);
      return null;
    }
    return v;
  } catch {
    return null;
  }
}
