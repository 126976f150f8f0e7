// RekeySoftwareEncryptionAtRestMasterKey: a new MK replaces the current one and every DEK
// is re-wrapped by it; data is never re-encrypted. A journal (sear/rekey) makes it safe to
// kill at any step:
//   started    new keyID chosen                → rolled back (an external key created
//                                                 under its Name is found and destroyed)
//   created    new MK recorded; each DEK record  → rolled back (the `next` wraps dropped,
//              given the new wrap as `next`        the new MK destroyed)
//   committed  new MK current                  → finished (records settled to the new
//                                                 wrap, the old MK destroyed)
// The DEK records change in chunks (a transaction writes at most MAX_TX_WRITES keys), but
// the commit is one small transaction that checks every DEK has its `next`: the old MK
// unwraps every DEK before it (its own wrap), the new MK every DEK after it (`next` until
// the records settle). Recovery at open needs the store only. KMIP messages per rekey are a
// constant: Get of an external old MK, Create, Activate+Get of an external new MK,
// Revoke+Destroy of the old.
// On a cluster (perNode) the master creates the new MK and each node stages its own DEKs
// (node-rewrap.ts); the commit waits for every online node and leaves an offline node's
// DEKs under the old MK, kept `retiring` until that node re-wraps them (the result names
// it). A change of master in `created` rolls back, as a restart does; in `committed` the
// new master finishes.
import { NO_METRICS, type MetricsSink } from '../metrics-sink';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Json, Store, StoreReader, StoreTx } from '../../store/store';
import { recordAuditIn } from '../audit';
import type { AsyncResultService } from '../async-results/async-results';
import { ElementError, invalidParameter } from '../errors';
import { clusterUuid, softwareEarEnabled } from '../ear-state';
import { crashPoint } from '../test-hooks';
import { writeInChunks } from '../store-chunks';
import { getProvider } from '../key-servers/kmip-records';
import type { Sealer } from '../sealer';
import type { AskProvider } from './key-server-requests';
import { unwrapKey, wrapKey } from './key-wrap';
import { createExternalKey, destroyExternalKeys, newInternalKey } from './master-keys';
import { commitCheck, masterDeks, rewrapDeks } from './node-rewrap';
import {
  auditMasterKeyDestroyed,
  finishResult,
  keptFor,
  operationText,
  rekeyParams,
} from './rekey-outcome';
import {
  deleteJournal,
  getDek,
  getJournal,
  getMasterKey,
  getSearState,
  keyInfo,
  listDeks,
  putDek,
  putJournal,
  putMasterKey,
  putSearState,
  retireMasterKey,
  type DekRecord,
  type KeyInfo,
  type MasterKeyRecord,
  type RekeyJournal,
  wrappedBy,
} from './sear-store';

export const REKEY_RESULT_TYPE = 'RekeySoftwareEncryptionAtRestMasterKey';
/** The rekey_progress_ratio label of this rekey. */
export const REKEY_PROGRESS_KIND = 'sear';
/** What a kmipServerFault raised by a destroy says was asked. */
export const DESTROY = 'software encryption master key destroy';
/** DEKs re-wrapped between two progress updates. */
const PROGRESS_EVERY = 64;

export interface RekeyParams {
  keyManagementType?: string;
  keyProviderID?: number;
}

export interface RekeyDeps {
  store: Store;
  sealer: Sealer;
  asyncResults: AsyncResultService;
  /** One KMIP request to a provider, its key servers reported. */
  ask: AskProvider;
  loadKey(k: MasterKeyRecord): Promise<Buffer>;
  /** Throws the Element error of a provider that cannot be used (e.g. no key servers). */
  checkProvider(tx: StoreTx, keyProviderID: number): void;
  /**
   * The nodes re-wrap their own DEKs (node-rewrap.ts): this rekey re-wraps only the master's
   * and commits once every online node has done its part. Without it: every DEK, here.
   */
  perNode?: boolean;
  /** Rekey progress goes here; none recorded when absent. */
  metrics?: MetricsSink;
  logger?: Logger;
}

export class Rekey {
  /**
   * The rekey (its handle) this instance took and runs per node. A term's name may come
   * again after a restart (a single node's lease IDs start over), so the journal's
   * `takenBy` alone does not tell that this process runs it.
   */
  private running: number | undefined;

