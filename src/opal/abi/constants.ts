// Constants and enums of <linux/sed-opal.h> up to current upstream (7.1), plus the TCG
// method statuses a positive ioctl return carries. Defined here rather than read from the
// installed header, which on older distributions lacks the newer ones.

export const OPAL_KEY_MAX = 256;
/** key_len is a __u8, so a key can hold at most 255 bytes even though key[] has 256. */
export const OPAL_KEY_LEN_MAX = 255;
/** Global range 0 plus ranges 1..8. */
export const OPAL_MAX_LRS = 9;
export const OPAL_UID_LENGTH = 8;

/** enum opal_user: who authenticates (Admin1) or whose PIN/ACE is meant (User1..9). */
export const OpalUser = {
  ADMIN1: 0,
  USER1: 1,
  USER2: 2,
  USER3: 3,
  USER4: 4,
  USER5: 5,
  USER6: 6,
  USER7: 7,
  USER8: 8,
  USER9: 9,
} as const;
export const OPAL_USER_MAX = OpalUser.USER9;

/** enum opal_lock_state. */
export const OpalLockState = { RO: 0x01, RW: 0x02, LK: 0x04 } as const;
export type OpalLockStateValue = (typeof OpalLockState)[keyof typeof OpalLockState];

/** enum opal_mbr: note ENABLE is 0. */
export const OpalMbr = { ENABLE: 0x0, DISABLE: 0x1 } as const;

/** enum opal_mbr_done_flag. */
export const OpalMbrDoneFlag = { NOT_DONE: 0x0, DONE: 0x1 } as const;

/** enum opal_key_type (upstream): key bytes inline, or fetched from the .sed_opal keyring. */
export const OpalKeyType = { INCLUDED: 0, KEYRING: 1 } as const;

/** enum opal_lock_flags (upstream): SAVE also remembers the key for a later key-less lock. */
export const OpalLockFlags = { SAVE_FOR_LOCK: 0x01 } as const;

/** enum opal_revert_lsp_opts (upstream): keep the global range key, i.e. keep the data. */
export const OpalRevertLspOpts = { PRESERVE: 0x01 } as const;

/** enum opal_table_ops and the flags derived from it. */
export const OpalTableOps = { READ_TABLE: 0, WRITE_TABLE: 1 } as const;
export const OPAL_TABLE_READ = 1 << OpalTableOps.READ_TABLE;
export const OPAL_TABLE_WRITE = 1 << OpalTableOps.WRITE_TABLE;

/** opal_status.flags bits (GET_STATUS). SUM_SUPPORTED is upstream only. */
export const OpalStatusFlag = {
  SUPPORTED: 0x01,
  LOCKING_SUPPORTED: 0x02,
  LOCKING_ENABLED: 0x04,
  LOCKED: 0x08,
  MBR_ENABLED: 0x10,
  MBR_DONE: 0x20,
  SUM_SUPPORTED: 0x40,
} as const;

/**
 * TCG method status codes (TCG Storage Core 2.01 §5.1.5), returned by the ioctl as a
 * positive rc. 0x89 is the kernel's own "no method status" marker.
 */
export const TcgStatus = {
  SUCCESS: 0x00,
  NOT_AUTHORIZED: 0x01,
  OBSOLETE: 0x02,
  SP_BUSY: 0x03,
  SP_FAILED: 0x04,
  SP_DISABLED: 0x05,
  SP_FROZEN: 0x06,
  NO_SESSIONS_AVAILABLE: 0x07,
  UNIQUENESS_CONFLICT: 0x08,
  INSUFFICIENT_SPACE: 0x09,
  INSUFFICIENT_ROWS: 0x0a,
  INVALID_PARAMETER: 0x0c,
  OBSOLETE_2: 0x0d,
  OBSOLETE_3: 0x0e,
  TPER_MALFUNCTION: 0x0f,
  TRANSACTION_FAILURE: 0x10,
  RESPONSE_OVERFLOW: 0x11,
  AUTHORITY_LOCKED_OUT: 0x12,
  FAIL: 0x3f,
  NO_METHOD_STATUS: 0x89,
} as const;
export type TcgStatusName = keyof typeof TcgStatus;

const STATUS_NAMES = new Map<number, TcgStatusName>(
  Object.entries(TcgStatus).map(([name, code]) => [code, name as TcgStatusName]),
);

/** The TCG name of a positive ioctl return, or undefined for a code the spec lacks. */
export function tcgStatusName(code: number): TcgStatusName | undefined {
  return STATUS_NAMES.get(code);
}
