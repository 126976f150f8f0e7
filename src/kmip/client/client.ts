// A client for one key server: several hostnames for the same server, tried in order
// with recently failed ones last; one reused connection; version negotiated per endpoint
// (or, for a server the caller remembers, taken as last negotiated until it refuses it).
import type { Logger } from 'pino';
import { ResultReason, type KmipVersion } from '../ttlv';
import { CLIENT_VERSIONS, V1_0, V1_1, formatVersion, ops, type BatchOp } from '../messages';
import { runBatch, type BatchOutcome } from './batch';
import { KmipConnection, abandoned, formatEndpoint, type TlsInfo } from './connection';
import { KmipError } from './errors';
import { FailureMemory } from './failures';
import { observingKmipRequests, operationLabel, reportKmipRequest } from './observer';
import { KmipOperations } from './operations';

export const KMIP_PORT = 5696;

export interface KmipServerOptions {
  /** Names or addresses of the same key server, tried in order. */
  hostnames: string[];
  port?: number;
  /** CA certificates (PEM; one string may hold several). */
  ca: string | string[];
  /** Client certificate (PEM) and its private key (PEM; as a Buffer it can be zeroed after). */
  cert: string;
  key: string | Buffer;
  /** DNS + TCP + TLS per endpoint. Default 3000. */
  connectTimeoutMs?: number;
  /** Per request message. Default 10000. */
  requestTimeoutMs?: number;
  /** Pin a version: no Discover Versions. */
  version?: KmipVersion;
  /** Versions offered in Discover Versions, preferred first. Default 1.4 … 1.0. */
  versions?: readonly KmipVersion[];
  /**
   * The version this server settled on before (the caller remembers it): used without a
   * Discover Versions round trip. If the server refuses a message in it, the version is
   * negotiated and the message sent once more.
   */
  knownVersion?: KmipVersion;
  /** Told each version a Discover Versions settles on, for the caller to remember. */
  onNegotiated?: (version: KmipVersion) => void;
  /** How long a failed endpoint goes to the back of the line. Default 30000. */
  failureMemoryMs?: number;
  /** Largest response accepted. Default 4 MiB. */
  maxResponseBytes?: number;
  logger?: Logger;
}

function validate(o: KmipServerOptions): void {
  const bad = (msg: string): never => {
    throw new KmipError('config', msg);
  };
  if (!Array.isArray(o.hostnames) || o.hostnames.length === 0) bad('hostnames must not be empty');
  for (const h of o.hostnames) {
    if (typeof h !== 'string' || h.length === 0 || h.length > 253 || /[\s/]/.test(h)) {
      bad(`invalid hostname ${JSON.stringify(h)}`);
    }
  }
  const port = o.port ?? KMIP_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) bad(`invalid port ${String(o.port)}`);
  const cas = Array.isArray(o.ca) ? o.ca : [o.ca];
  if (cas.length === 0 || cas.some((c) => !/-----BEGIN CERTIFICATE-----/.test(c))) {
    bad('ca must be PEM certificates');
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(o.cert)) bad('cert must be a PEM certificate');
  if (!isPemPrivateKey(o.key)) bad('key must be a PEM private key');
  for (const t of [o.connectTimeoutMs, o.requestTimeoutMs]) {
    if (t !== undefined && (!Number.isFinite(t) || t <= 0)) bad('timeouts must be positive');
  }
}

/** Checked without making a string of a Buffer: a string could not be zeroed. */
function isPemPrivateKey(key: string | Buffer): boolean {
  if (typeof key === 'string') return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key);
  const begin = key.indexOf('-----BEGIN ');
  const end = key.indexOf('PRIVATE KEY-----', begin);
  return begin !== -1 && end !== -1 && end - begin <= 40;
}

export class KmipClient extends KmipOperations {
  private readonly opts: KmipServerOptions;
  private readonly port: number;
  private readonly failures: FailureMemory;
  private readonly versions = new Map<string, KmipVersion>();
  /** Endpoints using knownVersion that have not yet answered a message in it. */
  private readonly assumed = new Set<string>();
  private knownVersionRefused = false;
  private conn: KmipConnection | undefined;
  private connecting: Promise<KmipConnection> | undefined;
  /** A connection attempt started ahead of the request that will take it. */
  private early: Promise<KmipConnection> | undefined;
  /** Aborted by close(): the attempts under way are abandoned, their sockets destroyed. */
  private attempts = new AbortController();

  constructor(opts: KmipServerOptions) {
    super();
    validate(opts);
    this.opts = { ...opts, ca: Array.isArray(opts.ca) ? [...opts.ca] : [opts.ca] };
    this.port = opts.port ?? KMIP_PORT;
    this.failures = new FailureMemory(opts.failureMemoryMs ?? 30_000);
  }

  /** Endpoint names, "host:port", in configured order. */
  get endpoints(): string[] {
    return this.opts.hostnames.map((h) => formatEndpoint(h, this.port));
  }

