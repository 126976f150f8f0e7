// Happy Eyeballs (RFC 8305) over the key servers of one provider, for one request: the
// first server is connected to at once, the next one when the first has not connected
// within the attempt delay (or has failed), and so on; the first connection takes the
// request. A read-only request is hedged too: when the server holding it has not answered
// within a delay derived from its handshake, the next server is asked as well, and the
// first answer wins. Each server gets the request at most once. Once an answer is in,
// every other attempt is closed (a late answer's key material zeroed).
//
// What the race says of each server: failed outright → reported (its error). Still
// connecting or unanswered when the answer came, after having let its delay pass (the
// next server was asked because of it) → reported as stalled. Connected but not needed,
// or started after the winner and merely slower → healthy, not reported: no evidence.
import type { Logger } from 'pino';
import type { BatchOp } from '../messages';
import type { BatchOutcome } from './batch';
import { combine, type KmipClient } from './client';
import { KmipError, type KmipStage } from './errors';
import { hedgeDelayMs } from './hedging';
import { observingKmipRequests, operationLabel, reportKmipRequest } from './observer';

type Phase = 'connecting' | 'connected' | 'sent' | 'answered' | 'refused' | 'failed';

interface Attempt {
  /** The server's index in the provider. */
  index: number;
  client: KmipClient;
  phase: Phase;
  /** When its current wait (for a connection, or for an answer) began. */
  since: number;
  /** Its wait outlasted its delay: another server was (or may be) asked because of it. */
  overdue: boolean;
  timer?: NodeJS.Timeout | undefined;
  handshakeMs: number;
  /** Settles when what the attempt waits on settles (never rejects). */
  done: Promise<void>;
  error?: KmipError | Error;
  /** The stage it was at when the race closed it, and how long it had waited by then. */
  closed?: { stage: KmipStage; waitedMs: number };
  /** It could not connect: counted as a failed request once the request is known. */
  unreported?: { endpoint: string; ms: number };
}

export interface RaceOptions {
  connectDelayMs: number;
  logger?: Logger | undefined;
}

interface Request {
  ops: readonly BatchOp<unknown>[];
  hedged: boolean;
  resolve(out: BatchOutcome<BatchOp<unknown>[]>): void;
  reject(err: unknown): void;
}

const LIVE: readonly Phase[] = ['connecting', 'connected', 'sent'];

export class ServerRace {
  /** The server that answered (or refused the request itself), once settled. */
  winner: number | undefined;
  /** The servers that failed, or stalled until another answered, in the order tried. */
  readonly failures: { index: number; error: KmipError }[] = [];
  /** The servers that connected or answered. */
  readonly healthy: number[] = [];
  private readonly attempts: Attempt[] = [];
  private next = 0;
  private request: Request | undefined;
  private settled = false;

  constructor(
    /** The servers in the order to try them. */
    private readonly order: readonly { index: number; client: KmipClient }[],
    private readonly opts: RaceOptions,
  ) {}

  /** Starts connecting ahead of the request: the first server now, the next after the delay. */
  connect(): void {
    this.evaluate();
  }

  /** Sends `ops` (hedged when `hedged`); resolves with the first answer. */
  run<T extends readonly BatchOp<unknown>[]>(ops: T, hedged: boolean): Promise<BatchOutcome<T>> {
    if (this.settled || this.request) throw new Error('a server race runs one request');
    return new Promise<BatchOutcome<T>>((resolve, reject) => {
      this.request = {
        ops,
        hedged,
        resolve: resolve as unknown as Request['resolve'],
        reject,
      };
      this.reportConnectFailures();
      this.evaluate();
    });
  }

  /** Closes every attempt; a request still waiting fails. */
  abandon(): void {
    void this.finish(undefined, new KmipError('connect', 'the key provider was closed'));
  }

  private evaluate(): void {
    if (this.settled) return;
    const req = this.request;
    if (req) {
      const refused = this.attempts.find((a) => a.phase === 'refused');
      if (refused) return void this.finish(refused, refused.error);
      const holding = this.attempts.some((a) => a.phase === 'sent' && (!req.hedged || !a.overdue));
      const idle = this.attempts.find((a) => a.phase === 'connected');
      if (!holding && idle) this.send(idle, req);
    }
    const promising = this.attempts.some(
      (a) =>
        a.phase === 'connected' || ((a.phase === 'connecting' || a.phase === 'sent') && !a.overdue),
    );
    if (!promising && this.next < this.order.length) this.start();
    else if (req && !this.attempts.some((a) => LIVE.includes(a.phase))) {
      const errors = this.attempts.flatMap((a) => (a.error instanceof KmipError ? [a.error] : []));
      void this.finish(undefined, combine(errors));
    }
  }

  private start(): void {
    const { index, client } = this.order[this.next++]!;
    const a: Attempt = {
      index,
      client,
      phase: 'connecting',
      since: performance.now(),
      overdue: false,
      handshakeMs: 0,
      done: Promise.resolve(),
    };
    this.attempts.push(a);
    if (this.next < this.order.length) a.timer = this.overdueAfter(a, this.opts.connectDelayMs);
    a.done = client.ready().then(
      ({ handshakeMs }) => {
        if (this.settled) return;
        clearTimeout(a.timer);
        Object.assign(a, { phase: 'connected', overdue: false, handshakeMs });
        this.evaluate();
      },
      (err: unknown) => this.failed(a, err),
    );
  }

