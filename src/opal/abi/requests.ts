// Every ioctl of <linux/sed-opal.h> up to current upstream ('p' = 0x70, numbers 220-246).
// Features are probed by ENOTTY at run time; `since` is documentation only.
import { ioc, type IocDirection } from './ioc';
import * as L from './layouts';

export interface OpalIoctl {
  name: string;
  nr: number;
  direction: IocDirection;
  /** The argument struct, or null for _IO requests without one. */
  struct: L.StructLayout | null;
  /** Argument size encoded in the request (= the struct's size). */
  size: number;
  request: number;
  since: string;
}

const OPAL_IOC_TYPE = 0x70; // 'p'

function def(
  name: string,
  nr: number,
  direction: IocDirection,
  struct: L.StructLayout | null,
  since: string,
): OpalIoctl {
  const size = struct ? struct.size : 0;
  return Object.freeze({
    name,
    nr,
    direction,
    struct,
    size,
    request: ioc(direction, OPAL_IOC_TYPE, nr, size),
    since,
  });
}

export const IOC_OPAL_SAVE = def('IOC_OPAL_SAVE', 220, 'write', L.OPAL_LOCK_UNLOCK, '4.11');
export const IOC_OPAL_LOCK_UNLOCK = def(
  'IOC_OPAL_LOCK_UNLOCK',
  221,
  'write',
  L.OPAL_LOCK_UNLOCK,
  '4.11',
);
export const IOC_OPAL_TAKE_OWNERSHIP = def(
  'IOC_OPAL_TAKE_OWNERSHIP',
  222,
  'write',
  L.OPAL_KEY,
  '4.11',
);
export const IOC_OPAL_ACTIVATE_LSP = def(
  'IOC_OPAL_ACTIVATE_LSP',
  223,
  'write',
  L.OPAL_LR_ACT,
  '4.11',
);
export const IOC_OPAL_SET_PW = def('IOC_OPAL_SET_PW', 224, 'write', L.OPAL_NEW_PW, '4.11');
export const IOC_OPAL_ACTIVATE_USR = def(
  'IOC_OPAL_ACTIVATE_USR',
  225,
  'write',
  L.OPAL_SESSION_INFO,
  '4.11',
);
export const IOC_OPAL_REVERT_TPR = def('IOC_OPAL_REVERT_TPR', 226, 'write', L.OPAL_KEY, '4.11');
export const IOC_OPAL_LR_SETUP = def(
  'IOC_OPAL_LR_SETUP',
  227,
  'write',
  L.OPAL_USER_LR_SETUP,
  '4.11',
);
export const IOC_OPAL_ADD_USR_TO_LR = def(
  'IOC_OPAL_ADD_USR_TO_LR',
  228,
  'write',
  L.OPAL_LOCK_UNLOCK,
  '4.11',
);
export const IOC_OPAL_ENABLE_DISABLE_MBR = def(
  'IOC_OPAL_ENABLE_DISABLE_MBR',
  229,
  'write',
  L.OPAL_MBR_DATA,
  '4.11',
);
export const IOC_OPAL_ERASE_LR = def(
  'IOC_OPAL_ERASE_LR',
  230,
  'write',
  L.OPAL_SESSION_INFO,
  '4.11',
);
export const IOC_OPAL_SECURE_ERASE_LR = def(
  'IOC_OPAL_SECURE_ERASE_LR',
  231,
  'write',
  L.OPAL_SESSION_INFO,
  '4.11',
);
export const IOC_OPAL_PSID_REVERT_TPR = def(
  'IOC_OPAL_PSID_REVERT_TPR',
  232,
  'write',
  L.OPAL_KEY,
  '5.1',
);
export const IOC_OPAL_MBR_DONE = def('IOC_OPAL_MBR_DONE', 233, 'write', L.OPAL_MBR_DONE, '5.3');
export const IOC_OPAL_WRITE_SHADOW_MBR = def(
  'IOC_OPAL_WRITE_SHADOW_MBR',
  234,
  'write',
  L.OPAL_SHADOW_MBR,
  '5.3',
);
export const IOC_OPAL_GENERIC_TABLE_RW = def(
  'IOC_OPAL_GENERIC_TABLE_RW',
  235,
  'write',
  L.OPAL_READ_WRITE_TABLE,
  '5.x',
);
export const IOC_OPAL_GET_STATUS = def('IOC_OPAL_GET_STATUS', 236, 'read', L.OPAL_STATUS, '6.0');
export const IOC_OPAL_GET_LR_STATUS = def(
  'IOC_OPAL_GET_LR_STATUS',
  237,
  'write',
  L.OPAL_LR_STATUS,
  '6.4',
);
export const IOC_OPAL_GET_GEOMETRY = def(
  'IOC_OPAL_GET_GEOMETRY',
  238,
  'read',
  L.OPAL_GEOMETRY,
  '6.4',
);
export const IOC_OPAL_DISCOVERY = def('IOC_OPAL_DISCOVERY', 239, 'write', L.OPAL_DISCOVERY, '6.6');
export const IOC_OPAL_REVERT_LSP = def(
  'IOC_OPAL_REVERT_LSP',
  240,
  'write',
  L.OPAL_REVERT_LSP,
  '6.6',
);
export const IOC_OPAL_SET_SID_PW = def('IOC_OPAL_SET_SID_PW', 241, 'write', L.OPAL_NEW_PW, '6.10');
export const IOC_OPAL_REACTIVATE_LSP = def(
  'IOC_OPAL_REACTIVATE_LSP',
  242,
  'write',
  L.OPAL_LR_REACT,
  '7.1',
);
export const IOC_OPAL_LR_SET_START_LEN = def(
  'IOC_OPAL_LR_SET_START_LEN',
  243,
  'write',
  L.OPAL_USER_LR_SETUP,
  '7.1',
);
export const IOC_OPAL_ENABLE_DISABLE_LR = def(
  'IOC_OPAL_ENABLE_DISABLE_LR',
  244,
  'write',
  L.OPAL_USER_LR_SETUP,
  '7.1',
);
export const IOC_OPAL_GET_SUM_STATUS = def(
  'IOC_OPAL_GET_SUM_STATUS',
  245,
  'write',
  L.OPAL_SUM_RANGES,
  '7.1',
);
export const IOC_OPAL_STACK_RESET = def('IOC_OPAL_STACK_RESET', 246, 'none', null, '7.1');

