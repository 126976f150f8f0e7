// Which stateDir ekmctl reads on this machine: --state-dir, else EKMCTL_STATE_DIR, else the
// dev daemon's (.state/ekmd.json in the current directory, as `npm start` leaves it), else
// /var/lib/ekmd. Apart from the store (offline.ts) so that finding it loads no SQLite.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEV_STATE_DIR } from './dev-state';

export const DEFAULT_STATE_DIR = '/var/lib/ekmd';

export function stateDirOf(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): string {
  return flag ?? env.EKMCTL_STATE_DIR ?? devStateDir(cwd) ?? DEFAULT_STATE_DIR;
}

function devStateDir(cwd: string): string | undefined {
  const dir = join(cwd, DEV_STATE_DIR);
  const config = join(dir, 'ekmd.json');
  if (!existsSync(config)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(config, 'utf8')) as { stateDir?: unknown };
    return typeof parsed.stateDir === 'string' ? resolve(dir, parsed.stateDir) : undefined;
  } catch {
    return undefined;
  }
}
