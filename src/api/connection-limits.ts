// What one client may hold of the API server: a TLS handshake must finish within 10 s,
// request headers within 15 s and the whole request within 20 s (Node's defaults are 120
// and 60 s, and a slow client holds its connection that long); at most 16 connections per
// client (clientSource: an IPv4 address or an IPv6 /64) and 512 in all. A connection over
// a cap is closed before its TLS handshake costs anything.
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { clientSource } from './client-address';

export interface ApiLimits {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
}

export const API_LIMITS: Readonly<ApiLimits> = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 20_000,
  maxConnections: 512,
  maxConnectionsPerClient: 16,
};

/** How often Node checks the header and request timeouts (its default is 30 s). */
export const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** Caps `server`'s connections, in all and per client; returns the open count by client. */
export function capConnections(
  server: Server,
  limits: ApiLimits,
  logger?: Logger,
): Map<string, number> {
  // Beyond this, Node closes a new connection as soon as it is accepted.
  server.maxConnections = limits.maxConnections;
  const open = new Map<string, number>();
  let refused = 0;
  server.on('connection', (socket: Socket) => {
    const source = clientSource(socket.remoteAddress);
    const count = open.get(source) ?? 0;
    if (count >= limits.maxConnectionsPerClient) {
      socket.destroy();
      // One line per 100 refusals: a flood must not flood the log as well.
      if (refused++ % 100 === 0) {
        logger?.warn(
          { client: source, refused },
          'API connection refused: too many from one client',
        );
      }
      return;
    }
    open.set(source, count + 1);
    socket.once('close', () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left > 0) open.set(source, left);
      else open.delete(source);
    });
  });
  return open;
}
