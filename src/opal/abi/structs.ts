// Encoders and decoders for every sed-opal struct, on Buffer at the offsets of ./layouts.
// The real transport and the simulator share them, so a layout bug fails in CI.
// Encoders copy key bytes into the returned Buffer: the caller zeroes both its own key
// and the encoded buffer after the ioctl. Decoders return copies; errors never quote keys.
import { OPAL_KEY_LEN_MAX, OPAL_MAX_LRS, OPAL_UID_LENGTH, OpalKeyType } from './constants';
import * as L from './layouts';

export interface OpalKey {
  /** Locking range the key is for (0 = global range). */
  lr: number;
  /** OpalKeyType: INCLUDED (bytes in `key`) or KEYRING. Defaults to INCLUDED. */
  keyType?: number;
  /** The PIN bytes, at most 255 (key_len is a __u8). */
  key: Buffer;
}

export interface OpalSessionInfo {
  /** Single User Mode session. */
  sum: boolean;
  /** OpalUser: ADMIN1 or USER1..9. */
  who: number;
  opalKey: OpalKey;
}

export interface OpalLockUnlock {
  session: OpalSessionInfo;
  /** OpalLockState: RO, RW or LK. */
  lState: number;
  /** OpalLockFlags (upstream; padding before 6.4). */
  flags?: number;
}

export interface OpalLrAct {
  key: OpalKey;
  sum: boolean;
  /** Ranges to put in Single User Mode; num_lrs = lr.length. */
  lr: number[];
}

export interface OpalUserLrSetup {
  rangeStart: bigint;
  rangeLength: bigint;
  rle: boolean;
  wle: boolean;
  session: OpalSessionInfo;
}

export interface OpalNewPw {
  /** Who authenticates. */
  session: OpalSessionInfo;
  /** Whose PIN changes (who) and to what (opalKey.key). */
  newUserPw: OpalSessionInfo;
}

export interface OpalMbrData {
  key: OpalKey;
  /** OpalMbr: ENABLE (0) or DISABLE (1). */
  enableDisable: number;
}

export interface OpalMbrDone {
  key: OpalKey;
  /** OpalMbrDoneFlag. */
  doneFlag: number;
}

export interface OpalShadowMbr {
  key: OpalKey;
  /** User-space address of the data. */
  data: bigint;
  offset: bigint;
  size: bigint;
}

export interface OpalReadWriteTable {
  key: OpalKey;
  data: bigint;
  /** 8-byte table UID. */
  tableUid: Buffer;
  offset: bigint;
  size: bigint;
  flags: bigint;
  priv: bigint;
}

export interface OpalStatus {
  flags: number;
  reserved?: number;
}

export interface OpalLrStatus {
  session: OpalSessionInfo;
  rangeStart: bigint;
  rangeLength: bigint;
  rle: boolean;
  wle: boolean;
  lState: number;
}

export interface OpalGeometry {
  align: boolean;
  logicalBlockSize: number;
  alignmentGranularity: bigint;
  lowestAlignedLba: bigint;
}

export interface OpalDiscovery {
  /** User-space address of the output buffer. */
  data: bigint;
  size: bigint;
}

export interface OpalRevertLsp {
  key: OpalKey;
  /** OpalRevertLspOpts. */
  options: number;
}

export interface OpalLrReact {
  key: OpalKey;
  newAdminKey: OpalKey;
  lr: number[];
  rangePolicy: number;
  entireTable: number;
}

export interface OpalSumRanges {
  key: OpalKey;
  lr: number[];
  rangePolicy: number;
}

/** Decoded forms also report the raw range count, which may disagree with lr.length. */
export interface DecodedLrList {
  numLrs: number;
}

function checkSize(what: L.StructLayout, buf: Buffer): void {
  if (buf.length !== what.size)
    throw new RangeError(`struct ${what.name} is ${what.size} bytes, got ${buf.length}`);
}

function alloc(what: L.StructLayout): Buffer {
  return Buffer.alloc(what.size);
}

// ---- opal_key