  constructor(private readonly deps: RekeyDeps) {}

  private progress(done: number, total: number): void {
    (this.deps.metrics ?? NO_METRICS).rekeyProgress(REKEY_PROGRESS_KIND, done, total);
  }

  /** Checks the parameters against the cluster, journals the rekey, returns its handle. */
  begin(tx: StoreTx, params: RekeyParams): number {
    if (!softwareEarEnabled(tx) || !getSearState(tx)) {
      throw new ElementError(
        'xSoftwareEncryptionAtRestNotEnabled',
        'Software encryption at rest is not enabled; it is enabled by CreateCluster with enableSoftwareEncryptionAtRest.',
      );
    }
    const state = getSearState(tx)!;
    const current = getMasterKey(tx, state.currentKeyID)!;
    const to = this.target(tx, params, current);
    const busy = getJournal(tx);
    if (busy) {
      throw new ElementError(
        'xSoftwareEncryptionAtRestRekeyInProgress',
        busy.phase === 'rollingBack'
          ? `The rekey of async handle ${busy.asyncHandle} is still being rolled back at key provider ${busy.to.keyProviderID}; retry once it is reachable.`
          : `A master key rekey is in progress (async handle ${busy.asyncHandle}).`,
      );
    }
    const from = keyInfo(current);
    const asyncHandle = this.deps.asyncResults.start(tx, REKEY_RESULT_TYPE, {
      operation: operationText(from, to),
    });
    putJournal(tx, { asyncHandle, phase: 'started', from, to });
    putSearState(tx, { ...state, rekeyAsyncResultID: asyncHandle });
    this.deps.logger?.info({ asyncHandle, from, to }, 'master key rekey started');
    return asyncHandle;
  }

  /** The new key's management: Element's rules for keyManagementType and keyProviderID. */
  private target(tx: StoreTx, params: RekeyParams, current: MasterKeyRecord): KeyInfo {
    const given = params.keyManagementType?.toLowerCase();
    if (given !== undefined && given !== 'internal' && given !== 'external')
      throw invalidParameter('keyManagementType', 'must be Internal or External.');
    const type = given ?? (current.keyProviderID === null ? 'internal' : 'external');
    const keyID = randomUUID();
    if (type === 'internal') {
      if (params.keyProviderID !== undefined)
        throw invalidParameter(
          'keyProviderID',
          'is only valid when keyManagementType is External.',
        );
      return { keyID, keyManagementType: 'internal' };
    }
    const keyProviderID = params.keyProviderID ?? (given ? undefined : current.keyProviderID);
    if (keyProviderID === undefined || keyProviderID === null)
      throw invalidParameter('keyProviderID', 'is required when keyManagementType is External.');
    getProvider(tx, keyProviderID);
    this.deps.checkProvider(tx, keyProviderID);
    return { keyID, keyManagementType: 'external', keyProviderID };
  }

  /** At open: the journal of a rekey the previous process did not finish. Store only. */
  async recover(
    why = 'it was interrupted by a restart of the daemon before it committed',
  ): Promise<void> {
    const journal = getJournal(this.deps.store);
    if (!journal) return;
    if (journal.phase === 'committed') await this.complete(journal);
    else if (journal.phase !== 'rollingBack') await this.rollBack(journal, why);
  }

  /**
   * On the cluster master, in its term (`term`: its election lease), when it starts acting
   * and whenever the journal, a node's marker or liveness changes: a rekey begun on any node
   * and not yet taken is taken by this term and run (per node: moved on by each call until
   * it commits); one a previous term took (its master stopped or stepped down) was
   * interrupted: finished when it had committed, else rolled back, as after a restart.
   */
  async resume(term: string): Promise<void> {
    const journal = getJournal(this.deps.store);
    if (!journal || journal.phase === 'rollingBack') return;
    const ours = journal.takenBy === term && this.running === journal.asyncHandle;
    if (ours && journal.phase === 'created') return this.advance(journal);
    if (ours && journal.phase === 'committed') return this.finishCommitted(journal);
    if (journal.phase !== 'started' || journal.takenBy !== undefined) {
      await this.recover('it was interrupted by a change of cluster master before it committed');
      return;
    }
    const taken = await this.deps.store.transaction((tx) => {
      const now = getJournal(tx);
      if (now?.asyncHandle !== journal.asyncHandle || now.phase !== 'started' || now.takenBy)
        return false;
      putJournal(tx, { ...now, takenBy: term });
      return true;
    });
    if (!taken) return;
    this.running = journal.asyncHandle;
    if (this.deps.perNode) await this.startOnNodes({ ...journal, takenBy: term });
    else await this.finish();
  }

