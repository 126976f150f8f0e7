// The Opal state machine of one simulated drive (opal.md §3): Admin SP and Locking SP
// authorities with TryLimit/Tries, the Locking SP life cycle, locking ranges with their
// ACEs, MBR control, and the media keys behind the ranges. Inputs are decoded ioctl
// arguments; results follow the kernel's convention (0, positive TCG status, -errno).
import { constants as os } from 'node:os';
import { randomBytes } from 'node:crypto';
import { OPAL_MAX_LRS, OpalLockState, OpalStatusFlag, TcgStatus } from '../../opal/abi';
import { seal } from '../crypto/seal';
import { newXtsKey } from '../crypto/xts';
import { LSP_AUTHORITIES, factoryLsp, pinRow } from './record';
import { ADMIN1, LockingSpAuthorities, type LspSession, type RangeStatus } from './lsp-authorities';

export {
  ADMIN1,
  ALIGNMENT_BLOCKS,
  type DrivePersistence,
  type LspSession,
  type RangeStatus,
} from './lsp-authorities';

export class OpalStateMachine extends LockingSpAuthorities {
  /** Give a new (or reverted) drive its range keys: open ranges, no PIN needed yet. */
  installFreshRangeKeys(): void {
    this.rec.ranges.forEach((range, r) => this.setRangeKey(r, range, newXtsKey(), null));
  }

  /** Power-on after the host lost power too: only open ranges' keys are held. */
  coldStart(): void {
    const dek = this.vol.dek;
    this.vol.dek = null;
    dek?.fill(0);
    this.resetVolatile();
    this.store.saveVolatile(this.vol);
  }

  // ---- Admin SP

  takeOwnership(newSid: Buffer): number {
    // The kernel reads C_PIN_MSID as Anybody and authenticates as SID with it.
    const msid = Buffer.from(this.rec.msid);
    const rc = this.authAdminSp('sid', msid);
    if (rc !== 0) return rc;
    this.rec.sid = this.replacePin(this.rec.sid, newSid);
    this.store.saveRecord(this.rec);
    return 0;
  }

  setSidPin(oldSid: Buffer, newSid: Buffer): number {
    const rc = this.authAdminSp('sid', oldSid);
    if (rc !== 0) return rc;
    this.rec.sid = this.replacePin(this.rec.sid, newSid);
    this.store.saveRecord(this.rec);
    return 0;
  }

  activateLsp(sidPin: Buffer, sum: boolean): number {
    const rc = this.authAdminSp('sid', sidPin);
    if (rc !== 0) return rc;
    // get_lsp_lifecycle: anything but Manufactured-Inactive is -ENODEV in the kernel.
    if (this.rec.lsp !== 'manufactured-inactive') return -os.errno.ENODEV;
    if (sum) return TcgStatus.INVALID_PARAMETER; // no Single User Mode feature advertised
    const lspKey = randomBytes(32);
    try {
      this.rec.ranges.forEach((range, r) => {
        const key = this.rangeKey(r, range, null);
        range.sealedKey = seal(lspKey, key, this.aad('range', r)).toString('base64');
        key.fill(0);
      });
      // Activation copies the SID PIN to Admin1 (cryptsetup relies on this).
      const admin = this.rec.lspPins[ADMIN1];
      this.rec.lspPins[ADMIN1] = this.lspPinRow(admin, sidPin, lspKey, ADMIN1);
      this.rec.lspPins[ADMIN1].enabled = true;
      this.rec.lsp = 'manufactured';
    } finally {
      lspKey.fill(0);
    }
    this.store.saveRecord(this.rec);
    return 0;
  }

  /** RevertTPer as SID or PSID: factory state, every media key regenerated (crypto-erase). */
  revertTper(pin: Buffer, psid: boolean): number {
    const rc = this.authAdminSp(psid ? 'psid' : 'sid', pin);
    if (rc !== 0) return rc;
    this.rec.sid = pinRow(Buffer.from(this.rec.msid), true);
    this.rec.lsp = 'manufactured-inactive';
    Object.assign(this.rec, factoryLsp());
    this.rec.mbrEnable = false;
    this.installFreshRangeKeys();
    this.resetVolatile();
    this.store.saveRecord(this.rec);
    this.store.saveVolatile(this.vol);
    return 0;
  }

  // ---- Locking SP

