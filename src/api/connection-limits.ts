// What one client may hold of the API server: a TLS handshake must finish within 10 s,
// request headers within 15 s and the whole request within 20 s (Node's defaults are 120
// and 60 s, and a slow client holds its connection that long); at most 16 connections per
// client (clientSource: an IPv4 address or an IPv6 /64), 512 in all, and 32 in their TLS
// handshake at once: a handshake costs the event loop a private-key signature, and a
// burst of them would stall the calls of clients already connected. A connection over a
// cap is closed before its TLS handshake costs anything.
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { clientSource } from './client-address';

export interface ApiLimits {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  maxHandshakes: number;
}

export const API_LIMITS: Readonly<ApiLimits> = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 20_000,
  maxConnections: 512,
  maxConnectionsPerClient: 16,
  maxHandshakes: 32,
};

/** How often Node checks the header and request timeouts (its default is 30 s). */
export const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** Caps `server`'s connections and handshakes; returns the open count by client. */
export function capConnections(
  server: Server,
  limits: ApiLimits,
  logger?: Logger,
): Map<string, number> {
  // Beyond this, Node closes a new connection as soon as it is accepted.
  server.maxConnections = limits.maxConnections;
  const open = new Map<string, number>();
  const handshaking = new Set<Socket>();
  let refused = 0;
  const refuse = (socket: Socket, source: string, why: string): void => {
    socket.destroy();
    // One line per 100 refusals: a flood must not flood the log as well.
    if (refused++ % 100 === 0) {
      logger?.warn({ client: source, refused }, `API connection refused: ${why}`);
    }
  };
  server.on('connection', (socket: Socket) => {
    const source = clientSource(socket.remoteAddress);
    const count = open.get(source) ?? 0;
    if (count >= limits.maxConnectionsPerClient) {
      return refuse(socket, source, 'too many from one client');
    }
    if (handshaking.size >= limits.maxHandshakes) {
      return refuse(socket, source, 'too many handshakes at once');
    }
    handshaking.add(socket);
    open.set(source, count + 1);
    socket.once('close', () => {
      handshaking.delete(socket);
      const left = (open.get(source) ?? 1) - 1;
      if (left > 0) open.set(source, left);
      else open.delete(source);
    });
  });
  // The TLS socket's _parent is the TCP socket 'connection' gave (Node 20; a test pins it).
  server.on('secureConnection', (tls: TLSSocket) => {
    handshaking.delete((tls as TLSSocket & { _parent?: Socket })._parent as Socket);
  });
  return open;
}
