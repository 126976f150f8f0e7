// One ekmd-sim per state directory: an abstract Unix socket named after the directory.
// The kernel releases it when the process dies, kill -9 included; no PID file to go stale.
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createServer } from 'node:net';

/** Take the lock or throw; resolves to the function that releases it. */
export async function lockStateDir(stateDir: string): Promise<() => Promise<void>> {
  const digest = createHash('sha256').update(realpathSync(stateDir)).digest('hex');
  const name = `\0ekmd-sim-state-${digest.slice(0, 40)}`;
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`another ekmd-sim is using ${stateDir}`) : err),
    );
    server.listen(name, () => resolve());
  });
  server.unref();
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
