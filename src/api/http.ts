// HTTPS front: route /json-rpc[/<version>], authenticate, read a bounded body, hand it to
// the dispatcher and write the JSON reply. JSON-RPC errors travel with HTTP 200 (Element's
// clients read the body whatever the status); only 401, 404, 405 and 413 use HTTP status,
// and 429 and 503 (with Retry-After) when login attempts are throttled.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { BasicAuth } from './auth';
import type { Dispatcher } from './dispatcher';
import { inPieces, isSmallJson, jsonPieces, WRITE_PIECE_BYTES } from './json-pieces';
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
    const reply = await dispatcher.dispatch(body, { user, remoteAddress: client });
    sendJson(res, 200, reply, logger);
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

/** Where a JSON reply goes: a ServerResponse, or a stream standing for one. */
export type ReplyTarget = Writable & {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
};

/**
 * A reply of about a piece goes out whole with its Content-Length (serialized at once when
 * it looks small, as that is cheaper: see isSmallJson). A larger one is produced as the
 * client reads it (see writePieces), chunked: its length is known only once its last piece
 * is made. An HTTP/1.0 client gets it delimited by the connection's close.
 */
export function sendJson(res: ReplyTarget, status: number, reply: unknown, logger?: Logger): void {
  // A throw before the headers are written is answered with a 500.
  if (isSmallJson(reply)) return sendWhole(res, status, Buffer.from(JSON.stringify(reply)));
  const pieces = jsonPieces(reply);
  const first = pieces.next();
  const second = first.done ? first : pieces.next();
  if (second.done) return sendWhole(res, status, first.done ? Buffer.alloc(0) : first.value);
  res.writeHead(status, { 'Content-Type': 'application/json' });
  writePieces(res, [first.value as Buffer, second.value], pieces, (err, sentBytes) =>
    // Only what failed, never the reply's content.
    logger?.error({ errType: err.name, sentBytes }, 'API reply failed mid-stream; connection cut'),
  );
}

/** With its Content-Length; one larger than a piece (rare: see isSmallJson) in pieces. */
function sendWhole(res: ReplyTarget, status: number, body: Buffer): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  if (body.length <= WRITE_PIECE_BYTES) return void res.end(body);
  writePieces(res, [], inPieces(body), () => {}); // views of a Buffer cannot fail
}

/**
 * Writes `head` then what `rest` produces, producing each piece only once the socket took
 * the last one (write() returned true, or after 'drain'). So a slow client holds about a
 * piece of its reply in the daemon (plaintext or TLS ciphertext) rather than all of it:
 * with many clients listing many key servers, whole replies were most of the daemon's
 * memory. A client that goes away stops the production; a piece that cannot be produced
 * cuts the connection (the headers are gone).
 */
export function writePieces(
  out: Writable,
  head: Buffer[],
  rest: Iterator<Buffer>,
  onError: (err: Error, sentBytes: number) => void,
): void {
  let sentBytes = 0;
  const stop = (): void => {
    out.off('close', stop);
    out.off('drain', next);
    rest.return?.();
  };
  const next = (): void => {
    for (;;) {
      if (out.destroyed) return stop();
      let piece: IteratorResult<Buffer>;
      try {
        piece = head.length > 0 ? { value: head.shift()! } : rest.next();
      } catch (err) {
        out.off('close', stop);
        onError(err instanceof Error ? err : new Error(String(err)), sentBytes);
        return void out.destroy();
      }
      if (piece.done) {
        out.off('close', stop);
        return void out.end();
      }
      sentBytes += piece.value.length;
      if (!out.write(piece.value)) return void out.once('drain', next);
    }
  };
  out.once('close', stop);
  next();
}
