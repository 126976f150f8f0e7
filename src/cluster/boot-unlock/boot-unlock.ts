// Boot-time unlock: every drive under hardware EAR that its status shows locked gets its
// AK (one batched Get per provider), checked, and one unlock attempt. Key servers that
// cannot serve raise kmipServerFault (one per key server that failed); drives left locked
// are the node's driveFailed and show why in ListDrives. Rounds repeat on a capped,
// jittered exponential backoff while keys are missing, and run again whenever the
// inventory reports a drive added or relocked. While running, the held keys are checked
// at the key servers every keyCheckIntervalSec.
import type { Logger } from 'pino';
import type { KmipProvider } from '../../kmip/client';
import { opalDriveOpener, type OpalDrive } from '../../opal/drive';
import { InFlightLimit } from '../../util/in-flight-limit';
import type { DriveInventory } from '../../opal/inventory';
import type { DriveTransport } from '../../opal/transport';
import type { Store } from '../../store/store';
import { getDrive, listDriveRecords, type DriveRecord } from '../drives/drive-records';
import type { FaultService } from '../faults';
import { getKeyRecord, type DriveKeyRecord } from '../drive-keys/drive-keys';
import { getEar } from '../ear-state';
import { openProvider, type KmipSettings } from '../drive-keys/kmip-keys';
import { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import { recordOutcomes, reportMovedMetadataDrives } from './drive-outcomes';
import {
  answersCover,
  collectKeys,
  fetchKeys,
  requestKeys,
  zeroAnswers,
  zeroWhenAnswered,
  type FetchedKeys,
  type KeyAnswers,
  type KeyFailure,
} from './fetch-keys';
import { checkHeldKeys } from './key-check';
import { planFromStore, sameServers, type EarlyRequest } from './key-plan';
import { KeyPlanKeeper } from './plan-keeper';
import { reportServers } from './server-faults';
import { clearGuard, isGuarded, readBootID, recordRefusal, releaseGuardIn } from './try-guard';
import { unlockDrive } from './unlock-drive';
import { Backoff } from '../backoff';
import { settleChain } from '../settle';
import { NO_METRICS, type MetricsSink } from '../metrics-sink';

/** This daemon is one node of its cluster. */
const NODE_ID = 1;
/** Drives unlocked at once when the transport does not say (the ioctls share libuv's pool). */
const PARALLEL_UNLOCKS = 2;
const DEFAULT_METADATA_GRACE_SEC = 360;
/** Keys fetched ahead that no round took this soon are dropped (and zeroed). */
const PREFETCH_MAX_AGE_MS = 10_000;

export interface BootUnlockDeps {
  store: Store;
  sealer: Sealer;
  transport: DriveTransport;
  faults: FaultService;
  kmip: KmipSettings;
  retryMaxDelayMs: number;
  /** Drive added or relocked → a new round. */
  inventory?: DriveInventory;
  /** A metadata drive locked this long is failed and moved to available (default 360). */
  metadataGraceSec?: number;
  /** Check the held keys at their key servers this often; off when absent. */
  keyCheckIntervalSec?: number;
  /** After a drive unlocked (the ioctl backend re-reads its partition table); may throw. */
  afterUnlock?: (path: string) => Promise<void>;
  /** Where key-plan.json is kept (the stateDir), for the next start's early request; none when absent. */
  keyPlanDir?: string;
  /** Injectable for tests: /proc/sys/kernel/random/boot_id by default. */
  bootID?: () => string;
  /** Unlock durations go here; none recorded when absent. */
  metrics?: MetricsSink;
  logger?: Logger;
}

export interface RoundResult {
  unlocked: number[];
  /** driveID → why it is still locked. */
  failed: Map<number, string>;
  /** A later round may succeed (a key server issue). */
  retry: boolean;
  progress: UnlockProgress;
}

/** Where the drives under hardware EAR stand after a round. */
export interface UnlockProgress {
  /** Present drives under hardware EAR. */
  total: number;
  unlocked: number;
  /** Locked for a reason a later round may overcome (key server, transport). */
  waiting: number;
  /** Locked for a reason only an operator can fix (wrong key, guard, locked out). */
  failed: number;
}

/** The STATUS= line for systemd: "unlocked 10/12 drives; 2 waiting for key server". */
export function progressLine(p: UnlockProgress): string {
  if (p.total === 0) return 'no drives to unlock';
  let line = `unlocked ${p.unlocked}/${p.total} drives`;
  if (p.waiting) line += `; ${p.waiting} waiting for key server`;
  if (p.failed) line += `; ${p.failed} failed`;
  return line;
}

const elapsed = (since: number): number => Math.round(performance.now() - since);

/**
 * Into the unlock histogram once the round is over and its waiters (READY=1 among them)
 * have run; only while the sink records (else prom-client is never loaded).
 */
function observeUnlocks(metrics: MetricsSink, timings: [ms: number, ok: boolean][]): void {
  if (timings.length === 0 || !metrics.recording()) return;
  setImmediate(() => metrics.unlocks(timings));
}

/** Keys asked for ahead of a round: when, the answers, and whether they are in. */
interface Prefetched {
  at: number;
  answers: Promise<KeyAnswers | undefined>;
  answered: boolean;
}

function prefetchedFrom(at: number, answers: Promise<KeyAnswers | undefined>): Prefetched {
  const entry: Prefetched = { at, answers, answered: false };
  void answers.then(() => (entry.answered = true));
  return entry;
}

export class BootUnlockService {
  private readonly keyPair: ClusterKeyPair;
  private readonly limit: InFlightLimit;
  private readonly opal: (drive: { path: string }) => OpalDrive;
  private readonly lockedSince = new Map<number, number>();
  /**
   * What the last key check found wrong with keys, per key server. A round that fetched
   * other keys from that server does not resolve its fault: the keys found bad are still bad.
   */
  private keyProblems = new Map<number, string>();
  private readonly roundListeners = new Set<(p: UnlockProgress) => void>();
  private running: Promise<unknown> = Promise.resolve();
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private keyCheckTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private unwatch: (() => void) | undefined;
  private closed = false;
  /** The keys asked for ahead of the first round (see prefetchKeys). */
  private prefetched: Prefetched | undefined;
  private firstPassDone!: () => void;
  /** Settles once the first round has finished: every drive unlocked or its fault raised. */
  readonly firstPass = new Promise<void>((resolve) => (this.firstPassDone = resolve));
  /** key-plan.json, when deps.keyPlanDir names where. */
  private readonly plan: KeyPlanKeeper | undefined;
  private keysAskedNow!: () => void;
  /**
   * Settles when the first round waits on the key server (its status read, the keys not in
   * yet) or is over: other work then costs the unlock nothing. Keys already in are used at
   * once, and this settles after the unlocks.
   */
  readonly keysAsked = new Promise<void>((resolve) => (this.keysAskedNow = resolve));

  constructor(private readonly deps: BootUnlockDeps) {
    this.keyPair = new ClusterKeyPair(deps.store, deps.sealer, deps.logger);
    this.opal = opalDriveOpener(deps.transport, deps.logger);
    this.limit = new InFlightLimit(deps.transport.maxInFlight ?? PARALLEL_UNLOCKS);
    this.backoff = new Backoff(deps.retryMaxDelayMs);
    if (deps.keyPlanDir) {
      this.plan = new KeyPlanKeeper({
        store: deps.store,
        keyPair: this.keyPair,
        dir: deps.keyPlanDir,
        keysToAsk: () =>
          getEar(deps.store).state === 'enabled' ? this.candidateKeys().map((c) => c.key) : [],
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
    }
  }

  /**
   * Send for the keys of every drive under hardware EAR now (one batched Get per provider),
   * before the drives backend and the API start and before any drive's status is read: at a
   * boot they are all locked, and the key server's handshake and answer then overlap the
   * rest of the start. The first round takes from the answers the keys of the drives it
   * finds locked; the others are zeroed unused, and a key server's outcome counts only for
   * the keys taken. Drives the TryLimit guard holds are left out.
   * `early`: the keys already sent for from key-plan.json before the store opened; taken
   * instead when the store names the same servers and key pair, else zeroed unused.
   */
  prefetchKeys(early?: EarlyRequest): void {
    const drop = () => early && zeroWhenAnswered(early.answers);
    if (this.closed || this.prefetched || getEar(this.deps.store).state !== 'enabled')
      return drop();
    const { store } = this.deps;
    if (early) this.plan?.rememberFileText(early.text);
    const keyed = this.candidateKeys();
    const bootID = (this.deps.bootID ?? readBootID)();
    const records = keyed
      .filter(({ drive, key }) => !isGuarded(store, drive.driveID, key, bootID))
      .map((c) => c.key);
    // The plan file itself is rewritten after the first round, off the unlock's path.
    const plan =
      early &&
      planFromStore(
        store,
        this.keyPair,
        keyed.map((c) => c.key),
      );
    if (early && plan && sameServers(early.plan, plan)) {
      this.prefetched = prefetchedFrom(early.at, early.answers);
      this.deps.logger?.debug(
        // sentAt: ms after the process started (performance's time origin).
        { sentAt: Math.round(early.at), asked: Math.round(performance.now() - early.at) },
        'keys were sent for before the store opened (key plan)',
      );
      return;
    }
    drop();
    if (records.length === 0) return;
    const answers = requestKeys({ ...this.deps, keyPair: this.keyPair }, records).catch(
      () => undefined, // the round asks again, and reports why it cannot
    );
    this.prefetched = prefetchedFrom(performance.now(), answers);
  }

  /** First round now, then on inventory events and retries; idempotent. */
  start(): void {
    if (this.closed) return;
    this.unwatch ??= this.deps.inventory?.watch((e) => {
      if (e.type === 'added' || e.type === 'relocked') this.trigger();
    });
    this.plan?.rewriteAfterChanges();
    const every = this.deps.keyCheckIntervalSec;
    if (every && !this.keyCheckTimer) {
      this.keyCheckTimer = setInterval(() => this.checkKeys(), every * 1000).unref();
    }
    this.trigger();
  }

  /** Called with the progress after every round; returns an unsubscribe. */
  onRound(fn: (p: UnlockProgress) => void): () => void {
    this.roundListeners.add(fn);
    return () => this.roundListeners.delete(fn);
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
        for (const fn of this.roundListeners) fn(result.progress);
      } catch (err) {
        this.deps.logger?.error({ err: (err as Error).message }, 'boot unlock round failed');
        this.scheduleRetry(true);
      } finally {
        this.keysAskedNow();
        this.firstPassDone();
        if (!this.closed) this.plan?.writeIfChanged();
      }
    });
  }

  /**
   * The operator's release of the TryLimit guard (`ekmctl drives retry-unlock`): forget
   * the refusals of these drives (all when none are named) and run a round at once.
   * Returns the drives whose guard was released. An unknown drive ID changes nothing.
   */
  releaseGuards(driveIDs?: number[]): number[] {
    const released = this.deps.store.transaction((tx) => {
      const ids = driveIDs ?? listDriveRecords(tx).map((d) => d.driveID);
      for (const id of ids) getDrive(tx, id); // xDriveIDDoesNotExist before any change
      return ids.filter((id) => releaseGuardIn(tx, id));
    });
    this.deps.logger?.info({ driveIDs: released }, 'TryLimit guard released by the operator');
    this.trigger();
    return released;
  }

  /** Re-evaluates the metadata-drive faults (after AddDrives made drives active). */
  reconcile(): void {
    if (this.closed) return;
    this.deps.store.transaction((tx) => reportMovedMetadataDrives(tx, this.deps.faults, NODE_ID));
  }

  /** Queues a check of the held keys at their key servers (after any running round). */
  checkKeys(): Promise<void> {
    const check = this.running.then(async () => {
      if (this.closed) return;
      try {
        await this.keyCheck();
      } catch (err) {
        this.deps.logger?.error({ err: (err as Error).message }, 'key check failed');
      }
    });
    this.running = check;
    return check;
  }

  /** Settles once no round is running or queued. */
  async idle(): Promise<void> {
    await settleChain(() => this.running);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    this.plan?.close();
    for (const t of [this.timer, this.graceTimer]) if (t) clearTimeout(t);
    if (this.keyCheckTimer) clearInterval(this.keyCheckTimer);
    this.keysAskedNow();
    this.firstPassDone();
    this.dropPrefetch();
    await this.idle();
  }

  private scheduleRetry(retry: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!retry || this.closed) {
      this.backoff.reset();
      return;
    }
    this.timer = setTimeout(() => this.trigger(), this.backoff.next());
    this.timer.unref();
  }

  /** One pass over the locked drives. */
  async round(): Promise<RoundResult> {
    const result: RoundResult = {
      unlocked: [],
      failed: new Map(),
      retry: false,
      progress: { total: 0, unlocked: 0, waiting: 0, failed: 0 },
    };
    const { store } = this.deps;
    if (getEar(store).state !== 'enabled') return result;
    const bootID = (this.deps.bootID ?? readBootID)();
    const waiting = new Set<number>();
    const wanted: { drive: DriveRecord; key: DriveKeyRecord }[] = [];
    const fail = (driveID: number, f: KeyFailure) => {
      result.failed.set(driveID, f.reason);
      if (f.retry) waiting.add(driveID);
      result.retry ||= f.retry;
    };
    const candidates = this.candidates();
    const prefetched = this.takePrefetch();
    // With keys asked for ahead, no other connection is made unless they fall short.
    const opened = prefetched ? new Map<number, KmipProvider>() : this.openProviders(candidates);
    let keys: FetchedKeys;
    let prefetchTaken = false;
    try {
      const scanStarted = performance.now();
      const locked = await this.lockedDrives(candidates, fail);
      this.deps.logger?.debug(
        { drives: candidates.length, locked: locked.length, ms: elapsed(scanStarted) },
        'drive status read',
      );
      for (const drive of locked) {
        const key = getKeyRecord(store, drive.keyID!);
        if (!key) fail(drive.driveID, { reason: `no record of key ${drive.keyID}`, retry: false });
        else if (isGuarded(store, drive.driveID, key, bootID))
          fail(drive.driveID, {
            reason: 'the drive refused its key this boot; not tried again (TryLimit guard)',
            retry: false,
          });
        else wanted.push({ drive, key });
      }
      const fetchStarted = performance.now();
      const records = wanted.map((w) => w.key);
      if (!prefetched?.answered) this.keysAskedNow();
      const early = await prefetched?.answers;
      prefetchTaken = true;
      if (early && answersCover(early, records))
        keys = collectKeys(this.deps.sealer, records, early);
      else {
        if (early) zeroAnswers(early);
        this.keysAskedNow();
        keys = await fetchKeys({ ...this.deps, keyPair: this.keyPair, opened }, records);
      }
      if (wanted.length)
        this.deps.logger?.debug({ keys: wanted.length, ms: elapsed(fetchStarted) }, 'keys fetched');
    } finally {
      // Those no locked drive needed (askProvider closed the ones it used; twice is harmless).
      for (const provider of opened.values()) provider.close();
      if (!prefetchTaken && prefetched) zeroWhenAnswered(prefetched.answers);
    }
    const timings: [ms: number, ok: boolean][] = [];
    // allSettled: the AKs are zeroed only once no unlock can still read them (a store error
    // in one drive's bookkeeping must not hand a zeroed key to another drive).
    const settled = await Promise.allSettled(
      wanted.map(({ drive, key }) =>
        this.limit.run(async () => {
          const ak = keys.aks.get(key.keyID)!;
          if (!Buffer.isBuffer(ak)) return fail(drive.driveID, ak);
          const started = performance.now();
          const outcome = await unlockDrive(this.opal(drive), ak, this.deps.logger);
          timings.push([performance.now() - started, outcome.kind === 'unlocked']);
          if (outcome.kind === 'unlocked') {
            clearGuard(store, drive.driveID);
            result.unlocked.push(drive.driveID);
            await this.afterUnlock(drive);
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
    ).finally(() => {
      for (const ak of keys.aks.values()) if (Buffer.isBuffer(ak)) ak.fill(0);
      observeUnlocks(this.deps.metrics ?? NO_METRICS, timings);
    });
    this.keysAskedNow(); // when the keys were in at once, the unlocks came first
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected) throw rejected.reason;
    if (wanted.length)
      this.deps.logger?.debug(
        { drives: wanted.length, unlocked: result.unlocked.length },
        'drives unlocked',
      );
    result.progress = {
      total: candidates.length,
      unlocked: candidates.length - result.failed.size,
      waiting: waiting.size,
      failed: result.failed.size - waiting.size,
    };
    this.report(keys.servers, candidates, result);
    return result;
  }

  private async afterUnlock(drive: DriveRecord): Promise<void> {
    if (!this.deps.afterUnlock) return;
    try {
      await this.deps.afterUnlock(drive.path);
    } catch (err) {
      // The drive is unlocked; a stale partition table is the operator's to refresh.
      this.deps.logger?.warn(
        { driveID: drive.driveID, err: (err as Error).message },
        'could not re-read the partition table after unlock',
      );
    }
  }

  private async keyCheck(): Promise<void> {
    const { store } = this.deps;
    if (getEar(store).state !== 'enabled') return;
    const records = listDriveRecords(store)
      .filter((d) => d.present && d.security === 'enabled' && d.keyID && d.step !== 'erasing')
      .map((d) => getKeyRecord(store, d.keyID!))
      .filter((k): k is DriveKeyRecord => !!k && k.keyProviderID !== null);
    if (records.length === 0) return;
    const { outcomes, keyProblems } = await checkHeldKeys(
      { ...this.deps, keyPair: this.keyPair },
      records,
    );
    this.keyProblems = keyProblems;
    for (const [keyServerID, cause] of outcomes) {
      if (cause !== null) this.deps.logger?.warn({ keyServerID, cause }, 'key check failed');
    }
    store.transaction((tx) => reportServers(tx, this.deps.faults, outcomes, 'driveKeys'));
  }

  /**
   * The drives a round looks at: present, under hardware EAR, with a key. A drive being
   * erased is not unlocked: its AK is on its way out (a revert may race).
   */
  private candidates(): DriveRecord[] {
    return listDriveRecords(this.deps.store).filter(
      (d) => d.present && d.security === 'enabled' && d.keyID && d.step !== 'erasing',
    );
  }

  /** The candidates' key records, drives without one left out. */
  private candidateKeys(): { drive: DriveRecord; key: DriveKeyRecord }[] {
    return this.candidates().flatMap((drive) => {
      const key = getKeyRecord(this.deps.store, drive.keyID!);
      return key && key.keyProviderID !== null ? [{ drive, key }] : [];
    });
  }

  /** The answers of prefetchKeys, unless too old to trust; the caller zeroes them. */
  private takePrefetch(): Prefetched | undefined {
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    if (!prefetched) return undefined;
    if (performance.now() - prefetched.at <= PREFETCH_MAX_AGE_MS) return prefetched;
    zeroWhenAnswered(prefetched.answers);
    return undefined;
  }

  private dropPrefetch(): void {
    if (this.prefetched) zeroWhenAnswered(this.prefetched.answers);
    this.prefetched = undefined;
  }

  /**
   * A client per key provider holding a candidate's key, already connecting (TLS handshake,
   * version negotiation) while the drives' status is read. One that cannot be opened is
   * left to fetchKeys, which opens it again and reports why.
   */
  private openProviders(candidates: DriveRecord[]): Map<number, KmipProvider> {
    const opened = new Map<number, KmipProvider>();
    const { store, kmip, logger } = this.deps;
    for (const d of candidates) {
      const providerID = getKeyRecord(store, d.keyID!)?.keyProviderID;
      if (providerID === null || providerID === undefined || opened.has(providerID)) continue;
      try {
        const provider = openProvider(store, this.keyPair, providerID, kmip, logger);
        provider.preconnect();
        opened.set(providerID, provider);
      } catch {
        // fetchKeys opens it again and reports why it cannot
      }
    }
    return opened;
  }

  private async lockedDrives(
    candidates: DriveRecord[],
    fail: (driveID: number, f: KeyFailure) => void,
  ): Promise<DriveRecord[]> {
    const locked: DriveRecord[] = [];
    await Promise.all(
      candidates.map((d) =>
        this.limit.run(async () => {
          try {
            const status = await this.opal(d).status();
            // A drive under EAR that no longer reports Opal support is answering with
            // errors (the kernel's status is all zeros then): retry, never read it as unlocked.
            if (!status.supported)
              fail(d.driveID, {
                reason: 'status: the drive reports no Opal support (I/O errors?)',
                retry: true,
              });
            else if (status.locked) locked.push(d);
          } catch (err) {
            fail(d.driveID, { reason: `status: ${(err as Error).message}`, retry: true });
          }
        }),
      ),
    );
    return locked.sort((a, b) => a.driveID - b.driveID);
  }

  private report(
    servers: Map<number, string | null>,
    candidates: DriveRecord[],
    result: RoundResult,
  ): void {
    const { faults, store } = this.deps;
    for (const [driveID, reason] of result.failed) {
      this.deps.logger?.warn({ driveID, reason }, 'drive left locked');
    }
    const graceMs = (this.deps.metadataGraceSec ?? DEFAULT_METADATA_GRACE_SEC) * 1000;
    const now = Date.now();
    for (const [keyServerID, cause] of servers) {
      const known = this.keyProblems.get(keyServerID);
      if (cause === null && known) servers.set(keyServerID, known);
    }
    const graceEnd = store.transaction((tx) => {
      reportServers(tx, faults, servers, 'driveKeys');
      faults.reportNodeDrivesIn(
        tx,
        'driveFailed',
        NODE_ID,
        [...result.failed.keys()].sort((a, b) => a - b),
      );
      return recordOutcomes(tx, faults, {
        candidates,
        failed: result.failed,
        lockedSince: this.lockedSince,
        graceMs,
        now,
        nodeID: NODE_ID,
      });
    });
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    // A round when a metadata drive's grace ends, even if nothing else would run one.
    if (graceEnd !== undefined && !this.closed) {
      this.graceTimer = setTimeout(() => this.trigger(), Math.max(0, graceEnd - now) + 10);
      this.graceTimer.unref();
    }
  }
}
