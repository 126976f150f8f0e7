// What every step of hardware EAR works with, passed explicitly: the store, where AKs come
// from, how a drive is opened, and what this process alone knows of its work in progress.
import type { KmipProvider } from '../../kmip/client';
import type { OpalDrive } from '../../opal/drive';
import { loadAks, type KeySourceDeps } from '../drive-keys/key-source';
import { openProvider } from '../drive-keys/kmip-keys';
import type { NodeScope } from '../drives/node-scope';
import { withDakBatch } from '../split-key/dak-access';

/** Work in progress that the store does not show; recovery and the retry decision read it. */
export interface EarWorkState {
  /** Drives a SecureEraseDrives call of this process is erasing: recovery leaves them alone. */
  liveCallErases: Set<number>;
  /** The last destroyPendingKeys could not reach a provider: retried like unfinished work. */
  keyDestroyDeferred: boolean;
}

export interface EarDeps extends KeySourceDeps {
  /** This node's drive records: the only ones its hardware-EAR work touches. */
  scope: NodeScope;
  openDrive: (drive: { path: string }) => OpalDrive;
  /** Drives worked on at once. */
  parallel: number;
  work: EarWorkState;
}

/** One AK (the caller zeroes it), or the reason it could not be had, thrown. */
export async function loadAk(deps: EarDeps, keyID: string): Promise<Buffer> {
  const got = (await loadAks(deps, [keyID])).get(keyID)!;
  if (got instanceof Error) throw got;
  return got;
}

/** Runs `fn` over one connection to the provider's key servers, closed afterwards. */
export async function withProvider<R>(
  deps: EarDeps,
  keyProviderID: number,
  fn: (provider: KmipProvider) => Promise<R>,
): Promise<R> {
  const provider = openProvider(deps.store, deps.keyPair, keyProviderID, deps.kmip, deps.logger);
  try {
    return await fn(provider);
  } finally {
    provider.close();
  }
}

/**
 * Runs one job step over several drives with deps whose split drive-access key is put
 * together once for all of them (a peer's share over the link and a combine), not per
 * drive, and zeroed when the step is done. Each drive's own steps are unchanged.
 */
export function withOneDak<R>(deps: EarDeps, fn: (deps: EarDeps) => Promise<R>): Promise<R> {
  return withDakBatch(deps.store, deps.dak, (dak) => fn(dak ? { ...deps, dak } : deps));
}