  /** Per node: the new MK (journal `created`); the nodes stage their DEKs, then advance(). */
  private async startOnNodes(journal: RekeyJournal): Promise<void> {
    try {
      const mk = await this.createKey(journal);
      mk.fill(0);
    } catch (err) {
      await this.rollBack(journal, (err as Error).message);
      return;
    }
    crashPoint('sear.afterNewKey');
    await this.advance({ ...journal, phase: 'created' });
  }

  /**
   * Per node, whenever a node's marker or liveness changes: the master's own DEKs staged,
   * then the commit once every online node is done (else nothing: a later call commits).
   */
  private async advance(journal: RekeyJournal): Promise<void> {
    const to = journal.to.keyID;
    try {
      const still = (tx: StoreTx) => stillCreated(tx, journal);
      await rewrapDeks(this.deps, masterDeks(this.deps.store), { keyID: to, stage: true }, still);
      const old = getMasterKey(this.deps.store, journal.from.keyID)!;
      const all = listDeks(this.deps.store);
      this.progress(all.filter((d) => wrappedBy(d, to)).length, all.length);
      if (!(await this.commitStaged(journal, old, all.length))) return;
      this.progress(all.length, all.length);
    } catch (err) {
      await this.rollBack(journal, (err as Error).message);
      return;
    }
    crashPoint('sear.afterCommit');
    await this.finishCommitted({ ...journal, phase: 'committed' });
  }

  /** The rekey journaled by begin(): new MK, DEKs re-wrapped, commit, old MK destroyed. */
  async finish(): Promise<void> {
    const journal = getJournal(this.deps.store);
    if (!journal || journal.phase !== 'started') return;
    try {
      await this.commit(journal);
    } catch (err) {
      await this.rollBack(journal, (err as Error).message);
      return;
    }
    crashPoint('sear.afterCommit');
    await this.finishCommitted(journal);
  }

  /** After the commit: records settled, the old MK destroyed unless it is kept, result. */
  private async finishCommitted(journal: RekeyJournal): Promise<void> {
    await this.settleDeks(journal.to.keyID);
    await this.destroyOld(journal);
    crashPoint('sear.afterDestroyOld');
    await this.complete(journal);
  }

  private async commit(journal: RekeyJournal): Promise<void> {
    const { store } = this.deps;
    const old = getMasterKey(store, journal.from.keyID)!;
    const oldMk = await this.deps.loadKey(old);
    try {
      const newMk = await this.createKey(journal);
      try {
        crashPoint('sear.afterNewKey');
        const rewrap = (d: DekRecord): DekRecord => {
          if (d.keyID !== old.keyID)
            throw new Error(`DEK of ${d.serial} is not wrapped by ${old.keyID}`);
          const dek = unwrapKey(oldMk, Buffer.from(d.wrapped, 'base64'), `the DEK of ${d.serial}`);
          try {
            const wrapped = wrapKey(newMk, dek).toString('base64');
            return { ...d, next: { keyID: journal.to.keyID, wrapped } };
          } finally {
            dek.fill(0);
          }
        };
        let total = 0;
        // Stage the new wraps until the commit finds every DEK staged (drives may gain a DEK
        // meanwhile: the next pass stages theirs).
        for (;;) {
          const unstaged = listDeks(store).filter((d) => d.next?.keyID !== journal.to.keyID);
          if (unstaged.length === 0 && (await this.commitStaged(journal, old, total))) break;
          let i = 0;
          await writeInChunks(store, unstaged, 1, (tx, d) => {
            if (getJournal(tx)?.phase !== 'created') throw new Error('the rekey journal changed');
            const now = getDek(tx, d.serial);
            if (now && now.next?.keyID !== journal.to.keyID) putDek(tx, rewrap(now));
          });
          total += unstaged.length;
          for (; i < unstaged.length; i += PROGRESS_EVERY) this.progress(i, total);
        }
        this.progress(total, total);
      } finally {
        newMk.fill(0);
      }
    } finally {
      oldMk.fill(0);
    }
  }