  /** TLS parameters of the open connection, if any. */
  get tlsInfo(): TlsInfo | undefined {
    return this.conn?.open ? this.conn.tls : undefined;
  }

  async batch<T extends readonly BatchOp<unknown>[]>(batch: T): Promise<BatchOutcome<T>> {
    if (!observingKmipRequests()) return this.exchange(batch);
    const started = performance.now();
    const operation = operationLabel(batch);
    try {
      const out = await this.exchange(batch);
      const result = out.results.every((r) => r.ok) ? 'ok' : 'partial';
      const ms = performance.now() - started;
      reportKmipRequest({ endpoint: out.endpoint, operation, ms, result });
      return out;
    } catch (err) {
      const endpoint =
        (err instanceof KmipError && err.endpoint?.split(',').pop()) || this.endpoints[0]!;
      const ms = performance.now() - started;
      reportKmipRequest({ endpoint, operation, ms, result: 'failed' });
      throw err;
    }
  }

  private async exchange<T extends readonly BatchOp<unknown>[]>(
    batch: T,
  ): Promise<BatchOutcome<T>> {
    const timeout = this.opts.requestTimeoutMs ?? 10_000;
    const started = performance.now();
    let conn = await this.takeConnection();
    // A connection that served before may have been closed by the server or a load
    // balancer while idle: reconnect once, transparently.
    const reused = conn.exchanges > 0;
    const version = await this.version(conn);
    let results;
    try {
      results = await runBatch(conn, version, batch, timeout);
    } catch (err) {
      if (this.assumed.has(conn.endpoint) && refusesVersion(err)) {
        this.opts.logger?.debug(
          { endpoint: conn.endpoint, version: formatVersion(version), err: (err as Error).message },
          'kmip version refused; negotiating',
        );
        this.knownVersionRefused = true;
        this.assumed.delete(conn.endpoint);
        this.versions.delete(conn.endpoint);
        if (!conn.open) conn = await this.connection();
        results = await runBatch(conn, await this.version(conn), batch, timeout);
        return { endpoint: conn.endpoint, version: this.versions.get(conn.endpoint)!, results };
      }
      if (!(err instanceof KmipError) || !reused || !isIdleClose(err)) throw err;
      this.opts.logger?.debug(
        { endpoint: conn.endpoint },
        'kmip connection was closed; reconnecting',
      );
      conn = await this.connection();
      results = await runBatch(conn, await this.version(conn), batch, timeout);
    }
    this.assumed.delete(conn.endpoint); // it answered in that version
    this.opts.logger?.debug(
      { endpoint: conn.endpoint, items: batch.length, ms: Math.round(performance.now() - started) },
      'kmip batch',
    );
    return {
      endpoint: conn.endpoint,
      version: this.versions.get(conn.endpoint) ?? version,
      results,
    };
  }

  /** The version used with the endpoint: pinned, or negotiated once per endpoint. */
  async version(conn: KmipConnection): Promise<KmipVersion> {
    if (this.opts.version) return this.opts.version;
    const known = this.versions.get(conn.endpoint);
    if (known) return known;
    if (this.opts.knownVersion && !this.knownVersionRefused) {
      this.versions.set(conn.endpoint, this.opts.knownVersion);
      this.assumed.add(conn.endpoint);
      return this.opts.knownVersion;
    }
    const offered = this.opts.versions ?? CLIENT_VERSIONS;
    let chosen: KmipVersion;
    const [r] = await runBatch(conn, V1_1, [ops.discoverVersions(offered)], this.timeout());
    if (r.ok) {
      // The first of OUR list that the server also speaks.
      const found = offered.find((v) =>
        r.value.some((s) => s.major === v.major && s.minor === v.minor),
      );
      if (!found) {
        throw new KmipError(
          'response',
          `no common KMIP version (server speaks ${r.value.map(formatVersion).join(', ') || 'none of ours'})`,
          {
            endpoint: conn.endpoint,
          },
        );
      }
      chosen = found;
    } else if (r.error.resultReason === ResultReason.OperationNotSupported) {
      chosen = V1_0; // Discover Versions was added in 1.1
    } else {
      throw r.error;
    }
    this.versions.set(conn.endpoint, chosen);
    this.opts.logger?.debug(
      { endpoint: conn.endpoint, version: formatVersion(chosen) },
      'kmip version',
    );
    try {
      this.opts.onNegotiated?.(chosen);
    } catch (err) {
      // Remembering is an optimisation: the next start negotiates again.
      this.opts.logger?.warn(
        { err: (err as Error).message },
        'could not remember the KMIP version',
      );
    }
    return chosen;
  }

  /** Open (or reuse) a connection, negotiating the version; report which endpoint answered. */
  async connect(): Promise<{ endpoint: string; version: KmipVersion; tls: TlsInfo }> {
    const conn = await this.connection();
    return { endpoint: conn.endpoint, version: await this.version(conn), tls: conn.tls };
  }

