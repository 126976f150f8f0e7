// kmipCertificateFault: the CA or client certificate of a key server in an active provider
// expires within Element's 30 days, or has expired. Checked at start, daily, and whenever
// a key server record changes (a replaced certificate resolves the fault at once; a server
// no provider holds any more has its kmipServerFault resolved then too).
import type { Logger } from 'pino';
import type { Store } from '../../store/store';
import { expiryProblems } from '../certificates';
import { readFaults, type FaultService } from '../faults';
import { activeProviderIDs } from '../key-references';
import { listServers, SERVER_PREFIX } from '../key-servers/kmip-records';
import { forgetUnusedServers } from '../key-servers/server-faults';

const DAY_MS = 24 * 60 * 60 * 1000;

/** One pass: raise or update the fault of each server with a problem, resolve the rest. */
export async function checkKeyServerCertificates(
  store: Store,
  faults: FaultService,
  now = new Date(),
): Promise<void> {
  await store.transaction((tx) => {
    const active = activeProviderIDs(tx);
    const flagged = new Set<number>();
    for (const s of listServers(tx)) {
      if (s.keyProviderID === null || !active.has(s.keyProviderID)) continue;
      const problems = [
        ...expiryProblems(s.kmipCaCertificate, 'CA certificate', now),
        ...expiryProblems(s.kmipClientCertificate, 'client certificate', now),
      ];
      if (problems.length === 0) continue;
      flagged.add(s.keyServerID);
      faults.raiseIn(
        tx,
        'kmipCertificateFault',
        { keyServerID: s.keyServerID },
        `Key server ${s.kmipKeyServerName} of key provider ${s.keyProviderID}: ${problems.join('; ')}. Install a new certificate with ModifyKeyServerKmip.`,
        { data: { keyServerID: s.keyServerID, keyProviderID: s.keyProviderID } },
      );
    }
    for (const f of readFaults(tx, 'current')) {
      const keyServerID = f.data?.keyServerID;
      if (f.code !== 'kmipCertificateFault' || typeof keyServerID !== 'number') continue;
      if (!flagged.has(keyServerID)) faults.resolveIn(tx, 'kmipCertificateFault', { keyServerID });
    }
  });
}

/**
 * Runs the check now, daily (unref'd) and after key server changes; returns a stop. A
 * change also resolves the kmipServerFault of a server no provider holds any more.
 */
export function watchKeyServerCertificates(
  store: Store,
  faults: FaultService,
  logger?: Logger,
): () => void {
  const run = () =>
    checkKeyServerCertificates(store, faults).catch((err: unknown) => {
      logger?.error({ err: (err as Error).message }, 'key server certificate check failed');
    });
  const afterChange = async () => {
    await run();
    try {
      await store.transaction((tx) => forgetUnusedServers(tx, faults));
    } catch (err) {
      logger?.error(
        { err: (err as Error).message },
        'could not resolve the faults of removed key servers',
      );
    }
  };
  let queued: NodeJS.Immediate | undefined;
  // After the change has committed, outside the writer's transaction.
  const unwatch = store.watch(SERVER_PREFIX, () => {
    queued ??= setImmediate(() => {
      queued = undefined;
      void afterChange();
    });
  });
  void run();
  const timer = setInterval(() => void run(), DAY_MS).unref();
  return () => {
    unwatch();
    clearInterval(timer);
    if (queued) clearImmediate(queued);
  };
}
