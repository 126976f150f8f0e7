// Software encryption at rest (Element's SEAR): a master key (MK) wraps one DEK per drive;
// each unwrapped DEK is attached to its drive through the DataPath port. The MK is made
// (internal) when the cluster is created with enableSoftwareEncryptionAtRest; every drive
// that appears gets a DEK, recorded wrapped before it reaches the drive. Rounds of this
// "ensure" work, rekeys (rekey.ts) and clean-up at key servers run one at a time; rounds
// that could not get the MK (a key server down) are retried with capped, jittered backoff
// until the drives are attached. A round works only on the drives that need it: new,
// present again, relocked, or whose last attempt may work later; a drive already attached
// (or on a backend that cannot take a DEK) costs nothing until it is replugged or
// relocked. Every KMIP request reports the key servers it reached (kmipServerFault per
// server, key-server-requests.ts).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DataPathUnsupportedError, type DataPath } from '../../opal/datapath';
import type { DriveInventory } from '../../opal/inventory';
import type { Json, Store, StoreChange, StoreReader, StoreTx } from '../../store/store';
import type { AsyncResultService } from '../async-results/async-results';
import { CLUSTER_KEY } from '../cluster-info';
import { DRIVE_PREFIX, driveNodeID, type DriveRecord } from '../drives/drive-records';
import { ACTIVE_NODE_PREFIX, ALIVE_PREFIX } from '../nodes/node-records';
import { SINGLE_NODE, type NodeScope } from '../drives/node-scope';
import type { FaultService } from '../faults';
import { softwareEarEnabled } from '../ear-state';
import { openProvider, type KmipSettings } from '../drive-keys/kmip-keys';
import { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import { newDek, unwrapKey, wrapKey } from './key-wrap';
import { cleanUpKeys } from './key-cleanup';
import { fetchExternalKey, newInternalKey, unsealInternalKey } from './master-keys';
import { KeyServerRequests } from './key-server-requests';
import { Rekey, type RekeyDeps, type RekeyParams } from './rekey';
import { rewrapMasterDeks, rewrapOwnDeks } from './node-rewrap';
import {
  JOURNAL_KEY,
  SEAR_NODE_PREFIX,
  getMasterKey,
  getSearState,
  keyInfo,
  listDeks,
  listMasterKeys,
  putDek,
  putMasterKey,
  putSearState,
  type DekRecord,
  wrappedBy,
  type MasterKeyRecord,
} from './sear-store';
import { Backoff } from '../backoff';
import { settleChain } from '../settle';
import { mapLimit } from '../../util/map-limit';
import { writeInChunks } from '../store-chunks';
import type { MetricsSink } from '../metrics-sink';
import { fencedStore } from '../nodes/fenced-store';
import type { MasterFence } from '../nodes/master-fence';

const PARALLEL_ATTACH = 8;
const ATTACHED = 'attached';

export interface SearOptions {
  store: Store;
  sealer: Sealer;
  dataPath: DataPath;
  asyncResults: AsyncResultService;
  kmip?: KmipSettings;
  faults?: FaultService;
  retryMaxDelayMs?: number;
  /** Drives plugged in or relocked (power loss) get their DEK again. */
  inventory?: DriveInventory;
  /** Which drive records are this node's (the only ones it attaches); default: a single node's. */
  scope?: NodeScope;
  metrics?: MetricsSink;
  logger?: Logger;
  /**
   * The cluster-wide work (running a rekey, finishing or rolling back an interrupted one,
   * destroying replaced keys) is the cluster master's: masterJob() runs it, and neither
   * recover() nor rekey() nor the rounds do. Without it this service does all of it.
   */
  rekeyOnMaster?: boolean;
}

export class SearService {
  private get scope(): NodeScope {
    return this.options.scope ?? SINGLE_NODE;
  }
  private readonly keyPair: ClusterKeyPair;
  private readonly rekeys: Rekey;
  private job: Promise<void> = Promise.resolve();
  private roundQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private closed = false;
  private readonly unwatch: (() => void)[] = [];
  /** serial → 'attached' or why its DEK is not attached (this process's view). */
  private readonly attachState = new Map<string, string>();
  /** Drives whose last attempt failed in a way that may work later (the retry's work). */
  private readonly unfinished = new Set<string>();
  /**
   * serial → how often it was forgotten (gone, replugged, relocked): what a round learned
   * of a drive forgotten while it ran is stale.
   */
  private readonly epochs = new Map<string, number>();
  /** The epoch of each drive the running round works on. */
  private roundEpochs = new Map<string, number>();
  private readonly requests: KeyServerRequests;

  constructor(private readonly options: SearOptions) {
    this.keyPair = new ClusterKeyPair(options.store, options.sealer, options.logger);
    this.backoff = new Backoff(options.retryMaxDelayMs ?? 30_000);
    this.requests = new KeyServerRequests({
      store: options.store,
      keyPair: this.keyPair,
      kmip: this.kmip,
      ...(options.faults ? { faults: options.faults } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.rekeys = new Rekey(this.rekeyDeps());
  }

  private rekeyDeps(): RekeyDeps {
    const { options } = this;
    return {
      store: options.store,
      sealer: options.sealer,
      asyncResults: options.asyncResults,
      ask: this.requests.ask,
      loadKey: (k) => this.loadKey(k),
      checkProvider: (tx, id) => openProvider(tx, this.keyPair, id, this.kmip).close(),
      ...(options.rekeyOnMaster ? { perNode: true } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    };
  }

  private get store(): Store {
    return this.options.store;
  }

  private get kmip(): KmipSettings {
    return this.options.kmip ?? {};
  }

  /**
   * At open, before anything else reads async results: a rekey interrupted by the death of
   * the previous process is finished (committed) or rolled back, in the store only.
   */
  async recover(): Promise<void> {
    await this.enable();
    if (!this.options.rekeyOnMaster) await this.rekeys.recover();
  }

  /**
   * The master's part (with rekeyOnMaster), run while this node is master, every write
   * through its fence: the rekey journal resumed now and whenever it, a node's marker or a
   * node's liveness changes (a rekey begun on any node is taken and run; one a previous
   * master left is finished or rolled back), DEKs of no node re-wrapped, then the keys to
   * destroy at the key servers, retried with backoff.
   */
  masterJob(fence: MasterFence): () => Promise<void> {
    const term = fence.term();
    if (!term) return async () => undefined;
    const store = fencedStore(fence);
    const rekeys = new Rekey({ ...this.rekeyDeps(), store });
    const backoff = new Backoff(this.options.retryMaxDelayMs ?? 30_000);
    let stopped = false;
    let queued = false;
    let retry: NodeJS.Timeout | undefined;
    const go = (): void => {
      if (stopped || queued) return;
      queued = true;
      this.run(async () => {
        queued = false;
        if (stopped || !softwareEarEnabled(this.store)) return;
        await this.requests.inSession(() => rekeys.resume(term.lease));
        const moved = await this.rewrapMasterDeks(store);
        const again = await cleanUpKeys(store, this.requests.ask, this.options.logger);
        clearTimeout(retry);
        if ((!again && moved) || stopped) return backoff.reset();
        retry = setTimeout(go, backoff.next());
        retry.unref();
      });
    };
    // A node's marker (its DEKs re-wrapped), a node going or coming back, and a node removed
    // (its DEKs become the master's) move a rekey and the clean-up on.
    const watched = [JOURNAL_KEY, SEAR_NODE_PREFIX, ALIVE_PREFIX, ACTIVE_NODE_PREFIX];
    const unwatch = watched.map((prefix) => this.store.watch(prefix, () => go()));
    go();
    return async () => {
      stopped = true;
      for (const u of unwatch) u();
      clearTimeout(retry);
    };
  }

  /** Follows cluster creation and the drives from now on; the first round at once. */
  start(): void {
    if (this.closed || this.unwatch.length) return;
    // At once after CreateCluster commits (on SQLite before its answer), so that the
    // answer already has an MK; info() makes one too when asked first. Awaited in the work
    // chain, so that idle() waits for it and for the round after it: on etcd the MK's
    // transaction takes a round trip, and the drives are not settled before they have DEKs.
    this.unwatch.push(
      this.store.watch(CLUSTER_KEY, () => {
        const enabled = this.enable().then(
          () => true,
          (err: unknown) => {
            this.options.logger?.warn({ err: (err as Error).message }, 'SEAR not enabled yet');
            return false;
          },
        );
        this.run(async () => {
          if (await enabled) this.trigger();
        });
      }),
      this.store.watch(DRIVE_PREFIX, (e) => this.onDriveRecord(e)),
    );
    // On a cluster this node re-wraps its own DEKs in a rekey (node-rewrap.ts): a round
    // whenever the rekey moves on.
    if (this.options.rekeyOnMaster)
      this.unwatch.push(this.store.watch(JOURNAL_KEY, () => this.trigger()));
    const events = this.options.inventory?.watch((e) => {
      // Plugged in again or power-cycled: whatever DEK it held is gone.
      if (e.type === 'added' || e.type === 'relocked') {
        this.forget(e.type === 'added' ? e.drive.serial : e.serial);
        this.trigger();
      }
    });
    if (events) this.unwatch.push(events);
    this.trigger();
  }

  /** GetSoftwareEncryptionAtRestInfo (Element 5.5); `detachedDrives` only when some are. */
  async info(): Promise<{ [k: string]: Json }> {
    await this.enable(); // a CreateCluster answered before start() watched for it
    const tx = this.store; // synchronous reads: one revision of the view
    {
      const state = softwareEarEnabled(tx) ? getSearState(tx) : undefined;
      if (!state) return { state: 'disabled', version: 0 };
      const mk = getMasterKey(tx, state.currentKeyID)!;
      const out: { [k: string]: Json } = {
        masterKeyInfo: { keyCreatedTime: isoSeconds(mk.createTime), ...keyInfo(mk) },
      };
      if (state.rekeyAsyncResultID !== null)
        out.rekeyMasterKeyAsyncResultID = state.rekeyAsyncResultID;
      out.state = 'enabled';
      out.version = state.version;
      const retiring = retiringKeys(tx);
      if (retiring.length) out.retiringMasterKeys = retiring;
      const detached = this.detachedDrives(tx);
      if (detached.length) out.detachedDrives = detached;
      return out;
    }
  }

  /** For ListDrives: 'attached' or why not; undefined when SEAR is off. */
  driveStatus(serial: string): string | undefined {
    if (!softwareEarEnabled(this.store)) return undefined;
    return this.attachState.get(serial) ?? 'not attached yet';
  }

  /** RekeySoftwareEncryptionAtRestMasterKey: checks, journal, handle; the work follows. */
  async rekey(params: RekeyParams): Promise<number> {
    const handle = await this.store.transaction((tx) => {
      this.enableIn(tx);
      return this.rekeys.begin(tx, params);
    });
    // With rekeyOnMaster the master takes it on (it watches the journal).
    if (!this.options.rekeyOnMaster)
      this.run(() => this.requests.inSession(() => this.rekeys.finish()));
    this.trigger(); // a rolled-back key to destroy, drives that appeared meanwhile
    return handle;
  }

  /** Settles once no work is running or queued (a scheduled retry is not waited for). */
  async idle(): Promise<void> {
    await settleChain(() => this.job);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const u of this.unwatch.splice(0)) u();
    clearTimeout(this.timer);
    await this.idle();
  }

  /** A round after the work queued so far (requests in between coalesce). */
  trigger(): void {
    if (this.closed || this.roundQueued) return;
    this.roundQueued = true;
    this.run(async () => {
      this.roundQueued = false;
      this.scheduleRetry(await this.round());
    });
  }

  private run(work: () => Promise<void>): void {
    this.job = this.job.then(work).catch((err) => {
      this.options.logger?.error({ err: (err as Error).message }, 'SEAR work failed');
      this.scheduleRetry(true);
    });
  }

  private scheduleRetry(retry: boolean): void {
    clearTimeout(this.timer);
    if (!retry || this.closed) {
      this.backoff.reset();
      return;
    }
    const wait = this.backoff.next();
    this.options.logger?.info({ retryInMs: Math.round(wait) }, 'SEAR work unfinished');
    this.timer = setTimeout(() => this.trigger(), wait);
    this.timer.unref();
  }

  /** A drive that appeared (or came back) needs its DEK; other record changes do not. */
  private onDriveRecord(e: StoreChange): void {
    if (e.type !== 'put') return;
    const d = e.value as unknown as DriveRecord;
    if (!d.present) this.forget(d.serial);
    // Known drives wait for their retry, if any; with SEAR off, enabling it starts a round.
    else if (!this.attachState.has(d.serial) && softwareEarEnabled(this.store)) this.trigger();
  }

  /** Nothing is known of what the drive holds: the next round looks at it. */
  private forget(serial: string): void {
    this.attachState.delete(serial);
    this.unfinished.delete(serial);
    this.epochs.set(serial, (this.epochs.get(serial) ?? 0) + 1);
  }

  /** What the drive holds now, and whether a retry should try it again. */
  private mark(serial: string, state: string, retry: boolean): void {
    // Forgotten while this round worked on it: the next round looks again.
    if (this.roundEpochs.get(serial) !== (this.epochs.get(serial) ?? 0)) return;
    this.attachState.set(serial, state);
    if (retry) this.unfinished.add(serial);
    else this.unfinished.delete(serial);
  }

  /** Present drives not looked at yet (new, back, relocked) or worth another attempt. */
  private drivesToDo(): DriveRecord[] {
    return this.scope
      .drives(this.store)
      .filter(
        (d) => d.present && (!this.attachState.has(d.serial) || this.unfinished.has(d.serial)),
      );
  }

  /** SEAR on a cluster that has no MK yet: the first, internal one (a no-op otherwise). */
  private async enable(): Promise<void> {
    if (!softwareEarEnabled(this.store) || getSearState(this.store)) return;
    await this.store.transaction((tx) => this.enableIn(tx));
  }

  private enableIn(tx: StoreTx): void {
    if (!softwareEarEnabled(tx) || getSearState(tx)) return;
    const { record, mk } = newInternalKey(this.options.sealer, randomUUID());
    mk.fill(0);
    putMasterKey(tx, record);
    putSearState(tx, { version: 1, currentKeyID: record.keyID, rekeyAsyncResultID: null });
    this.options.logger?.info({ keyID: record.keyID }, 'software encryption at rest enabled');
  }

  /**
   * One pass: key clean-up, DEKs for new drives, DEKs attached where needed, and on a
   * cluster this node's DEKs re-wrapped to the MK a rekey asks for. True: retry.
   */
  private async round(): Promise<boolean> {
    if (!softwareEarEnabled(this.store)) return false;
    await this.enable();
    let retry = this.options.rekeyOnMaster
      ? false // the master destroys the keys (masterJob)
      : await cleanUpKeys(this.store, this.requests.ask, this.options.logger);
    retry = (await this.attachRound()) || retry;
    if (this.options.rekeyOnMaster) retry = (await this.rewrapOwn()) || retry;
    return retry;
  }

  /**
   * The master's, outside a rekey: DEKs of no node in the cluster (a node removed while its
   * DEKs were under a retiring MK) re-wrapped to the current MK. False: retry.
   */
  private async rewrapMasterDeks(store: Store): Promise<boolean> {
    try {
      await this.requests.inSession(() =>
        rewrapMasterDeks({ store, loadKey: (k) => this.loadKey(k) }),
      );
      return true;
    } catch (err) {
      this.options.logger?.warn(
        { err: (err as Error).message },
        'DEKs of no node not re-wrapped yet',
      );
      return false;
    }
  }

  /** This node's DEKs wrapped by the MK the cluster asks for now; true: retry. */
  private async rewrapOwn(): Promise<boolean> {
    const self = this.scope.nodeID(this.store);
    if (self === undefined) return false;
    try {
      await this.requests.inSession(() =>
        rewrapOwnDeks(
          {
            store: this.store,
            loadKey: (k) => this.loadKey(k),
            ...(this.options.logger ? { logger: this.options.logger } : {}),
          },
          self,
        ),
      );
      return false;
    } catch (err) {
      this.options.logger?.warn({ err: (err as Error).message }, 'DEKs not re-wrapped yet');
      return true;
    }
  }

  /** DEKs for new drives, DEKs attached where needed. True: retry. */
  private async attachRound(): Promise<boolean> {
    let retry = false;
    const drives = this.drivesToDo();
    if (drives.length === 0) return retry;
    this.roundEpochs = new Map(drives.map((d) => [d.serial, this.epochs.get(d.serial) ?? 0]));
    const deks = new Map(listDeks(this.store).map((d) => [d.serial, d]));
    const missing = drives.filter((d) => !deks.has(d.serial));
    const detached: DriveRecord[] = [];
    for (const d of drives.filter((x) => deks.has(x.serial))) {
      if (await this.needsAttach(d.serial)) detached.push(d);
    }
    if (missing.length === 0 && detached.length === 0) return retry;
    const state = getSearState(this.store)!;
    const current = getMasterKey(this.store, state.currentKeyID)!;
    let mk: Buffer;
    try {
      mk = await this.loadKey(current);
    } catch (err) {
      const reason = `master key unavailable: ${(err as Error).message}`;
      for (const d of [...missing, ...detached]) this.mark(d.serial, reason, true);
      this.options.logger?.warn({ keyID: current.keyID, err: (err as Error).message }, reason);
      return true;
    }
    const fresh = new Map<string, Buffer>();
    // A DEK the current MK does not wrap (its node was offline in a rekey) is unwrapped by
    // the MK its record names.
    const others = new Map<string, Buffer>();
    try {
      const records = missing.map((d): DekRecord => {
        const dek = newDek();
        fresh.set(d.serial, dek);
        return {
          serial: d.serial,
          nodeID: driveNodeID(d),
          keyID: current.keyID,
          wrapped: wrapKey(mk, dek).toString('base64'),
          createTime: new Date().toISOString(),
        };
      });
      // Each drive's DEK stands on its own: a crash between chunks leaves drives without one,
      // which the next round gives one.
      await writeInChunks(this.store, records, 1, (tx, record) => {
        // Wrapped by a key a rekey just replaced: the next round wraps it by the new one.
        if (getSearState(tx)?.currentKeyID !== current.keyID)
          throw new Error('the master key changed while the DEKs were made');
        putDek(tx, record);
      });
      for (const record of records) deks.set(record.serial, record);
      if (missing.length) this.options.logger?.info({ count: missing.length }, 'DEKs created');
      for (const d of detached) {
        const r = deks.get(d.serial)!;
        if (wrappedBy(r, current.keyID) || others.has(r.keyID)) continue;
        const k = getMasterKey(this.store, r.keyID);
        if (k) others.set(r.keyID, await this.loadKey(k).catch(() => Buffer.alloc(0)));
      }
      const failed = await this.attachAll([...detached, ...missing], (serial) => {
        const own = fresh.get(serial);
        if (own) return Buffer.from(own);
        const r = deks.get(serial)!;
        const w = wrappedBy(r, current.keyID) ?? r;
        const key = w.keyID === current.keyID ? mk : others.get(w.keyID);
        if (!key?.length) throw new Error(`master key ${w.keyID} unavailable`);
        return unwrapKey(key, Buffer.from(w.wrapped, 'base64'), `the DEK of ${serial}`);
      });
      retry ||= failed;
    } finally {
      mk.fill(0);
      for (const k of others.values()) k.fill(0);
      for (const dek of fresh.values()) dek.fill(0);
    }
    return retry;
  }

  /** False when the drive holds its DEK already (or this backend cannot take one). */
  private async needsAttach(serial: string): Promise<boolean> {
    try {
      if (await this.options.dataPath.isAttached(serial)) {
        this.mark(serial, ATTACHED, false);
        return false;
      }
      return true;
    } catch (err) {
      const unsupported = err instanceof DataPathUnsupportedError;
      this.mark(serial, (err as Error).message, !unsupported);
      return !unsupported;
    }
  }

  /** Attaches each drive's DEK (zeroed after); true when one failed and may work later. */
  private async attachAll(
    drives: DriveRecord[],
    dekOf: (serial: string) => Buffer,
  ): Promise<boolean> {
    let failed = false;
    await mapLimit(drives, PARALLEL_ATTACH, async (d) => {
      let dek: Buffer | undefined;
      try {
        dek = dekOf(d.serial);
        await this.options.dataPath.attach(d.serial, dek);
        this.mark(d.serial, ATTACHED, false);
      } catch (err) {
        const retry = !(err instanceof DataPathUnsupportedError);
        this.mark(d.serial, (err as Error).message, retry);
        failed ||= retry;
        this.options.logger?.warn(
          { driveID: d.driveID, err: (err as Error).message },
          'DEK not attached',
        );
      } finally {
        dek?.fill(0);
      }
    });
    const attached = drives.filter((d) => this.attachState.get(d.serial) === ATTACHED).length;
    this.options.logger?.info({ attached, of: drives.length }, 'DEKs attached');
    return failed;
  }

  /** The MK's material (the caller zeroes it): unsealed, or one Get at its provider. */
  private async loadKey(k: MasterKeyRecord): Promise<Buffer> {
    if (k.keyProviderID === null) return unsealInternalKey(this.options.sealer, k);
    return this.requests.ask(k.keyProviderID, 'software encryption master key', (p) =>
      fetchExternalKey(p, k.kmipUID!),
    );
  }

  /** This node's drives: what another node's hold is known there only. */
  private detachedDrives(tx: StoreReader): { [k: string]: Json }[] {
    return this.scope
      .drives(tx)
      .filter((d) => d.present)
      .map((d) => ({ d, why: this.attachState.get(d.serial) ?? 'not attached yet' }))
      .filter(({ why }) => why !== ATTACHED)
      .map(({ d, why }) => ({ driveID: d.driveID, serial: d.serial, reason: why }));
  }
}

/** Element's timestamps: "2021-09-20T23:15:56Z". */
export const isoSeconds = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z');

/** MKs kept for the DEKs of nodes offline during a rekey, and which nodes those are. */
function retiringKeys(tx: StoreReader): { [k: string]: Json }[] {
  const deks = listDeks(tx);
  return listMasterKeys(tx)
    .filter((k) => k.state === 'retiring')
    .map((k) => ({
      keyCreatedTime: isoSeconds(k.createTime),
      ...keyInfo(k),
      nodesToRewrap: [
        ...new Set(deks.flatMap((d) => (d.keyID === k.keyID && d.nodeID ? [d.nodeID] : []))),
      ].sort((a, b) => a - b),
    }));
}
