// The state directory holds the store, the seal key and the lock: it must be a directory
// only its owner can enter. Made 0700 when missing; tightened (with a warning) when wider.
import { chmodSync, statSync, mkdirSync, type Stats } from 'node:fs';
import type { Logger } from 'pino';

export function prepareStateDir(stateDir: string, logger?: Logger): void {
  let st = statIfExists(stateDir);
  if (!st) {
    try {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new Error(`cannot create stateDir ${stateDir}: ${(err as Error).message}`);
    }
    st = statSync(stateDir);
  }
  if (!st.isDirectory()) throw new Error(`stateDir ${stateDir} is not a directory`);
  if ((st.mode & 0o077) !== 0) {
    chmodSync(stateDir, 0o700);
    logger?.warn(
      { stateDir, mode: (st.mode & 0o777).toString(8) },
      'stateDir was open to group or others; made it 0700',
    );
  }
}

function statIfExists(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot use stateDir ${path}: ${(err as Error).message}`);
  }
}
