// Encoders and decoders of the sed-opal structs that read or write drive tables and state:
// the shadow MBR (opal_mbr_data, opal_mbr_done, opal_shadow_mbr), opal_read_write_table,
// opal_status, opal_geometry, opal_discovery.
import { OPAL_UID_LENGTH } from './constants';
import * as L from './layouts';
import { alloc, checkSize, readKey, writeKey } from './struct-fields';
import type {
  OpalDiscovery,
  OpalGeometry,
  OpalMbrData,
  OpalMbrDone,
  OpalReadWriteTable,
  OpalShadowMbr,
  OpalStatus,
} from './struct-types';

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
