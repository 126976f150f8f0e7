// The dev key server's control socket (a Unix socket): one line in, one line out.
//   "stall\n" -> "ok stall\n";  "bogus\n" -> "error: unknown fault ...\n"
import { createConnection, createServer, type Server } from 'node:net';
import { parseFault } from './faults';
import { listenPrivately } from '../../util/private-socket';
import type { DevKmipServer } from './server';

/** Serves the control socket at `path`, 0600 from its first instant. */
export async function listenControl(path: string, server: DevKmipServer): Promise<Server> {
  const ctl = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 1024) return sock.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const words = buf.slice(0, nl).trim().split(/\s+/).filter(Boolean);
      try {
        const f = parseFault(words);
        if (f === 'drop') server.dropConnections();
        else server.fault = f;
        sock.end(`ok ${words.join(' ')}\n`);
      } catch (err) {
        sock.end(`error: ${(err as Error).message}\n`);
      }
    });
  });
  await listenPrivately(ctl, path);
  return ctl;
}

/** Send one command; resolves with the reply line. */
export function sendControl(path: string, words: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let reply = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (reply += d));
    sock.on('end', () => resolve(reply.trim()));
    sock.on('error', reject);
    sock.write(`${words.join(' ')}\n`);
  });
}
