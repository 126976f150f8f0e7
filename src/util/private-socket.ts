// A Unix socket only its owner can reach, from the instant it exists: bound inside a
// fresh 0700 directory beside its path, made 0600, then renamed into place (replacing a
// stale socket file). chmod after a bind in place would leave a window in which the
// socket has the umask's wider mode. Shared by the dev key server and ekmd-sim.
import { chmodSync, mkdtempSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:net';
import { dirname, join } from 'node:path';

/** Listens on `path` (mode 0600); the socket file is removed when the server closes. */
export async function listenPrivately(server: Server, path: string): Promise<void> {
  const staging = mkdtempSync(join(dirname(path), '.s'));
  const bound = join(staging, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(bound, 0o600);
    renameSync(bound, path);
  } catch (err) {
    server.close();
    throw err;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  // The server unlinks the path it bound, which is gone: remove the served one, unless
  // another server has replaced it since.
  const { ino } = statSync(path);
  server.once('close', () => {
    try {
      if (statSync(path).ino === ino) unlinkSync(path);
    } catch {
      // already gone
    }
  });
}
