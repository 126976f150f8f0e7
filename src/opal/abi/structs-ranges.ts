// Encoders and decoders of the sed-opal structs about locking ranges: opal_lr_act,
// opal_user_lr_setup, opal_lr_status, opal_lr_react, opal_sum_ranges.
import * as L from './layouts';
import {
  alloc,
  checkSize,
  readKey,
  readLrList,
  readSession,
  writeKey,
  writeLrList,
  writeSession,
} from './struct-fields';
import type {
  DecodedLrList,
  OpalLrAct,
  OpalLrReact,
  OpalLrStatus,
  OpalSumRanges,
  OpalUserLrSetup,
} from './struct-types';

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
