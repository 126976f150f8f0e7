// A key provider: several key servers holding the same keys. Operations go to the first
// healthy server; when a server fails as an endpoint (unreachable, TLS, refused, no
// answer) the next one is tried. A KMIP result failure is an answer and is not retried.
import type { Logger } from 'pino';
import type { BatchOp } from '../messages';
import type { BatchOutcome } from './batch';
import { KmipClient, combine, type KmipServerOptions } from './client';
import { KmipError } from './errors';
import { FailureMemory } from './failures';
import { KmipOperations } from './operations';

export interface KmipProviderOptions {
  /** How long a failed server goes to the back of the line. Default 30000. */
  failureMemoryMs?: number;
  /** Key material the servers were given (the client's private key): zeroed by close(). */
  zeroOnClose?: Buffer[];
  logger?: Logger;
}

export class KmipProvider extends KmipOperations {
  readonly servers: readonly KmipClient[];
  private readonly failures: FailureMemory;
  private readonly logger: Logger | undefined;
  private readonly zeroOnClose: Buffer[];
  /** The servers (by index in `servers`) that failed as endpoints in the last batch(). */
  lastFailures: { index: number; error: KmipError }[] = [];

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
  }

  async batch<T extends readonly BatchOp<unknown>[]>(ops: T): Promise<BatchOutcome<T>> {
    const attempts: KmipError[] = [];
    this.lastFailures = [];
    const id = (c: KmipClient): string => c.endpoints.join(',');
    for (const server of this.failures.order(this.servers, id)) {
      try {
        const out = await server.batch(ops);
        this.failures.succeeded(id(server));
        return out;
      } catch (err) {
        if (!(err instanceof KmipError) || !err.isEndpointFailure) throw err;
        this.failures.failed(id(server));
        this.logger?.warn(
          { server: id(server), stage: err.stage, err: err.message },
          'kmip server failed; trying the next',
        );
        attempts.push(err);
        this.lastFailures.push({ index: this.servers.indexOf(server), error: err });
      }
    }
    throw combine(attempts);
  }

  /** Start connecting to the server the next batch() tries first (see KmipClient.preconnect). */
  preconnect(): void {
    this.failures.order(this.servers, (c) => c.endpoints.join(','))[0]?.preconnect();
  }

  /** Closes every server's connection; the provider is not used after this. */
  close(): void {
    for (const s of this.servers) s.close();
    // A handshake under way already holds its own copy of the key.
    for (const b of this.zeroOnClose) b.fill(0);
  }
}
