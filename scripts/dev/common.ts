// Shared by the embedded default's start and reset: where things live in the state
// directory, the lock a running start holds on it, and how the start talks to its user.
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { acquireStateLock, StateLockError, type StateLock } from '../../src/store/state-lock';
import { writeFileAtomic } from '../../src/util/atomic-file';

function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'tsconfig.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

/** The repository root (holds package.json and tsconfig.json). */
export const repoRoot = findRoot(__dirname);
/** The compiled bins, beside this script in dist/. */
export const bins = {
  ekmd: join(repoRoot, 'dist/src/daemon/main.js'),
  ekmctl: join(repoRoot, 'dist/src/cli/main.js'),
  ekmdSim: join(repoRoot, 'dist/src/sim/main.js'),
};
export const DEFAULT_STATE = join(repoRoot, '.state');
/** Written first into a state directory made by start: reset deletes only such directories. */
export const MARKER = 'ekmd-dev-state';

export function stateDirFrom(value: string | undefined): string {
  return value ? resolve(value) : DEFAULT_STATE;
}

export type Layout = ReturnType<typeof layout>;

/** The files and directories of one state directory. */
export function layout(state: string) {
  return {
    state,
    marker: join(state, MARKER),
    pki: join(state, 'pki'),
    sim: join(state, 'sim'),
    simSocket: join(state, 'sim.sock'),
    kmip: join(state, 'kmip'),
    kmipControl: join(state, 'kmip.ctl'),
    /** The dev key server's port, kept across starts. */
    kmipPort: join(state, 'kmip-port.json'),
    admin: join(state, 'admin.json'),
    config: join(state, 'ekmd.json'),
    ekmdState: join(state, 'ekmd'),
    logs: join(state, 'logs'),
    setupDone: join(state, 'setup-done.json'),
  };
}

/** Held by a running start for its whole life: reset refuses while anyone holds it. */
export function lockState(state: string): StateLock {
  try {
    return acquireStateLock(state);
  } catch (err) {
    if (err instanceof StateLockError) {
      const pid = /\(pid (\d+)\)/.exec(err.message)?.[1];
      throw new Error(
        `a dev start${pid ? ` (pid ${pid})` : ''} is already running with state ${state}`,
      );
    }
    throw err;
  }
}

/** Whether a directory exists and holds nothing. */
export function isEmptyDir(dir: string): boolean {
  return readdirSync(dir).length === 0;
}

/** A failure whose message says it all: printed without a stack. */
export class StartError extends Error {}

/** One line of the start's own output. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A JSON file replaced whole; dev state, so no fsync. */
export function writeJson(path: string, value: unknown, mode: number): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, mode, false);
}

/** Whether nothing listens on host:port (we could bind it just now). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}