function writeKey(buf: Buffer, off: number, k: OpalKey): void {
  if (k.key.length > OPAL_KEY_LEN_MAX)
    throw new RangeError(`an Opal key holds at most ${OPAL_KEY_LEN_MAX} bytes`);
  const f = L.OPAL_KEY.fields;
  buf.writeUInt8(k.lr, off + f.lr);
  buf.writeUInt8(k.key.length, off + f.key_len);
  buf.writeUInt8(k.keyType ?? OpalKeyType.INCLUDED, off + f.key_type);
  k.key.copy(buf, off + f.key);
}

function readKey(buf: Buffer, off: number): OpalKey & { keyType: number } {
  const f = L.OPAL_KEY.fields;
  const len = buf.readUInt8(off + f.key_len);
  return {
    lr: buf.readUInt8(off + f.lr),
    keyType: buf.readUInt8(off + f.key_type),
    key: Buffer.from(buf.subarray(off + f.key, off + f.key + len)),
  };
}

export function encodeOpalKey(k: OpalKey): Buffer {
  const buf = alloc(L.OPAL_KEY);
  writeKey(buf, 0, k);
  return buf;
}

export function decodeOpalKey(buf: Buffer): OpalKey & { keyType: number } {
  checkSize(L.OPAL_KEY, buf);
  return readKey(buf, 0);
}

// ---- opal_session_info

function writeSession(buf: Buffer, off: number, s: OpalSessionInfo): void {
  const f = L.OPAL_SESSION_INFO.fields;
  buf.writeUInt32LE(s.sum ? 1 : 0, off + f.sum);
  buf.writeUInt32LE(s.who, off + f.who);
  writeKey(buf, off + f.opal_key, s.opalKey);
}

function readSession(buf: Buffer, off: number): OpalSessionInfo {
  const f = L.OPAL_SESSION_INFO.fields;
  return {
    sum: buf.readUInt32LE(off + f.sum) !== 0,
    who: buf.readUInt32LE(off + f.who),
    opalKey: readKey(buf, off + f.opal_key),
  };
}

export function encodeOpalSessionInfo(s: OpalSessionInfo): Buffer {
  const buf = alloc(L.OPAL_SESSION_INFO);
  writeSession(buf, 0, s);
  return buf;
}

export function decodeOpalSessionInfo(buf: Buffer): OpalSessionInfo {
  checkSize(L.OPAL_SESSION_INFO, buf);
  return readSession(buf, 0);
}

// ---- opal_lock_unlock

export function encodeOpalLockUnlock(v: OpalLockUnlock): Buffer {
  const buf = alloc(L.OPAL_LOCK_UNLOCK);
  const f = L.OPAL_LOCK_UNLOCK.fields;
  writeSession(buf, f.session, v.session);
  buf.writeUInt32LE(v.lState, f.l_state);
  buf.writeUInt16LE(v.flags ?? 0, f.flags);
  return buf;
}

export function decodeOpalLockUnlock(buf: Buffer): Required<OpalLockUnlock> {
  checkSize(L.OPAL_LOCK_UNLOCK, buf);
  const f = L.OPAL_LOCK_UNLOCK.fields;
  return {
    session: readSession(buf, f.session),
    lState: buf.readUInt32LE(f.l_state),
    flags: buf.readUInt16LE(f.flags),
  };
}

// ---- range lists (opal_lr_act, opal_lr_react, opal_sum_ranges)

function writeLrList(buf: Buffer, numOff: number, lrOff: number, lr: number[]): void {
  if (lr.length > OPAL_MAX_LRS)
    throw new RangeError(`at most ${OPAL_MAX_LRS} locking ranges, got ${lr.length}`);
  buf.writeUInt8(lr.length, numOff);
  lr.forEach((r, i) => buf.writeUInt8(r, lrOff + i));
}

function readLrList(buf: Buffer, numOff: number, lrOff: number): { numLrs: number; lr: number[] } {
  const numLrs = buf.readUInt8(numOff);
  const lr = [...buf.subarray(lrOff, lrOff + Math.min(numLrs, OPAL_MAX_LRS))];
  return { numLrs, lr };
}

// ---- opal_lr_act

export function encodeOpalLrAct(v: OpalLrAct): Buffer {
  const buf = alloc(L.OPAL_LR_ACT);
  const f = L.OPAL_LR_ACT.fields;
  writeKey(buf, f.key, v.key);
  buf.writeUInt32LE(v.sum ? 1 : 0, f.sum);
  writeLrList(buf, f.num_lrs, f.lr, v.lr);
  return buf;
}

