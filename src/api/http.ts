// HTTPS front: route /json-rpc[/<version>], authenticate, read a bounded body, hand it to
// the dispatcher and write the JSON reply. JSON-RPC errors travel with HTTP 200 (Element's
// clients read the body whatever the status); only 401, 404, 405 and 413 use HTTP status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { BasicAuth } from './auth';
import type { Dispatcher } from './dispatcher';
import { versionOfPath } from './versions';

export const MAX_BODY_BYTES = 1024 * 1024;

export function requestHandler(auth: BasicAuth, dispatcher: Dispatcher, logger?: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err) => {
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
    if (!(await auth.check(req.headers.authorization, client))) {
      res.setHeader('WWW-Authenticate', 'Basic realm="ekmd"');
      return discard(req, res, 401, '401 Unauthorized.');
    }
    const body = await readBody(req);
    if (body === undefined) {
      res.setHeader('Connection', 'close');
      return sendJson(res, 413, {
        id: null,
        error: {
          code: 500,
          name: 'xRequestTooLarge',
          message: `The request body exceeds ${MAX_BODY_BYTES} bytes.`,
        },
      });
    }
    sendJson(res, 200, await dispatcher.dispatch(body));
  }
}

/** The body as text, or undefined once it exceeds MAX_BODY_BYTES (reading stops there). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Replies without reading the body; a large unread body closes the connection. */
function discard(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    res.setHeader('Connection', 'close');
  } else req.resume();
  sendText(res, status, text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

function sendJson(res: ServerResponse, status: number, reply: unknown): void {
  const body = JSON.stringify(reply);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