  /**
   * Start connecting (TCP, TLS, version) now, for a request that follows: the next batch()
   * takes this attempt — its connection, or its failure — instead of connecting again.
   */
  preconnect(): void {
    if (this.conn?.open || this.early) return;
    this.early = this.connection();
    this.early.catch(() => undefined); // the batch that takes it reports the failure
  }

  /**
   * Connected, in a settled version, ready for a request: takes a preconnect's attempt (its
   * failure is this call's). `handshakeMs`: how long that connection took to make.
   */
  async ready(): Promise<{ endpoint: string; handshakeMs: number }> {
    const conn = await this.takeConnection();
    await this.version(conn);
    return { endpoint: conn.endpoint, handshakeMs: conn.tls.handshakeMs };
  }

  /** Closes the connection and abandons any attempt under way; the client may connect again. */
  close(): void {
    this.attempts.abort();
    this.attempts = new AbortController();
    this.early = undefined;
    this.conn?.close();
    this.conn = undefined;
  }

  private timeout(): number {
    return this.opts.requestTimeoutMs ?? 10_000;
  }

  private async takeConnection(): Promise<KmipConnection> {
    const early = this.early;
    this.early = undefined;
    if (early) await early; // its failure is this request's (no second attempt, no second wait)
    return this.connection();
  }

  private connection(): Promise<KmipConnection> {
    if (this.conn?.open) return Promise.resolve(this.conn);
    // Concurrent callers share one connection attempt (until close() abandons it).
    if (!this.connecting) {
      const attempt = this.openAny(this.attempts.signal).finally(() => {
        if (this.connecting === attempt) this.connecting = undefined;
      });
      this.connecting = attempt;
    }
    return this.connecting;
  }

  private async openAny(signal: AbortSignal): Promise<KmipConnection> {
    const attempts: KmipError[] = [];
    for (const host of this.failures.order(this.opts.hostnames, (h) =>
      formatEndpoint(h, this.port),
    )) {
      const endpoint = formatEndpoint(host, this.port);
      try {
        const conn = await KmipConnection.open({
          host,
          port: this.port,
          ca: this.opts.ca as string[],
          cert: this.opts.cert,
          key: this.opts.key,
          connectTimeoutMs: this.opts.connectTimeoutMs ?? 3000,
          maxResponseBytes: this.opts.maxResponseBytes ?? 4 * 1024 * 1024,
          signal,
          ...(this.opts.logger ? { logger: this.opts.logger } : {}),
        });
        // Abandoned while the version is negotiated: the connection is closed, not kept.
        const onAbort = (): void => conn.close();
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          await this.version(conn);
        } catch (err) {
          conn.close();
          throw err;
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
        if (signal.aborted) throw abandoned('response', endpoint);
        this.failures.succeeded(endpoint);
        this.conn = conn;
        return conn;
      } catch (err) {
        // Given up on purpose: no failure of the endpoint's, and no other endpoint tried.
        if (signal.aborted)
          throw abandoned(err instanceof KmipError ? err.stage : 'connect', endpoint);
        const e =
          err instanceof KmipError ? err : new KmipError('connect', String(err), { endpoint });
        this.failures.failed(endpoint);
        this.opts.logger?.warn(
          { endpoint, stage: e.stage, err: e.message },
          'kmip endpoint failed',
        );
        attempts.push(e);
      }
    }
    throw combine(attempts);
  }
}

/** One failure as is; several as one error listing each (stage of the last). */
export function combine(attempts: KmipError[]): KmipError {
  if (attempts.length === 1) return attempts[0]!;
  const last = attempts[attempts.length - 1]!;
  return new KmipError(
    last.stage,
    `all ${attempts.length} endpoints failed: ${attempts.map((a) => a.message).join('; ')}`,
    {
      endpoint: attempts.map((a) => a.endpoint).join(','),
      resultReason: last.resultReason,
      code: last.code,
      timedOut: last.timedOut,
      attempts,
    },
  );
}

/**
 * A failure of the whole message that a server not speaking its version gives: refused as
 * an invalid message or unsupported version, or the connection dropped or answered with
 * something we cannot parse (not a timeout: a stalled server is not asked twice).
 */
function refusesVersion(err: unknown): boolean {
  if (!(err instanceof KmipError) || err.timedOut) return false;
  if (err.stage === 'response') return true;
  return (
    err.resultReason === ResultReason.InvalidMessage ||
    err.resultReason === ResultReason.UnsupportedProtocolVersion
  );
}

function isIdleClose(err: KmipError): boolean {
  return (
    err.stage === 'response' &&
    !err.timedOut &&
    (/closed by the server/.test(err.message) || err.code === 'ECONNRESET' || err.code === 'EPIPE')
  );
}