export function decodeOpalLrAct(buf: Buffer): OpalLrAct & DecodedLrList {
  checkSize(L.OPAL_LR_ACT, buf);
  const f = L.OPAL_LR_ACT.fields;
  return {
    key: readKey(buf, f.key),
    sum: buf.readUInt32LE(f.sum) !== 0,
    ...readLrList(buf, f.num_lrs, f.lr),
  };
}

// ---- opal_user_lr_setup

export function encodeOpalUserLrSetup(v: OpalUserLrSetup): Buffer {
  const buf = alloc(L.OPAL_USER_LR_SETUP);
  const f = L.OPAL_USER_LR_SETUP.fields;
  buf.writeBigUInt64LE(v.rangeStart, f.range_start);
  buf.writeBigUInt64LE(v.rangeLength, f.range_length);
  buf.writeUInt32LE(v.rle ? 1 : 0, f.RLE);
  buf.writeUInt32LE(v.wle ? 1 : 0, f.WLE);
  writeSession(buf, f.session, v.session);
  return buf;
}

export function decodeOpalUserLrSetup(buf: Buffer): OpalUserLrSetup {
  checkSize(L.OPAL_USER_LR_SETUP, buf);
  const f = L.OPAL_USER_LR_SETUP.fields;
  return {
    rangeStart: buf.readBigUInt64LE(f.range_start),
    rangeLength: buf.readBigUInt64LE(f.range_length),
    rle: buf.readUInt32LE(f.RLE) !== 0,
    wle: buf.readUInt32LE(f.WLE) !== 0,
    session: readSession(buf, f.session),
  };
}

// ---- opal_new_pw

export function encodeOpalNewPw(v: OpalNewPw): Buffer {
  const buf = alloc(L.OPAL_NEW_PW);
  const f = L.OPAL_NEW_PW.fields;
  writeSession(buf, f.session, v.session);
  writeSession(buf, f.new_user_pw, v.newUserPw);
  return buf;
}

export function decodeOpalNewPw(buf: Buffer): OpalNewPw {
  checkSize(L.OPAL_NEW_PW, buf);
  const f = L.OPAL_NEW_PW.fields;
  return { session: readSession(buf, f.session), newUserPw: readSession(buf, f.new_user_pw) };
}

// ---- opal_mbr_data / opal_mbr_done

export function encodeOpalMbrData(v: OpalMbrData): Buffer {
  const buf = alloc(L.OPAL_MBR_DATA);
  writeKey(buf, L.OPAL_MBR_DATA.fields.key, v.key);
  buf.writeUInt8(v.enableDisable, L.OPAL_MBR_DATA.fields.enable_disable);
  return buf;
}

export function decodeOpalMbrData(buf: Buffer): OpalMbrData {
  checkSize(L.OPAL_MBR_DATA, buf);
  return {
    key: readKey(buf, L.OPAL_MBR_DATA.fields.key),
    enableDisable: buf.readUInt8(L.OPAL_MBR_DATA.fields.enable_disable),
  };
}

export function encodeOpalMbrDone(v: OpalMbrDone): Buffer {
  const buf = alloc(L.OPAL_MBR_DONE);
  writeKey(buf, L.OPAL_MBR_DONE.fields.key, v.key);
  buf.writeUInt8(v.doneFlag, L.OPAL_MBR_DONE.fields.done_flag);
  return buf;
}

export function decodeOpalMbrDone(buf: Buffer): OpalMbrDone {
  checkSize(L.OPAL_MBR_DONE, buf);
  return {
    key: readKey(buf, L.OPAL_MBR_DONE.fields.key),
    doneFlag: buf.readUInt8(L.OPAL_MBR_DONE.fields.done_flag),
  };
}

// ---- opal_shadow_mbr

export function encodeOpalShadowMbr(v: OpalShadowMbr): Buffer {
  const buf = alloc(L.OPAL_SHADOW_MBR);
  const f = L.OPAL_SHADOW_MBR.fields;
  writeKey(buf, f.key, v.key);
  buf.writeBigUInt64LE(v.data, f.data);
  buf.writeBigUInt64LE(v.offset, f.offset);
  buf.writeBigUInt64LE(v.size, f.size);
  return buf;
}

