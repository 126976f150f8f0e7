// Asks a peer for its key share over mutual TLS: this node presents its link certificate,
// and takes the answer only from the peer whose certificate the cluster recorded.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { NodeLinkAddress } from '../nodes/node-records';
import type { TlsIdentity } from '../self-signed';
import { isCertificate } from './link-identity';
import { SHARE_PATH } from './share-path';

// Loaded when a share is first asked for: most boots never ask, and node:https (with
// node's HTTP server and client) costs milliseconds to load before a boot's key request.
const https = (): typeof import('node:https') =>
  require('node:https') as typeof import('node:https');

const MAX_ANSWER_BYTES = 4096;

/** Why a peer gave no share: the message names the peer, never a share. */
export class PeerShareError extends Error {
  override name = 'PeerShareError';
  constructor(
    readonly reason: 'unreachable' | 'untrusted' | 'refused' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

export interface PeerEndpoint extends NodeLinkAddress {
  host: string;
}

const zeroChunk = (chunk: Buffer): void => void chunk.fill(0);

/** The peer's share of `generation`; the caller zeroes it. */
export function fetchPeerShare(
  peer: PeerEndpoint,
  own: TlsIdentity,
  generation: number,
  timeoutMs = 5000,
): Promise<Buffer> {
  const where = `${peer.host}:${peer.port}`;
  return new Promise((resolve, reject) => {
    // Every piece of the answer is zeroed on every way out; one arriving once the promise
    // is settled is zeroed at once.
    const chunks: Buffer[] = [];
    let settled = false;
    let response: IncomingMessage | undefined;
    const fail = (err: PeerShareError) => {
      for (const c of chunks) c.fill(0);
      req.destroy();
      // Destroying the request drops the response's 'data' listeners and lets what it has
      // buffered flow on: those pieces are zeroed too.
      if (response && !response.listenerCount('data')) response.on('data', zeroChunk);
      if (settled) return;
      settled = true;
      reject(err);
    };
    const req = https().request(
      {
        host: peer.host,
        port: peer.port,
        path: `${SHARE_PATH}?generation=${generation}`,
        method: 'GET',
        cert: own.cert,
        key: own.key,
        // The peer's certificate is self-signed: it is compared with its record below.
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        response = res;
        const raw = (res.socket as TLSSocket).getPeerCertificate().raw;
        if (!raw || !isCertificate(peer.certificate, raw)) {
          return fail(
            new PeerShareError(
              'untrusted',
              `${where} presented another certificate than its node's`,
            ),
          );
        }
        // Cut off mid-answer: the response ends without 'end', and the request says nothing.
        const cut = () => fail(new PeerShareError('unreachable', `${where}: answer cut off`));
        res.on('aborted', cut);
        res.on('error', cut);
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (settled) return zeroChunk(chunk);
          size += chunk.length;
          chunks.push(chunk);
          if (size > MAX_ANSWER_BYTES)
            fail(new PeerShareError('refused', `${where}: answer too long`));
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          const body = Buffer.concat(chunks);
          for (const c of chunks) c.fill(0);
          if (res.statusCode === 200) return resolve(body);
          const text = res.headers['content-type'] === 'application/json' ? body.toString() : '';
          body.fill(0);
          let detail = `HTTP ${res.statusCode}`;
          try {
            const { name, message } = JSON.parse(text) as { name: string; message: string };
            detail = `${name}: ${message}`;
          } catch {
            // not a JSON answer: the status says enough
          }
          reject(new PeerShareError('refused', `${where} refused the key share (${detail})`));
        });
      },
    );
    req.on('timeout', () => fail(new PeerShareError('timeout', `${where} did not answer in time`)));
    req.on('error', (err) => fail(new PeerShareError('unreachable', `${where}: ${err.message}`)));
    req.end();
  });
}
