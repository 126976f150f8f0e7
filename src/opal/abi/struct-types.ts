// The sed-opal structs as TypeScript sees them: what the encoders take and the decoders
// return (./layouts has the byte offsets; ./structs-* the encoders and decoders).

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
