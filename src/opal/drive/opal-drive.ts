// Task-level Opal operations on one drive over any DriveTransport (the kernel through
// koffi, or the simulator). Each public method holds the drive's lock for its whole flow,
// opens the node, issues its ioctls, closes it, and zeroes every PIN Buffer it was given
// (and every encoded struct holding one) before it returns, whether it succeeds or not.
// Nothing here retries after a drive status: a wrong PIN is reported, never tried again.
import type { Logger } from 'pino';
import * as abi from '../abi';
import {
  OpalIoctlUnsupportedError,
  OpalStatusError,
  OpalVerifyError,
  resultError,
} from '../errors';
import type { DriveTransport } from '../transport';
import { DeviceIoctls } from './device-ioctls';
import { parseLevel0, type Level0 } from './discovery';
import { describeStatus, lockModeOf, lockStateOf, type DriveStatus, type LockMode } from './status';

/** Who authenticates, and with what PIN. */
export interface Credential {
  /** abi.OpalUser: ADMIN1 or USER1..9. */
  who: number;
  pin: Buffer;
}

export interface RangeSetup {
  /** 0 = global range (start/length ignored by the drive), 1..8 = ranges. */
  lr: number;
  start: bigint;
  length: bigint;
  readLockEnabled: boolean;
  writeLockEnabled: boolean;
}

export interface RangeStatus {
  lr: number;
  start: bigint;
  length: bigint;
  readLockEnabled: boolean;
  writeLockEnabled: boolean;
  mode: LockMode | undefined;
  lState: number;
}

export interface UnlockResult {
  /** How the unlock was confirmed: the range's own state, the drive's LOCKED flag, or not. */
  verifiedBy: 'range-status' | 'status' | 'unverified';
}

/** Level 0 answers are at most the kernel's IO buffer (2048 bytes). */
const DISCOVERY_BUFFER = 2048;

function key(lr: number, pin: Buffer): abi.OpalKey {
  return { lr, key: pin };
}

function session(who: number, lr: number, pin: Buffer): abi.OpalSessionInfo {
  return { sum: false, who, opalKey: key(lr, pin) };
}

function checkLr(lr: number): void {
  if (!Number.isInteger(lr) || lr < 0 || lr >= abi.OPAL_MAX_LRS)
    throw new RangeError(`locking range must be 0..${abi.OPAL_MAX_LRS - 1}, got ${lr}`);
}

function checkWho(who: number): void {
  if (!Number.isInteger(who) || who < 0 || who > abi.OPAL_USER_MAX)
    throw new RangeError(`authority must be 0 (Admin1) or 1..9 (User1..9), got ${who}`);
}

function checkUser(who: number): void {
  if (!Number.isInteger(who) || who < abi.OpalUser.USER1 || who > abi.OPAL_USER_MAX)
    throw new RangeError(`user must be 1..${abi.OPAL_USER_MAX}, got ${who}`);
}

export class OpalDrive extends DeviceIoctls {
  // ---- key-less reads

  /** GET_STATUS: re-runs Level 0 discovery in the kernel; no key, no side effect. */
  status(): Promise<DriveStatus> {
    return this.exclusive([], async (fd) => {
      const buf = abi.encodeOpalStatus({ flags: 0 });
      await this.call(fd, abi.IOC_OPAL_GET_STATUS, buf);
      return describeStatus(abi.decodeOpalStatus(buf).flags);
    });
  }

  /** Level 0 discovery, or undefined where the kernel or transport lacks DISCOVERY. */
  discover(): Promise<Level0 | undefined> {
    return this.exclusive([], async (fd) => {
      if (!this.transport.ioctlWithData) return undefined;
      const out = Buffer.alloc(DISCOVERY_BUFFER);
      const buf = abi.encodeOpalDiscovery({ data: 0n, size: BigInt(out.length) });
      const r = await this.transport.ioctlWithData(fd, abi.IOC_OPAL_DISCOVERY.request, buf, out);
      this.debug({ ioctl: 'IOC_OPAL_DISCOVERY', rc: r.rc, errno: r.errno }, 'ioctl');
      // Success is a byte count, so only rc < 0 is an error here.
      if (r.rc < 0) {
        const err = resultError(this.ctx(abi.IOC_OPAL_DISCOVERY), r)!;
        if (err instanceof OpalIoctlUnsupportedError) return undefined;
        throw err;
      }
      return parseLevel0(out, Math.min(r.rc, out.length));
    });
  }

