// The kernel's side of the ioctl boundary (block/sed-opal.c, sed_ioctl): the checks it
// makes before a drive sees anything, the argument decoding, and which answers it copies
// back. Decoding uses the same ABI code as the real transport's encoders.
import { constants as os } from 'node:os';
import {
  IOC_OPAL_ACTIVATE_LSP,
  IOC_OPAL_ACTIVATE_USR,
  IOC_OPAL_ADD_USR_TO_LR,
  IOC_OPAL_DISCOVERY,
  IOC_OPAL_ENABLE_DISABLE_MBR,
  IOC_OPAL_ERASE_LR,
  IOC_OPAL_GENERIC_TABLE_RW,
  IOC_OPAL_GET_GEOMETRY,
  IOC_OPAL_GET_LR_STATUS,
  IOC_OPAL_GET_STATUS,
  IOC_OPAL_LOCK_UNLOCK,
  IOC_OPAL_LR_SETUP,
  IOC_OPAL_MBR_DONE,
  IOC_OPAL_PSID_REVERT_TPR,
  IOC_OPAL_REVERT_LSP,
  IOC_OPAL_REVERT_TPR,
  IOC_OPAL_SAVE,
  IOC_OPAL_SECURE_ERASE_LR,
  IOC_OPAL_SET_PW,
  IOC_OPAL_SET_SID_PW,
  IOC_OPAL_TAKE_OWNERSHIP,
  IOC_OPAL_WRITE_SHADOW_MBR,
  OPAL_KEY,
  OPAL_LOCK_UNLOCK,
  OPAL_LR_STATUS,
  OPAL_SESSION_INFO,
  OPAL_MAX_LRS,
  OPAL_USER_MAX,
  OpalKeyType,
  OpalLockFlags,
  OpalLockState,
  OpalMbr,
  OpalMbrDoneFlag,
  OpalRevertLspOpts,
  OpalUser,
  decodeOpalDiscovery,
  decodeOpalKey,
  decodeOpalLockUnlock,
  decodeOpalLrAct,
  decodeOpalLrStatus,
  decodeOpalMbrData,
  decodeOpalMbrDone,
  decodeOpalNewPw,
  decodeOpalReadWriteTable,
  decodeOpalRevertLsp,
  decodeOpalSessionInfo,
  decodeOpalShadowMbr,
  decodeOpalUserLrSetup,
  encodeOpalGeometry,
  encodeOpalLrStatus,
  encodeOpalStatus,
  opalIoctlByRequest,
  type OpalKey,
  type OpalSessionInfo,
} from '../../opal/abi';
import type { IoctlResult } from '../../opal/transport';
import { BLOCK_SIZE } from '../crypto/xts';
import { level0Discovery } from './level0';
import { ALIGNMENT_BLOCKS, type LspSession, type OpalStateMachine } from './opal-state-machine';

/** The simulated kernel knows ioctls up to SET_SID_PW (241), like a 6.10 kernel: newer
 *  requests answer ENOTTY, which is how callers probe for features. */
const NEWEST_KNOWN_NR = 241;

export interface KernelContext {
  /** The caller has CAP_SYS_ADMIN. */
  privileged: boolean;
  /** The device has an opal_dev (an Opal drive, not plain, not behind a USB bridge). */
  opal: boolean;
  /** Security send/receive fails at the transport. */
  ioError: boolean;
  /** Persist the kernel's saved-unlock list. */
  saveVolatile(): void;
}

/** ENOKEY: no "opal-boot-pin" in the keyring (not in Node's errno table). */
const ENOKEY = 126;

/** Where an opal_lock_unlock keeps its range number (session.opal_key.lr). */
const SAVED_LR_OFFSET =
  OPAL_LOCK_UNLOCK.fields.session + OPAL_SESSION_INFO.fields.opal_key + OPAL_KEY.fields.lr;

const fail = (errno: number): IoctlResult => ({ rc: -errno, errno });
const status = (rc: number): IoctlResult => (rc < 0 ? fail(-rc) : { rc, errno: 0 });

/** opal_get_key: inline keys only (the simulated .sed_opal keyring is empty), never empty. */
function keyError(k: OpalKey): number {
  if (k.keyType === OpalKeyType.KEYRING) return ENOKEY;
  if (k.keyType !== OpalKeyType.INCLUDED || k.key.length === 0) return os.errno.EINVAL;
  return 0;
}

function session(s: OpalSessionInfo): LspSession {
  return { who: s.who, sum: s.sum, lr: s.opalKey.lr, key: s.opalKey.key };
}

/**
 * Run one ioctl against a drive. `buf` is the caller's argument; it is changed only
 * where the kernel copies an answer back (GET_STATUS, GET_LR_STATUS, GET_GEOMETRY).
 * `data` is what the struct's user pointer would point at (DISCOVERY), carried beside
 * the struct because the simulator cannot reach the caller's memory.
 */
