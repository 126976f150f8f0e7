// Boot-time unlock: every drive under hardware EAR that its status shows locked gets its
// AK (one batched Get per provider), checked, and one unlock attempt. Key servers that
// cannot serve raise kmipServerFault (one per key server); drives left locked are the
// node's driveFailed. Rounds repeat on a capped, jittered exponential backoff while keys
// are missing, and run again whenever the inventory reports a drive added or relocked.
import type { Logger } from 'pino';
import { OpalDrive } from '../../opal/drive';
import { InFlightLimit } from '../../opal/in-flight-limit';
import type { DriveInventory } from '../../opal/inventory';
import type { DriveTransport } from '../../opal/transport';
import type { Store } from '../../store/store';
import { listDriveRecords, type DriveRecord } from '../drives/drive-records';
import type { FaultService } from '../faults';
import { getKeyRecord, type DriveKeyRecord } from '../hardware-ear/drive-keys';
import { getEar } from '../hardware-ear/ear-state';
import type { KmipSettings } from '../hardware-ear/kmip-keys';
import { ClusterKeyPair } from '../key-pair';
import { serversOfProvider } from '../kmip-records';
import type { Sealer } from '../sealer';
import { fetchKeys, type KeyFailure } from './fetch-keys';
import { clearGuard, isGuarded, readBootID, recordRefusal } from './try-guard';
import { unlockDrive } from './unlock-drive';

/** This daemon is one node of its cluster. */
const NODE_ID = 1;
const FIRST_RETRY_MS = 500;
/** Drives unlocked at once: small, the ioctls share libuv's thread pool. */
const PARALLEL_UNLOCKS = 2;

export interface BootUnlockDeps {
  store: Store;
  sealer: Sealer;
  transport: DriveTransport;
  faults: FaultService;
  kmip: KmipSettings;
  retryMaxDelayMs: number;
  /** Drive added or relocked → a new round. */
  inventory?: DriveInventory;
  /** Injectable for tests: /proc/sys/kernel/random/boot_id by default. */
  bootID?: () => string;
  logger?: Logger;
}

export interface RoundResult {
  unlocked: number[];
  /** driveID → why it is still locked. */
  failed: Map<number, string>;
  /** A later round may succeed (a key server issue). */
  retry: boolean;
}

export class BootUnlockService {
  private readonly keyPair: ClusterKeyPair;
  private readonly limit = new InFlightLimit(PARALLEL_UNLOCKS);
  private running: Promise<unknown> = Promise.resolve();
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private delay = FIRST_RETRY_MS;
  private unwatch: (() => void) | undefined;
  private closed = false;

  constructor(private readonly deps: BootUnlockDeps) {
    this.keyPair = new ClusterKeyPair(deps.store, deps.sealer, deps.logger);
  }

  /** First round now, then on inventory events and retries; idempotent. */
  start(): void {
    if (this.closed) return;
    this.unwatch ??= this.deps.inventory?.watch((e) => {
      if (e.type === 'added' || e.type === 'relocked') this.trigger();
    });
    this.trigger();
  }

  /** A round after the current one (rounds never overlap; requests in between coalesce). */
  trigger(): void {
    if (this.closed || this.pending) return;
    this.pending = true;
    this.running = this.running.then(async () => {
      this.pending = false;
      if (this.closed) return;
      try {
        const result = await this.round();
        this.scheduleRetry(result.retry);
      } catch (err) {
        this.deps.logger?.error({ err: (err as Error).message }, 'boot unlock round failed');
        this.scheduleRetry(true);
      }
    });
  }

