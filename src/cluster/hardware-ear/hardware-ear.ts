// Hardware encryption at rest (Element's EnableEncryptionAtRest/DisableEncryptionAtRest,
// GetEncryptionAtRestInfo). Enable: AKs made and registered at the provider in one
// message, recorded with their drives as `provisioning` before any drive is touched, then
// each drive is owned, locked and verified. A restart resumes or rolls back every
// `provisioning` drive; a key is only destroyed once its drive has proved it does not
// hold it, so no drive is left with a PIN nobody knows. SecureEraseDrives is journaled on
// the drive record too (step `erasing`): a restart finishes an erase it interrupted.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { KmipProvider } from '../../kmip/client';
import { opalDriveOpener, type OpalDrive } from '../../opal/drive';
import type { DriveTransport } from '../../opal/transport';
import type { Json, Store, StoreTx } from '../../store/store';
import { recordAuditIn } from '../audit';
import type { EncryptionStates } from '../cluster-info';
import { ElementError } from '../errors';
import { ClusterKeyPair } from '../key-pair';
import { getProvider } from '../kmip-records';
import type { Sealer } from '../sealer';
import { getDrive, listDriveRecords, putDrive, type DriveRecord } from '../drives/drive-records';
import type { DriveSecurer } from '../drives/drives';
import type { FaultService } from '../faults';
import {
  getKeyRecord,
  keyRecordFor,
  newDriveKey,
  putKeyRecord,
  type DriveKeyRecord,
  type NewDriveKey,
} from '../drive-keys/drive-keys';
import { DISABLE_FAILED_PREFIX, reportEarFaults } from './ear-faults';
import { clusterUuid, getEar, putEar, softwareEarEnabled } from '../ear-state';
import { loadAks, zeroAll, type KeySourceDeps } from '../drive-keys/key-source';
import {
  destroyAks,
  findAks,
  openProvider,
  registerAks,
  type KmipSettings,
} from '../drive-keys/kmip-keys';
import {
  OWNERSHIP_UNCONFIRMED,
  rekeyAndSecure,
  takeOwnershipOnly,
  secureOwnedDrive,
  takeOwnershipAndSecure,
  unlockAndDisableLocking,
  type SecureOutcome,
} from './drive-locking';
import { checkAnswering, finishUnknownRevert, revertEvidence } from './drive-revert';
import { crashPoint } from '../test-hooks';
import { settleChain } from '../settle';
import { OpalStatusError } from '../../opal/errors';
import { Backoff } from '../backoff';
import { groupBy } from '../../util/group-by';
import { mapLimit } from '../../util/map-limit';

export interface HardwareEarOptions {
  store: Store;
  sealer: Sealer;
  transport: DriveTransport;
  kmip?: KmipSettings;
  logger?: Logger;
  /** Where drives that failed Enable or Disable are reported as cluster faults. */
  faults?: FaultService;
  /** Drives worked on at once. */
  parallel?: number;
  /** Cap of the backoff while keys or drives are out of reach. Default 30000. */
  retryMaxDelayMs?: number;
}

/** driveSecurityFaultReason of a drive whose AK the key server would not keep. */
const KEY_SERVER_FAILED = 'key server: ';

/**
 * Drives that Enable and AddDrives provision, one attempt per call: those never touched,
 * and those failed because the key server refused their AK before the drive saw any PIN.
 * A drive that refused a PIN (owned elsewhere, say) is not tried again, even after the
 * operator may have reverted it: nothing the kernel reports tells a reverted drive from
 * one still owned, and presenting the MSID again to the latter burns a second try.
 */
/** A drive left unsecured because it refused a PIN of ours: only the operator may retry it. */
function refusedOwnership(d: DriveRecord): boolean {
  return (
    d.security !== 'enabled' &&
    d.keyID === null &&
    d.step === null &&
    d.driveSecurityFaultReason !== 'none' &&
    !d.driveSecurityFaultReason.startsWith(KEY_SERVER_FAILED)
  );
}

function mayProvision(d: DriveRecord): boolean {
  if (d.step === 'erasing') return false; // its erase comes first
  if (d.security === 'none') return d.driveSecurityFaultReason === 'none';
  return (
    d.security === 'failed' &&
    d.keyID === null &&
    d.driveSecurityFaultReason.startsWith(KEY_SERVER_FAILED)
  );
}

