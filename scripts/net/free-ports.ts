// Free loopback ports for a process to bind next (etcd members, ekmd's API, PyKMIP).
import { createServer } from 'node:net';

/**
 * Loopback ports free right now, for a process to bind next (etcd, ekmd's API). Taken at
 * random below the kernel's ephemeral range (32768 and up by default): a port the OS gave
 * out would be handed again to any outgoing connection or port-0 listener in the meantime,
 * and under a busy test run one did take a port between this probe and the bind.
 */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n; tries++) {
    if (tries > 1000) throw new Error(`no ${n} free loopback ports below ${EPHEMERAL_FROM}`);
    const port = PORTS_FROM + Math.floor(Math.random() * (EPHEMERAL_FROM - PORTS_FROM));
    if (!ports.has(port) && (await canListen(port))) ports.add(port);
  }
  return [...ports];
}

const PORTS_FROM = 10_000;
const EPHEMERAL_FROM = 32_768;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