  /**
   * A server that could not be connected to failed the request as far as its metrics go
   * (as a client without the race reports it), under the request's operation.
   */
  private reportConnectFailures(): void {
    const req = this.request;
    if (!req || !observingKmipRequests()) return;
    for (const a of this.attempts) {
      if (!a.unreported) continue;
      const { endpoint, ms } = a.unreported;
      a.unreported = undefined;
      reportKmipRequest({ endpoint, operation: operationLabel(req.ops), ms, result: 'failed' });
    }
  }

  private send(a: Attempt, req: Request): void {
    Object.assign(a, { phase: 'sent', since: performance.now(), overdue: false });
    if (req.hedged && this.order.length > 1) {
      const delay = hedgeDelayMs(a.handshakeMs, req.ops.length, this.opts.connectDelayMs);
      a.timer = this.overdueAfter(a, delay);
    }
    a.done = a.client.batch(req.ops).then(
      (out) => {
        if (this.settled) return zeroOutcome(out); // a loser's late answer
        a.phase = 'answered';
        void this.finish(a, undefined, out);
      },
      (err: unknown) => this.failed(a, err),
    );
  }

  private failed(a: Attempt, err: unknown): void {
    if (this.settled) {
      if (a.closed && err instanceof KmipError) a.closed.stage = err.stage;
      return;
    }
    clearTimeout(a.timer);
    a.error = err as Error;
    if (a.phase === 'connecting' && err instanceof KmipError && err.isEndpointFailure) {
      const endpoint = err.endpoint?.split(',').pop() ?? a.client.endpoints[0]!;
      a.unreported = { endpoint, ms: performance.now() - a.since };
      this.reportConnectFailures();
    }
    // A KMIP result (or something that is no endpoint failure) is an answer: not retried.
    if (!(err instanceof KmipError) || !err.isEndpointFailure) a.phase = 'refused';
    else {
      a.phase = 'failed';
      this.opts.logger?.warn(
        { server: endpointsOf(a), stage: err.stage, err: err.message },
        'kmip server failed; trying the next',
      );
    }
    this.evaluate();
  }

  private overdueAfter(a: Attempt, ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      a.overdue = true;
      this.opts.logger?.debug(
        { server: endpointsOf(a), waiting: a.phase, ms },
        'kmip server slow; trying the next as well',
      );
      this.evaluate();
    }, ms);
  }

  /** Settles the request with `winner`'s outcome (or `error`), after closing the others. */
  private async finish(
    winner: Attempt | undefined,
    error?: unknown,
    out?: BatchOutcome<BatchOp<unknown>[]>,
  ): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.winner = winner?.index;
    const now = performance.now();
    const losers = this.attempts.filter((a) => a !== winner && LIVE.includes(a.phase));
    for (const a of this.attempts) clearTimeout(a.timer);
    for (const a of losers) {
      // Its stage is that of the error closing it gives (connect, tls, response).
      a.closed = { stage: a.phase === 'sent' ? 'response' : 'connect', waitedMs: now - a.since };
      a.client.close();
    }
    // Closing settles their waits at once (a rejection), naming the stage each had reached;
    // one turn of the event loop at most, so that nothing a loser does holds the answer.
    await Promise.race([
      Promise.all(losers.map((a) => a.done)),
      new Promise((resolve) => setImmediate(resolve)),
    ]);
    for (const a of this.attempts) {
      if (a === winner || a.phase === 'connected' || a.phase === 'answered') {
        if (a.phase !== 'refused') this.healthy.push(a.index);
      } else if (a.phase === 'failed') {
        this.failures.push({ index: a.index, error: a.error as KmipError });
      } else if (a.closed && a.overdue) {
        const error = stalled(a, a.closed, winner);
        this.failures.push({ index: a.index, error });
        this.opts.logger?.warn(
          { server: endpointsOf(a), stage: error.stage, err: error.message },
          'kmip server stalled; another answered',
        );
      }
    }
    if (out) this.request?.resolve(out);
    else this.request?.reject(error);
  }
}

const endpointsOf = (a: Attempt): string => a.client.endpoints.join(',');

const WAITING_FOR: Record<KmipStage, string> = {
  config: 'not started',
  dns: 'name not resolved',
  connect: 'not connected',
  tls: 'no TLS handshake',
  auth: 'not authenticated',
  response: 'no answer',
  kmip: 'no answer',
};

/** Why a server the race closed before it answered counts as failed. */
function stalled(
  a: Attempt,
  closed: { stage: KmipStage; waitedMs: number },
  winner: Attempt | undefined,
): KmipError {
  const by = winner ? `; ${endpointsOf(winner)} answered first` : '';
  return new KmipError(
    closed.stage,
    `${WAITING_FOR[closed.stage]} after ${Math.round(closed.waitedMs)} ms${by}`,
    { endpoint: endpointsOf(a), timedOut: true },
  );
}

/** Zeroes the key material of an answer nobody takes. */
function zeroOutcome(out: BatchOutcome<readonly BatchOp<unknown>[]>): void {
  for (const r of out.results as { ok: boolean; value?: unknown }[]) if (r.ok) zeroBuffers(r.value);
}

function zeroBuffers(v: unknown, depth = 0): void {
  if (Buffer.isBuffer(v)) v.fill(0);
  else if (v && typeof v === 'object' && depth < 4)
    for (const x of Object.values(v)) zeroBuffers(x, depth + 1);
}
