// One simulated drive as the host sees it: the Opal state machine behind the kernel's
// ioctl checks, the encrypted media, the software-encryption (DEK) layer above the media
// encryption, injected faults, and the files that persist all of it in the state dir.
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  IOC_OPAL_LOCK_UNLOCK,
  IOC_OPAL_MBR_DONE,
  OpalMbrDoneFlag,
  decodeOpalLockUnlock,
  encodeOpalMbrDone,
} from '../../opal/abi';
import type { IoctlResult } from '../../opal/transport';
import type { DriveInfo } from '../../opal/inventory';
import { BLOCK_SIZE, halvesDiffer, xtsDecrypt, xtsEncrypt } from '../crypto/xts';
import { MediaFile } from '../media/media-file';
import { writeFileAtomic } from '../../util/atomic-file';
import { VolatileJournal } from '../persistence/volatile-journal';
import { OpalStateMachine } from './opal-state-machine';
import { newDriveRecord, type DriveMode, type DriveRecord } from './record';
import { sedIoctl } from './sed-ioctl';
import { decodeVolatile, encodeVolatile, powerOnState, zeroVolatile } from './volatile';

/** While MBR shadowing is on and not Done, the first MiB shows the (zeroed) shadow table. */
const MBR_SHADOW_BLOCKS = 2048;

const MAX_SLOW_MS = 600_000;

export type MediaErrorCode = 'EIO' | 'ENODEV' | 'EINVAL' | 'ENOKEY';

