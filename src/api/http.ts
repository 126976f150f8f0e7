// HTTPS front: route /json-rpc[/<version>], authenticate, read a bounded body, hand it to
// the dispatcher and write the JSON reply. JSON-RPC errors travel with HTTP 200 (Element's
// clients read the body whatever the status); only 401, 404, 405 and 413 use HTTP status,
// and 429 and 503 (with Retry-After) when login attempts are throttled.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { BasicAuth } from './auth';
import type { Dispatcher } from './dispatcher';
import { replyPieces } from './shared-json';
import { versionOfPath } from './versions';

export const MAX_BODY_BYTES = 1024 * 1024;
const DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES;

export function requestHandler(auth: BasicAuth, dispatcher: Dispatcher, logger?: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err) => {
      if (req.destroyed) return; // the client went away mid-request
      logger?.error({ err }, 'API request failed');
      if (!res.headersSent) sendText(res, 500, '500 Internal Server Error.');
      else res.destroy();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (versionOfPath(path) === undefined) return discard(req, res, 404, '404 Not Found.');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return discard(req, res, 405, '405 Method Not Allowed.');
    }
    const client = req.socket.remoteAddress ?? 'unknown';
    const admission = await auth.admit(req.headers.authorization, client);
    if ('throttled' in admission) {
      res.setHeader('Retry-After', String(admission.retryAfterS));
      const text = admission.throttled === 429 ? 'Too Many Requests' : 'Service Unavailable';
      return discard(req, res, admission.throttled, `${admission.throttled} ${text}.`);
    }
    if (!('user' in admission)) {
      res.setHeader('WWW-Authenticate', 'Basic realm="ekmd"');
      return discard(req, res, 401, '401 Unauthorized.');
    }
    const { user } = admission;
    const tooLargeToDrain = Number(req.headers['content-length'] ?? 0) > DRAIN_LIMIT_BYTES;
    if (tooLargeToDrain) res.setHeader('Connection', 'close');
    const body = tooLargeToDrain ? undefined : await readBody(req);
    if (body === undefined) {
      return sendJson(res, 413, {
        id: null,
        error: {
          code: 500,
          name: 'xRequestTooLarge',
          message: `The request body exceeds ${MAX_BODY_BYTES} bytes.`,
        },
      });
    }
    sendJson(res, 200, await dispatcher.dispatch(body, { user, remoteAddress: client }));
  }
}

/**
 * The body as text, or undefined when it exceeds MAX_BODY_BYTES. An oversized body is
 * still read to its end (and dropped) so the client gets our answer instead of a reset;
 * beyond DRAIN_LIMIT_BYTES the connection is cut.
 */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else if (size > DRAIN_LIMIT_BYTES) req.destroy();
    });
    req.on('end', () =>
      resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
    req.on('close', () => reject(new Error('request closed before its end')));
  });
}

/** Replies without using the body; one too large to drain closes the connection. */
function discard(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
  if (Number(req.headers['content-length'] ?? 0) > DRAIN_LIMIT_BYTES) {
    res.setHeader('Connection', 'close');
  } else req.resume();
  sendText(res, status, text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

function sendJson(res: ServerResponse, status: number, reply: unknown): void {
  const pieces = replyPieces(reply);
  const length = pieces.reduce((n, p) => n + p.length, 0);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': length });
  writeInPieces(res, pieces);
}

/**
 * A large reply goes out up to WRITE_PIECE_BYTES at a time, each once the last has left
 * for the socket. Written whole, TLS would encrypt it at once and hold the ciphertext until
 * a slow client had read it all: with many clients listing many key servers that was most
 * of the daemon's memory. The reply's own pieces (shared ones among them) are written as
 * they are, only cut where one spans a boundary.
 */
export function writeInPieces(res: Writable, pieces: readonly Buffer[]): void {
  let index = 0; // the next byte to write is pieces[index][offset]
  let offset = 0;
  const next = (): void => {
    for (;;) {
      let room = WRITE_PIECE_BYTES;
      let flowing = true;
      res.cork();
      while (index < pieces.length && room > 0) {
        const piece = pieces[index]!;
        const take = Math.min(room, piece.length - offset);
        const whole = offset === 0 && take === piece.length;
        if (take > 0) flowing = res.write(whole ? piece : piece.subarray(offset, offset + take));
        room -= take;
        offset += take;
        if (offset === piece.length) {
          index++;
          offset = 0;
        }
      }
      if (index === pieces.length) res.end();
      res.uncork();
      if (index === pieces.length) return;
      if (!flowing) return void res.once('drain', next);
    }
  };
  next();
}

export const WRITE_PIECE_BYTES = 64 * 1024;
