// A key provider: several key servers holding the same keys. Each request races them as
// Happy Eyeballs races addresses (server-race.ts): the first server at once, the next when
// the first has not connected within the attempt delay or has failed, and — for requests
// that only read — the next also when a connected server has not answered in time. A KMIP
// result failure is an answer and is not retried. Recently failed servers are tried last.
import type { Logger } from 'pino';
import type { BatchOp } from '../messages';
import type { BatchOutcome } from './batch';
import { KmipClient, type KmipServerOptions } from './client';
import { KmipError } from './errors';
import { FailureMemory } from './failures';
import { CONNECT_ATTEMPT_DELAY_MS, isHedgeable } from './hedging';
import { KmipOperations } from './operations';
import { ServerRace } from './server-race';

export interface KmipProviderOptions {
  /** How long a failed server goes to the back of the line. Default 30000. */
  failureMemoryMs?: number;
  /**
   * How long a server may take to connect before the next one is tried as well (and the
   * least a read-only request waits for an answer before it is sent to the next too).
   * Default 250 (RFC 8305).
   */
  connectAttemptDelayMs?: number;
  /** Key material the servers were given (the client's private key): zeroed by close(). */
  zeroOnClose?: Buffer[];
  logger?: Logger;
}

export class KmipProvider extends KmipOperations {
  readonly servers: readonly KmipClient[];
  private readonly failures: FailureMemory;
  private readonly logger: Logger | undefined;
  private readonly zeroOnClose: Buffer[];
  private readonly connectDelayMs: number;
  /** Connections started by preconnect(), taken by the next batch(). */
  private race: ServerRace | undefined;
  /** Races of batches under way, abandoned by close(). */
  private readonly running = new Set<ServerRace>();
  /**
   * The servers (by index in `servers`) that failed in the last batch(): as endpoints, or
   * by not answering until another server had answered in their place. A server that lost
   * the race but connected, or was asked later than the winner, is not among them.
   */
  lastFailures: { index: number; error: KmipError }[] = [];
  /** The server (by index) that answered the last batch(), or refused it itself. */
  lastAnswered: number | undefined;

  constructor(
    servers: readonly (KmipServerOptions | KmipClient)[],
    opts: KmipProviderOptions = {},
  ) {
    super();
    if (servers.length === 0)
      throw new KmipError('config', 'a key provider needs at least one key server');
    this.servers = servers.map((s) => (s instanceof KmipClient ? s : new KmipClient(s)));
    this.failures = new FailureMemory(opts.failureMemoryMs ?? 30_000);
    this.logger = opts.logger;
    this.zeroOnClose = opts.zeroOnClose ?? [];
    this.connectDelayMs = opts.connectAttemptDelayMs ?? CONNECT_ATTEMPT_DELAY_MS;
  }

  /**
   * Send ops as one message to the first server that connects (read-only ops: that answers).
   * Register, Create, Destroy and the like go to one server at a time, never two at once.
   */
  async batch<T extends readonly BatchOp<unknown>[]>(ops: T): Promise<BatchOutcome<T>> {
    const race = this.race ?? this.newRace();
    this.race = undefined;
    this.lastFailures = [];
    this.lastAnswered = undefined;
    this.running.add(race);
    try {
      return await race.run(ops, isHedgeable(ops));
    } finally {
      this.running.delete(race);
      this.lastFailures = race.failures;
      this.lastAnswered = race.winner;
      for (const { index } of race.failures) this.failures.failed(this.id(index));
      for (const index of race.healthy) this.failures.succeeded(this.id(index));
    }
  }

  /**
   * Start connecting for the next batch(): to the server it tries first now, and to the
   * next ones as the attempt delay passes without a connection.
   */
  preconnect(): void {
    if (this.race) return;
    this.race = this.newRace();
    this.race.connect();
  }

  /** Closes every server's connection; the provider is not used after this. */
  close(): void {
    for (const race of [this.race, ...this.running]) race?.abandon();
    this.race = undefined;
    for (const s of this.servers) s.close();
    // A handshake under way already holds its own copy of the key.
    for (const b of this.zeroOnClose) b.fill(0);
  }

  private id(index: number): string {
    return this.servers[index]!.endpoints.join(',');
  }

  private newRace(): ServerRace {
    const byIndex = this.servers.map((client, index) => ({ index, client }));
    return new ServerRace(
      this.failures.order(byIndex, ({ index }) => this.id(index)),
      { connectDelayMs: this.connectDelayMs, logger: this.logger },
    );
  }
}