/** A failed block read/write, with a one-line reason. */
export class MediaError extends Error {
  override name = 'MediaError';
  constructor(
    readonly code: MediaErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type Fault = 'io-error' | 'slow' | 'non-opal' | 'clear';

export interface DriveStatus {
  index: number;
  path: string;
  serial: string;
  model: string;
  mode: DriveMode;
  capacityBytes: number;
  plugged: boolean;
  /** Answers the Opal ioctls (an Opal drive without the non-opal fault). */
  opal: boolean;
  lsp: DriveRecord['lsp'];
  /** Any range effectively locked (GET_STATUS's LOCKED flag). */
  locked: boolean;
  ranges: {
    range: number;
    start: number;
    length: number;
    rle: boolean;
    wle: boolean;
    readLocked: boolean;
    writeLocked: boolean;
  }[];
  tries: { sid: number; psid: number; admin1: number; users: number[] };
  mbr: { enabled: boolean; done: boolean };
  savedUnlocks: number;
  /** Software encryption: none (never formatted with a DEK), attached or detached. */
  dek: 'none' | 'attached' | 'detached';
  faults: DriveRecord['faults'];
}

function dekCheckValue(dek: Buffer): string {
  return createHmac('sha256', dek).update('ekmd-sim dek check').digest('hex').slice(0, 32);
}

export class SimDrive {
  readonly opal: OpalStateMachine;
  /** Bumped on every unplug: handles opened before it stay dead, as on a real hot-remove. */
  plugGeneration = 0;
  private readonly media: MediaFile;
  private readonly journal: VolatileJournal;
  private readonly recordPath: string;

  constructor(
    stateDir: string,
    index: number,
    runtimeKey: Buffer,
    create: { blocks: number; mode: DriveMode },
    private readonly logger?: Logger,
  ) {
    this.recordPath = join(stateDir, `drive-${index}.json`);
    const fresh = !existsSync(this.recordPath);
    const rec = fresh ? newDriveRecord(index, create.blocks, create.mode) : this.loadRecord();
    this.journal = new VolatileJournal(
      join(stateDir, `drive-${index}.volatile`),
      runtimeKey,
      `ekmd-sim volatile ${rec.serial}`,
    );
    const snapshot = fresh ? null : this.journal.load();
    const vol = snapshot ? decodeVolatile(snapshot) : null;
    snapshot?.fill(0);
    this.opal = new OpalStateMachine(rec, vol ?? powerOnState(), runtimeKey, {
      saveRecord: (r) => writeFileAtomic(this.recordPath, JSON.stringify(r, null, 1)),
      saveVolatile: () => this.saveVolatile(),
    });
    if (fresh) this.opal.installFreshRangeKeys();
    if (!vol) this.opal.coldStart();
    if (fresh) writeFileAtomic(this.recordPath, JSON.stringify(rec, null, 1));
    this.media = new MediaFile(join(stateDir, `drive-${index}.img`), rec.blocks);
    logger?.debug({ drive: index, serial: rec.serial, resumed: Boolean(vol) }, 'drive loaded');
  }

  get rec(): DriveRecord {
    return this.opal.rec;
  }

  get index(): number {
    return this.rec.index;
  }

  get path(): string {
    return `sim:${this.rec.index}`;
  }

  /** Whether the kernel would have an opal_dev for this drive. */
  get answersOpal(): boolean {
    return this.rec.mode === 'opal' && !this.rec.faults.nonOpal;
  }

  ioctl(request: number, buf: Buffer, privileged: boolean, data?: Buffer): IoctlResult {
    return sedIoctl(
      this.opal,
      {
        privileged,
        opal: this.answersOpal,
        ioError: this.rec.faults.ioError,
        saveVolatile: () => this.saveVolatile(),
      },
      request,
      buf,
      data,
    );
  }

  info(): DriveInfo {
    return {
      path: this.path,
      serial: this.rec.serial,
      model: this.rec.model,
      capacityBytes: this.rec.blocks * BLOCK_SIZE,
      opal: this.answersOpal,
    };
  }

  // ---- data path

  readBlock(lba: number): Buffer {
    this.checkIo(lba);
    if (this.inShadow(lba)) return Buffer.alloc(BLOCK_SIZE);
    const key = this.opal.mediaKeyFor(lba, false);
    if (!key) throw new MediaError('EIO', `LBA ${lba} of ${this.path} is locked`);
    const dek = this.dek();
    const inner = xtsDecrypt(key, lba, this.media.read(lba));
    if (!dek) return inner;
    const plain = xtsDecrypt(dek, lba, inner);
    inner.fill(0);
    return plain;
  }

  writeBlock(lba: number, data: Buffer): void {
    if (data.length !== BLOCK_SIZE)
      throw new MediaError('EINVAL', `a block is ${BLOCK_SIZE} bytes, got ${data.length}`);
    this.checkIo(lba);
    if (this.inShadow(lba))
      throw new MediaError('EIO', `LBA ${lba} of ${this.path} is in the MBR shadow`);
    const key = this.opal.mediaKeyFor(lba, true);
    if (!key) throw new MediaError('EIO', `LBA ${lba} of ${this.path} is locked`);
    const dek = this.dek();
    const inner = dek ? xtsEncrypt(dek, lba, data) : data;
    this.media.write(lba, xtsEncrypt(key, lba, inner));
    if (dek) inner.fill(0);
  }

  /** Attach a DEK; the first one formats the drive for software encryption. */
  attachDek(dek: Buffer): void {
    if (!this.rec.plugged) throw new MediaError('ENODEV', `${this.path} is unplugged`);
    if (!halvesDiffer(dek))
      throw new MediaError('EINVAL', 'a DEK is 64 bytes (AES-256-XTS) with distinct halves');
    const check = dekCheckValue(dek);
    if (this.rec.dekCheck !== null && this.rec.dekCheck !== check)
      throw new MediaError(
        'ENOKEY',
        `the DEK does not match the one ${this.path} is formatted with`,
      );
    if (this.rec.dekCheck === null) {
      this.rec.dekCheck = check;
      writeFileAtomic(this.recordPath, JSON.stringify(this.rec, null, 1));
    }
    this.opal.vol.dek?.fill(0);
    this.opal.vol.dek = Buffer.from(dek);
    this.saveVolatile();
  }

  detachDek(): void {
    this.opal.vol.dek?.fill(0);
    this.opal.vol.dek = null;
    this.saveVolatile();
  }

  get dekAttached(): boolean {
    return this.opal.vol.dek !== null;
  }

  // ---- events

  powerCycle(): void {
    this.opal.powerCycle(false);
  }

  /** Suspend-to-RAM: the drive loses power, the kernel replays IOC_OPAL_SAVE entries. */
  suspendResume(): void {
    this.opal.powerCycle(true);
    for (const entry of [...this.opal.vol.saved]) {
      // opal_unlock_from_suspend: the saved struct as a LOCK_UNLOCK, then MBRDone if enabled.
      const unlock = Buffer.from(entry);
      const r = this.ioctl(IOC_OPAL_LOCK_UNLOCK.request, unlock, true);
      if (r.rc !== 0)
        this.logger?.warn({ drive: this.index, rc: r.rc }, 'saved unlock failed on resume');
      if (this.rec.mbrEnable) {
        const { opalKey } = decodeOpalLockUnlock(entry).session;
        const done = encodeOpalMbrDone({ key: opalKey, doneFlag: OpalMbrDoneFlag.DONE });
        this.ioctl(IOC_OPAL_MBR_DONE.request, done, true);
        done.fill(0);
        opalKey.key.fill(0);
      }
      unlock.fill(0);
    }
  }

  unplug(): void {
    this.opal.powerCycle(false);
    this.plugGeneration++;
    this.rec.plugged = false;
    writeFileAtomic(this.recordPath, JSON.stringify(this.rec, null, 1));
  }

  plug(): void {
    this.rec.plugged = true;
    writeFileAtomic(this.recordPath, JSON.stringify(this.rec, null, 1));
  }

  inject(fault: Fault, slowMs = 2000): void {
    if (!Number.isInteger(slowMs) || slowMs < 1 || slowMs > MAX_SLOW_MS)
      throw new RangeError(`a slow fault delays 1..${MAX_SLOW_MS} ms`);
    const f = this.rec.faults;
    if (fault === 'io-error') f.ioError = true;
    else if (fault === 'slow') f.slowMs = slowMs;
    else if (fault === 'non-opal') f.nonOpal = true;
    else Object.assign(f, { ioError: false, slowMs: 0, nonOpal: false });
    writeFileAtomic(this.recordPath, JSON.stringify(this.rec, null, 1));
  }

  status(): DriveStatus {
    const { rec, vol } = this.opal;
    return {
      index: rec.index,
      path: this.path,
      serial: rec.serial,
      model: rec.model,
      mode: rec.mode,
      capacityBytes: rec.blocks * BLOCK_SIZE,
      plugged: rec.plugged,
      opal: this.answersOpal,
      lsp: rec.lsp,
      locked: this.opal.anyLocked(),
      ranges: rec.ranges.map((r, i) => ({
        range: i,
        start: r.start,
        length: r.length,
        rle: r.rle,
        wle: r.wle,
        readLocked: vol.readLocked[i],
        writeLocked: vol.writeLocked[i],
      })),
      tries: {
        sid: vol.sidTries,
        psid: vol.psidTries,
        admin1: vol.lspTries[0],
        users: vol.lspTries.slice(1),
      },
      mbr: { enabled: rec.mbrEnable, done: vol.mbrDone },
      savedUnlocks: vol.saved.length,
      dek: rec.dekCheck === null ? 'none' : vol.dek ? 'attached' : 'detached',
      faults: { ...rec.faults },
    };
  }

  close(): void {
    this.journal.close();
    this.media.close();
    zeroVolatile(this.opal.vol);
  }

  // ---- internals

  private loadRecord(): DriveRecord {
    const rec = JSON.parse(readFileSync(this.recordPath, 'utf8')) as DriveRecord;
    if (rec.version !== 1) throw new Error(`${this.recordPath}: unknown record version`);
    return rec;
  }

  private saveVolatile(): void {
    const snap = encodeVolatile(this.opal.vol);
    this.journal.append(snap);
    snap.fill(0);
  }

  private checkIo(lba: number): void {
    if (!this.rec.plugged) throw new MediaError('ENODEV', `${this.path} is unplugged`);
    if (this.rec.faults.ioError) throw new MediaError('EIO', `${this.path}: injected I/O error`);
    if (!Number.isSafeInteger(lba) || lba < 0 || lba >= this.rec.blocks)
      throw new MediaError(
        'EINVAL',
        `LBA ${lba} is outside ${this.path} (0..${this.rec.blocks - 1})`,
      );
  }

  private inShadow(lba: number): boolean {
    return this.rec.mbrEnable && !this.opal.vol.mbrDone && lba < MBR_SHADOW_BLOCKS;
  }

  private dek(): Buffer | null {
    if (this.rec.dekCheck === null) return null;
    const dek = this.opal.vol.dek;
    if (!dek) throw new MediaError('ENOKEY', `no DEK is attached to ${this.path}`);
    return dek;
  }
}
