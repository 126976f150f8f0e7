// ekmd's Element JSON-RPC API over HTTPS with Basic auth. The TLS session is checked
// (CA chain, or the certificate's fingerprint: trust.ts) before the request carrying
// credentials is written to it; a first contact is settled before a password is asked for.
import { request, type IncomingMessage } from 'node:http';
import { connect as connectTcp, isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { Connection } from './credentials';
import { checkPresented, settleFirstContact, type TrustSources } from './trust';

export const API_PATH = '/json-rpc/12.3';
const TIMEOUT_MS = 120_000;
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** An error the API answered: printed as `xName: message`. */
export class ElementApiError extends Error {
  override name = 'ElementApiError';
  constructor(
    readonly elementName: string,
    message: string,
  ) {
    super(message);
  }
}

/** Anything that kept the call from getting an answer (network, TLS, HTTP status). */
export class ApiTransportError extends Error {
  override name = 'ApiTransportError';
}

export type JsonObject = Record<string, unknown>;

export class ApiClient {
  private nextId = 1;
  private password?: Promise<string>;
  /** The first contact's outcome: the fingerprint trusted for this run. */
  private trusted?: Promise<string | undefined>;

  constructor(
    private readonly conn: Connection,
    private readonly trust: TrustSources,
  ) {}

  get endpoint(): string {
    return `${this.conn.url.hostname}:${this.port}`;
  }

  private get port(): number {
    return this.conn.url.port ? Number(this.conn.url.port) : 443;
  }

  /**
   * True when nothing listens at ekmd's address (connection refused): ekmd is down, and
   * offline readers of its store may take over. Asks for no password and sends nothing.
   */
  refused(timeoutMs = 3000): Promise<boolean> {
    const host = this.conn.url.hostname.replace(/^\[(.*)\]$/, '$1');
    return new Promise((resolve) => {
      const socket = connectTcp({ host, port: this.port });
      const done = (refused: boolean) => {
        socket.destroy();
        resolve(refused);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once('connect', () => done(false));
      socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
    });
  }

  async call<T = JsonObject>(method: string, params: JsonObject = {}): Promise<T> {
    const settled = await this.trustOnce();
    const password = await this.passwordOnce();
    const socket = await this.secureSocket(settled);
    const body = JSON.stringify({ method, params, id: this.nextId++ });
    const res = await this.post(socket, body, password);
    const text = await readAll(res);
    if (res.statusCode === 401) {
      throw new ApiTransportError(
        `ekmd at ${this.conn.url.origin} refused the credentials of user '${this.conn.username}' ` +
          '(HTTP 401 Unauthorized): check the username and password',
      );
    }
    if (res.statusCode !== 200) {
      const line = text.split('\n')[0].slice(0, 200);
      throw new ApiTransportError(`ekmd answered HTTP ${res.statusCode}: ${line}`);
    }
    let reply: { result?: unknown; error?: { name?: string; message?: string } };
    try {
      reply = JSON.parse(text) as typeof reply;
    } catch {
      throw new ApiTransportError('ekmd answered with something that is not JSON');
    }
    if (reply.error) {
      throw new ElementApiError(reply.error.name ?? 'xUnknown', reply.error.message ?? '');
    }
    return reply.result as T;
  }

  /**
   * Without a CA, a certificate not pinned yet (or a --fingerprint to check) is looked at
   * over a connection that carries nothing, and settled before any password is asked for.
   */
  private trustOnce(): Promise<string | undefined> {
    this.trusted ??= (async () => {
      if (this.conn.ca) return undefined;
      const pinned = this.trust.pins.pinned(this.endpoint);
      if (pinned !== undefined && this.trust.expected === undefined) return undefined;
      const probe = await this.secureSocket(undefined, false);
      const fingerprint = probe.getPeerCertificate().fingerprint256;
      probe.destroy();
      await settleFirstContact(this.endpoint, fingerprint, this.trust);
      return fingerprint;
    })();
    return this.trusted;
  }

  private secureSocket(settled: string | undefined, check = true): Promise<TLSSocket> {
    const { hostname } = this.conn.url;
    const host = hostname.replace(/^\[(.*)\]$/, '$1');
    return new Promise((resolve, reject) => {
      const socket = connect({
        host,
        port: this.port,
        ...(isIP(host) ? {} : { servername: host }),
        minVersion: 'TLSv1.2',
        // With a CA the chain and name are verified; without one the fingerprint is.
        ...(this.conn.ca ? { ca: this.conn.ca } : { rejectUnauthorized: false }),
      });
      socket.setTimeout(TIMEOUT_MS, () =>
        socket.destroy(new ApiTransportError(`no answer from ekmd at ${this.endpoint}`)),
      );
      socket.once('error', (err) => reject(this.describe(err)));
      socket.once('secureConnect', () => {
        if (!this.conn.ca && check) {
          try {
            const fingerprint = socket.getPeerCertificate().fingerprint256;
            checkPresented(this.endpoint, fingerprint, this.trust, settled);
          } catch (err) {
            socket.destroy();
            return reject(err);
          }
        }
        resolve(socket);
      });
    });
  }

  /** The password, asked for at most once (before connecting: typing may take a while). */
  private passwordOnce(): Promise<string> {
    const source = this.conn.password;
    this.password ??= typeof source === 'string' ? Promise.resolve(source) : source();
    return this.password;
  }

  private post(socket: TLSSocket, body: string, password: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const auth = Buffer.from(`${this.conn.username}:${password}`).toString('base64');
      const req = request(
        {
          createConnection: () => socket,
          host: this.conn.url.host,
          path: API_PATH,
          method: 'POST',
          headers: {
            authorization: `Basic ${auth}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        resolve,
      );
      req.once('error', (err) => reject(this.describe(err)));
      req.end(body);
    });
  }

  private describe(err: Error): Error {
    if (err instanceof ApiTransportError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    const where = `ekmd at ${this.conn.url.origin}`;
    if (code === 'ECONNREFUSED')
      return new ApiTransportError(`cannot connect to ${where}: connection refused`);
    if (code === 'ENOTFOUND')
      return new ApiTransportError(`cannot resolve ${this.conn.url.hostname}`);
    if (code?.startsWith('ERR_TLS') || /certificate|self.signed|altname/i.test(err.message)) {
      return new ApiTransportError(
        `the TLS certificate of ${where} is not trusted: ${err.message}`,
      );
    }
    return new ApiTransportError(`cannot reach ${where}: ${err.message}`);
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REPLY_BYTES) res.destroy(new ApiTransportError('ekmd reply too large'));
      else chunks.push(c);
    });
    res.once('end', () => {
      res.socket?.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    res.once('error', reject);
  });
}
