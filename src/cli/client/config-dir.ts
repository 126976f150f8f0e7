// Where ekmctl keeps its per-user files: the optional credentials file and the pinned
// certificates of the daemons it has talked to.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'ekmctl');
}

export const CONFIG_FILE = 'config.json';
export const PINS_FILE = 'pinned-certificates.json';