  /**
   * The commit: the new MK current, the old one on its way out, journal `committed` — only
   * if every DEK has its new wrap (false: some do not yet, nothing written).
   */
  private async commitStaged(
    journal: RekeyJournal,
    old: MasterKeyRecord,
    deks: number,
  ): Promise<boolean> {
    const to = journal.to.keyID;
    const committed = await this.deps.store.transaction((tx) => {
      if (!stillCreated(tx, journal)) throw new Error('the rekey journal changed');
      const { ready, behind } = this.deps.perNode
        ? commitCheck(tx, to)
        : { ready: listDeks(tx).every((d) => d.next?.keyID === to), behind: [] };
      if (!ready) return false;
      putSearState(tx, { ...getSearState(tx)!, currentKeyID: to });
      // Kept while a DEK of an offline node is wrapped by it alone.
      if (listDeks(tx).some((d) => d.keyID === old.keyID && !wrappedBy(d, to))) {
        putMasterKey(tx, { ...getMasterKey(tx, old.keyID)!, state: 'retiring' });
      } else if (old.keyProviderID === null) {
        retireMasterKey(tx, old.keyID);
        auditMasterKeyDestroyed(tx, old, 'replaced by a rekey');
      } else putMasterKey(tx, { ...getMasterKey(tx, old.keyID)!, state: 'pendingDestroy' });
      const done: RekeyJournal = { ...journal, phase: 'committed' };
      if (behind.length) done.behind = behind;
      putJournal(tx, done);
      recordAuditIn(tx, {
        source: 'service',
        action: 'RekeyMasterKeyCommitted',
        params: { ...rekeyParams(journal, deks), ...(behind.length ? { behind } : {}) },
        outcome: 'ok',
        details: operationText(journal.from, journal.to),
      });
      return true;
    });
    if (committed)
      this.deps.logger?.info(
        { asyncHandle: journal.asyncHandle, deks },
        'master key rekey committed',
      );
    return committed;
  }

  /** After the commit: each DEK record keeps the new wrap alone (store only; in chunks). */
  private async settleDeks(keyID: string): Promise<void> {
    const { store } = this.deps;
    const staged = listDeks(store).filter((d) => d.next?.keyID === keyID);
    await writeInChunks(store, staged, 1, (tx, d) => {
      const now = getDek(tx, d.serial);
      if (now?.next?.keyID !== keyID) return;
      const { next, ...rest } = now; // its node and the rest stay
      putDek(tx, { ...rest, keyID, wrapped: next.wrapped });
    });
  }

  /** Before a commit: the staged wraps go, the old MK's stay (store only; in chunks). */
  private async dropStagedDeks(): Promise<void> {
    const { store } = this.deps;
    const staged = listDeks(store).filter((d) => d.next);
    await writeInChunks(store, staged, 1, (tx, d) => {
      const now = getDek(tx, d.serial);
      if (!now?.next) return;
      const { next: _dropped, ...kept } = now;
      putDek(tx, kept);
    });
  }

  /** The new MK, recorded (journal `created`) as soon as it exists; the caller zeroes it. */
  private async createKey(journal: RekeyJournal): Promise<Buffer> {
    const { store, sealer } = this.deps;
    const { to } = journal;
    const record = (r: MasterKeyRecord) =>
      store.transaction((tx) => {
        putMasterKey(tx, r);
        putJournal(tx, { ...journal, phase: 'created' });
      });
    if (to.keyProviderID === undefined) {
      const { record: r, mk } = newInternalKey(sealer, to.keyID);
      try {
        await record(r);
      } catch (err) {
        mk.fill(0);
        throw err;
      }
      return mk;
    }
    const uuid = clusterUuid(store);
    const { mk } = await this.deps.ask(
      to.keyProviderID,
      'software encryption master key create',
      (p) =>
        createExternalKey(p, uuid, to.keyID, async (uid) => {
          crashPoint('sear.afterCreate');
          await record({
            keyID: to.keyID,
            keyProviderID: to.keyProviderID!,
            state: 'live',
            purpose: 'searMasterKey',
            kmipUID: uid,
            sealedKey: null,
            createTime: new Date().toISOString(),
          });
        }),
    );
    return mk;
  }

