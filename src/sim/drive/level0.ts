// The Level 0 discovery response of a simulated Opal drive (TCG Storage Core 2.01
// §3.3.6): header, then TPer, Locking, Geometry and Opal v2 feature descriptors.
import { BLOCK_SIZE } from '../crypto/xts';
import { ALIGNMENT_BLOCKS, type OpalStateMachine } from './opal-state-machine';
import { OpalStatusFlag } from '../../opal/abi';

const HEADER = 48;

function feature(code: number, data: Buffer): Buffer {
  const head = Buffer.from([code >> 8, code & 0xff, 0x10, data.length]); // version 1
  return Buffer.concat([head, data]);
}

export function level0Discovery(drive: OpalStateMachine): Buffer {
  const flags = drive.statusFlags();
  const tper = Buffer.alloc(12);
  tper[0] = 0x11; // Sync supported, Streaming supported
  const locking = Buffer.alloc(12);
  locking[0] =
    0x01 | // LockingSupported
    (flags & OpalStatusFlag.LOCKING_ENABLED ? 0x02 : 0) |
    (flags & OpalStatusFlag.LOCKED ? 0x04 : 0) |
    0x08 | // MediaEncryption
    (flags & OpalStatusFlag.MBR_ENABLED ? 0x10 : 0) |
    (flags & OpalStatusFlag.MBR_DONE ? 0x20 : 0);
  const geometry = Buffer.alloc(28);
  geometry[0] = 1; // alignment required
  geometry.writeUInt32BE(BLOCK_SIZE, 8);
  geometry.writeBigUInt64BE(BigInt(ALIGNMENT_BLOCKS), 12);
  const opal2 = Buffer.alloc(16);
  opal2.writeUInt16BE(0x1000, 0); // base ComID
  opal2.writeUInt16BE(1, 2); // number of ComIDs
  opal2.writeUInt16BE(4, 5); // locking SP admin authorities
  opal2.writeUInt16BE(9, 7); // locking SP user authorities
  const body = Buffer.concat([
    feature(0x0001, tper),
    feature(0x0002, locking),
    feature(0x0003, geometry),
    feature(0x0203, opal2),
  ]);
  const header = Buffer.alloc(HEADER);
  header.writeUInt32BE(HEADER - 4 + body.length, 0); // counts the bytes after itself
  header.writeUInt16BE(0, 4);
  header.writeUInt16BE(1, 6);
  return Buffer.concat([header, body]);
}