  /** GET_GEOMETRY, or undefined where the kernel lacks it (before 6.4). */
  geometry(): Promise<abi.OpalGeometry | undefined> {
    return this.exclusive([], async (fd) => {
      const buf = abi.encodeOpalGeometry({
        align: false,
        logicalBlockSize: 0,
        alignmentGranularity: 0n,
        lowestAlignedLba: 0n,
      });
      if (!(await this.optional(fd, abi.IOC_OPAL_GET_GEOMETRY, buf))) return undefined;
      return abi.decodeOpalGeometry(buf);
    });
  }

  // ---- keyed reads

  /** GET_LR_STATUS, or undefined where the kernel lacks it (before 6.4). */
  rangeStatus(cred: Credential, lr: number): Promise<RangeStatus | undefined> {
    return this.exclusive(
      [cred.pin],
      (fd) => this.readRange(fd, cred, lr),
      () => {
        checkWho(cred.who);
        checkLr(lr);
      },
    );
  }

  // ---- provisioning

  /** TAKE_OWNERSHIP: authenticate as SID with MSID, then set SID's PIN. */
  takeOwnership(newSidPin: Buffer): Promise<void> {
    return this.exclusive([newSidPin], async (fd) => {
      await this.call(fd, abi.IOC_OPAL_TAKE_OWNERSHIP, abi.encodeOpalKey(key(0, newSidPin)));
    });
  }

  /** ACTIVATE_LSP as SID; Admin1's PIN becomes the SID PIN. */
  activate(sidPin: Buffer): Promise<void> {
    return this.exclusive([sidPin], async (fd) => {
      // Without Single User Mode the kernel ignores the list but wants 1..9 entries.
      const buf = abi.encodeOpalLrAct({ key: key(0, sidPin), sum: false, lr: [0] });
      await this.call(fd, abi.IOC_OPAL_ACTIVATE_LSP, buf);
    });
  }

  /** LR_SETUP as Admin1 for each range, in order, under one lock. */
  setupRanges(adminPin: Buffer, ranges: RangeSetup[]): Promise<void> {
    return this.exclusive(
      [adminPin],
      async (fd) => {
        for (const r of ranges) {
          const buf = abi.encodeOpalUserLrSetup({
            rangeStart: r.start,
            rangeLength: r.length,
            rle: r.readLockEnabled,
            wle: r.writeLockEnabled,
            session: session(abi.OpalUser.ADMIN1, r.lr, adminPin),
          });
          await this.call(fd, abi.IOC_OPAL_LR_SETUP, buf);
        }
      },
      () => {
        ranges.forEach((r) => checkLr(r.lr));
      },
    );
  }

  /** SET_PW: `auth` authenticates; `target`'s PIN becomes `newPin`. */
  setPin(auth: Credential, target: number, newPin: Buffer): Promise<void> {
    return this.exclusive(
      [auth.pin, newPin],
      async (fd) => {
        const buf = abi.encodeOpalNewPw({
          session: session(auth.who, 0, auth.pin),
          newUserPw: session(target, 0, newPin),
        });
        await this.call(fd, abi.IOC_OPAL_SET_PW, buf);
      },
      () => {
        checkWho(auth.who);
        checkWho(target);
      },
    );
  }

  /**
   * SET_SID_PW (Linux 6.10+): authenticate as SID with `sidPin`, then set SID's PIN to
   * `newSidPin`. An older kernel answers OpalIoctlUnsupportedError, the drive untouched.
   */
  setSidPin(sidPin: Buffer, newSidPin: Buffer): Promise<void> {
    return this.exclusive([sidPin, newSidPin], async (fd) => {
      const buf = abi.encodeOpalNewPw({
        session: session(abi.OpalUser.ADMIN1, 0, sidPin),
        newUserPw: session(abi.OpalUser.ADMIN1, 0, newSidPin),
      });
      await this.call(fd, abi.IOC_OPAL_SET_SID_PW, buf);
    });
  }