export function decodeOpalShadowMbr(buf: Buffer): OpalShadowMbr {
  checkSize(L.OPAL_SHADOW_MBR, buf);
  const f = L.OPAL_SHADOW_MBR.fields;
  return {
    key: readKey(buf, f.key),
    data: buf.readBigUInt64LE(f.data),
    offset: buf.readBigUInt64LE(f.offset),
    size: buf.readBigUInt64LE(f.size),
  };
}

// ---- opal_read_write_table

export function encodeOpalReadWriteTable(v: OpalReadWriteTable): Buffer {
  if (v.tableUid.length !== OPAL_UID_LENGTH)
    throw new RangeError(`a table UID is ${OPAL_UID_LENGTH} bytes, got ${v.tableUid.length}`);
  const buf = alloc(L.OPAL_READ_WRITE_TABLE);
  const f = L.OPAL_READ_WRITE_TABLE.fields;
  writeKey(buf, f.key, v.key);
  buf.writeBigUInt64LE(v.data, f.data);
  v.tableUid.copy(buf, f.table_uid);
  buf.writeBigUInt64LE(v.offset, f.offset);
  buf.writeBigUInt64LE(v.size, f.size);
  buf.writeBigUInt64LE(v.flags, f.flags);
  buf.writeBigUInt64LE(v.priv, f.priv);
  return buf;
}

export function decodeOpalReadWriteTable(buf: Buffer): OpalReadWriteTable {
  checkSize(L.OPAL_READ_WRITE_TABLE, buf);
  const f = L.OPAL_READ_WRITE_TABLE.fields;
  return {
    key: readKey(buf, f.key),
    data: buf.readBigUInt64LE(f.data),
    tableUid: Buffer.from(buf.subarray(f.table_uid, f.table_uid + OPAL_UID_LENGTH)),
    offset: buf.readBigUInt64LE(f.offset),
    size: buf.readBigUInt64LE(f.size),
    flags: buf.readBigUInt64LE(f.flags),
    priv: buf.readBigUInt64LE(f.priv),
  };
}

// ---- opal_status

export function encodeOpalStatus(v: OpalStatus): Buffer {
  const buf = alloc(L.OPAL_STATUS);
  buf.writeUInt32LE(v.flags, L.OPAL_STATUS.fields.flags);
  buf.writeUInt32LE(v.reserved ?? 0, L.OPAL_STATUS.fields.reserved);
  return buf;
}

export function decodeOpalStatus(buf: Buffer): Required<OpalStatus> {
  checkSize(L.OPAL_STATUS, buf);
  return {
    flags: buf.readUInt32LE(L.OPAL_STATUS.fields.flags),
    reserved: buf.readUInt32LE(L.OPAL_STATUS.fields.reserved),
  };
}

// ---- opal_lr_status

export function encodeOpalLrStatus(v: OpalLrStatus): Buffer {
  const buf = alloc(L.OPAL_LR_STATUS);
  const f = L.OPAL_LR_STATUS.fields;
  writeSession(buf, f.session, v.session);
  buf.writeBigUInt64LE(v.rangeStart, f.range_start);
  buf.writeBigUInt64LE(v.rangeLength, f.range_length);
  buf.writeUInt32LE(v.rle ? 1 : 0, f.RLE);
  buf.writeUInt32LE(v.wle ? 1 : 0, f.WLE);
  buf.writeUInt32LE(v.lState, f.l_state);
  return buf;
}

export function decodeOpalLrStatus(buf: Buffer): OpalLrStatus {
  checkSize(L.OPAL_LR_STATUS, buf);
  const f = L.OPAL_LR_STATUS.fields;
  return {
    session: readSession(buf, f.session),
    rangeStart: buf.readBigUInt64LE(f.range_start),
    rangeLength: buf.readBigUInt64LE(f.range_length),
    rle: buf.readUInt32LE(f.RLE) !== 0,
    wle: buf.readUInt32LE(f.WLE) !== 0,
    lState: buf.readUInt32LE(f.l_state),
  };
}

// ---- opal_geometry

