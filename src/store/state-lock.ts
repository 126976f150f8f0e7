// One ekmd per stateDir: flock(LOCK_EX|LOCK_NB) on stateDir/ekmd.lock. The kernel drops
// the lock when the holder dies however it dies, so a kill -9 never blocks a restart;
// the pid written into the file only makes the refusal message useful.
import koffi from 'koffi';
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { constants as os } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE } from './state-files';
export { LOCK_FILE };

const LOCK_EX = 2;
const LOCK_NB = 4;

export class StateLockError extends Error {
  override name = 'StateLockError';
}

export interface StateLock {
  readonly path: string;
  release(): void;
}

let flock: ((fd: number, operation: number) => number) | undefined;

function libcFlock(): (fd: number, operation: number) => number {
  flock ??= koffi.load('libc.so.6').func('int flock(int fd, int operation)') as (
    fd: number,
    operation: number,
  ) => number;
  return flock;
}

export function acquireStateLock(stateDir: string): StateLock {
  const path = join(stateDir, LOCK_FILE);
  let fd: number;
  try {
    // libuv opens with O_CLOEXEC: children spawned later do not inherit the lock.
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (err) {
    throw new StateLockError(`cannot open lock file ${path}: ${(err as Error).message}`);
  }
  if (libcFlock()(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = koffi.errno();
    closeSync(fd);
    if (errno === os.errno.EWOULDBLOCK) {
      throw new StateLockError(
        `another ekmd${holder(path)} is already running with stateDir ${stateDir}`,
      );
    }
    throw new StateLockError(`cannot lock ${path}: errno ${errno}`);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      closeSync(fd); // closing the last descriptor releases the flock
    },
  };
}

function holder(path: string): string {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? ` (pid ${pid})` : '';
  } catch {
    return '';
  }
}
