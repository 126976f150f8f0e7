// A node serves its key share to its peers over mutual TLS: a peer that presents the link
// certificate recorded for an active node gets this node's share, anyone else gets nothing.
// The share leaves only in the TLS stream (never a string, zeroed once written); the
// answer's errors (the link's own names, not Element's API errors) say why, quoting nothing.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { StoreReader } from '../../store/store';
import type { NodeRecord } from '../nodes/node-records';
import type { TlsIdentity } from '../self-signed';
import { activeNodeWithCertificate } from './link-identity';
import { SHARE_PATH } from './share-path';

/** This node's share of the given generation for `requester`, or none; the server zeroes it. */
export type ShareSource = (requester: NodeRecord, generation: number) => Buffer | undefined;

export interface ShareServerOptions {
  store: StoreReader;
  identity: TlsIdentity;
  shares: ShareSource;
  logger?: Logger;
}

export class ShareServer {
  private readonly server: Server;

  /** Takes the identity's key into the TLS context and zeroes it. */
  constructor(private readonly options: ShareServerOptions) {
    const { identity } = options;
    this.server = createServer(
      {
        cert: identity.cert,
        key: identity.key,
        requestCert: true,
        // Peers' certificates are self-signed: each is checked against the active node
        // records below, not against a CA.
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
      },
      (req, res) => this.serve(req, res),
    );
    identity.key.fill(0);
  }

  /** Listens on `host`:`port` (0: any free port); resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://node');
    if (req.method !== 'GET' || url.pathname !== SHARE_PATH) {
      return answer(res, 404, 'notFound', 'No such resource.');
    }
    const generation = Number(url.searchParams.get('generation'));
    if (!Number.isSafeInteger(generation) || generation < 1) {
      return answer(res, 400, 'invalidParameter', 'generation must be a positive integer.');
    }
    const raw = (req.socket as TLSSocket).getPeerCertificate().raw;
    let requester: NodeRecord | undefined;
    try {
      requester = raw ? activeNodeWithCertificate(this.options.store, raw) : undefined;
    } catch (err) {
      this.options.logger?.warn({ err }, 'cannot read the active nodes to answer a peer');
      return answer(res, 503, 'storeUnavailable', 'The cluster store cannot answer.');
    }
    if (!requester) {
      this.options.logger?.warn(
        { from: req.socket.remoteAddress },
        'refused a key share to a peer that is not an active node',
      );
      return answer(res, 403, 'notActiveNode', 'The certificate is no active node’s.');
    }
    let share: Buffer | undefined;
    try {
      share = this.options.shares(requester, generation);
    } catch (err) {
      // Thrown in a request handler it would end the daemon: a peer's question must not.
      this.options.logger?.warn({ err: (err as Error).message }, 'cannot give a key share');
      return answer(res, 500, 'shareUnavailable', 'This node cannot give its key share.');
    }
    if (!share) return answer(res, 404, 'noKeyShare', `No key share of generation ${generation}.`);
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const sent = share;
    res.end(sent, () => sent.fill(0));
    this.options.logger?.info({ nodeID: requester.nodeID, generation }, 'served a key share');
  }
}

function answer(res: ServerResponse, status: number, name: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ name, message }));
}
