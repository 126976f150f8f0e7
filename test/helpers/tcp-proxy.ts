// A TCP proxy on a loopback port, to cut a client's connections to a server and restore
// them while the server itself keeps running (a network drop, as the client sees it), or
// to hold what the client sends for a while (its requests arrive late, in order).
import type { Test } from 'tap';
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drop every connection, and every new one until restore(). */
  cut(): void;
  restore(): void;
  /** Keep what clients send from the server (answers still flow) until release(). */
  hold(): void;
  release(): void;
}

export async function startTcpProxy(
  t: Pick<Test, 'teardown'>,
  target: { host: string; port: number },
): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const flushes = new Set<() => void>();
  let open = true;
  let held = false;
  const server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    const pending: Buffer[] = [];
    const flush = () => {
      for (const chunk of pending.splice(0)) upstream.write(chunk);
    };
    flushes.add(flush);
    client.on('data', (chunk: Buffer) => (held ? pending.push(chunk) : upstream.write(chunk)));
    upstream.pipe(client);
    client.on('close', () => {
      flushes.delete(flush);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port: (server.address() as { port: number }).port,
    cut: () => {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore: () => {
      open = true;
    },
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
      for (const flush of flushes) flush();
    },
  };
}