export const OPAL_IOCTLS: readonly OpalIoctl[] = [
  IOC_OPAL_SAVE,
  IOC_OPAL_LOCK_UNLOCK,
  IOC_OPAL_TAKE_OWNERSHIP,
  IOC_OPAL_ACTIVATE_LSP,
  IOC_OPAL_SET_PW,
  IOC_OPAL_ACTIVATE_USR,
  IOC_OPAL_REVERT_TPR,
  IOC_OPAL_LR_SETUP,
  IOC_OPAL_ADD_USR_TO_LR,
  IOC_OPAL_ENABLE_DISABLE_MBR,
  IOC_OPAL_ERASE_LR,
  IOC_OPAL_SECURE_ERASE_LR,
  IOC_OPAL_PSID_REVERT_TPR,
  IOC_OPAL_MBR_DONE,
  IOC_OPAL_WRITE_SHADOW_MBR,
  IOC_OPAL_GENERIC_TABLE_RW,
  IOC_OPAL_GET_STATUS,
  IOC_OPAL_GET_LR_STATUS,
  IOC_OPAL_GET_GEOMETRY,
  IOC_OPAL_DISCOVERY,
  IOC_OPAL_REVERT_LSP,
  IOC_OPAL_SET_SID_PW,
  IOC_OPAL_REACTIVATE_LSP,
  IOC_OPAL_LR_SET_START_LEN,
  IOC_OPAL_ENABLE_DISABLE_LR,
  IOC_OPAL_GET_SUM_STATUS,
  IOC_OPAL_STACK_RESET,
];

const BY_REQUEST = new Map(OPAL_IOCTLS.map((d) => [d.request, d]));

/** The sed-opal ioctl a request number names, or undefined (the kernel answers ENOTTY). */
export function opalIoctlByRequest(request: number): OpalIoctl | undefined {
  return BY_REQUEST.get(request >>> 0);
}
