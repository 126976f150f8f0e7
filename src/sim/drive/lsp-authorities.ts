// The authorities and keys under a simulated drive's Opal state machine: PIN checks with
// TryLimit/Tries for the Admin SP and the Locking SP, the Locking SP key wrapped under each
// PIN, and the range media keys (sealed under that key, or held open for ranges that
// cannot fully lock). OpalStateMachine builds the Opal methods on these.
import { checkPin, derivePinSecrets } from '../crypto/pin-kdf';
import { open, seal } from '../crypto/seal';
import { TcgStatus } from '../../opal/abi';
import { LSP_AUTHORITIES, pinRow, type DriveRecord, type PinRow, type RangeRow } from './record';
import { powerOnState, type VolatileState } from './volatile';

export const ADMIN1 = 0;
/** Geometry: 4 KiB alignment of locking ranges, as most drives report. */
export const ALIGNMENT_BLOCKS = 8;

/** A Locking SP session as the kernel opens it (start_auth_opal_session). */
export interface LspSession {
  who: number;
  sum: boolean;
  lr: number;
  key: Buffer;
}

export interface DrivePersistence {
  saveRecord(rec: DriveRecord): void;
  saveVolatile(vol: VolatileState): void;
}

export interface RangeStatus {
  start: number;
  length: number;
  rle: boolean;
  wle: boolean;
  lState: number;
}

export type Auth = { rc: number; authority: number; lspKey: Buffer };

export const b64 = (s: string) => Buffer.from(s, 'base64');

/** With RLE or WLE off, part of the range stays reachable without any PIN. */
export const fullyLockable = (range: RangeRow) => range.rle && range.wle;

export class LockingSpAuthorities {
  constructor(
    readonly rec: DriveRecord,
    public vol: VolatileState,
    protected readonly runtimeKey: Buffer,
    protected readonly store: DrivePersistence,
  ) {}

  protected readLocked(r: number): boolean {
    return this.rec.ranges[r].rle && this.vol.readLocked[r];
  }

  protected writeLocked(r: number): boolean {
    return this.rec.ranges[r].wle && this.vol.writeLocked[r];
  }

  protected admin(pin: Buffer, lr = 0): LspSession {
    return { who: ADMIN1, sum: false, lr, key: pin };
  }

  protected aad(kind: string, n: number): string {
    return `${this.rec.serial}/${kind}/${n}`;
  }

  protected authAdminSp(which: 'sid' | 'psid', pin: Buffer): number {
    const row = which === 'sid' ? this.rec.sid : this.rec.psidPin;
    const tries = which === 'sid' ? this.vol.sidTries : this.vol.psidTries;
    if (row.tryLimit > 0 && tries >= row.tryLimit) return TcgStatus.AUTHORITY_LOCKED_OUT;
    const kek = row.verifier ? checkPin(pin, b64(row.salt), b64(row.verifier)) : null;
    const next = kek ? 0 : tries + 1;
    kek?.fill(0);
    if (next !== tries) {
      if (which === 'sid') this.vol.sidTries = next;
      else this.vol.psidTries = next;
      this.store.saveVolatile(this.vol);
    }
    return kek ? 0 : TcgStatus.NOT_AUTHORIZED;
  }

  protected authLsp(session: LspSession): Auth {
    const fail = (rc: number): Auth => ({ rc, authority: -1, lspKey: Buffer.alloc(0) });
    // A Manufactured-Inactive SP cannot open sessions.
    if (this.rec.lsp !== 'manufactured') return fail(TcgStatus.INVALID_PARAMETER);
    const authority = session.sum ? session.lr + 1 : session.who;
    if (authority >= LSP_AUTHORITIES) return fail(TcgStatus.INVALID_PARAMETER);
    const row = this.rec.lspPins[authority];
    if (!row.enabled) return fail(TcgStatus.NOT_AUTHORIZED);
    const tries = this.vol.lspTries[authority];
    if (row.tryLimit > 0 && tries >= row.tryLimit) return fail(TcgStatus.AUTHORITY_LOCKED_OUT);
    const kek = row.verifier ? checkPin(session.key, b64(row.salt), b64(row.verifier)) : null;
    if (!kek) {
      this.vol.lspTries[authority] = tries + 1;
      this.store.saveVolatile(this.vol);
      return fail(TcgStatus.NOT_AUTHORIZED);
    }
    if (tries !== 0) {
      this.vol.lspTries[authority] = 0;
      this.store.saveVolatile(this.vol);
    }
    const lspKey = row.lspKey ? open(kek, b64(row.lspKey), this.aad('lsp-key', authority)) : null;
    kek.fill(0);
    if (!lspKey) return fail(TcgStatus.TPER_MALFUNCTION);
    return { rc: 0, authority, lspKey };
  }

