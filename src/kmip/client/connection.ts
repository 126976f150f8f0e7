// One mutual-TLS connection to one KMIP endpoint: resolve, connect, handshake (each
// failure named by stage), then exchange whole messages one at a time.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { KmipError, stageOfTlsError, type KmipStage } from './errors';
import { FrameReader } from './framing';

export interface TlsMaterial {
  /** CA certificates (PEM) the server must chain to. */
  ca: string[];
  /** Client certificate (PEM, may include its chain) and private key (PEM). */
  cert: string;
  key: string | Buffer;
}

export interface ConnectionOptions extends TlsMaterial {
  host: string;
  port: number;
  connectTimeoutMs: number;
  maxResponseBytes: number;
  /** Abandons the attempt (the socket destroyed at once): another server won the race. */
  signal?: AbortSignal;
  logger?: Logger;
}

/** What the handshake settled on, for `ekmctl kmip probe`. */
export interface TlsInfo {
  protocol: string | null;
  cipher: string;
  address: string;
  handshakeMs: number;
}

interface Pending {
  resolve(buf: Buffer): void;
  reject(err: KmipError): void;
  timer: NodeJS.Timeout;
}

export class KmipConnection {
  readonly endpoint: string;
  readonly tls: TlsInfo;
  /** Completed request/response exchanges on this connection. */
  exchanges = 0;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closedBy: KmipError | undefined;

  private constructor(
    private readonly socket: TLSSocket,
    endpoint: string,
    tls: TlsInfo,
    private readonly reader: FrameReader,
    private readonly logger: Logger | undefined,
  ) {
    this.endpoint = endpoint;
    this.tls = tls;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(
        new KmipError(stageOfTlsError(err, 'response'), err.message, {
          endpoint,
          code: err.code,
        }),
      ),
    );
    socket.on('close', () => this.fail(this.closedError()));
  }

  /** Resolve, connect and handshake within connectTimeoutMs. */
  static async open(opts: ConnectionOptions): Promise<KmipConnection> {
    const endpoint = formatEndpoint(opts.host, opts.port);
    const started = performance.now();
    const deadline = started + opts.connectTimeoutMs;
    if (opts.signal?.aborted) throw abandoned('connect', endpoint);
    let address = opts.host;
    if (isIP(opts.host) === 0) {
      try {
        address = (await withTimeout(lookup(opts.host), opts.connectTimeoutMs, opts.signal))
          .address;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (opts.signal?.aborted) throw abandoned('dns', endpoint);
        throw new KmipError('dns', `cannot resolve ${opts.host}: ${e.code ?? e.message}`, {
          endpoint,
          code: e.code,
          timedOut: e.code === 'ETIMEDOUT',
        });
      }
    }
    const socket = await handshake(opts, address, endpoint, deadline - performance.now());
    const cipher = socket.getCipher();
    const tls: TlsInfo = {
      protocol: socket.getProtocol(),
      cipher: cipher.standardName ?? cipher.name,
      address,
      handshakeMs: performance.now() - started,
    };
    opts.logger?.debug({ endpoint, protocol: tls.protocol, cipher: tls.cipher }, 'kmip connected');
    return new KmipConnection(
      socket,
      endpoint,
      tls,
      new FrameReader(opts.maxResponseBytes),
      opts.logger,
    );
  }

  /** Still usable: not closed by either side. */
  get open(): boolean {
    return this.closedBy === undefined && !this.socket.destroyed;
  }

  /**
   * Send one request message and resolve with the response message. Requests on one
   * connection are serialised. The request buffer is zeroed once written (it may carry a
   * key being registered); the caller zeroes the response after parsing it.
   */
  exchange(request: Buffer, timeoutMs: number): Promise<Buffer> {
    const run = (): Promise<Buffer> =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.closedBy) {
          request.fill(0);
          reject(this.closedBy);
          return;
        }
        const timer = setTimeout(() => {
          const err = new KmipError('response', `no response within ${timeoutMs} ms`, {
            endpoint: this.endpoint,
            timedOut: true,
          });
          // The stream position is unknown now: this connection cannot be reused.
          this.fail(err);
        }, timeoutMs);
        this.pending = { resolve, reject, timer };
        this.socket.write(request, () => request.fill(0));
      });
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Close politely; pending exchanges fail. */
  close(): void {
    this.fail(
      new KmipError('response', 'connection closed by the client', { endpoint: this.endpoint }),
    );
  }

  private closedError(): KmipError {
    // TLS 1.3 finishes the client's handshake before the server has checked the client
    // certificate; a server refusing it just closes, before any answer.
    if (this.exchanges === 0 && this.reader.pending === 0 && this.tls.protocol === 'TLSv1.3') {
      return new KmipError(
        'auth',
        'connection closed before the first answer: the server probably refused the client certificate',
        { endpoint: this.endpoint },
      );
    }
    return new KmipError('response', 'connection closed by the server', {
      endpoint: this.endpoint,
    });
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.fail(
        new KmipError('response', `malformed response: ${(err as Error).message}`, {
          endpoint: this.endpoint,
        }),
      );
      return;
    }
    for (const frame of frames) {
      const p = this.pending;
      if (!p) {
        frame.fill(0);
        this.fail(new KmipError('response', 'unsolicited message', { endpoint: this.endpoint }));
        return;
      }
      clearTimeout(p.timer);
      this.pending = undefined;
      this.exchanges++;
      p.resolve(frame);
    }
  }

  private fail(err: KmipError): void {
    if (!this.closedBy) {
      this.closedBy = err;
      this.logger?.debug(
        { endpoint: this.endpoint, stage: err.stage, reason: err.message },
        'kmip connection ended',
      );
    }
    this.reader.clear();
    this.socket.destroy();
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}

export function formatEndpoint(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function handshake(
  opts: ConnectionOptions,
  address: string,
  endpoint: string,
  timeoutMs: number,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    let stage: KmipStage = 'connect';
    const socket = connect({
      host: address,
      port: opts.port,
      // SNI only for names (RFC 6066 forbids IP literals); identity checked against the
      // configured host, not the address it resolved to.
      ...(isIP(opts.host) === 0 ? { servername: opts.host } : {}),
      checkServerIdentity: (_host, cert) => checkServerIdentity(opts.host, cert),
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      minVersion: 'TLSv1.2',
    });
    // Request/response: Nagle would hold a message's last segment for a delayed ACK.
    socket.setNoDelay(true);
    const timer = setTimeout(
      () =>
        done(
          new KmipError(stage, `timed out after ${opts.connectTimeoutMs} ms`, {
            endpoint,
            timedOut: true,
          }),
        ),
      Math.max(0, timeoutMs),
    );
    const onAbort = (): void => done(abandoned(stage, endpoint));
    const done = (err?: KmipError): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.removeAllListeners('secureConnect');
      if (err) {
        socket.on('error', () => undefined);
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    socket.once('connect', () => (stage = 'tls'));
    socket.once('secureConnect', () => done());
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(new KmipError(stageOfTlsError(err, stage), err.message, { endpoint, code: err.code })),
    );
  });
}

/** The error of an attempt given up on purpose, at the stage it had reached. */
export function abandoned(stage: KmipStage, endpoint: string): KmipError {
  return new KmipError(stage, 'connection attempt abandoned', { endpoint });
}

function withTimeout<T>(p: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const stop = (e: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    };
    const onAbort = (): void => stop(new Error('abandoned'));
    const timer = setTimeout(
      () => stop(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      ms,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    p.then((v) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    }, stop);
  });
}