export class HardwareEarService implements DriveSecurer {
  private readonly deps: KeySourceDeps;
  private readonly opal: (drive: { path: string }) => OpalDrive;
  private readonly keyPair: ClusterKeyPair;
  private job: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private closed = false;
  /** Drives a SecureEraseDrives call of this process is erasing (not recovery's). */
  private readonly liveErases = new Set<number>();
  /** The last destroyPending could not reach a provider: retried like unfinished work. */
  private destroyDeferred = false;

  constructor(private readonly options: HardwareEarOptions) {
    this.keyPair = new ClusterKeyPair(options.store, options.sealer, options.logger);
    this.backoff = new Backoff(options.retryMaxDelayMs ?? 30_000);
    this.opal = opalDriveOpener(options.transport, options.logger);
    this.deps = {
      store: options.store,
      sealer: options.sealer,
      keyPair: this.keyPair,
      kmip: options.kmip ?? {},
      ...(options.logger ? { logger: options.logger } : {}),
    };
  }

  private get store(): Store {
    return this.options.store;
  }

  /** For GetClusterInfo. */
  states = (tx: StoreTx): EncryptionStates => ({
    encryptionAtRestState: getEar(tx).state,
    softwareEncryptionAtRestState: softwareEarEnabled(tx) ? 'enabled' : 'disabled',
  });

  /** GetEncryptionAtRestInfo: the state and, while keys exist, where they come from. */
  info(): { [k: string]: Json } {
    const ear = getEar(this.store);
    if (ear.state === 'disabled') return { state: ear.state };
    const authenticationKeyInfo: { [k: string]: Json } =
      ear.keyProviderID === null
        ? { keyManagementType: 'internal' }
        : { keyManagementType: 'external', keyProviderID: ear.keyProviderID };
    return { authenticationKeyInfo, state: ear.state };
  }

  /** EnableEncryptionAtRest: checks, then `enabling` and the drives in the background. */
  enable(keyProviderID?: number): void {
    this.store.transaction((tx) => {
      clusterUuid(tx);
      const { state } = getEar(tx);
      if (state !== 'disabled') {
        throw new ElementError(
          'xEncryptionAtRestNotDisabled',
          `Encryption at rest is ${state}; it can only be enabled from disabled.`,
        );
      }
      if (keyProviderID !== undefined) {
        getProvider(tx, keyProviderID);
        openProvider(tx, this.keyPair, keyProviderID, this.deps.kmip).close();
      }
      const plain = listDriveRecords(tx).find((d) => d.present && !d.opal);
      if (plain) {
        throw new ElementError(
          'xEncryptionNotAllowed',
          `Encryption not allowed. Cluster detected non-encryptable drive ${plain.driveID}.`,
        );
      }
      putEar(tx, 'enabling', keyProviderID ?? null);
    });
    this.options.logger?.info({ keyProviderID }, 'enabling hardware encryption at rest');
    this.run(() => this.finishEnable());
  }

  /** DisableEncryptionAtRest: `disabling`, then the drives in the background. */
  disable(): void {
    this.store.transaction((tx) => {
      const ear = getEar(tx);
      if (ear.state !== 'enabled') {
        throw new ElementError(
          'xEncryptionAtRestNotEnabled',
          `Encryption at rest is ${ear.state}; it can only be disabled once enabled.`,
        );
      }
      putEar(tx, 'disabling', ear.keyProviderID);
    });
    this.options.logger?.info('disabling hardware encryption at rest');
    this.run(() => this.finishDisable());
  }

  /** At start: finish whatever a previous process left half done (idle() tells when). */
  recover(): void {
    this.run(() => this.resumeErases());
    const { state } = getEar(this.store);
    if (state === 'enabling') this.run(() => this.finishEnable());
    else if (state === 'disabling') this.run(() => this.finishDisable());
    else this.run(() => this.resumeProvisioning().then(() => this.destroyPending()));
  }

  /** Resolves when the work queued so far has settled (a scheduled retry is not waited for). */
  async idle(): Promise<void> {
    await settleChain(() => this.job);
  }

  /**
   * The operator's word that these drives, which refused to be taken over (owned
   * elsewhere), have been reverted since (a PSID revert, say): the refusal is forgotten
   * and, under enabled EAR, they are secured now. Nothing else retries such a drive:
   * presenting the MSID to one still owned would burn one of its tries. Returns the drives
   * released; an unknown drive ID changes nothing.
   */
  releaseRefused(driveIDs: number[]): number[] {
    const released = this.store.transaction((tx) => {
      const drives = driveIDs.map((id) => getDrive(tx, id)); // all exist, or no change
      return drives.filter(refusedOwnership).map((d) => {
        putDrive(tx, { ...d, security: 'none', driveSecurityFaultReason: 'none' });
        return d.driveID;
      });
    });
    this.options.logger?.info({ driveIDs: released }, 'drive refusals released by the operator');
    if (released.length) {
      this.secure(released).catch((err: unknown) => {
        this.options.logger?.warn({ err: (err as Error).message }, 'could not secure the drives');
      });
    }
    return released;
  }