  /** ACTIVATE_USR: enable User`who` (Admin1 authenticates). */
  activateUser(adminPin: Buffer, who: number): Promise<void> {
    return this.exclusive(
      [adminPin],
      async (fd) => {
        const buf = abi.encodeOpalSessionInfo(session(who, 0, adminPin));
        await this.call(fd, abi.IOC_OPAL_ACTIVATE_USR, buf);
      },
      () => {
        checkUser(who);
      },
    );
  }

  /**
   * ADD_USR_TO_LR: let User`who` lock and unlock range `lr` for reading ('ro': the
   * ReadLocked ACE) or for reading and writing ('rw': both ACEs, two calls, as
   * cryptsetup does). The kernel replaces each ACE with this one user, so Admin1 loses
   * that right on the range.
   */
  addUserToRange(adminPin: Buffer, who: number, lr: number, access: 'ro' | 'rw'): Promise<void> {
    return this.exclusive(
      [adminPin],
      async (fd) => {
        const states = access === 'rw' ? (['ro', 'rw'] as const) : (['ro'] as const);
        for (const state of states) {
          const buf = abi.encodeOpalLockUnlock({
            session: session(who, lr, adminPin),
            lState: lockStateOf(state),
          });
          await this.call(fd, abi.IOC_OPAL_ADD_USR_TO_LR, buf);
        }
      },
      () => {
        checkUser(who);
        checkLr(lr);
      },
    );
  }

  // ---- lock, unlock, save

  /** LOCK_UNLOCK(LK) of range `lr`. */
  lock(cred: Credential, lr: number): Promise<void> {
    return this.exclusive(
      [cred.pin],
      async (fd) => {
        await this.lockUnlock(fd, cred, lr, 'locked');
      },
      () => {
        checkWho(cred.who);
        checkLr(lr);
      },
    );
  }

  /**
   * LOCK_UNLOCK(RW|RO) of range `lr`, then confirm by re-reading the range's state
   * (GET_LR_STATUS) or, on kernels without it, the drive's LOCKED flag. Some drives accept
   * the method and lock nothing; a contradicting re-read throws OpalVerifyError.
   */
  unlock(cred: Credential, lr: number, mode: 'rw' | 'ro' = 'rw'): Promise<UnlockResult> {
    return this.exclusive(
      [cred.pin],
      async (fd) => {
        await this.lockUnlock(fd, cred, lr, mode);
        return this.verifyUnlocked(fd, cred, lr, mode);
      },
      () => {
        checkWho(cred.who);
        checkLr(lr);
      },
    );
  }

  /**
   * SAVE: the kernel keeps this unlock and replays it on resume from suspend. With
   * `forLock` (6.4+) a later key-less lock of the range is allowed too.
   */
  save(cred: Credential, lr: number, mode: 'rw' | 'ro', opts: { forLock?: boolean } = {}) {
    return this.exclusive(
      [cred.pin],
      async (fd) => {
        const buf = abi.encodeOpalLockUnlock({
          session: session(cred.who, lr, cred.pin),
          lState: lockStateOf(mode),
          flags: opts.forLock ? abi.OpalLockFlags.SAVE_FOR_LOCK : 0,
        });
        await this.call(fd, abi.IOC_OPAL_SAVE, buf);
      },
      () => {
        checkWho(cred.who);
        checkLr(lr);
      },
    );
  }

  // ---- MBR shadow

  mbrEnable(adminPin: Buffer, enable: boolean): Promise<void> {
    return this.exclusive([adminPin], async (fd) => {
      const buf = abi.encodeOpalMbrData({
        key: key(0, adminPin),
        enableDisable: enable ? abi.OpalMbr.ENABLE : abi.OpalMbr.DISABLE,
      });
      await this.call(fd, abi.IOC_OPAL_ENABLE_DISABLE_MBR, buf);
    });
  }

