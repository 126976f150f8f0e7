// Sizes and field offsets of every sed-opal struct, in the C names, as gcc lays them out
// on x86_64 and aarch64 (identical there). Newer fields (opal_key.key_type,
// opal_lock_unlock.flags) were carved out of former padding, so one layout serves every
// kernel. native/abi-check.c prints the same facts from the installed header and a test
// compares them with this table.

export interface StructLayout {
  /** C struct name without the `struct` keyword. */
  name: string;
  size: number;
  /** Byte offset of each field, by C field name. */
  fields: Readonly<Record<string, number>>;
}

function layout<F extends Record<string, number>>(name: string, size: number, fields: F) {
  return Object.freeze({ name, size, fields: Object.freeze(fields) });
}

export const OPAL_KEY = layout('opal_key', 264, { lr: 0, key_len: 1, key_type: 2, key: 8 });

export const OPAL_SESSION_INFO = layout('opal_session_info', 272, {
  sum: 0,
  who: 4,
  opal_key: 8,
});

export const OPAL_LOCK_UNLOCK = layout('opal_lock_unlock', 280, {
  session: 0,
  l_state: 272,
  flags: 276,
});

export const OPAL_LR_ACT = layout('opal_lr_act', 280, { key: 0, sum: 264, num_lrs: 268, lr: 269 });

export const OPAL_USER_LR_SETUP = layout('opal_user_lr_setup', 296, {
  range_start: 0,
  range_length: 8,
  RLE: 16,
  WLE: 20,
  session: 24,
});

export const OPAL_NEW_PW = layout('opal_new_pw', 544, { session: 0, new_user_pw: 272 });

export const OPAL_MBR_DATA = layout('opal_mbr_data', 272, { key: 0, enable_disable: 264 });

export const OPAL_MBR_DONE = layout('opal_mbr_done', 272, { key: 0, done_flag: 264 });

export const OPAL_SHADOW_MBR = layout('opal_shadow_mbr', 288, {
  key: 0,
  data: 264,
  offset: 272,
  size: 280,
});

export const OPAL_READ_WRITE_TABLE = layout('opal_read_write_table', 312, {
  key: 0,
  data: 264,
  table_uid: 272,
  offset: 280,
  size: 288,
  flags: 296,
  priv: 304,
});

export const OPAL_STATUS = layout('opal_status', 8, { flags: 0, reserved: 4 });

export const OPAL_LR_STATUS = layout('opal_lr_status', 304, {
  session: 0,
  range_start: 272,
  range_length: 280,
  RLE: 288,
  WLE: 292,
  l_state: 296,
});

export const OPAL_GEOMETRY = layout('opal_geometry', 32, {
  align: 0,
  logical_block_size: 4,
  alignment_granularity: 8,
  lowest_aligned_lba: 16,
});

export const OPAL_DISCOVERY = layout('opal_discovery', 16, { data: 0, size: 8 });

export const OPAL_REVERT_LSP = layout('opal_revert_lsp', 272, { key: 0, options: 264 });

export const OPAL_LR_REACT = layout('opal_lr_react', 544, {
  key: 0,
  new_admin_key: 264,
  num_lrs: 528,
  lr: 529,
  range_policy: 538,
  entire_table: 539,
});

export const OPAL_SUM_RANGES = layout('opal_sum_ranges', 280, {
  key: 0,
  num_lrs: 264,
  lr: 265,
  range_policy: 274,
});

export const STRUCT_LAYOUTS: readonly StructLayout[] = [
  OPAL_KEY,
  OPAL_SESSION_INFO,
  OPAL_LOCK_UNLOCK,
  OPAL_LR_ACT,
  OPAL_USER_LR_SETUP,
  OPAL_NEW_PW,
  OPAL_MBR_DATA,
  OPAL_MBR_DONE,
  OPAL_SHADOW_MBR,
  OPAL_READ_WRITE_TABLE,
  OPAL_STATUS,
  OPAL_LR_STATUS,
  OPAL_GEOMETRY,
  OPAL_DISCOVERY,
  OPAL_REVERT_LSP,
  OPAL_LR_REACT,
  OPAL_SUM_RANGES,
];