  /** AddDrives under enabled EAR: the new drives are secured like the rest. */
  // In the job chain like all other work: recovery's clean-up of unregistered keys must
  // never see this provisioning's in-flight key records.
  secure(driveIDs: number[]): Promise<Map<number, string>> {
    return this.queued(async () => {
      const ear = getEar(this.store);
      if (ear.state !== 'enabled') return new Map<number, string>();
      // A drive that refused ownership is never tried again (its tries are not ours to burn).
      const pending = driveIDs.filter((id) => mayProvision(getDrive(this.store, id)));
      await this.provision(pending, ear.keyProviderID);
      const refused = new Map<number, string>();
      for (const id of driveIDs) {
        const d = getDrive(this.store, id);
        if (d.security !== 'enabled') refused.set(id, d.driveSecurityFaultReason);
      }
      this.reportFaults();
      return refused;
    });
  }

  /**
   * SecureEraseDrives: REVERT_TPR as SID crypto-erases the drive (factory state), then its
   * AK is destroyed. A drive never owned is owned first with a throwaway key, recorded
   * (sealed) before it is used. Returns the IDs that could not be erased, with the reason.
   * The drives come journaled (step `erasing`); a drive whose revert may or may not have
   * happened keeps its journal, and recovery finishes it.
   */
  erase(driveIDs: number[]): Promise<Map<number, string>> {
    // Known from the call on, so that a recovery queued meanwhile leaves these drives alone.
    for (const id of driveIDs) this.liveErases.add(id);
    return this.queued(async () => {
      const failed = new Map<number, string>();
      try {
        await mapLimit(driveIDs, this.options.parallel ?? 8, async (id) => {
          try {
            await this.eraseOne(getDrive(this.store, id), false);
          } catch (err) {
            failed.set(id, (err as Error).message);
          }
        });
      } finally {
        for (const id of driveIDs) this.liveErases.delete(id);
      }
      // The erase is done; a key server that can't destroy now is retried later.
      await this.destroyPending().catch((err) =>
        this.options.logger?.warn({ err: (err as Error).message }, 'hardware EAR work failed'),
      );
      return failed;
    });
  }

  /**
   * One drive, journaled `erasing`. Up to the revert a failure leaves the drive as it was
   * (journal dropped); a revert whose outcome is unknown keeps the journal for recovery.
   * `settle`: also make the drive available (recovery; the live call's DriveService does).
   */
  private async eraseOne(d: DriveRecord, settle: boolean): Promise<void> {
    let sent = false;
    try {
      if (d.security !== 'none' && d.security !== 'enabled' && d.security !== 'failed')
        throw new EraseRefused(`drive security is ${d.security}`);
      let sidKeyID = d.keyID ?? d.ownerKeyID;
      if (!sidKeyID) {
        if (d.driveSecurityFaultReason !== 'none')
          throw new EraseRefused(d.driveSecurityFaultReason);
        sidKeyID = await this.ownForErase(d);
      }
      const pin = await this.loadOne(sidKeyID);
      const opal = this.opal(d);
      try {
        const status = await opal.status();
        checkAnswering(status);
        const { lockingEnabled } = status;
        // Before the revert: with what a restart needs to tell whether it reached the drive.
        this.store.transaction((tx) => {
          const now = getDrive(tx, d.driveID);
          putDrive(tx, { ...now, step: 'erasing', erase: { sidKeyID, lockingEnabled } });
        });
        crashPoint('erase.afterJournal');
        sent = true;
        await opal.revertTper(Buffer.from(pin));
      } finally {
        pin.fill(0);
      }
    } catch (err) {
      // Refused (a TCG status is the drive's answer): nothing changed, the journal goes. A
      // live call reports any failure before the revert was sent the same way; a revert
      // failing otherwise may have reached the drive, and recovery retries what it could
      // not do yet (a key server or drive out of reach) until the erase is finished.
      const refused = err instanceof EraseRefused || err instanceof OpalStatusError;
      if (refused || (!sent && !settle)) this.dropEraseJournal(d.driveID, settle);
      throw err;
    }
    crashPoint('erase.afterRevert');
    this.recordErased(d.driveID, settle);
    crashPoint('erase.afterRecord');
  }