  lockUnlock(session: LspSession, lState: number): number {
    return this.withLsp(session, (a) => {
      const r = session.lr;
      if (r >= OPAL_MAX_LRS) return TcgStatus.INVALID_PARAMETER;
      let rl: boolean, wl: boolean;
      if (lState === OpalLockState.RW) [rl, wl] = [false, false];
      else if (lState === OpalLockState.RO) [rl, wl] = [false, true];
      else if (lState === OpalLockState.LK) [rl, wl] = [true, true];
      else return TcgStatus.INVALID_PARAMETER;
      const range = this.rec.ranges[r];
      // One Set of both columns needs both ACEs.
      if (!range.readAce.includes(a.authority) || !range.writeAce.includes(a.authority))
        return TcgStatus.NOT_AUTHORIZED;
      this.vol.readLocked[r] = rl;
      this.vol.writeLocked[r] = wl;
      this.reconcile(a.lspKey);
      this.store.saveVolatile(this.vol);
      return 0;
    });
  }

  setPin(session: LspSession, target: LspSession): number {
    return this.withLsp(session, (a) => {
      const whose = target.sum ? target.lr + 1 : target.who;
      if (whose >= LSP_AUTHORITIES) return TcgStatus.INVALID_PARAMETER;
      // Admin1 may set any C_PIN of the Locking SP; a user only its own.
      if (a.authority !== ADMIN1 && a.authority !== whose) return TcgStatus.NOT_AUTHORIZED;
      this.rec.lspPins[whose] = this.lspPinRow(
        this.rec.lspPins[whose],
        target.key,
        a.lspKey,
        whose,
      );
      this.vol.lspTries[whose] = 0;
      this.store.saveRecord(this.rec);
      return 0;
    });
  }

  activateUser(adminPin: Buffer, who: number): number {
    return this.withLsp(this.admin(adminPin), () => {
      this.rec.lspPins[who].enabled = true;
      this.store.saveRecord(this.rec);
      return 0;
    });
  }

  setupRange(
    session: LspSession,
    start: bigint,
    length: bigint,
    rle: boolean,
    wle: boolean,
  ): number {
    return this.withLsp(session, (a) => {
      if (a.authority !== ADMIN1) return TcgStatus.NOT_AUTHORIZED;
      const r = session.lr;
      if (r >= OPAL_MAX_LRS) return TcgStatus.INVALID_PARAMETER;
      const range = this.rec.ranges[r];
      if (r > 0) {
        if (!this.validGeometry(r, start, length)) return TcgStatus.INVALID_PARAMETER;
        range.start = Number(start);
        range.length = Number(length);
      }
      range.rle = rle;
      range.wle = wle;
      this.vol.readLocked[r] = false;
      this.vol.writeLocked[r] = false;
      this.reconcile(a.lspKey);
      this.updateOpenKey(r, range, a.lspKey);
      this.store.saveRecord(this.rec);
      this.store.saveVolatile(this.vol);
      return 0;
    });
  }

  addUserToRange(adminPin: Buffer, lr: number, who: number, lState: number): number {
    return this.withLsp(this.admin(adminPin, lr), () => {
      if (lr >= OPAL_MAX_LRS) return TcgStatus.INVALID_PARAMETER;
      // The kernel replaces the ACE's expression with this one user.
      const range = this.rec.ranges[lr];
      if (lState === OpalLockState.RW) range.writeAce = [who];
      else range.readAce = [who];
      this.store.saveRecord(this.rec);
      return 0;
    });
  }

  /** The kernel sets MBRDone to the same value before MBREnable. */
  setMbrEnable(adminPin: Buffer, enable: boolean): number {
    return this.withLsp(this.admin(adminPin), () => {
      this.vol.mbrDone = enable;
      this.rec.mbrEnable = enable;
      this.store.saveRecord(this.rec);
      this.store.saveVolatile(this.vol);
      return 0;
    });
  }

  setMbrDone(adminPin: Buffer, done: boolean): number {
    return this.withLsp(this.admin(adminPin), () => {
      this.vol.mbrDone = done;
      this.store.saveVolatile(this.vol);
      return 0;
    });
  }

  /** GenKey on the range's key object: crypto-erase of that range. */
  genKey(session: LspSession): number {
    return this.withLsp(session, (a) => {
      if (a.authority !== ADMIN1) return TcgStatus.NOT_AUTHORIZED;
      const r = session.lr;
      if (r >= OPAL_MAX_LRS) return TcgStatus.INVALID_PARAMETER;
      this.vol.held[r]?.fill(0);
      this.vol.held[r] = null;
      this.setRangeKey(r, this.rec.ranges[r], newXtsKey(), a.lspKey);
      this.reconcile(a.lspKey);
      this.store.saveRecord(this.rec);
      this.store.saveVolatile(this.vol);
      return 0;
    });
  }