export function encodeOpalGeometry(v: OpalGeometry): Buffer {
  const buf = alloc(L.OPAL_GEOMETRY);
  const f = L.OPAL_GEOMETRY.fields;
  buf.writeUInt8(v.align ? 1 : 0, f.align);
  buf.writeUInt32LE(v.logicalBlockSize, f.logical_block_size);
  buf.writeBigUInt64LE(v.alignmentGranularity, f.alignment_granularity);
  buf.writeBigUInt64LE(v.lowestAlignedLba, f.lowest_aligned_lba);
  return buf;
}

export function decodeOpalGeometry(buf: Buffer): OpalGeometry {
  checkSize(L.OPAL_GEOMETRY, buf);
  const f = L.OPAL_GEOMETRY.fields;
  return {
    align: buf.readUInt8(f.align) !== 0,
    logicalBlockSize: buf.readUInt32LE(f.logical_block_size),
    alignmentGranularity: buf.readBigUInt64LE(f.alignment_granularity),
    lowestAlignedLba: buf.readBigUInt64LE(f.lowest_aligned_lba),
  };
}

// ---- opal_discovery

export function encodeOpalDiscovery(v: OpalDiscovery): Buffer {
  const buf = alloc(L.OPAL_DISCOVERY);
  buf.writeBigUInt64LE(v.data, L.OPAL_DISCOVERY.fields.data);
  buf.writeBigUInt64LE(v.size, L.OPAL_DISCOVERY.fields.size);
  return buf;
}

export function decodeOpalDiscovery(buf: Buffer): OpalDiscovery {
  checkSize(L.OPAL_DISCOVERY, buf);
  return {
    data: buf.readBigUInt64LE(L.OPAL_DISCOVERY.fields.data),
    size: buf.readBigUInt64LE(L.OPAL_DISCOVERY.fields.size),
  };
}

// ---- opal_revert_lsp

export function encodeOpalRevertLsp(v: OpalRevertLsp): Buffer {
  const buf = alloc(L.OPAL_REVERT_LSP);
  writeKey(buf, L.OPAL_REVERT_LSP.fields.key, v.key);
  buf.writeUInt32LE(v.options, L.OPAL_REVERT_LSP.fields.options);
  return buf;
}

export function decodeOpalRevertLsp(buf: Buffer): OpalRevertLsp {
  checkSize(L.OPAL_REVERT_LSP, buf);
  return {
    key: readKey(buf, L.OPAL_REVERT_LSP.fields.key),
    options: buf.readUInt32LE(L.OPAL_REVERT_LSP.fields.options),
  };
}

// ---- opal_lr_react

export function encodeOpalLrReact(v: OpalLrReact): Buffer {
  const buf = alloc(L.OPAL_LR_REACT);
  const f = L.OPAL_LR_REACT.fields;
  writeKey(buf, f.key, v.key);
  writeKey(buf, f.new_admin_key, v.newAdminKey);
  writeLrList(buf, f.num_lrs, f.lr, v.lr);
  buf.writeUInt8(v.rangePolicy, f.range_policy);
  buf.writeUInt8(v.entireTable, f.entire_table);
  return buf;
}

export function decodeOpalLrReact(buf: Buffer): OpalLrReact & DecodedLrList {
  checkSize(L.OPAL_LR_REACT, buf);
  const f = L.OPAL_LR_REACT.fields;
  return {
    key: readKey(buf, f.key),
    newAdminKey: readKey(buf, f.new_admin_key),
    ...readLrList(buf, f.num_lrs, f.lr),
    rangePolicy: buf.readUInt8(f.range_policy),
    entireTable: buf.readUInt8(f.entire_table),
  };
}

// ---- opal_sum_ranges

export function encodeOpalSumRanges(v: OpalSumRanges): Buffer {
  const buf = alloc(L.OPAL_SUM_RANGES);
  const f = L.OPAL_SUM_RANGES.fields;
  writeKey(buf, f.key, v.key);
  writeLrList(buf, f.num_lrs, f.lr, v.lr);
  buf.writeUInt8(v.rangePolicy, f.range_policy);
  return buf;
}

export function decodeOpalSumRanges(buf: Buffer): OpalSumRanges & DecodedLrList {
  checkSize(L.OPAL_SUM_RANGES, buf);
  const f = L.OPAL_SUM_RANGES.fields;
  return {
    key: readKey(buf, f.key),
    ...readLrList(buf, f.num_lrs, f.lr),
    rangePolicy: buf.readUInt8(f.range_policy),
  };
}