  /**
   * The drive is in factory state: its keys go (an AK at a key server is destroyed there by
   * destroyPending) and its record says so, journal closed, in one transaction.
   */
  private recordErased(driveID: number, settle: boolean): void {
    this.store.transaction((tx) => {
      const now = getDrive(tx, driveID);
      letKeysGo(tx, now, 'its drive was crypto-erased');
      recordAuditIn(tx, {
        source: 'service',
        action: 'SecureEraseDrive',
        params: { driveID: now.driveID, serial: now.serial, keyID: now.keyID },
        outcome: 'ok',
        details: settle
          ? 'crypto-erased by REVERT_TPR as SID; finished after a restart'
          : 'crypto-erased by REVERT_TPR as SID',
      });
      putDrive(tx, {
        ...withoutEraseJournal(now),
        ...(settle ? { status: 'available' as const } : {}),
        security: 'none',
        step: null,
        keyID: null,
        keyProviderID: null,
        ownerKeyID: null,
        driveSecurityFaultReason: 'none',
      });
    });
    this.options.logger?.info({ driveID }, 'drive crypto-erased');
  }

  /** The erase did not reach the drive: it keeps its keys and data, as before the call. */
  private dropEraseJournal(driveID: number, settle: boolean): void {
    this.store.transaction((tx) => {
      const now = getDrive(tx, driveID);
      putDrive(tx, {
        ...withoutEraseJournal(now),
        ...(settle ? { status: 'available' as const } : {}),
        step: null,
      });
    });
  }

  /**
   * Erases a previous process journaled (step `erasing`; their async results are already
   * failed): each is finished, so no record goes on naming a key its drive no longer has.
   * A drive or key server out of reach keeps its journal; the retry comes back to it.
   */
  private async resumeErases(): Promise<void> {
    const drives = this.records().filter(
      (d) => d.present && d.step === 'erasing' && !this.liveErases.has(d.driveID),
    );
    if (drives.length === 0) return;
    await mapLimit(drives, this.options.parallel ?? 8, async (d) => {
      try {
        await this.resumeErase(d);
      } catch (err) {
        this.options.logger?.warn(
          { driveID: d.driveID, err: (err as Error).message },
          'interrupted erase not finished yet',
        );
      }
    });
    await this.destroyPending();
  }

  private async resumeErase(d: DriveRecord): Promise<void> {
    const opal = this.opal(d);
    const evidence = revertEvidence(d.erase, await opal.status());
    this.options.logger?.info({ driveID: d.driveID, evidence }, 'finishing an interrupted erase');
    if (evidence === 'reverted') return this.recordErased(d.driveID, true);
    // Not sent: the drive still holds the key it had; the erase starts over (the operator
    // asked for it) and settles, unless something is out of reach (then retried).
    if (evidence === 'notSent') return this.eraseOne(d, true);
    const pin = await this.loadOne(d.erase!.sidKeyID);
    let refused: string | undefined;
    try {
      refused = await finishUnknownRevert(opal, pin);
    } finally {
      pin.fill(0);
    }
    if (refused === undefined) return this.recordErased(d.driveID, true);
    this.options.logger?.warn({ driveID: d.driveID, reason: refused }, 'erase not finished');
    this.recordOwnedElsewhere(d.driveID, refused);
  }

  /**
   * The drive refused both its recorded SID key and MSID: someone else owns it. None of
   * our keys is of use to it any more, so they go, and the drive shows why (PSID revert).
   */
  private recordOwnedElsewhere(driveID: number, reason: string): void {
    this.store.transaction((tx) => {
      const now = getDrive(tx, driveID);
      letKeysGo(tx, now, 'its drive refused it and is owned elsewhere');
      putDrive(tx, {
        ...withoutEraseJournal(now),
        status: 'available',
        security: 'failed',
        step: null,
        keyID: null,
        keyProviderID: null,
        ownerKeyID: null,
        driveSecurityFaultReason: reason,
      });
    });
  }