  /** Revoke and destroy the old external MK in one message; left pending on failure. */
  private async destroyOld(journal: RekeyJournal): Promise<void> {
    const old = getMasterKey(this.deps.store, journal.from.keyID);
    if (!old || old.state !== 'pendingDestroy' || old.keyProviderID === null) return;
    try {
      const left = await this.deps.ask(old.keyProviderID, DESTROY, (p) =>
        destroyExternalKeys(p, [old.kmipUID!]),
      );
      if (left.length === 0)
        await this.deps.store.transaction((tx) => {
          retireMasterKey(tx, old.keyID);
          auditMasterKeyDestroyed(tx, old, 'replaced by a rekey');
        });
    } catch (err) {
      // The rekey stands; the old key is destroyed by a later round.
      this.deps.logger?.warn({ err: (err as Error).message }, 'old master key destroy deferred');
    }
  }

  /** Committed: the async result says so (Element's shape) and the journal goes. */
  private async complete(journal: RekeyJournal): Promise<void> {
    await this.settleDeks(journal.to.keyID);
    await this.deps.store.transaction((tx) => {
      // Read again: a master taking over after the commit knows `behind` from the journal.
      const behind = getJournal(tx)?.behind ?? [];
      finishResult(tx, () =>
        this.deps.asyncResults.succeed(tx, journal.asyncHandle, {
          keyToDecommission: journal.from as unknown as Json,
          newKey: journal.to as unknown as Json,
          operation: operationText(journal.from, journal.to),
          state: 'Ready',
          ...(behind.length ? keptFor(journal.from.keyID, behind) : {}),
        }),
      );
      deleteJournal(tx);
    });
    this.deps.logger?.info({ asyncHandle: journal.asyncHandle }, 'master key rekey complete');
  }

  /** Not committed: the old MK stays current; the new one, if any, is destroyed. */
  private async rollBack(journal: RekeyJournal, why: string): Promise<void> {
    await this.dropStagedDeks();
    await this.deps.store.transaction((tx) => {
      const created = getMasterKey(tx, journal.to.keyID);
      if (created?.keyProviderID === null) {
        retireMasterKey(tx, created.keyID);
        auditMasterKeyDestroyed(tx, created, 'made by a rekey that was rolled back');
      } else if (created) putMasterKey(tx, { ...created, state: 'pendingDestroy' });
      recordAuditIn(tx, {
        source: 'service',
        action: 'RekeyMasterKeyRolledBack',
        params: rekeyParams(journal),
        outcome: 'xSoftwareEncryptionAtRestRekeyRolledBack',
        details: why,
      });
      finishResult(tx, () =>
        this.deps.asyncResults.fail(tx, journal.asyncHandle, {
          name: 'xSoftwareEncryptionAtRestRekeyRolledBack',
          message: `The master key rekey was rolled back because ${why}; master key ${journal.from.keyID} still wraps every DEK.`,
          keyToDecommission: journal.to as unknown as Json,
          currentKey: journal.from as unknown as Json,
        }),
      );
      // A Create whose answer was never recorded may have left a key under its Name.
      if (!created && journal.to.keyProviderID !== undefined)
        putJournal(tx, { ...journal, phase: 'rollingBack' });
      else deleteJournal(tx);
    });
    // No rekey runs any more: the gauge says done, the audit log and result say how.
    this.progress(0, 0);
    this.deps.logger?.warn(
      { asyncHandle: journal.asyncHandle, why },
      'master key rekey rolled back',
    );
  }
}

/** The journal still stages `journal`'s key. */
function stillCreated(tx: StoreReader, journal: RekeyJournal): boolean {
  const now = getJournal(tx);
  return now?.phase === 'created' && now.to.keyID === journal.to.keyID;
}