  /** Settles once no round is running or queued. */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.running;
      await seen;
    } while (seen !== this.running);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    if (this.timer) clearTimeout(this.timer);
    await this.idle();
  }

  private scheduleRetry(retry: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!retry || this.closed) {
      this.delay = FIRST_RETRY_MS;
      return;
    }
    const wait = Math.min(this.delay, this.deps.retryMaxDelayMs);
    this.delay = Math.min(this.delay * 2, this.deps.retryMaxDelayMs);
    this.timer = setTimeout(() => this.trigger(), wait / 2 + Math.random() * (wait / 2));
    this.timer.unref();
  }

  /** One pass over the locked drives. */
  async round(): Promise<RoundResult> {
    const result: RoundResult = { unlocked: [], failed: new Map(), retry: false };
    const { store } = this.deps;
    if (getEar(store).state !== 'enabled') return result;
    const bootID = (this.deps.bootID ?? readBootID)();
    const wanted: { drive: DriveRecord; key: DriveKeyRecord }[] = [];
    const fail = (driveID: number, f: KeyFailure) => {
      result.failed.set(driveID, f.reason);
      result.retry ||= f.retry;
    };
    for (const drive of await this.lockedDrives(fail)) {
      const key = getKeyRecord(store, drive.keyID!);
      if (!key) fail(drive.driveID, { reason: `no record of key ${drive.keyID}`, retry: false });
      else if (isGuarded(store, drive.driveID, key, bootID))
        fail(drive.driveID, {
          reason: 'the drive refused its key this boot; not tried again (TryLimit guard)',
          retry: false,
        });
      else wanted.push({ drive, key });
    }
    const keys = await fetchKeys(
      { ...this.deps, keyPair: this.keyPair },
      wanted.map((w) => w.key),
    );
    try {
      await Promise.all(
        wanted.map(({ drive, key }) =>
          this.limit.run(async () => {
            const ak = keys.aks.get(key.keyID)!;
            if (!Buffer.isBuffer(ak)) return fail(drive.driveID, ak);
            const outcome = await unlockDrive(this.opal(drive), ak, this.deps.logger);
            if (outcome.kind === 'unlocked') {
              clearGuard(store, drive.driveID);
              result.unlocked.push(drive.driveID);
            } else if (outcome.kind === 'refused') {
              recordRefusal(store, drive.driveID, key, bootID);
              fail(drive.driveID, {
                reason: 'the drive refused its key (NOT_AUTHORIZED)',
                retry: false,
              });
            } else if (outcome.kind === 'lockedOut') {
              fail(drive.driveID, {
                reason: 'authority locked out (TryLimit reached)',
                retry: false,
              });
            } else fail(drive.driveID, { reason: outcome.reason, retry: true });
          }),
        ),
      );
    } finally {
      for (const ak of keys.aks.values()) if (Buffer.isBuffer(ak)) ak.fill(0);
    }
    this.report(keys.providersAsked, keys.providerErrors, result);
    return result;
  }

  private async lockedDrives(
    fail: (driveID: number, f: KeyFailure) => void,
  ): Promise<DriveRecord[]> {
    const candidates = listDriveRecords(this.deps.store).filter(
      (d) => d.present && d.security === 'enabled' && d.keyID,
    );
    const locked: DriveRecord[] = [];
    await Promise.all(
      candidates.map((d) =>
        this.limit.run(async () => {
          try {
            if ((await this.opal(d).status()).locked) locked.push(d);
          } catch (err) {
            fail(d.driveID, { reason: `status: ${(err as Error).message}`, retry: true });
          }
        }),
      ),
    );
    return locked.sort((a, b) => a.driveID - b.driveID);
  }

  private opal(drive: DriveRecord): OpalDrive {
    return new OpalDrive(
      this.deps.transport,
      drive.path,
      this.deps.logger ? { logger: this.deps.logger } : {},
    );
  }

  private report(asked: number[], errors: Map<number, string>, result: RoundResult): void {
    const { faults, store } = this.deps;
    for (const keyProviderID of asked) {
      const cause = errors.get(keyProviderID);
      for (const s of serversOfProvider(store, keyProviderID)) {
        const subject = { keyServerID: s.keyServerID };
        if (cause === undefined) faults.resolve('kmipServerFault', subject);
        else
          faults.raise(
            'kmipServerFault',
            subject,
            `Key server ${s.kmipKeyServerName} (${s.kmipKeyServerHostnames.join(', ')}:${s.kmipKeyServerPort}) of key provider ${keyProviderID}: ${cause}`,
            { data: { keyServerID: s.keyServerID, keyProviderID } },
          );
      }
    }
    for (const [driveID, reason] of result.failed) {
      this.deps.logger?.warn({ driveID, reason }, 'drive left locked');
    }
    faults.reportNodeDrives(
      'driveFailed',
      NODE_ID,
      [...result.failed.keys()].sort((a, b) => a - b),
    );
  }
}