  /** The Erase method exists only for Single User Mode ranges, which this drive lacks. */
  erase(session: LspSession): number {
    return this.withLsp(session, () => TcgStatus.NOT_AUTHORIZED);
  }

  rangeStatus(session: LspSession): { rc: number; status?: RangeStatus } {
    let status: RangeStatus | undefined;
    const rc = this.withLsp(session, (a) => {
      const r = session.lr;
      if (r >= OPAL_MAX_LRS) return TcgStatus.INVALID_PARAMETER;
      const range = this.rec.ranges[r];
      const allowed =
        a.authority === ADMIN1 ||
        range.readAce.includes(a.authority) ||
        range.writeAce.includes(a.authority);
      if (!allowed) return TcgStatus.NOT_AUTHORIZED;
      const rl = this.vol.readLocked[r];
      const wl = this.vol.writeLocked[r];
      // opal_lock_state cannot say "read-locked only": the kernel answers -EINVAL.
      if (rl && !wl) return -os.errno.EINVAL;
      const lState = rl ? OpalLockState.LK : wl ? OpalLockState.RO : OpalLockState.RW;
      status = { start: range.start, length: range.length, rle: range.rle, wle: range.wle, lState };
      return 0;
    });
    return { rc, status };
  }

  /** RevertSP on the Locking SP; OPAL_PRESERVE keeps the global range key (the data). */
  revertLsp(adminPin: Buffer, preserve: boolean): number {
    return this.withLsp(this.admin(adminPin), (a) => {
      const global = preserve ? this.rangeKey(0, this.rec.ranges[0], a.lspKey) : null;
      this.rec.lsp = 'manufactured-inactive';
      Object.assign(this.rec, factoryLsp());
      this.rec.mbrEnable = false;
      this.rec.ranges.forEach((range, r) =>
        this.setRangeKey(r, range, r === 0 && global ? global : newXtsKey(), null),
      );
      for (const k of this.vol.held) k?.fill(0);
      this.vol.held.fill(null);
      this.vol.lspTries.fill(0);
      this.vol.mbrDone = false;
      this.reconcile(null);
      this.store.saveRecord(this.rec);
      this.store.saveVolatile(this.vol);
      return 0;
    });
  }

  // ---- status, resets, media

  statusFlags(): number {
    let flags = OpalStatusFlag.SUPPORTED | OpalStatusFlag.LOCKING_SUPPORTED;
    if (this.rec.lsp === 'manufactured') flags |= OpalStatusFlag.LOCKING_ENABLED;
    if (this.anyLocked()) flags |= OpalStatusFlag.LOCKED;
    if (this.rec.mbrEnable) flags |= OpalStatusFlag.MBR_ENABLED;
    if (this.vol.mbrDone) flags |= OpalStatusFlag.MBR_DONE;
    return flags;
  }

  anyLocked(): boolean {
    return this.rec.ranges.some(
      (range, r) => (r === 0 || range.length > 0) && (this.readLocked(r) || this.writeLocked(r)),
    );
  }

  /**
   * Power cycle: Tries cleared where not persistent, ranges relocked per LockOnReset,
   * MBRDone cleared, unlocked media keys dropped. `keepHost` keeps what the host's RAM
   * holds (the kernel's saved unlocks, the attached DEK): true for suspend-to-RAM.
   */
  powerCycle(keepHost: boolean): void {
    const v = this.vol;
    if (!this.rec.sid.persistence) v.sidTries = 0;
    if (!this.rec.psidPin.persistence) v.psidTries = 0;
    this.rec.lspPins.forEach((row, i) => {
      if (!row.persistence) v.lspTries[i] = 0;
    });
    this.rec.ranges.forEach((range, r) => {
      if (range.lockOnReset) v.readLocked[r] = v.writeLocked[r] = true;
    });
    v.mbrDone = false;
    if (!keepHost) {
      for (const s of v.saved) s.fill(0);
      v.saved = [];
      v.dek?.fill(0);
      v.dek = null;
    }
    this.reconcile(null);
    this.store.saveVolatile(v);
  }

  rangeOf(lba: number): number {
    for (let r = 1; r < OPAL_MAX_LRS; r++) {
      const range = this.rec.ranges[r];
      if (range.length > 0 && lba >= range.start && lba < range.start + range.length) return r;
    }
    return 0;
  }

  /** The media key for an I/O, or null when the LBA's range is locked for it. */
  mediaKeyFor(lba: number, write: boolean): Buffer | null {
    const r = this.rangeOf(lba);
    if (write ? this.writeLocked(r) : this.readLocked(r)) return null;
    return this.vol.held[r];
  }
}
