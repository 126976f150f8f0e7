// The dev node's files in the state directory: the admin credentials (made once, a random
// password that is never printed) and ekmd's config, which carries them.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { StartError, writeJson } from './common';

export interface Admin {
  username: string;
  password: string;
}

export function adminCredentials(path: string): Admin {
  if (!existsSync(path)) {
    const admin: Admin = { username: 'admin', password: randomBytes(18).toString('base64url') };
    writeJson(path, admin, 0o600);
    return admin;
  }
  const admin = JSON.parse(readFileSync(path, 'utf8')) as Admin;
  if (typeof admin.username !== 'string' || typeof admin.password !== 'string')
    throw new StartError(`${path} is not {"username","password"}; npm run reset to start over`);
  return admin;
}

/** ekmd on the API port, its state under `ekmdState`, drives from the simulator. */
export function writeEkmdConfig(
  path: string,
  files: { ekmdState: string; simSocket: string },
  apiPort: number,
  admin: Admin,
): void {
  writeJson(
    path,
    {
      stateDir: files.ekmdState,
      api: { listen: `127.0.0.1:${apiPort}` },
      admin,
      drives: { backend: 'sim', sim: { socket: files.simSocket } },
      log: { level: 'info' },
    },
    0o600,
  );
}