  mbrDone(adminPin: Buffer, done: boolean): Promise<void> {
    return this.exclusive([adminPin], async (fd) => {
      const buf = abi.encodeOpalMbrDone({
        key: key(0, adminPin),
        doneFlag: done ? abi.OpalMbrDoneFlag.DONE : abi.OpalMbrDoneFlag.NOT_DONE,
      });
      await this.call(fd, abi.IOC_OPAL_MBR_DONE, buf);
    });
  }

  // ---- destructive

  /** REVERT_TPR as SID: factory state, all data unreadable. */
  revertTper(sidPin: Buffer): Promise<void> {
    return this.exclusive([sidPin], async (fd) => {
      await this.call(fd, abi.IOC_OPAL_REVERT_TPR, abi.encodeOpalKey(key(0, sidPin)));
    });
  }

  /** PSID_REVERT_TPR with the PSID printed on the label: factory state, all data lost. */
  psidRevert(psid: Buffer): Promise<void> {
    return this.exclusive([psid], async (fd) => {
      await this.call(fd, abi.IOC_OPAL_PSID_REVERT_TPR, abi.encodeOpalKey(key(0, psid)));
    });
  }

  /** SECURE_ERASE_LR as Admin1: new media key for range `lr` (crypto-erase). */
  eraseRange(adminPin: Buffer, lr: number): Promise<void> {
    return this.exclusive(
      [adminPin],
      async (fd) => {
        const buf = abi.encodeOpalSessionInfo(session(abi.OpalUser.ADMIN1, lr, adminPin));
        await this.call(fd, abi.IOC_OPAL_SECURE_ERASE_LR, buf);
      },
      () => checkLr(lr),
    );
  }

  private async lockUnlock(fd: number, cred: Credential, lr: number, mode: LockMode) {
    const buf = abi.encodeOpalLockUnlock({
      session: session(cred.who, lr, cred.pin),
      lState: lockStateOf(mode),
    });
    await this.call(fd, abi.IOC_OPAL_LOCK_UNLOCK, buf);
  }

  private async readRange(fd: number, cred: Credential, lr: number) {
    const buf = abi.encodeOpalLrStatus({
      session: session(cred.who, lr, cred.pin),
      rangeStart: 0n,
      rangeLength: 0n,
      rle: false,
      wle: false,
      lState: 0,
    });
    try {
      if (!(await this.optional(fd, abi.IOC_OPAL_GET_LR_STATUS, buf))) return undefined;
      const s = abi.decodeOpalLrStatus(buf);
      return {
        lr,
        start: s.rangeStart,
        length: s.rangeLength,
        readLockEnabled: s.rle,
        writeLockEnabled: s.wle,
        mode: lockModeOf(s.lState),
        lState: s.lState,
      };
    } finally {
      buf.fill(0);
    }
  }

  private async verifyUnlocked(fd: number, cred: Credential, lr: number, mode: 'rw' | 'ro') {
    const ctx = this.ctx(abi.IOC_OPAL_LOCK_UNLOCK);
    let range: RangeStatus | undefined;
    try {
      range = await this.readRange(fd, cred, lr);
    } catch (err) {
      // A drive refusing the read-back is no reason to doubt the unlock it just accepted.
      if (!(err instanceof OpalStatusError)) throw err;
    }
    if (range) {
      if (range.mode !== mode)
        throw new OpalVerifyError(ctx, `range ${lr} reads back ${range.mode ?? 'unknown'}`);
      return { verifiedBy: 'range-status' } as const;
    }
    const buf = abi.encodeOpalStatus({ flags: 0 });
    await this.call(fd, abi.IOC_OPAL_GET_STATUS, buf);
    const status = describeStatus(abi.decodeOpalStatus(buf).flags);
    // LOCKED means "some range is locked": only conclusive when it is clear.
    return { verifiedBy: status.locked ? 'unverified' : 'status' } as const;
  }
}

/** Opens drives by path over one transport and logger: a new OpalDrive per call, as services use them. */
export function opalDriveOpener(
  transport: DriveTransport,
  logger?: Logger,
): (drive: { path: string }) => OpalDrive {
  const opts = logger ? { logger } : {};
  return (drive) => new OpalDrive(transport, drive.path, opts);
}