  protected withLsp(session: LspSession, fn: (a: Auth) => number): number {
    const a = this.authLsp(session);
    if (a.rc !== 0) return a.rc;
    try {
      return fn(a);
    } finally {
      a.lspKey.fill(0);
    }
  }

  protected replacePin(old: PinRow, pin: Buffer): PinRow {
    return { ...pinRow(pin, old.enabled), tryLimit: old.tryLimit, persistence: old.persistence };
  }

  /** A Locking SP C_PIN row for `pin`, with the Locking SP key wrapped under it. */
  protected lspPinRow(old: PinRow, pin: Buffer, lspKey: Buffer, authority: number): PinRow {
    const row = this.replacePin(old, pin);
    if (row.verifier) {
      const s = derivePinSecrets(pin, b64(row.salt));
      row.lspKey = seal(s.kek, lspKey, this.aad('lsp-key', authority)).toString('base64');
      s.kek.fill(0);
      s.verifier.fill(0);
    }
    return row;
  }

  protected validGeometry(r: number, start: bigint, length: bigint): boolean {
    const blocks = BigInt(this.rec.blocks);
    const g = BigInt(ALIGNMENT_BLOCKS);
    if (start % g !== 0n || length % g !== 0n || start + length > blocks) return false;
    if (length === 0n) return true;
    return this.rec.ranges.every((other, i) => {
      if (i === 0 || i === r || other.length === 0) return true;
      const s = BigInt(other.start);
      const e = s + BigInt(other.length);
      return start + length <= s || start >= e;
    });
  }

  /** A range's media key: from its open wrap, or unwrapped with the Locking SP key. */
  protected rangeKey(r: number, range: RangeRow, lspKey: Buffer | null): Buffer {
    const held = this.vol.held[r];
    if (held) return Buffer.from(held);
    const key = range.openKey
      ? open(this.runtimeKey, b64(range.openKey), this.aad('open', r))
      : range.sealedKey && lspKey
        ? open(lspKey, b64(range.sealedKey), this.aad('range', r))
        : null;
    if (!key) throw new Error(`media key of range ${r} is not available`);
    return key;
  }

  protected setRangeKey(r: number, range: RangeRow, key: Buffer, lspKey: Buffer | null): void {
    range.sealedKey = lspKey ? seal(lspKey, key, this.aad('range', r)).toString('base64') : null;
    range.openKey = null;
    if (!fullyLockable(range))
      range.openKey = seal(this.runtimeKey, key, this.aad('open', r)).toString('base64');
    key.fill(0);
  }

  /** A range that cannot fully lock keeps its key where no PIN is needed to reach it. */
  protected updateOpenKey(r: number, range: RangeRow, lspKey: Buffer): void {
    if (fullyLockable(range)) range.openKey = null;
    else if (!range.openKey) {
      const key = this.rangeKey(r, range, lspKey);
      range.openKey = seal(this.runtimeKey, key, this.aad('open', r)).toString('base64');
      key.fill(0);
    }
  }

  /** Hold exactly the keys of ranges that cover LBAs and can be read or written now. */
  protected reconcile(lspKey: Buffer | null): void {
    this.rec.ranges.forEach((range, r) => {
      const covers = r === 0 || range.length > 0;
      const needed = covers && (!this.readLocked(r) || !this.writeLocked(r));
      const held = this.vol.held[r];
      if (needed && !held) this.vol.held[r] = this.rangeKey(r, range, lspKey);
      if (!needed && held) {
        held.fill(0);
        this.vol.held[r] = null;
      }
    });
  }

  /** Fresh volatile state; an attached DEK (host RAM, not the drive's) stays. */
  protected resetVolatile(): void {
    const dek = this.vol.dek;
    for (const k of this.vol.held) k?.fill(0);
    for (const s of this.vol.saved) s.fill(0);
    this.vol = powerOnState();
    this.vol.dek = dek;
    this.reconcile(null);
  }
}