  /** Own a factory-fresh drive with a sealed throwaway key so that it can be reverted. */
  private async ownForErase(d: DriveRecord): Promise<string> {
    const key = newDriveKey(d.driveID, d.serial);
    try {
      this.store.transaction((tx) => {
        putKeyRecord(tx, keyRecordFor(key, { sealer: this.options.sealer }));
        putDrive(tx, { ...getDrive(tx, d.driveID), ownerKeyID: key.keyID });
      });
      const outcome = await takeOwnershipOnly(this.opal(d), key.ak);
      if (outcome) {
        this.store.transaction((tx) => {
          retire(tx, key.keyID);
          putDrive(tx, {
            ...getDrive(tx, d.driveID),
            ownerKeyID: null,
            driveSecurityFaultReason: outcome,
          });
        });
        throw new EraseRefused(outcome);
      }
      return key.keyID;
    } finally {
      key.ak.fill(0);
    }
  }

  /** Stops retrying and waits for work in progress. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.idle();
  }

  /** `work` in the job chain; its result (or error) goes to the caller. */
  private queued<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.run(() => work().then(resolve, reject)));
  }

  private run(work: () => Promise<void>): void {
    this.job = this.job
      .then(work)
      .catch((err) => {
        this.options.logger?.warn({ err: (err as Error).message }, 'hardware EAR work failed');
      })
      .then(() => {
        this.reportFaults();
        this.retryIfUnfinished();
      });
  }

  private reportFaults(): void {
    if (!this.options.faults) return;
    try {
      reportEarFaults(this.store, this.options.faults);
    } catch (err) {
      // A fault that cannot be written must not stop the drive work.
      this.options.logger?.error({ err: (err as Error).message }, 'EAR faults not reported');
    }
  }

  /** Unfinished work (a key server or drive out of reach) is tried again, with backoff. */
  private retryIfUnfinished(): void {
    const { state } = getEar(this.store);
    const unfinished =
      state === 'enabling' ||
      state === 'disabling' ||
      this.destroyDeferred ||
      this.records().some(
        (d) =>
          d.security === 'provisioning' ||
          (d.present && d.step === 'erasing' && !this.liveErases.has(d.driveID)),
      );
    clearTimeout(this.retryTimer);
    if (!unfinished || this.closed) {
      this.backoff.reset();
      return;
    }
    const delay = this.backoff.next();
    this.options.logger?.info({ retryInMs: Math.round(delay) }, 'hardware EAR work unfinished');
    this.retryTimer = setTimeout(() => this.recover(), delay).unref();
  }

  private async finishEnable(): Promise<void> {
    const { keyProviderID } = getEar(this.store);
    await this.resumeProvisioning();
    const fresh = listDriveRecords(this.store)
      .filter((d) => d.present && d.opal && mayProvision(d))
      .map((d) => d.driveID);
    await this.provision(fresh, keyProviderID);
    await this.destroyPending();
    if (this.records().some((d) => d.security === 'provisioning')) return; // retried at start
    crashPoint('ear.afterEnable');
    this.store.transaction((tx) => {
      if (getEar(tx).state !== 'enabling') return;
      putEar(tx, 'enabled', keyProviderID);
      auditEarReached(tx, 'EncryptionAtRestEnabled', keyProviderID);
    });
    this.logSummary('hardware encryption at rest enabled');
  }

  /** New keys for `driveIDs`, recorded before the drives are touched, then each drive. */
  private async provision(driveIDs: number[], keyProviderID: number | null): Promise<void> {
    if (driveIDs.length === 0) return;
    const drives = driveIDs.map((id) => getDrive(this.store, id));
    const keys = drives.map((d) => newDriveKey(d.driveID, d.serial));
    try {
      if (keyProviderID !== null) {
        // Known before Register: a crash after it leaves keys a restart can find by Name.
        this.store.transaction((tx) => {
          for (const k of keys) putKeyRecord(tx, keyRecordFor(k, { keyProviderID, kmipUID: null }));
        });
      }
      const records = await this.keep(keys, keyProviderID);
      crashPoint('ear.afterRegister');
      this.store.transaction((tx) => {
        for (const k of keys) {
          const d = getDrive(tx, k.driveID);
          const r = records.get(k.keyID)!;
          if (typeof r === 'string') {
            retire(tx, k.keyID);
            putDrive(tx, { ...d, security: 'failed', driveSecurityFaultReason: r });
            continue;
          }
          putKeyRecord(tx, r);
          putDrive(tx, {
            ...d,
            security: 'provisioning',
            step: 'recorded',
            keyID: k.keyID,
            keyProviderID,
            driveSecurityFaultReason: 'none',
          });
        }
      });
      crashPoint('ear.afterRecord');
      const recorded = keys.filter((k) => typeof records.get(k.keyID) !== 'string');
      await this.secureAll(recorded.map((k) => ({ driveID: k.driveID, ak: k.ak })));
    } finally {
      for (const k of keys) k.ak.fill(0);
    }
  }

  /** Register at the provider (one message) or seal; per keyID its record or why not. */
  private async keep(
    keys: NewDriveKey[],
    keyProviderID: number | null,
  ): Promise<Map<string, DriveKeyRecord | string>> {
    const out = new Map<string, DriveKeyRecord | string>();
    if (keyProviderID === null) {
      for (const k of keys) out.set(k.keyID, keyRecordFor(k, { sealer: this.options.sealer }));
      return out;
    }
    const uuid = clusterUuid(this.store);
    const registered = await this.withProvider(keyProviderID, (p) => registerAks(p, uuid, keys));
    for (const k of keys) {
      const r = registered.get(k.keyID)!;
      out.set(
        k.keyID,
        r.ok
          ? keyRecordFor(k, { keyProviderID, kmipUID: r.uid })
          : `${KEY_SERVER_FAILED}${r.reason}`,
      );
    }
    return out;
  }

  /** Drives recorded as provisioning: mark them `owning`, then own, lock and verify each. */
  private async secureAll(work: { driveID: number; ak: Buffer }[]): Promise<void> {
    this.store.transaction((tx) => {
      for (const { driveID } of work) putDrive(tx, { ...getDrive(tx, driveID), step: 'owning' });
    });
    await this.eachDrive(work, async ({ driveID, ak }) => {
      const d = getDrive(this.store, driveID);
      const opal = this.opal(d);
      if (!d.ownerKeyID) return takeOwnershipAndSecure(opal, ak);
      const owner = await this.loadOne(d.ownerKeyID);
      try {
        return await rekeyAndSecure(opal, owner, ak);
      } finally {
        owner.fill(0);
      }
    });
  }

  /** Every `provisioning` drive from an earlier process: resume it, or roll it back. */
  private async resumeProvisioning(): Promise<void> {
    await this.abandonUnregistered();
    const drives = this.records().filter((d) => d.security === 'provisioning');
    if (drives.length === 0) return;
    const aks = await loadAks(
      this.deps,
      drives.map((d) => d.keyID!),
    );
    try {
      const ready = drives.filter((d) => Buffer.isBuffer(aks.get(d.keyID!)));
      for (const d of drives.filter((x) => !ready.includes(x))) {
        this.options.logger?.warn(
          { driveID: d.driveID, err: (aks.get(d.keyID!) as Error).message },
          'provisioning drive waits for its key',
        );
      }
      const untouched = ready.filter((d) => d.step === 'recorded');
      await this.secureAll(
        untouched.map((d) => ({ driveID: d.driveID, ak: aks.get(d.keyID!) as Buffer })),
      );
      const touched = ready.filter((d) => d.step === 'owning');
      await this.eachDrive(
        touched.map((d) => ({ driveID: d.driveID, ak: aks.get(d.keyID!) as Buffer })),
        ({ driveID, ak }) =>
          secureOwnedDrive(this.opal(getDrive(this.store, driveID)), ak, OWNERSHIP_UNCONFIRMED),
      );
    } finally {
      zeroAll(aks);
    }
  }

  /** Runs `secure` on each drive (a few at a time) and records each outcome as it comes. */
  private async eachDrive(
    work: { driveID: number; ak: Buffer }[],
    secure: (w: { driveID: number; ak: Buffer }) => Promise<SecureOutcome>,
  ): Promise<void> {
    await mapLimit(work, this.options.parallel ?? 8, async (w) => {
      let outcome: SecureOutcome;
      try {
        outcome = await secure(w);
      } catch (err) {
        outcome = { kind: 'failed', reason: (err as Error).message };
      }
      this.record(w.driveID, outcome);
    });
  }

  private record(driveID: number, outcome: SecureOutcome): void {
    this.store.transaction((tx) => {
      const d = getDrive(tx, driveID);
      if (outcome.kind === 'enabled') {
        putDrive(tx, { ...d, security: 'enabled', step: null, driveSecurityFaultReason: 'none' });
        return;
      }
      const key = d.keyID ? getKeyRecord(tx, d.keyID) : undefined;
      // Refused: the drive does not hold the key, so it may go; failed: keep it.
      if (outcome.kind === 'refused' && key) putKeyRecord(tx, { ...key, state: 'pendingDestroy' });
      putDrive(tx, {
        ...d,
        security: 'failed',
        step: null,
        ...(outcome.kind === 'refused' ? { keyID: null, keyProviderID: null } : {}),
        driveSecurityFaultReason: outcome.reason,
      });
    });
    const log = this.options.logger;
    if (outcome.kind === 'enabled') log?.info({ driveID }, 'drive security enabled');
    else log?.warn({ driveID, reason: outcome.reason }, 'enableDriveSecurityFailed');
  }

  private async finishDisable(): Promise<void> {
    // A drive being erased is left to its erase, which destroys its AK.
    const drives = this.records().filter(
      (d) =>
        d.keyID && d.step !== 'erasing' && (d.security === 'enabled' || d.security === 'disabling'),
    );
    this.store.transaction((tx) => {
      for (const d of drives) putDrive(tx, { ...getDrive(tx, d.driveID), security: 'disabling' });
    });
    const aks = await loadAks(
      this.deps,
      drives.map((d) => d.keyID!),
    );
    try {
      await mapLimit(drives, this.options.parallel ?? 8, async (d) => {
        const ak = aks.get(d.keyID!)!;
        try {
          if (ak instanceof Error) throw ak;
          await unlockAndDisableLocking(this.opal(d), ak);
          this.handOver(d.driveID, ak);
        } catch (err) {
          this.store.transaction((tx) => {
            putDrive(tx, {
              ...getDrive(tx, d.driveID),
              driveSecurityFaultReason: `${DISABLE_FAILED_PREFIX}${(err as Error).message}`,
            });
          });
          this.options.logger?.warn(
            { driveID: d.driveID, err: (err as Error).message },
            'disableDriveSecurityFailed',
          );
        }
      });
    } finally {
      zeroAll(aks);
    }
    if (this.records().some((d) => d.security === 'disabling')) return; // retried at start
    await this.destroyPending();
    this.store.transaction((tx) => {
      const { keyProviderID } = getEar(tx);
      putEar(tx, 'disabled', null);
      auditEarReached(tx, 'EncryptionAtRestDisabled', keyProviderID);
    });
    this.logSummary('hardware encryption at rest disabled');
  }

  /**
   * The drive keeps its PIN, now as a sealed internal key (the kernel cannot bring SID back
   * to MSID without erasing); the AK at the provider may then be destroyed.
   */
  private handOver(driveID: number, ak: Buffer): void {
    this.store.transaction((tx) => {
      const d = getDrive(tx, driveID);
      const old = getKeyRecord(tx, d.keyID!)!;
      const owner = keyRecordFor(newDriveKeyFrom(d, ak), { sealer: this.options.sealer });
      putKeyRecord(tx, owner);
      putKeyRecord(tx, { ...old, state: 'pendingDestroy' });
      if (d.ownerKeyID) retire(tx, d.ownerKeyID);
      putDrive(tx, {
        ...d,
        security: 'none',
        keyID: null,
        keyProviderID: null,
        ownerKeyID: owner.keyID,
        driveSecurityFaultReason: 'none',
      });
    });
  }

  /**
   * Keys recorded before a Register whose answer was never recorded: whatever the server
   * holds under their Names is destroyed (no drive ever saw them), then the records.
   */
  private async abandonUnregistered(): Promise<void> {
    const orphans = this.store
      .list<DriveKeyRecord>('keys/')
      .map((e) => e.value)
      .filter((k) => k.keyProviderID !== null && k.kmipUID === null && k.state !== 'destroyed');
    const byProvider = groupBy(orphans, (k) => k.keyProviderID!);
    const uuid = clusterUuid(this.store);
    for (const [keyProviderID, keys] of byProvider) {
      await this.withProvider(keyProviderID, async (p) => {
        const failed = await destroyAks(p, await findAks(p, uuid, keys));
        if (failed.length) throw new Error(`could not destroy ${failed.length} unrecorded AK(s)`);
      });
      this.store.transaction((tx) => {
        for (const k of keys) {
          retire(tx, k.keyID);
          auditAkDestroyed(tx, k, 'registered by an interrupted Enable, never given to a drive');
        }
      });
      this.options.logger?.info({ keyProviderID, count: keys.length }, 'unrecorded AKs destroyed');
    }
  }

  /** Runs `fn` over one connection to the provider's key servers, closed afterwards. */
  private async withProvider<R>(
    keyProviderID: number,
    fn: (provider: KmipProvider) => Promise<R>,
  ): Promise<R> {
    const provider = openProvider(
      this.store,
      this.keyPair,
      keyProviderID,
      this.deps.kmip,
      this.options.logger,
    );
    try {
      return await fn(provider);
    } finally {
      provider.close();
    }
  }

  /** Keys a drive no longer needs: revoked and destroyed at their provider, in one message each. */
  private async destroyPending(): Promise<void> {
    const pending = this.store
      .list<DriveKeyRecord>('keys/')
      .map((e) => e.value)
      .filter((k) => k.purpose === 'driveAuthentication' && k.state === 'pendingDestroy');
    const byProvider = groupBy(pending, (k) => k.keyProviderID);
    this.destroyDeferred = false;
    for (const [keyProviderID, keys] of byProvider) {
      let failed: string[] = [];
      if (keyProviderID !== null) {
        try {
          failed = await this.withProvider(keyProviderID, (p) =>
            destroyAks(
              p,
              keys.map((k) => k.kmipUID!),
            ),
          );
        } catch (err) {
          this.options.logger?.warn(
            { keyProviderID, err: (err as Error).message },
            'AK destroy deferred',
          );
          this.destroyDeferred = true;
          continue;
        }
      }
      this.store.transaction((tx) => {
        for (const k of keys) {
          if (failed.includes(k.kmipUID ?? '')) continue;
          retire(tx, k.keyID);
          auditAkDestroyed(tx, k, 'no drive holds it any more');
        }
      });
    }
  }

  private async loadOne(keyID: string): Promise<Buffer> {
    const got = (await loadAks(this.deps, [keyID])).get(keyID)!;
    if (got instanceof Error) throw got;
    return got;
  }

  private records(): DriveRecord[] {
    return listDriveRecords(this.store);
  }

  private logSummary(message: string): void {
    const drives = this.records().filter((d) => d.present);
    const count = (s: string) => drives.filter((d) => d.security === s).length;
    this.options.logger?.info(
      { enabled: count('enabled'), failed: count('failed'), none: count('none') },
      message,
    );
  }
}