export function sedIoctl(
  drive: OpalStateMachine,
  ctx: KernelContext,
  request: number,
  buf: Buffer,
  data?: Buffer,
): IoctlResult {
  const def = opalIoctlByRequest(request);
  if (!def || def.nr > NEWEST_KNOWN_NR) return fail(os.errno.ENOTTY);
  if (!ctx.privileged) return fail(os.errno.EACCES);
  if (!ctx.opal) return fail(os.errno.EOPNOTSUPP);
  if (buf.length !== def.size) return fail(os.errno.EINVAL);
  const secrets: Buffer[] = [];
  const keep = <T extends { key: Buffer }>(k: T): T => (secrets.push(k.key), k);
  try {
    return dispatch(drive, ctx, request, buf, data, keep);
  } finally {
    for (const s of secrets) s.fill(0);
  }
}

function dispatch(
  drive: OpalStateMachine,
  ctx: KernelContext,
  request: number,
  buf: Buffer,
  data: Buffer | undefined,
  keep: <T extends { key: Buffer }>(k: T) => T,
): IoctlResult {
  switch (request) {
    case IOC_OPAL_SAVE.request: {
      // The kernel keeps the struct as given, one entry per range; the drive sees nothing.
      const lr = buf[SAVED_LR_OFFSET];
      const v = drive.vol;
      const stale = v.saved.filter((s) => s[SAVED_LR_OFFSET] === lr);
      for (const s of stale) s.fill(0);
      v.saved = [...v.saved.filter((s) => !stale.includes(s)), Buffer.from(buf)];
      ctx.saveVolatile();
      return status(0);
    }
    case IOC_OPAL_GET_STATUS.request: {
      // A failed discovery is not an error here: the flags just read 0.
      encodeOpalStatus({ flags: ctx.ioError ? 0 : drive.statusFlags() }).copy(buf);
      return status(0);
    }
    case IOC_OPAL_GET_GEOMETRY.request: {
      if (ctx.ioError) return fail(os.errno.EINVAL);
      encodeOpalGeometry({
        align: true,
        logicalBlockSize: BLOCK_SIZE,
        alignmentGranularity: BigInt(ALIGNMENT_BLOCKS),
        lowestAlignedLba: 0n,
      }).copy(buf);
      return status(0);
    }
  }
  if (ctx.ioError) return fail(os.errno.EIO);
  switch (request) {
    case IOC_OPAL_LOCK_UNLOCK.request: {
      const d = decodeOpalLockUnlock(buf);
      keep(d.session.opalKey);
      if (d.session.who > OPAL_USER_MAX) return fail(os.errno.EINVAL);
      if (d.lState === OpalLockState.LK && d.session.opalKey.key.length === 0) {
        // opal_lock_check_for_saved_key: a SAVE_FOR_LOCK entry supplies the key.
        const saved = drive.vol.saved
          .map((s) => decodeOpalLockUnlock(s))
          .map((s) => (keep(s.session.opalKey), s))
          .find(
            (s) =>
              (s.flags & OpalLockFlags.SAVE_FOR_LOCK) !== 0 &&
              s.session.opalKey.lr === d.session.opalKey.lr &&
              s.session.opalKey.key.length > 0,
          );
        if (saved) d.session.opalKey = keep(saved.session.opalKey);
      }
      const e = keyError(d.session.opalKey);
      if (e) return fail(e);
      return status(drive.lockUnlock(session(d.session), d.lState));
    }
    case IOC_OPAL_TAKE_OWNERSHIP.request: {
      const k = keep(decodeOpalKey(buf));
      const e = keyError(k);
      return e ? fail(e) : status(drive.takeOwnership(k.key));
    }
    case IOC_OPAL_ACTIVATE_LSP.request: {
      const d = decodeOpalLrAct(buf);
      keep(d.key);
      if (d.sum && (d.numLrs === 0 || d.numLrs > OPAL_MAX_LRS)) return fail(os.errno.EINVAL);
      const e = keyError(d.key);
      return e ? fail(e) : status(drive.activateLsp(d.key.key, d.sum));
    }
    case IOC_OPAL_SET_PW.request: {
      const d = decodeOpalNewPw(buf);
      keep(d.session.opalKey);
      keep(d.newUserPw.opalKey);
      if (d.session.who > OPAL_USER_MAX || d.newUserPw.who > OPAL_USER_MAX)
        return fail(os.errno.EINVAL);
      return status(drive.setPin(session(d.session), session(d.newUserPw)));
    }
    case IOC_OPAL_SET_SID_PW.request: {
      const d = decodeOpalNewPw(buf);
      keep(d.session.opalKey);
      keep(d.newUserPw.opalKey);
      return status(drive.setSidPin(d.session.opalKey.key, d.newUserPw.opalKey.key));
    }
    case IOC_OPAL_ACTIVATE_USR.request: {
      const d = decodeOpalSessionInfo(buf);
      keep(d.opalKey);
      if (d.who < OpalUser.USER1 || d.who > OPAL_USER_MAX) return fail(os.errno.EINVAL);
      const e = keyError(d.opalKey);
      return e ? fail(e) : status(drive.activateUser(d.opalKey.key, d.who));
    }
    case IOC_OPAL_REVERT_TPR.request:
    case IOC_OPAL_PSID_REVERT_TPR.request: {
      const k = keep(decodeOpalKey(buf));
      const e = keyError(k);
      if (e) return fail(e);
      return status(drive.revertTper(k.key, request === IOC_OPAL_PSID_REVERT_TPR.request));
    }
    case IOC_OPAL_LR_SETUP.request: {
      const d = decodeOpalUserLrSetup(buf);
      keep(d.session.opalKey);
      const e = keyError(d.session.opalKey);
      if (e) return fail(e);
      return status(
        drive.setupRange(session(d.session), d.rangeStart, d.rangeLength, d.rle, d.wle),
      );
    }
    case IOC_OPAL_ADD_USR_TO_LR.request: {
      const d = decodeOpalLockUnlock(buf);
      keep(d.session.opalKey);
      if (d.lState !== OpalLockState.RO && d.lState !== OpalLockState.RW)
        return fail(os.errno.EINVAL);
      if (d.session.who < OpalUser.USER1 || d.session.who > OPAL_USER_MAX || d.session.sum)
        return fail(os.errno.EINVAL);
      const e = keyError(d.session.opalKey);
      if (e) return fail(e);
      const k = d.session.opalKey;
      return status(drive.addUserToRange(k.key, k.lr, d.session.who, d.lState));
    }
    case IOC_OPAL_ENABLE_DISABLE_MBR.request: {
      const d = decodeOpalMbrData(buf);
      keep(d.key);
      if (d.enableDisable !== OpalMbr.ENABLE && d.enableDisable !== OpalMbr.DISABLE)
        return fail(os.errno.EINVAL);
      const e = keyError(d.key);
      return e
        ? fail(e)
        : status(drive.setMbrEnable(d.key.key, d.enableDisable === OpalMbr.ENABLE));
    }
    case IOC_OPAL_MBR_DONE.request: {
      const d = decodeOpalMbrDone(buf);
      keep(d.key);
      if (d.doneFlag !== OpalMbrDoneFlag.DONE && d.doneFlag !== OpalMbrDoneFlag.NOT_DONE)
        return fail(os.errno.EINVAL);
      const e = keyError(d.key);
      return e ? fail(e) : status(drive.setMbrDone(d.key.key, d.doneFlag === OpalMbrDoneFlag.DONE));
    }
    case IOC_OPAL_ERASE_LR.request:
    case IOC_OPAL_SECURE_ERASE_LR.request: {
      const d = decodeOpalSessionInfo(buf);
      keep(d.opalKey);
      const e = keyError(d.opalKey);
      if (e) return fail(e);
      const s = session(d);
      return status(request === IOC_OPAL_ERASE_LR.request ? drive.erase(s) : drive.genKey(s));
    }
    case IOC_OPAL_GET_LR_STATUS.request: {
      const d = decodeOpalLrStatus(buf);
      keep(d.session.opalKey);
      const { rc, status: st } = drive.rangeStatus(session(d.session));
      if (rc !== 0 || !st) return status(rc);
      // The kernel copies back everything after the session.
      const out = encodeOpalLrStatus({
        session: { sum: false, who: 0, opalKey: { lr: 0, key: Buffer.alloc(0) } },
        rangeStart: BigInt(st.start),
        rangeLength: BigInt(st.length),
        rle: st.rle,
        wle: st.wle,
        lState: st.lState,
      });
      const from = OPAL_LR_STATUS.fields.range_start;
      out.copy(buf, from, from);
      return status(0);
    }
    case IOC_OPAL_REVERT_LSP.request: {
      const d = decodeOpalRevertLsp(buf);
      keep(d.key);
      const e = keyError(d.key);
      if (e) return fail(e);
      return status(drive.revertLsp(d.key.key, (d.options & OpalRevertLspOpts.PRESERVE) !== 0));
    }
    case IOC_OPAL_DISCOVERY.request: {
      // Copies min(size, length) bytes and answers the full length as a byte count.
      const d = decodeOpalDiscovery(buf);
      const level0 = level0Discovery(drive);
      const hlen = level0.readUInt32BE(0);
      if (data) level0.copy(data, 0, 0, Math.min(Number(d.size), hlen, data.length));
      else if (d.data !== 0n) return fail(os.errno.EFAULT);
      return status(hlen);
    }
    case IOC_OPAL_WRITE_SHADOW_MBR.request: {
      const d = decodeOpalShadowMbr(buf);
      keep(d.key);
      const e = keyError(d.key);
      if (e) return fail(e);
      return d.size === 0n ? status(0) : fail(os.errno.EFAULT);
    }
    case IOC_OPAL_GENERIC_TABLE_RW.request: {
      const d = decodeOpalReadWriteTable(buf);
      keep(d.key);
      const e = keyError(d.key);
      if (e) return fail(e);
      const op = d.flags === 0n ? -1 : d.flags.toString(2).length - 1; // fls64 - 1
      if (op !== 0 && op !== 1) return fail(os.errno.EINVAL);
      return d.size === 0n ? status(0) : fail(os.errno.EFAULT);
    }
  }
  return fail(os.errno.ENOTTY);
}
