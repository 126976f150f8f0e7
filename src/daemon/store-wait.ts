// A start whose store does not answer. The drives do not wait for it (the early unlock ran
// from key-plan.json); the store is tried again on a capped, jittered backoff, each failure
// logged with where the store is, until it opens or the daemon is stopped. Only "cannot
// answer now" (StoreUnavailableError: etcd unreachable, quorum lost, a deadline passed) is
// waited out: a corrupt or foreign store, a wrong prefix or refused access still end the
// start. Meanwhile the API's address answers every request with 503 and a JSON-RPC error
// saying why (waitingApi), rather than refusing connections, and READY=1 goes out once the
// early unlock's pass is over (AwaitingStore; boot.ts says why).
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { API_LIMITS, capConnections, TIMEOUT_CHECK_INTERVAL_MS } from '../api/connection-limits';
import { Backoff } from '../cluster/backoff';
import { StoreUnavailableError } from '../store/errors';
import type { EarlyOutcome } from '../cluster/boot-unlock/early-unlock';
import type { Store } from '../store/store';
import type { ListenAddress } from './config';
import type { Notifier } from './notify';

/** Attempts stop when `stopped` settles; undefined then. */
export async function openStoreWhenReachable(
  open: () => Promise<Store>,
  opts: {
    maxDelayMs: number;
    logger: Logger;
    /** Called once, at the first failure that is waited out. */
    onWaiting: (err: Error) => void;
    stopped: Promise<unknown>;
  },
): Promise<Store | undefined> {
  const backoff = new Backoff(opts.maxDelayMs);
  let stop = false;
  void opts.stopped.then(() => (stop = true));
  const stoppedOr = <T>(p: Promise<T>) => Promise.race([p, opts.stopped.then(() => undefined)]);
  for (let attempt = 1; ; attempt++) {
    try {
      const opening = open();
      const store = await stoppedOr(opening);
      if (!store) {
        void opening.then((late) => late.close()).catch(() => undefined);
        return undefined;
      }
      if (attempt > 1) opts.logger.info({ attempts: attempt }, 'cluster store open');
      return store;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (attempt === 1) opts.onWaiting(err);
      const retryInMs = Math.round(backoff.next());
      opts.logger.warn(
        { reason: err.message, attempt, retryInMs },
        'cluster store not reachable; retrying (the drives do not wait for it)',
      );
      await stoppedOr(new Promise((resolve) => setTimeout(resolve, retryInMs).unref()));
    }
    if (stop) return undefined;
  }
}

export interface WaitingApi {
  address: ListenAddress;
  close(): Promise<void>;
}

/** The error every request gets while the store cannot be opened. */
export const STORE_UNAVAILABLE = {
  code: 503,
  name: 'xClusterStoreUnavailable',
  message:
    'ekmd has not reached its cluster store yet and keeps trying; the drives were unlocked ' +
    'from the key plan. The API answers once the store is open.',
};

const RETRY_AFTER_S = 5;

/** Listens at `listen` with `tls`; every request gets STORE_UNAVAILABLE. */
export async function waitingApi(
  listen: ListenAddress,
  tls: { cert: string; key: Buffer },
  logger: Logger,
): Promise<WaitingApi> {
  const server = createServer(
    {
      cert: tls.cert,
      key: tls.key,
      minVersion: 'TLSv1.2',
      handshakeTimeout: API_LIMITS.handshakeTimeoutMs,
      headersTimeout: API_LIMITS.headersTimeoutMs,
      requestTimeout: API_LIMITS.requestTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    (req, res) => {
      req.resume(); // the body is not read: the answer does not depend on it
      const body = Buffer.from(JSON.stringify({ id: null, error: STORE_UNAVAILABLE }));
      res.writeHead(503, {
        'Content-Type': 'application/json',
        'Content-Length': body.length,
        'Retry-After': String(RETRY_AFTER_S),
        Connection: 'close',
      });
      res.end(body);
    },
  );
  capConnections(server, API_LIMITS, logger);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  logger.info({ host: address, port }, 'API answers "store unavailable" until the store opens');
  return {
    address: { host: address, port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sends READY=1 (with its STATUS= line and the watchdog) once, whoever asks first. */
export class Readiness {
  private sent = false;

  constructor(private readonly notifier: Notifier) {}

  get done(): boolean {
    return this.sent;
  }

  ready(status?: string): void {
    if (this.sent) return;
    this.sent = true;
    if (status) this.notifier.status(status);
    this.notifier.startWatchdog();
    this.notifier.ready();
  }
}

/** What a start does while its store is awaited; begin() at most once, end() always. */
export class AwaitingStore {
  private api: Promise<WaitingApi | undefined> | undefined;
  private ended = false;

  constructor(
    private readonly deps: {
      readiness: Readiness;
      /** Where the API will listen. */
      listen: ListenAddress;
      /** The API's TLS identity; the key is zeroed once the server holds it. */
      identity: () => Promise<{ cert: string; key: Buffer }>;
      /** The early unlock's pass, if one runs. */
      early?: Promise<EarlyOutcome>;
      logger: Logger;
    },
  ) {}

  /** The API answers "store unavailable"; READY=1 once it listens and the early pass is over. */
  begin(): void {
    if (this.api || this.ended) return;
    const { deps } = this;
    this.api = deps
      .identity()
      .then((id) => waitingApi(deps.listen, id, deps.logger).finally(() => id.key.fill(0)))
      .catch((err: unknown) => {
        deps.logger.warn({ err: (err as Error).message }, 'no API while the store is awaited');
        return undefined;
      });
    // After the API listens too: what READY=1 orders after ekmd may then call it.
    void Promise.all([deps.early, this.api]).then(([pass]) => {
      if (this.ended) return;
      const unlocked = pass ? pass.unlocked.length + pass.foundUnlocked.length : 0;
      deps.readiness.ready(`${unlocked} drives unlocked from the key plan; waiting for the store`);
      deps.logger.warn(
        { unlocked },
        'ready without the cluster store: drives unlocked from the key plan, the API waits',
      );
    });
  }

  /** Where the waiting API listens, once it does; undefined when it does not. */
  async listening(): Promise<ListenAddress | undefined> {
    return (await this.api)?.address;
  }

  /** The store is open (or the start is over): the waiting API closes. Where it listened. */
  async end(): Promise<ListenAddress | undefined> {
    this.ended = true;
    const api = await this.api;
    await api?.close();
    return api?.address;
  }
}