/** An erase the drive's state or the drive itself refused: it did not reach the drive. */
class EraseRefused extends Error {}

/** The record without the erase journal (present only while an erase is unsettled). */
function withoutEraseJournal(d: DriveRecord): DriveRecord {
  const copy = { ...d };
  delete copy.erase;
  return copy;
}

/**
 * The drive's keys, of no use to it any more: an AK at a key server becomes pendingDestroy
 * (destroyPending destroys it there), a sealed key is dropped at once.
 */
function letKeysGo(tx: StoreTx, d: DriveRecord, why: string): void {
  for (const keyID of [d.keyID, d.ownerKeyID]) {
    const k = keyID ? getKeyRecord(tx, keyID) : undefined;
    if (k?.keyProviderID != null) putKeyRecord(tx, { ...k, state: 'pendingDestroy' });
    else if (k) {
      retire(tx, k.keyID);
      auditAkDestroyed(tx, k, why);
    }
  }
}

/** The destroyed state keeps the record (who held what, when) without the key. */
function retire(tx: StoreTx, keyID: string): void {
  const k = getKeyRecord(tx, keyID);
  if (k) putKeyRecord(tx, { ...k, state: 'destroyed', sealedKey: null });
}

/** Where the AK was and for which drive: never the key. */
function auditAkDestroyed(tx: StoreTx, k: DriveKeyRecord, why: string): void {
  recordAuditIn(tx, {
    source: 'service',
    action: 'DestroyAuthenticationKey',
    params: {
      keyID: k.keyID,
      keyProviderID: k.keyProviderID,
      kmipUID: k.kmipUID,
      driveID: k.driveID,
      serial: k.serial,
    },
    outcome: 'ok',
    details:
      k.keyProviderID === null ? `sealed copy dropped: ${why}` : `revoked and destroyed: ${why}`,
  });
}

/** Enable or Disable finished: the state reached and how the drives ended. */
function auditEarReached(
  tx: StoreTx,
  action: 'EncryptionAtRestEnabled' | 'EncryptionAtRestDisabled',
  keyProviderID: number | null,
): void {
  const drives = listDriveRecords(tx).filter((d) => d.present);
  const count = (s: string) => drives.filter((d) => d.security === s).length;
  recordAuditIn(tx, {
    source: 'service',
    action,
    params: {
      keyProviderID,
      enabled: count('enabled'),
      failed: count('failed'),
      none: count('none'),
    },
    outcome: 'ok',
  });
}

function newDriveKeyFrom(d: DriveRecord, ak: Buffer): NewDriveKey {
  return { driveID: d.driveID, serial: d.serial, keyID: randomUUID(), ak };
}
