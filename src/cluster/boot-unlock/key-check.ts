// The periodic check that the keys the drives need are still usable at the key server:
// one batched Get Attributes (State) per provider, no key material fetched. A key
// destroyed, missing or no longer Active, or a server that cannot answer, is a
// kmipServerFault now rather than a surprise at the next reboot.
import { ops } from '../../kmip/client';
import { State } from '../../kmip/ttlv/enums';
import { uidsByProvider, type DriveKeyRecord } from '../drive-keys/drive-keys';
import { getEar } from '../ear-state';
import type { FaultService } from '../faults';
import { askProvider, type AskDeps } from '../key-servers/ask-provider';
import type { NodeScope } from '../drives/node-scope';
import { candidateKeys } from './round-drives';
import type { ReportMemory } from './round-report';
import { noteServer, reportServers, type ServerOutcomes } from '../key-servers/server-faults';

const STATE_NAMES = new Map<number, string>(Object.entries(State).map(([k, v]) => [v, k]));

export interface KeyCheck {
  /** Per key server contacted: null when every key it was asked about is Active. */
  outcomes: ServerOutcomes;
  /** keyServerID → the keys it answered about that are not usable (not a server failure). */
  keyProblems: Map<number, string>;
}

export async function checkHeldKeys(deps: AskDeps, records: DriveKeyRecord[]): Promise<KeyCheck> {
  const outcomes: ServerOutcomes = new Map();
  const keyProblems = new Map<number, string>();
  const byProvider = uidsByProvider(records);
  for (const [keyProviderID, uids] of byProvider) {
    const answer = await askProvider(deps, keyProviderID, (p) =>
      p.batch(uids.map((uid) => ops.getAttributes(uid, ['state']))),
    );
    for (const [keyServerID, why] of answer.failed) noteServer(outcomes, keyServerID, why);
    if (answer.servedBy === undefined) continue;
    if (!answer.value) {
      noteServer(outcomes, answer.servedBy, answer.error ?? 'no answer');
      continue;
    }
    const problems: string[] = [];
    answer.value.results.forEach((r, i) => {
      const uid = uids[i]!;
      if (!r.ok) problems.push(`${uid}: ${r.error.message}`);
      else if (r.value.attributes.state !== State.Active) {
        const state = r.value.attributes.state;
        problems.push(
          `${uid}: ${state === undefined ? 'no State' : (STATE_NAMES.get(state) ?? state)}`,
        );
      }
    });
    const cause = problems.length
      ? `${problems.length} key(s) not usable (${problems.join('; ')})`
      : null;
    if (cause) keyProblems.set(answer.servedBy, cause);
    noteServer(outcomes, answer.servedBy, cause);
  }
  return { outcomes, keyProblems };
}

/**
 * Checks the keys of the drives under hardware EAR (when it is enabled) and reports each
 * server asked; what it found wrong with keys replaces `memory.keyProblems`.
 */
export async function checkAndReportHeldKeys(
  deps: AskDeps & { faults: FaultService; scope: NodeScope },
  memory: Pick<ReportMemory, 'keyProblems'>,
): Promise<void> {
  const { store, faults, logger } = deps;
  if (getEar(store).state !== 'enabled') return;
  const records = candidateKeys(store, deps.scope).map((c) => c.key);
  if (records.length === 0) return;
  const { outcomes, keyProblems } = await checkHeldKeys(deps, records);
  memory.keyProblems = keyProblems;
  for (const [keyServerID, cause] of outcomes) {
    if (cause !== null) logger?.warn({ keyServerID, cause }, 'key check failed');
  }
  await store.transaction((tx) => reportServers(tx, faults, outcomes, 'driveKeys'));
}
