// Every KMIP request SEAR makes (the master key's Get, Create, Revoke+Destroy, the search
// for a crashed Create's key) goes to its provider through askProvider, and what it learned
// about each key server it reached is reported as boot unlock reports it: kmipServerFault
// raised for a server that failed or refused, resolved for the one that served, and
// servers the request never reached left as they were. Within a session (one rekey) the
// provider's connections are kept for every step (one version negotiation).
import type { Logger } from 'pino';
import { KmipError, KmipProvider, type BatchOp, type BatchOutcome } from '../../kmip/client';
import type { Store } from '../../store/store';
import { askProvider } from '../key-servers/ask-provider';
import { noteServer, reportServers, type ServerOutcomes } from '../key-servers/server-faults';
import type { FaultService } from '../faults';
import { openProvider, type KmipSettings } from '../drive-keys/kmip-keys';
import type { ClusterKeyPair } from '../key-pair';

/** Sends one request to a provider: `what` names it in a kmipServerFault's details. */
export type AskProvider = <R>(
  keyProviderID: number,
  what: string,
  request: (provider: KmipProvider) => Promise<R>,
) => Promise<R>;

export interface KeyServerRequestDeps {
  store: Store;
  keyPair: ClusterKeyPair;
  kmip: KmipSettings;
  faults?: FaultService;
  logger?: Logger;
}

export class KeyServerRequests {
  /** Open providers shared by the steps of a session, by keyProviderID. */
  private session: Map<number, KmipProvider> | undefined;

  constructor(private readonly deps: KeyServerRequestDeps) {}

  /** Within `work`, each provider's connections are opened once and kept. */
  async inSession<R>(work: () => Promise<R>): Promise<R> {
    this.session = new Map();
    try {
      return await work();
    } finally {
      for (const p of this.session.values()) p.close();
      this.session = undefined;
    }
  }

  /** The request's answer, or its error (as thrown), after its key servers are reported. */
  readonly ask: AskProvider = async (keyProviderID, what, request) => {
    const view = this.view(keyProviderID);
    let thrown: unknown;
    const answer = await askProvider(
      { ...this.deps, opened: new Map([[keyProviderID, view]]) },
      keyProviderID,
      async (p) => {
        try {
          return await request(p);
        } catch (err) {
          thrown = err;
          throw err;
        }
      },
    );
    if (view.contacted) await this.report(answer, what, thrown);
    if (answer.error !== undefined) throw thrown ?? new Error(answer.error);
    return answer.value!;
  };

  private async report(
    answer: { failed: Map<number, string>; servedBy?: number; error?: string },
    what: string,
    thrown: unknown,
  ): Promise<void> {
    const outcomes: ServerOutcomes = new Map();
    for (const [keyServerID, why] of answer.failed)
      noteServer(outcomes, keyServerID, `${what}: ${why}`);
    if (answer.servedBy !== undefined) {
      // A refusal or a bad answer is the server's; a failure of our own (the store) is not.
      const refused = answer.error !== undefined && thrown instanceof KmipError;
      noteServer(outcomes, answer.servedBy, refused ? `${what}: ${answer.error}` : null);
    }
    const { faults, store, logger } = this.deps;
    if (!faults || outcomes.size === 0) return;
    try {
      await store.transaction((tx) => reportServers(tx, faults, outcomes, 'masterKey'));
    } catch (err) {
      // The answer (perhaps a key the caller must zero) still goes back to the caller.
      logger?.error({ err: (err as Error).message }, 'key server faults not recorded');
    }
  }

  /** A fresh view for one request over the session's connections, or over new ones. */
  private view(keyProviderID: number): RequestView {
    const kept = this.session?.get(keyProviderID);
    if (kept) return new RequestView(kept, false, this.deps.logger);
    const opened = this.open(keyProviderID);
    if (this.session) {
      this.session.set(keyProviderID, opened);
      return new RequestView(opened, false, this.deps.logger);
    }
    return new RequestView(opened, true, this.deps.logger);
  }

  private open(keyProviderID: number): KmipProvider {
    const { store, keyPair, kmip, logger } = this.deps;
    return openProvider(store, keyPair, keyProviderID, kmip, logger);
  }
}

/**
 * One request's view of a provider's key servers. Fresh for each request, so it tries them
 * in configured order (askProvider names the server that answered by that order), and it
 * keeps the endpoint failures of all the request's messages, not just of its last one.
 * It closes the connections only when they are its own.
 */
class RequestView extends KmipProvider {
  /** Whether a message was sent (or tried): otherwise nothing was learned of any server. */
  contacted = false;
  private readonly failedSoFar: KmipProvider['lastFailures'] = [];

  constructor(
    private readonly provider: KmipProvider,
    private readonly owned: boolean,
    logger: Logger | undefined,
  ) {
    super(provider.servers, logger ? { logger } : {});
  }

  override async batch<T extends readonly BatchOp<unknown>[]>(ops: T): Promise<BatchOutcome<T>> {
    this.contacted = true;
    try {
      return await super.batch(ops);
    } finally {
      this.failedSoFar.push(...this.lastFailures);
      this.lastFailures = [...this.failedSoFar];
    }
  }

  /** Its own provider is closed whole (connections, and the key it was given, zeroed). */
  override close(): void {
    if (this.owned) this.provider.close();
  }
}
